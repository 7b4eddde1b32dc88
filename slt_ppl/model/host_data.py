"""Data that stay on the host: np.memmap files and NumPy arrays too large to copy to the device.

A Likelihood over such data keeps the NumPy rows where they are. What reads them:
- `host_rows_decision`: which data stay on the host (every np.memmap; NumPy arrays above HOST_BYTES in
  all; `on_host=True/False` overrides), and a check that what stays there is NumPy;
- `gather_rows`: rows at an index array (any shape). Rows of a shared memory map are read from its file
  with one `os.pread` per row, never through the mapping: a page fault on a mapped file maps the whole
  page-cache folio around it (up to MBs on kernels with large folios, fault-around besides), so 512
  random rows of a 700 MB file made ~540 MB resident (measured, Linux 6.18 / ext4), and MADV_RANDOM does
  not stop it. pread copies the bytes asked for; the file's pages stay in the OS page cache, which does
  not count in the process's memory, so a run's peak RSS is flat in n. About 1.2 us a row here.
  Other arrays (in memory, copy-on-write maps, rows that are not contiguous) are indexed as arrays;
- `row_block`: rows start..stop, one contiguous read per leaf (the sequential pass below);
- `blockwise_mean_loglik`: the mean per-datum log-likelihood at w* over all n rows, BLOCK_ROWS at a time
  (with a non-finite count: the data's NaN check happens on this pass, not on a copy).
The minibatch stream that feeds the samplers from these rows is samplers/host_stream.py.
"""

from __future__ import annotations

import functools
import mmap
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["HOST_BYTES", "host_rows_decision", "gather_rows", "row_block", "blockwise_mean_loglik"]

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


def _memmap_of(x):
    obj = x
    while obj is not None and not (isinstance(obj, np.memmap) and getattr(obj, "filename", None)):
        obj = getattr(obj, "base", None)
    return obj


class FileRows(NamedTuple):
    """Where the rows of a memory-mapped array lie in its file: row i is `row_bytes` bytes at
    `first + i * stride`, of `dtype` and `row_shape`."""

    path: str
    first: int
    stride: int
    row_bytes: int
    dtype: np.dtype
    row_shape: tuple


def file_rows(x) -> FileRows | None:
    """The file layout of `x` when it views a shared np.memmap (modes r, r+, w+) and each of its rows is
    contiguous; None otherwise (then the rows are indexed as an array)."""
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        return None
    owner, mm = _memmap_of(x), _mmap_of(x)
    if owner is None or mm is None or getattr(owner, "mode", "c") == "c" or mm.closed:
        return None
    expected = x.itemsize
    for size, stride in reversed(list(zip(x.shape[1:], x.strides[1:]))):
        if size > 1 and stride != expected:
            return None
        expected *= size
    map_start = owner.offset - owner.offset % mmap.ALLOCATIONGRANULARITY  # as np.memmap maps the file
    map_address = np.frombuffer(mm, np.uint8, count=1).ctypes.data
    first = map_start + (x.ctypes.data - map_address)
    return FileRows(os.fspath(owner.filename), int(first), int(x.strides[0]), int(expected), x.dtype,
                    tuple(x.shape[1:]))


def _open(layout: FileRows, advice) -> int:
    fd = os.open(layout.path, os.O_RDONLY)
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, 0, advice)
    return fd


def _checked(buf: bytes, expected: int, layout: FileRows) -> bytes:
    if len(buf) != expected:
        raise OSError(f"{layout.path} gave {len(buf)} of {expected} bytes: the file is shorter than the array "
                      "that maps it (was it truncated or rewritten while the Likelihood holds it?)")
    return buf


def _pread_rows(layout: FileRows, flat: np.ndarray) -> np.ndarray:
    """Rows `flat` of the file, one pread each (module doc)."""
    fd = _open(layout, getattr(os, "POSIX_FADV_RANDOM", 0))
    try:
        offsets = (layout.first + flat.astype(np.int64) * layout.stride).tolist()
        buf = b"".join(map(functools.partial(os.pread, fd, layout.row_bytes), offsets))
    finally:
        os.close(fd)
    _checked(buf, flat.size * layout.row_bytes, layout)
    return np.frombuffer(buf, layout.dtype).reshape((flat.size,) + layout.row_shape)


def _pread_block(layout: FileRows, start: int, stop: int) -> np.ndarray:
    """Rows start..stop of the file in one read of the bytes they span (strided rows cut out after)."""
    count = stop - start
    if count <= 0:
        return np.empty((0,) + layout.row_shape, layout.dtype)
    if layout.stride < layout.row_bytes:  # negative or overlapping strides: row by row
        return _pread_rows(layout, np.arange(start, stop))
    span = (count - 1) * layout.stride + layout.row_bytes
    fd = _open(layout, getattr(os, "POSIX_FADV_SEQUENTIAL", 0))
    try:
        buf = _checked(os.pread(fd, span, layout.first + start * layout.stride), span, layout)
    finally:
        os.close(fd)
    rows = np.ndarray((count,) + layout.row_shape, layout.dtype, buffer=buf,
                      strides=(layout.stride,) + _c_strides(layout))
    return rows


def _c_strides(layout: FileRows) -> tuple:
    strides, step = [], layout.dtype.itemsize
    for size in reversed(layout.row_shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _out_dtype(leaf, dtype):
    return dtype if np.issubdtype(leaf.dtype, np.floating) else leaf.dtype


def _working(dtype):
    return np.dtype(jnp.result_type(float) if dtype is None else dtype)


def gather_rows(rows, idx: np.ndarray, dtype=None):
    """rows[idx] for every leaf of `rows` (idx any integer shape, entries in 0..n-1), memory-mapped rows
    read from their file GATHER_ROWS at a time (module doc). Floating leaves become `dtype` (default:
    JAX's working float), so that what reaches the device is what a device array would hold."""
    flat = np.asarray(idx).reshape(-1)
    dtype = _working(dtype)
    leaves, treedef = jax.tree.flatten(rows)
    outs = []
    for leaf in leaves:
        layout = file_rows(leaf)
        out = np.empty((flat.size,) + leaf.shape[1:], _out_dtype(leaf, dtype))
        for start in range(0, flat.size, GATHER_ROWS):
            part = flat[start:start + GATHER_ROWS]
            out[start:start + part.size] = leaf[part] if layout is None else _pread_rows(layout, part)
        outs.append(out.reshape(np.shape(idx) + out.shape[1:]))
    return jax.tree.unflatten(treedef, outs)


def row_block(rows, start: int, stop: int, dtype=None):
    """rows[start:stop] for every leaf, copied (memory-mapped leaves read from the file in one piece)."""
    dtype = _working(dtype)

    def one(leaf):
        layout = file_rows(leaf)
        block = leaf[start:stop] if layout is None else _pread_block(layout, start, stop)
        return np.array(block, dtype=_out_dtype(leaf, dtype))

    return jax.tree.map(one, rows)


def blockwise_mean_loglik(loglik_block, rows, n: int) -> tuple[float, int]:
    """(mean over the n rows of loglik_block(block rows) (a per-row array), count of non-finite values):
    BLOCK_ROWS rows at a time, in float64 on the host; the last block is padded (its last row repeated)
    to keep one compiled shape."""
    total, bad = 0.0, 0
    size = min(n, BLOCK_ROWS)
    for start in range(0, n, size):
        stop = min(n, start + size)
        block = row_block(rows, start, stop)
        if stop - start < size:
            block = jax.tree.map(lambda b: np.concatenate([b, np.repeat(b[-1:], size - len(b), axis=0)]), block)
        ll = np.asarray(loglik_block(block), dtype=np.float64)[: stop - start]
        finite = np.isfinite(ll)
        bad += int((~finite).sum())
        total += float(ll[finite].sum())
    return total / n, bad
