"""Where chains run and how their loop is compiled: device placement, host transfer, XLA options.

The runner (runner.py) decides what a chunk of steps computes; this module decides where: the
chain axis sharded over the devices, results gathered back to the host (across processes under
jax.distributed), and the compiler options and random-bit generator the sampling loops use.
"""

from __future__ import annotations

import contextlib
import functools
import os

import jax
import numpy as np

__all__ = ["shard_chains", "replicate", "to_host", "compiler_options", "fast_threefry"]


def fast_threefry():
    """Trace the sampling loop with JAX's non-partitionable threefry: on a CPU it draws random bits 3x
    faster (the SGLD noise of a 1M-parameter model cost more than its gradient). Each chain draws
    from its own key, so splitting chains across devices does not change the numbers either way."""
    if hasattr(jax, "threefry_partitionable"):
        return jax.threefry_partitionable(False)
    return contextlib.nullcontext()


def to_host(x) -> np.ndarray:
    """A device array as numpy. One whose chains live on several processes (jax.distributed) is
    gathered first, so every process holds every chain's numbers."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


@functools.lru_cache(maxsize=1)
def _cpu_has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            return any(line.startswith("flags") and " avx512f" in line for line in fh)
    except OSError:
        return False


def compiler_options() -> dict | None:
    """XLA options for the sampling loops: on a CPU with AVX-512, 512-bit vectors.

    XLA's CPU backend prefers 256-bit vectors everywhere; the loops' elementwise work (threefry noise,
    the Langevin update) is then half as wide as the machine. Measured on a 2-core AMD EPYC
    (benchmarks/vector_width.py): noise for 4 x 28K parameters 0.28 -> 0.16 ms a step, a whole step
    of the 28K-parameter DLN 1.46 -> 1.34 ms, of the 1.2M one 60.5 -> 53.6 ms, the same LLC. Set per
    compilation (jit's compiler_options): nothing else in the process changes. The environment
    variable SLT_PPL_CPU_VECTOR_WIDTH (256, 512) overrides it, read when a loop is compiled.
    """
    if jax.default_backend() != "cpu":
        return None
    width = os.environ.get("SLT_PPL_CPU_VECTOR_WIDTH") or ("512" if _cpu_has_avx512() else None)
    if width is None:
        return None
    if width not in ("128", "256", "512"):
        raise ValueError(f"SLT_PPL_CPU_VECTOR_WIDTH must be 128, 256 or 512 (bits), got {width!r}; unset it for the default")
    return {"xla_cpu_prefer_vector_width": int(width)}


def shard_chains(tree, num_chains: int):
    """Place the leading chain axis of every array in `tree` across the available devices.

    Chains split evenly over the largest number of devices that divides num_chains (jax.sharding
    with one mesh axis "chain"); XLA partitions the vmapped step along it, so each device runs its
    own chains with no communication until the statistics come back. Under jax.distributed the
    devices are those of every process (slt_ppl.distributed). One device: placed on it.
    """
    devices = jax.devices()
    k = int(np.gcd(num_chains, len(devices)))
    if k <= 1:
        return jax.device_put(tree)  # numpy leaves become device arrays, as on several devices
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    sharding = NamedSharding(Mesh(np.array(devices[:k]), ("chain",)), PartitionSpec("chain"))

    def place(x):
        if hasattr(x, "shape") and len(x.shape) >= 1 and x.shape[0] == num_chains:
            if jax.process_count() > 1:  # each process builds its own shards of the global array
                if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                    data = place(jax.random.key_data(x))
                    return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
                host = np.asarray(x)
                return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
            return jax.device_put(x, sharding)
        return x

    return jax.tree.map(place, tree)


def replicate(tree, num_chains: int):
    """Arrays every chain reads (the data) on the devices `shard_chains` puts the chains on: a full copy on
    each when several devices run chains (placed once per call), else on the default device."""
    if tree is None:
        return None
    devices = jax.devices()
    k = int(np.gcd(num_chains, len(devices)))
    if k <= 1:
        return jax.device_put(tree)
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    sharding = NamedSharding(Mesh(np.array(devices[:k]), ("chain",)), PartitionSpec())

    def place(x):
        if not hasattr(x, "shape"):
            return x
        if jax.process_count() > 1:
            host = np.asarray(x)
            return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
        return jax.device_put(x, sharding)

    return jax.tree.map(place, tree)
