"""A character-level 2-layer attention-only transformer language model on the Python standard library's
own source files: the language-model half of arXiv 2402.02364 (Hoogland et al., "The developmental
landscape of in-context learning": a 2-layer attention-only transformer, 3M parameters, on the Pile;
stages LM1-LM5: bigram statistics, n-grams, previous-token heads, induction heads) at the scale of a
2-core CPU, on a corpus every machine has without downloads.

Corpus: the *.py files of the standard library (`sysconfig` stdlib path), sorted by name, read as
bytes and concatenated until `max_chars`; bytes >= 128 map to token 0 (vocab 128: ASCII). A dataset is n
windows of context + 1 characters at seeded random offsets: inputs window[:-1], targets window[1:].
One example is one window, its negative log-likelihood the summed next-character cross-entropy (nats).

`likelihood(training, k)` measures checkpoint k on its own predictions (targets drawn from its
next-character distribution given the real prefixes, as icl_regression.likelihood does and for the same
reason: a checkpoint mid-training is not a minimum of the corpus's L_n; on its own predictions it is the
population minimiser of a correctly specified conditional model). checkpoint=None gives the corpus itself.
Needs flax and optax.
"""

from __future__ import annotations

import functools
import glob
import os
import sysconfig
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .checkpointed_training import checkpoint_steps, train_checkpointed
from .transformer import Transformer, TransformerConfig, count_params

__all__ = ["LMConfig", "QUICK", "TINY", "LMTraining", "corpus", "make_data", "nll_per_example", "train",
           "likelihood", "model_for"]

VOCAB = 128


class LMConfig(NamedTuple):
    context: int = 32  # characters a window predicts
    transformer: TransformerConfig = TransformerConfig(d_model=32, num_heads=4, num_layers=2, max_len=32,
                                                       attention_only=True)


QUICK = LMConfig()  # about 17K parameters
TINY = LMConfig(context=16, transformer=TransformerConfig(d_model=16, num_heads=2, num_layers=2, max_len=16,
                                                          attention_only=True))  # about 5K, for tests


def model_for(config: LMConfig) -> Transformer:
    return Transformer(config.transformer, d_out=VOCAB, vocab_size=VOCAB)


def corpus(max_chars: int = 2_000_000) -> np.ndarray:
    """The standard library's sources as uint8 tokens (module doc), at most max_chars of them."""
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    if not files:
        raise FileNotFoundError(f"no *.py files under {sysconfig.get_paths()['stdlib']}: this Python ships "
                                "no standard-library sources (a stripped install); give a corpus to make_data")
    chunks, total = [], 0
    for path in files:
        with open(path, "rb") as fh:
            data = fh.read(max_chars - total)
        chunks.append(data)
        total += len(data)
        if total >= max_chars:
            break
    tokens = np.frombuffer(b"".join(chunks), np.uint8).copy()
    tokens[tokens >= VOCAB] = 0
    return tokens


def make_data(key, n: int, config: LMConfig, text: np.ndarray):
    """(inputs (n, T), targets (n, T)) int32: n windows of the token stream `text` at random offsets."""
    T = config.context
    if len(text) <= T + 1:
        raise ValueError(f"the corpus has {len(text)} characters, fewer than one window of {T + 1}")
    starts = np.asarray(jax.random.randint(key, (n,), 0, len(text) - T - 1))
    windows = text[starts[:, None] + np.arange(T + 1)[None, :]].astype(np.int32)
    return jnp.asarray(windows[:, :-1]), jnp.asarray(windows[:, 1:])


@functools.lru_cache(maxsize=None)  # one function per config: every checkpoint reuses one compiled loop
def nll_per_example(config: LMConfig):
    """nll(params, (inputs, targets)) -> (batch,) summed next-character cross-entropy of each window."""
    net = model_for(config)

    def nll(params, batch):
        inputs, targets = batch
        logp = jax.nn.log_softmax(net.apply({"params": params}, inputs), axis=-1)
        return -jnp.sum(jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0], axis=-1)

    return nll


class LMTraining(NamedTuple):
    config: LMConfig
    steps: np.ndarray  # training step of each checkpoint
    params: list  # linen params dict per checkpoint
    loss: np.ndarray  # mean nll per character on the fixed dataset, per checkpoint (nats)
    data: tuple  # (inputs, targets) of the fixed dataset
    num_params: int


def train(config: LMConfig = QUICK, *, steps: int = 2000, batch_size: int = 64, lr: float = 3e-3,
          num_checkpoints: int = 30, n: int = 4096, max_chars: int = 2_000_000, seed: int = 0) -> LMTraining:
    """Adam on minibatches of a fixed dataset of n windows of the stdlib corpus; checkpoints log then linear."""
    k_init, k_data, k_train = jax.random.split(jax.random.key(seed), 3)
    inputs, targets = make_data(k_data, n, config, corpus(max_chars))
    net, nll = model_for(config), nll_per_example(config)
    params = net.init(k_init, inputs[:2])["params"]
    mean_nll = lambda p, batch: jnp.mean(nll(p, batch))  # noqa: E731

    def batch_at(t):
        idx = jax.random.randint(jax.random.fold_in(k_train, t), (batch_size,), 0, n)
        return inputs[idx], targets[idx]

    def evaluate(p):
        return (mean_nll(p, (inputs, targets)) / config.context,)

    at = checkpoint_steps(steps, num_checkpoints)
    kept, values = train_checkpointed(params, mean_nll, batch_at, at, lr=lr, evaluate=evaluate)
    return LMTraining(config, at, kept, np.asarray(values)[:, 0], (inputs, targets), count_params(params))


def likelihood(training: LMTraining, checkpoint: int | None = None, *, seed: int = 1):
    """The slt.Likelihood checkpoint `checkpoint` is measured on (module doc); None: the corpus windows."""
    import slt_ppl as slt

    nll = nll_per_example(training.config)
    if checkpoint is None:
        return slt.Likelihood(nll, training.data)
    inputs = training.data[0]
    logits = model_for(training.config).apply({"params": training.params[checkpoint]}, inputs)
    sampled = jax.random.categorical(jax.random.key(seed), logits, axis=-1).astype(jnp.int32)
    return slt.Likelihood(nll, (inputs, sampled))
