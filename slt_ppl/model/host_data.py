"""Data that stay on the host: np.memmap files and NumPy arrays too large to copy to the device.

A Likelihood over such data keeps the NumPy rows where they are. What reads them:
- `host_rows_decision`: which data stay on the host (every np.memmap; NumPy arrays above HOST_BYTES in
  all; `on_host=True/False` overrides), and a check that what stays there is NumPy;
- `blockwise_mean_loglik`: the mean per-datum log-likelihood at w* over all n rows, BLOCK_ROWS at a time
  (with a non-finite count: the data's NaN check happens on this pass, not on a copy);
- `gather_rows`: rows at an index array (any shape), copied in pieces of GATHER_ROWS rows; after each
  piece the pages a memory map brought in are released (madvise MADV_DONTNEED), so the resident memory
  of a run stays flat in n: the file's pages stay in the OS page cache, not in the process.
The minibatch stream that feeds the samplers from these rows is samplers/host_stream.py.
"""

from __future__ import annotations

import mmap

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["HOST_BYTES", "host_rows_decision", "gather_rows", "release_pages", "blockwise_mean_loglik"]

HOST_BYTES = 1 << 30  # NumPy data larger than this (in all) stay on the host by default
BLOCK_ROWS = 1 << 16
GATHER_ROWS = 4096


def _is_numpy(x) -> bool:
    return isinstance(x, np.ndarray)


def host_rows_decision(data, on_host) -> bool:
    """Whether a Likelihood's `data` stay on the host (module doc); on_host None decides by type and size."""
    leaves = jax.tree.leaves(data)
    if on_host is None:
        if not leaves or not all(_is_numpy(x) for x in leaves):
            return False
        return any(isinstance(x, np.memmap) for x in leaves) or sum(x.nbytes for x in leaves) > HOST_BYTES
    if on_host and not all(_is_numpy(x) for x in leaves):
        kinds = sorted({type(x).__name__ for x in leaves if not _is_numpy(x)})
        raise TypeError(f"on_host=True keeps NumPy data on the host; these leaves are {kinds}: give NumPy arrays "
                        "(np.asarray / np.memmap), or leave on_host=None to keep device arrays on the device")
    return bool(on_host)


def _mmap_of(x):
    obj = x
    while obj is not None and not isinstance(obj, mmap.mmap):
        obj = getattr(obj, "base", None)
    return obj


def _advise(x, option) -> None:
    mm = _mmap_of(x)
    if mm is not None:
        try:
            mm.madvise(option)
        except (OSError, ValueError, AttributeError):  # best effort: a platform without madvise still works
            pass


def release_pages(x) -> None:
    """Drop the pages a memory-mapped array has brought into this process's resident set (MADV_DONTNEED)."""
    _advise(x, mmap.MADV_DONTNEED)


def random_access(x) -> None:
    """Tell the kernel a mapping is read at random (MADV_RANDOM): no read-ahead around each row read."""
    _advise(x, mmap.MADV_RANDOM)


def _mapped(leaves) -> list:
    return [x for x in leaves if isinstance(x, np.memmap) or isinstance(getattr(x, "base", None), mmap.mmap)]


def gather_rows(rows, idx: np.ndarray, dtype=None):
    """rows[idx] for every leaf of `rows` (idx any integer shape), copied GATHER_ROWS at a time with the
    mapped pages released after each piece (module doc). Floating leaves become `dtype` (default: JAX's
    working float), so that what reaches the device is what a device array would hold."""
    flat = np.asarray(idx).reshape(-1)
    dtype = np.dtype(jnp.result_type(float) if dtype is None else dtype)
    leaves, treedef = jax.tree.flatten(rows)
    mapped = _mapped(leaves)
    for leaf in mapped:
        random_access(leaf)
    outs = []
    for leaf in leaves:
        kind = dtype if np.issubdtype(leaf.dtype, np.floating) else leaf.dtype
        outs.append(np.empty((flat.size,) + leaf.shape[1:], kind))
    for start in range(0, flat.size, GATHER_ROWS):
        part = flat[start:start + GATHER_ROWS]
        for leaf, out in zip(leaves, outs):
            out[start:start + part.size] = leaf[part]
        for leaf in mapped:
            release_pages(leaf)
    return jax.tree.unflatten(treedef, [o.reshape(np.shape(idx) + o.shape[1:]) for o in outs])


def blockwise_mean_loglik(loglik_block, rows, n: int) -> tuple[float, int]:
    """(mean over the n rows of loglik_block(block rows) (a per-row array), count of non-finite values):
    BLOCK_ROWS rows at a time, in float64 on the host; the last block is padded to keep one compiled shape."""
    total, bad = 0.0, 0
    leaves = jax.tree.leaves(rows)
    mapped = _mapped(leaves)
    for start in range(0, n, BLOCK_ROWS):
        stop = min(n, start + BLOCK_ROWS)
        idx = np.arange(start, start + BLOCK_ROWS) if n > BLOCK_ROWS else np.arange(n)
        idx = np.minimum(idx, n - 1)
        block = gather_rows(rows, idx)
        ll = np.asarray(loglik_block(block), dtype=np.float64)[: stop - start]
        finite = np.isfinite(ll)
        bad += int((~finite).sum())
        total += float(ll[finite].sum())
        for leaf in mapped:
            release_pages(leaf)
    return total / n, bad
