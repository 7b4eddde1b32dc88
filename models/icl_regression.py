"""In-context linear regression with a small transformer: the developmental landscape of arXiv 2402.02364.

Task (Garg et al. 2022; Raventós et al. 2023; Hoogland, Wang, Farrugia-Roberts, Carroll, Wei, Murfet,
"The developmental landscape of in-context learning", arXiv 2402.02364): a sequence holds K pairs
(x_k, y_k), x_k ~ N(0, I_D), y_k = t . x_k + N(0, sigma^2), one task vector t per sequence, drawn from
a finite pool of M tasks or fresh (M = None). Tokens alternate x_k -> (0, x_k) and y_k -> (y_k, 0, ..., 0)
in R^{D+1}; the causal transformer reads the prefix up to x_k and predicts y_k. One example is one
sequence, with the Gaussian negative log-likelihood
    nll = sum_k (y_k - f(x_{<=k}))^2 / (2 sigma^2) + (K/2) log(2 pi sigma^2),
a proper likelihood, so the LLC is in natural units (the paper estimates it on the MSE; the two differ by
the factor 1/(2 sigma^2) absorbed into n beta).

`train` runs Adam on minibatches of a fixed dataset of n sequences (or on fresh sequences, stream=True)
and keeps checkpoints (log-spaced, then linear, as the paper does; checkpointed_training.py);
`likelihood` gives the slt.Likelihood every checkpoint's LLC is measured on. Needs flax and optax.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from .checkpointed_training import checkpoint_steps, train_checkpointed
from .transformer import Transformer, TransformerConfig, count_params

__all__ = ["ICLConfig", "QUICK", "FULL", "TINY", "ICLTraining", "make_data", "nll_per_example", "train", "likelihood",
           "checkpoint_steps", "model_for"]


class ICLConfig(NamedTuple):
    task_dim: int = 4  # D
    num_pairs: int = 16  # K
    noise_var: float = 0.125  # sigma^2 (the paper's)
    task_pool: int | None = None  # M tasks; None: a fresh task per sequence
    transformer: TransformerConfig = TransformerConfig(d_model=64, num_heads=4, num_layers=2, d_mlp=64, max_len=32)


FULL = ICLConfig()  # about 51K parameters, the paper's scale
QUICK = ICLConfig(num_pairs=8, transformer=TransformerConfig(d_model=16, num_heads=2, num_layers=2, d_mlp=32,
                                                               max_len=16))  # about 4.9K parameters
TINY = ICLConfig(num_pairs=4, transformer=TransformerConfig(d_model=8, num_heads=2, num_layers=2, d_mlp=16,
                                                              max_len=8))  # about 1.1K, for tests and quick runs


def model_for(config: ICLConfig) -> Transformer:
    return Transformer(config.transformer, d_out=1)


def make_data(key, n: int, config: ICLConfig, pool=None):
    """(tokens (n, 2K, D+1), targets (n, K)); tasks from `pool` (M, D) when given, else fresh."""
    D, K = config.task_dim, config.num_pairs
    k_task, k_x, k_noise = jax.random.split(key, 3)
    if pool is None:
        tasks = jax.random.normal(k_task, (n, D))
    else:
        tasks = pool[jax.random.randint(k_task, (n,), 0, pool.shape[0])]
    x = jax.random.normal(k_x, (n, K, D))
    y = jnp.einsum("nkd,nd->nk", x, tasks) + jnp.sqrt(config.noise_var) * jax.random.normal(k_noise, (n, K))
    x_tok = jnp.concatenate([jnp.zeros((n, K, 1)), x], axis=-1)
    y_tok = jnp.concatenate([y[..., None], jnp.zeros((n, K, D))], axis=-1)
    tokens = jnp.stack([x_tok, y_tok], axis=2).reshape(n, 2 * K, D + 1)
    return tokens, y


def _predictions(net, params, tokens):
    return net.apply({"params": params}, tokens)[..., 0::2, 0]  # read at the x tokens: (..., K)


@functools.lru_cache(maxsize=None)  # one function per config: every checkpoint reuses one compiled loop
def nll_per_example(config: ICLConfig):
    """nll(params, (tokens, targets)) -> (batch,) Gaussian negative log-likelihood per sequence (module doc)."""
    net, var, K = model_for(config), config.noise_var, config.num_pairs
    const = 0.5 * K * np.log(2 * np.pi * var)

    def nll(params, batch):
        tokens, targets = batch
        err = targets - _predictions(net, params, tokens)
        return jnp.sum(err * err, axis=-1) / (2 * var) + const

    return nll


class ICLTraining(NamedTuple):
    config: ICLConfig
    steps: np.ndarray  # (num_checkpoints,) training step of each checkpoint
    params: list  # one linen params dict per checkpoint
    loss: np.ndarray  # (num_checkpoints,) mean nll per sequence on the fixed dataset
    mse: np.ndarray  # (num_checkpoints,) mean squared error per prediction on it
    data: tuple  # (tokens, targets): the fixed dataset the LLCs are measured on
    pool: object  # the task pool (M, D), or None
    num_params: int


def train(config: ICLConfig = QUICK, *, steps: int = 3000, batch_size: int = 64, lr: float = 3e-3,
          num_checkpoints: int = 40, n: int = 4096, seed: int = 0, stream: bool = False) -> ICLTraining:
    """Adam (warmup then cosine decay, grad clip 1); checkpoints at `checkpoint_steps`.

    Batches are minibatches of the fixed dataset of n sequences the LLCs are measured on (stream=False), so
    that late checkpoints sit near minima of L_n, where the LLC is defined; stream=True draws fresh
    sequences every step as the paper trains (its checkpoints are then never minima of the fixed L_n, and
    the estimate at them reads the drift downhill as well as the geometry)."""
    key = jax.random.key(seed)
    k_pool, k_init, k_data, k_train = jax.random.split(key, 4)
    pool = None if config.task_pool is None else jax.random.normal(k_pool, (config.task_pool, config.task_dim))
    net, nll = model_for(config), nll_per_example(config)
    tokens, targets = make_data(k_data, n, config, pool)
    params = net.init(k_init, tokens[:2])["params"]
    mean_nll = lambda p, batch: jnp.mean(nll(p, batch))  # noqa: E731

    def batch_at(t):
        k = jax.random.fold_in(k_train, t)
        if stream:
            return make_data(k, batch_size, config, pool)
        idx = jax.random.randint(k, (batch_size,), 0, n)
        return tokens[idx], targets[idx]

    def evaluate(params):
        err = targets - _predictions(net, params, tokens)
        return mean_nll(params, (tokens, targets)), jnp.mean(err * err)

    at = checkpoint_steps(steps, num_checkpoints)
    kept, values = train_checkpointed(params, mean_nll, batch_at, at, lr=lr, evaluate=evaluate)
    losses, mses = np.asarray(values).T
    return ICLTraining(config, at, kept, losses, mses, (tokens, targets), pool, count_params(params))


def likelihood(training: ICLTraining, checkpoint: int | None = None, *, seed: int = 1):
    """The slt.Likelihood the LLC at a checkpoint is measured on.

    checkpoint None: the fixed task dataset (tokens, targets), as arXiv 2402.02364 measures. A checkpoint
    index: the same inputs with targets drawn from that checkpoint's own predictions plus N(0, sigma^2)
    noise ("self-distilled", as the deep-linear developmental curve does). A checkpoint of a run is not a
    minimum of the task data's L_n (it is mid-descent), and at a non-minimum the localized posterior's mean
    loss falls below L_n(w*) along the gradient: the estimate reads the descent, and comes out negative
    when it outweighs the geometry. On its own predictions the checkpoint is the population minimiser of a
    correctly specified model (residual variance sigma^2), so its LLC is the degeneracy of the function it
    computes so far, comparable across checkpoints.
    """
    import slt_ppl as slt

    nll = nll_per_example(training.config)
    if checkpoint is None:
        return slt.Likelihood(nll, training.data)
    tokens = training.data[0]
    pred = _predictions(model_for(training.config), training.params[checkpoint], tokens)
    noise = jax.random.normal(jax.random.key(seed), pred.shape) * jnp.sqrt(training.config.noise_var)
    return slt.Likelihood(nll, (tokens, pred + noise))
