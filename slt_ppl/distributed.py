"""Multi-process runs: chains split across the devices of every process, with jax.distributed.

After `initialize`, `jax.devices()` lists the devices of all processes, and every estimator's
chains are placed across them (runner.shard_chains); each process runs its own chains, and the
per-draw statistics are gathered so that every process returns the same, complete result. Every
process must make the same calls with the same arguments (SPMD, as in any jax.distributed program).

On a cluster (SLURM, Open MPI, Kubernetes/GKE, Cloud TPU) `initialize()` with no arguments reads the
coordinator, process count and rank from the environment; elsewhere give them:

    slt.distributed.initialize("10.0.0.1:1234", num_processes=4, process_id=rank)
"""

from __future__ import annotations

import jax

__all__ = ["initialize", "is_main_process"]


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, **kwargs) -> None:
    """Join a multi-process run: `jax.distributed.initialize`, with CPU collectives (gloo) switched on.

    Call it first, before any JAX computation (JAX must not have chosen its backend yet). Extra
    keyword arguments go to jax.distributed.initialize (e.g. local_device_ids).
    """
    if num_processes is not None and (not isinstance(num_processes, int) or num_processes < 1):
        raise ValueError(f"num_processes must be a positive integer, got {num_processes!r}")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must lie in [0, num_processes) = [0, {num_processes}), got {process_id!r}")
    # CPU processes gather results through gloo; the setting only matters to the CPU backend
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, **kwargs)


def is_main_process() -> bool:
    """True on process 0 (the one that should print or save), and in a single-process run."""
    return jax.process_index() == 0
