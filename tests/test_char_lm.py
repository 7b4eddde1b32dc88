"""The character-level attention-only language model on the standard library's sources."""

import numpy as np
import pytest

import slt_ppl as slt

lm = pytest.importorskip("slt_ppl.models.char_lm")


def test_corpus_windows_and_per_window_nll():
    text = lm.corpus(50_000)
    assert text.dtype == np.uint8 and len(text) == 50_000 and text.max() < lm.VOCAB
    assert b"def " in text.tobytes() and b"import " in text.tobytes()  # it is Python source
    import jax

    inputs, targets = lm.make_data(jax.random.key(0), 8, lm.TINY, text)
    assert inputs.shape == targets.shape == (8, lm.TINY.context)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])  # targets are the inputs shifted by one
    params = lm.model_for(lm.TINY).init(jax.random.key(1), inputs[:1])["params"]
    nll = lm.nll_per_example(lm.TINY)
    assert nll is lm.nll_per_example(lm.TINY)  # one function per config: compiled loops are reused
    per_window = np.asarray(nll(params, (inputs, targets)))
    # an untrained network's logits are small random numbers: per character about log(128) nats (uniform),
    # plus half their variance (about 1 at initialisation); a window sums its context's characters
    per_char = per_window.mean() / lm.TINY.context
    assert per_window.shape == (8,) and np.log(lm.VOCAB) - 0.05 < per_char < np.log(lm.VOCAB) + 1.0, per_char
    with pytest.raises(ValueError, match="fewer than one window"):
        lm.make_data(jax.random.key(0), 2, lm.TINY, text[:10])


def test_training_learns_and_heads_are_components():
    training = lm.train(lm.TINY, steps=150, num_checkpoints=4, n=512, max_chars=200_000)
    assert training.loss[-1] < training.loss[0] - 0.5  # nats per character
    names = slt.component_names(training.params[-1])
    assert {"l0h0", "l0h1", "l1h0", "l1h1", "embed", "unembed"} <= set(names)
    assert not any("mlp" in n for n in names)  # attention-only
    lik = lm.likelihood(training, len(training.steps) - 1)
    assert lik.data[1].shape == training.data[1].shape and lik.data[1].dtype == training.data[1].dtype
    res = slt.estimate_llc(lik, training.params[-1], batch_size=32, num_draws=100, num_burnin=100,
                           step_size=1e-6, extend_burnin=0, restrict="l0h1")
    # one head of d_model 16, head_dim 8: query/key/value kernel slices and biases, the output kernel slice
    assert res.idata.attrs["num_params"] == 3 * (16 * 8 + 8) + 8 * 16
    assert np.isfinite(res.llc) and res.llc > 0
