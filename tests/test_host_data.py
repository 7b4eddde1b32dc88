"""Likelihood data that stay on the host (np.memmap, on_host=True): minibatches streamed chunk by chunk.

A run on host rows draws the minibatch indices the device path draws, so with a fixed step it gives the
device path's numbers; the memory side (peak RSS flat in n) is measured in benchmarks/memmap_memory.py.
"""

import numpy as np
import jax.numpy as jnp
import pytest

import slt_ppl as slt
from slt_ppl.model import host_data
from slt_ppl.samplers import host_stream


def _regression(n=6000, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X @ rng.normal(size=d) + rng.normal(size=n)).astype(np.float32)
    w = {"w": jnp.asarray(np.linalg.lstsq(X, y, rcond=None)[0])}
    return X, y, w


def nll(params, batch):
    X, y = batch
    return 0.5 * (y - X @ params["w"]) ** 2


def test_memmap_stays_on_the_host_and_gives_the_device_numbers(tmp_path):
    X, y, w = _regression()
    table = np.lib.format.open_memmap(tmp_path / "rows.npy", mode="w+", dtype=np.float32, shape=(len(y), 5))
    table[:, :4], table[:, 4] = X, y
    table.flush()
    rows = np.load(tmp_path / "rows.npy", mmap_mode="r")
    host = slt.Likelihood(lambda p, r: nll(p, (r[:, :4], r[:, 4])), rows)
    device = slt.Likelihood(lambda p, r: nll(p, (r[:, :4], r[:, 4])), jnp.asarray(rows))
    assert host.on_host and not device.on_host
    kw = dict(batch_size=128, num_draws=400, num_burnin=200, step_size=2e-4, chunk_size=150, seed=3)
    a, b = slt.estimate_llc(host, w, **kw), slt.estimate_llc(device, w, **kw)
    # the same indices, the same arithmetic on the gathered rows: equal to float32 rounding
    np.testing.assert_allclose(a.llc_per_chain, b.llc_per_chain, rtol=1e-4)
    assert a.idata.attrs["loss_at_params"] == pytest.approx(b.idata.attrs["loss_at_params"], rel=1e-5)


def test_on_host_restricted_and_automatic_step_close_to_theory():
    X, y, w = _regression(n=20000)
    lik = slt.Likelihood(nll, (X, y), on_host=True)
    res = slt.estimate_llc(lik, w, batch_size=256, num_draws=2000, seed=1)
    # regular model: lambda = d/2 = 2; the automatic step (calibrated on a pool of rows) keeps the step bias
    # within a few percent; 3 se plus 10% for the finite-n and step terms
    assert abs(res.llc - 2.0) < 3 * res.se + 0.2, res.summary()
    sub = slt.estimate_llc(lik, w, batch_size=256, num_draws=2000, seed=1,
                           restrict=lambda path, leaf: np.arange(leaf.size).reshape(leaf.shape) < 2)
    assert abs(sub.llc - 1.0) < 3 * sub.se + 0.15, sub.summary()


def test_full_batch_on_host_data_moves_them_to_the_device_once():
    X, y, w = _regression(n=500)
    lik = slt.Likelihood(nll, (X, y), on_host=True)
    assert lik._data is None
    res = slt.estimate_llc(lik, w, sampler="mala", num_draws=200, num_burnin=200)
    assert np.isfinite(res.llc) and lik._data is not None


def test_host_data_errors_are_clear():
    X, y, w = _regression(n=100)
    with pytest.raises(TypeError, match="on_host=True keeps NumPy data"):
        slt.Likelihood(nll, (jnp.asarray(X), y), on_host=True)
    bad = X.copy()
    bad[7, 1] = np.nan
    lik = slt.Likelihood(nll, (bad, y), on_host=True)
    with pytest.raises(ValueError, match="NaN or infinite at params for 1 of 100"):
        slt.estimate_llc(lik, w, batch_size=10, num_draws=10)


def test_gather_is_exact_and_indices_do_not_depend_on_the_chunking():
    X, y, _ = _regression(n=300)
    idx = np.random.default_rng(0).integers(0, 300, size=(3, 2, 5000))  # more than one gather piece
    got = host_data.gather_rows((X, y), idx)
    np.testing.assert_array_equal(got[0], X[idx])
    np.testing.assert_array_equal(got[1], y[idx])
    # the indices: one (length, chains, batch) draw per chunk, the same for any chunking of the steps
    import jax

    keys = jax.random.split(jax.random.key(0), 2)
    whole = np.asarray(host_stream.minibatch_indices(keys, 0, 10, 300, 4))
    part = np.asarray(host_stream.minibatch_indices(keys, 6, 4, 300, 4))
    np.testing.assert_array_equal(whole[6:], part)
    assert whole.shape == (10, 2, 4) and whole.min() >= 0 and whole.max() < 300


def test_memmap_rows_read_from_the_file_match_the_array_views(tmp_path):
    rng = np.random.default_rng(1)
    table = np.lib.format.open_memmap(tmp_path / "t.npy", mode="w+", dtype=np.float32, shape=(7000, 3, 2))
    table[:] = rng.normal(size=table.shape)
    table.flush()
    labels = np.memmap(tmp_path / "l.bin", mode="w+", dtype=np.int16, shape=(7000,), offset=10)
    labels[:] = rng.integers(-99, 99, 7000)
    labels.flush()
    t = np.load(tmp_path / "t.npy", mmap_mode="r")
    lab = np.memmap(tmp_path / "l.bin", mode="r", dtype=np.int16, shape=(7000,), offset=10)
    views = {"whole": t, "column": t[:, 1], "rows from 100": t[100:], "every 3rd": t[::3], "reversed": t[::-1],
             "labels": lab, "inner cut": t[:, :, 1]}
    for name, view in views.items():
        layout = host_data.file_rows(view)
        if name == "inner cut":  # the rows of t[:, :, 1] are not contiguous: indexed as an array instead
            assert layout is None
        else:
            assert layout is not None, name
        idx = rng.integers(0, len(view), size=(2, 5000))
        got = host_data.gather_rows(view, idx)
        np.testing.assert_array_equal(got, np.asarray(view)[idx], err_msg=name)
        assert got.dtype == (np.int16 if name == "labels" else np.float32)
        block = host_data.row_block(view, 17, 1234)
        np.testing.assert_array_equal(block, np.asarray(view)[17:1234], err_msg=name)
    # copy-on-write maps may hold private changes the file lacks: never read from the file
    assert host_data.file_rows(np.load(tmp_path / "t.npy", mmap_mode="c")) is None
