"""Minibatches streamed from host rows: each chunk's batches gathered on the host and sent ahead to the device.

A chain's minibatch at step t is the one the device path draws (indices from the key of (chain, t), the
same `jax.random.randint` under the same threefry mode), so a run on host rows gives the numbers a run on
device arrays gives with the same step size. Per chunk the indices of every (step, chain) are drawn in one
compiled call, the rows are gathered on the host (model/host_data.gather_rows: memory-mapped pages released
as it goes) and put on the device; the runner asks for chunk k+1 while chunk k runs (JAX dispatches
asynchronously), so the gathering overlaps the sampling. Device memory holds two chunks of batches, never
the data: peak memory is flat in n.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["HostStream", "minibatch_indices", "MAX_CHUNK_BYTES", "chunk_rows_limit"]

MAX_CHUNK_BYTES = 256 << 20  # batches of one chunk on the device at most this large (the chunk is cut to fit)


class HostStream(NamedTuple):
    """rows: NumPy pytree with leading axis n; place(data, batch_rows) -> the log-likelihood's data argument."""

    rows: Any
    n: int
    batch_size: int
    place: Callable
    gather: Callable  # (rows, idx) -> rows[idx] as NumPy (model/host_data.gather_rows)

    def pool(self, key, size: int):
        """`size` rows drawn at random (with replacement when size < n), on the device: the data of the
        step-size calibration, which needs many minibatches of one fixed dataset."""
        size = int(min(size, self.n))
        # with replacement: a draw without it would permute all n indices (memory that grows with n)
        idx = np.sort(np.asarray(jax.random.randint(key, (size,), 0, self.n))) if size < self.n \
            else np.arange(self.n)
        return jax.device_put(self.gather(self.rows, idx))

    def chunk(self, keys, start: int, length: int):
        """The batches of steps start .. start+length-1 for every chain: leaves (length, chains, b, ...)."""
        idx = np.asarray(minibatch_indices(keys, np.int32(start), length, self.n, self.batch_size))
        return jax.device_put(self.gather(self.rows, idx))

    def row_bytes(self) -> int:
        return int(sum(np.dtype(x.dtype).itemsize * int(np.prod(x.shape[1:])) for x in jax.tree.leaves(self.rows)))


def chunk_rows_limit(stream: HostStream, num_chains: int) -> int:
    """Most steps per chunk whose batches fit MAX_CHUNK_BYTES."""
    per_step = max(1, num_chains * stream.batch_size * max(stream.row_bytes(), 1))
    return max(1, MAX_CHUNK_BYTES // per_step)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _indices(keys, start, length, n, batch_size):
    def one(key, t):
        k_batch, _ = jax.random.split(jax.random.fold_in(key, t))
        return jax.random.randint(k_batch, (batch_size,), 0, n)

    ts = start + jnp.arange(length, dtype=jnp.int32)
    return jax.vmap(lambda t: jax.vmap(lambda k: one(k, t))(keys))(ts)


def minibatch_indices(keys, start, length: int, n: int, batch_size: int):
    """(length, chains, batch_size) indices: chain c's minibatch at step start + i, as sample_sg draws it."""
    from slt_ppl.samplers.placement import fast_threefry

    with fast_threefry():
        return _indices(keys, start, int(length), int(n), int(batch_size))
