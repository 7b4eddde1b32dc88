"""Run many chains of one kernel: vmap over chains, lax.scan over steps, in chunks with progress.

Keys are derived per (chain, step) with `fold_in`, so the numbers do not depend on the chunk
size. A chain whose position or statistics become NaN/infinite, or whose step function flags
`diverged`, is frozen at its last good state, marked, and its statistics after that step are
NaN; callers must leave such chains out of any average.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.caching import LRUCache
from slt_ppl.samplers.settings import SamplingSettings
from slt_ppl.samplers.placement import compiler_options, fast_threefry, replicate, shard_chains, to_host

__all__ = ["ChainRun", "run_chains", "progress_enabled"]


class ChainRun(NamedTuple):
    state: Any  # final kernel state, leading chain axis
    stats: dict  # name -> np.ndarray (num_chains, num_steps)
    diverged: np.ndarray  # (num_chains,) bool
    diverged_at: np.ndarray  # (num_chains,) int, step index of the divergence or -1
    completed: int = -1  # steps run; fewer than asked when interrupted (a partial run) or stopped by stop_when
    stopped: bool = False  # stop_when ended the run early, by design (not partial)


def progress_enabled(progress_bar) -> bool:
    """Progress bars default to on only in an interactive terminal and never under pytest or CI."""
    if progress_bar is not None:
        return bool(progress_bar)
    if os.environ.get("PYTEST_CURRENT_TEST") or os.environ.get("CI"):
        return False
    return sys.stderr.isatty()


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def _make_chunk_fn(step_fn: Callable, chunk_size: int):
    def one_chain(key, state, t, shared, streamed):
        args = () if shared is None else (shared,)
        if streamed is not None:
            args = (shared, streamed)
        new_state, stats = step_fn(jax.random.fold_in(key, t), state, t, *args)
        return new_state, stats

    def chunk(carry, keys, start, num_steps, shared, streamed):
        def vstep(keys, state, t, x):
            return jax.vmap(one_chain, in_axes=(0, 0, None, None, 0 if x is not None else None))(keys, state, t,
                                                                                               shared, x)

        def body(carry, inputs):
            i, x = inputs
            state, diverged, diverged_at = carry
            t = start + i

            def advance(_):
                new_state, stats = vstep(keys, state, t, x)
                flagged = stats.pop("diverged", jnp.zeros_like(diverged))
                ok = jax.vmap(_all_finite)((new_state, stats)) & ~flagged
                bad = diverged | ~ok
                keep = lambda new, old: jnp.where(bad.reshape(bad.shape + (1,) * (new.ndim - 1)), old, new)
                state_out = jax.tree.map(keep, new_state, state)
                stats = {k: jnp.where(bad.reshape(bad.shape + (1,) * (v.ndim - 1)), jnp.nan, v) for k, v in stats.items()}
                newly = bad & ~diverged
                return (state_out, bad, jnp.where(newly, t.astype(diverged_at.dtype), diverged_at)), (stats, bad)

            def skip(_):
                _, stats = jax.eval_shape(vstep, keys, state, t, x)
                stats = dict(stats)
                stats.pop("diverged", None)
                nan_stats = {k: jnp.full(v.shape, jnp.nan, v.dtype) for k, v in stats.items()}
                return (state, diverged, diverged_at), (nan_stats, diverged)

            return jax.lax.cond(t < num_steps, advance, skip, None)

        return jax.lax.scan(body, carry, (jnp.arange(chunk_size), streamed))

    return jax.jit(chunk, compiler_options=compiler_options())


SECOND_INTERRUPT_WINDOW = 30.0  # seconds: a Ctrl-C this soon after one that returned a partial run aborts
_LAST_INTERRUPT: float | None = None

_CHUNK_CACHE = LRUCache(8)  # (cache_key, chunk_size, compiler options) -> jitted chunk function


def _chunk_fn_for(step_fn, chunk_size: int, cache_key, cache_refs):
    """The jitted chunk function; with a cache_key, the one compiled by an earlier call with that key.

    A cache_key must name everything `step_fn` closes over; objects named by id() are kept alive in
    `cache_refs` (held with the entry) so an id cannot be reused while the entry exists.
    """
    key = None if cache_key is None else (cache_key, chunk_size, str(compiler_options()))
    return _CHUNK_CACHE.get_or_make(key, lambda: _make_chunk_fn(step_fn, chunk_size), refs=cache_refs)


def run_chains(
    step_fn: Callable,
    init_state,
    keys: jax.Array,
    num_steps: int,
    settings: SamplingSettings = SamplingSettings(),
    *,
    desc: str = "sampling",
    checkpoint_settings: dict | None = None,
    cache_key=None,
    cache_refs=None,
    consume: Callable | None = None,
    consumed_prefix: str = "",
    stop_when: Callable | None = None,
    shared=None,
    continue_from: ChainRun | None = None,
    stream=None,
) -> ChainRun:
    """Advance every chain `num_steps` times with `step_fn(key, state, t) -> (state, stats dict)`.

    `init_state` and `keys` carry a leading chain axis. Statistics are arrays per step
    (usually scalars) and come back as (num_chains, num_steps, *shape) numpy arrays.
    From `settings` the runner reads chunk_size (steps per compiled chunk), progress_bar and
    checkpoint: a directory; each chunk is saved there and a rerun of the same run resumes from it
    (checkpoint.py). `checkpoint_settings` are values outside the carry (a step size) that must match.
    consume(piece, start, stop): gets each chunk's statistics whose names start with `consumed_prefix`
    ((chains, steps, ...) numpy arrays, NaN after a divergence) and they are not kept: per-draw observables
    too large to store are reduced on the host as they come (no checkpoint then).
    stop_when(pieces, done) -> bool: checked after each chunk with the statistics so far; True ends the
    run there (`stopped`, not partial): runs that stop when precise.
    continue_from: an earlier complete run of the same step_fn and keys: the chains go on from its final
    state and flags at step index continue_from.completed up to num_steps (fresh noise: keys fold in the
    step index), and the statistics returned are those of the new steps only.
    shared: a pytree every chain reads (the data), an argument of the compiled chunk rather than a
    constant in it, not copied per chain: `step_fn(key, state, t, shared)` is called with it, so a
    cached loop (cache_key) runs on new data of the same shapes without compiling again.
    stream: per-step inputs from the host (samplers/host_stream.py: minibatches gathered from host rows):
    `stream.chunk(keys, start, length)` gives leaves shaped (length, chains, ...); chain c's slice at step t
    is passed as `step_fn(key, state, t, shared, batch)`. The next chunk's inputs are gathered while the
    current chunk runs, and the chunk is cut so that one chunk's inputs fit host_stream.MAX_CHUNK_BYTES.
    A KeyboardInterrupt between or during chunks returns the steps completed so far, with
    `completed < num_steps`; callers must mark such a result partial. A second one within
    SECOND_INTERRUPT_WINDOW seconds of the first is raised, so that Ctrl-C twice stops a script or a
    test run that calls the estimators in a loop.
    """
    chunk_size, progress_bar, checkpoint = settings.chunk_size, settings.progress_bar, settings.checkpoint
    num_chains = keys.shape[0]
    if stream is not None:
        from slt_ppl.samplers.host_stream import chunk_rows_limit

        chunk_size = min(chunk_size, chunk_rows_limit(stream, num_chains))
    # a continuation keeps the chunk length of the run it continues: the same compiled chunk
    chunk_size = int(max(1, min(chunk_size, num_steps if continue_from is None else continue_from.completed)))
    carry = (init_state, np.zeros(num_chains, bool), np.full(num_chains, -1, np.int32))  # numpy: no eager compiles
    pieces: list[dict] = []
    done = 0
    if continue_from is not None:
        carry, done = (continue_from.state, continue_from.diverged, continue_from.diverged_at), continue_from.completed
    store = None
    if checkpoint is not None and jax.process_count() > 1:
        raise ValueError("checkpoint= is not supported in a multi-process (jax.distributed) run: every process "
                         "would write the same files; checkpoint single-process runs, or split work by process")
    if checkpoint is not None and consume is not None:
        raise ValueError("checkpoint= cannot resume a run whose observables are reduced as they come; run it without")
    if checkpoint is not None:
        from slt_ppl.samplers.checkpoint import Checkpoint, fingerprint

        store = Checkpoint(checkpoint, {"desc": desc, **fingerprint(carry, keys, num_steps, checkpoint_settings)})
        done, saved, pieces, _ = store.load(carry, first=done)
        if saved is not None:
            carry = saved
    chunk_fn = _chunk_fn_for(step_fn, chunk_size, cache_key, cache_refs)
    host_keys = keys
    carry, keys = shard_chains((carry, keys), num_chains)
    shared = replicate(shared, num_chains)
    bar, stopped = None, False
    if progress_enabled(progress_bar):
        from tqdm.auto import tqdm

        bar = tqdm(total=num_steps, initial=done, desc=desc, unit="step", leave=False)
    ahead = None if stream is None else stream.chunk(host_keys, done, chunk_size)
    try:
        for start in range(done, num_steps, chunk_size):
            streamed = ahead
            with fast_threefry():
                new_carry, (stats, bad) = chunk_fn(carry, keys, np.int32(start), np.int32(num_steps), shared, streamed)
            if stream is not None and start + chunk_size < num_steps:  # gathered while this chunk runs
                ahead = stream.chunk(host_keys, start + chunk_size, chunk_size)
            stop = min(chunk_size, num_steps - start)
            piece = {k: np.swapaxes(to_host(v)[:stop], 0, 1) for k, v in stats.items()}
            if consume is not None:
                consume({k: piece.pop(k) for k in list(piece) if k.startswith(consumed_prefix)}, start, start + stop)
            if store is not None:
                store.save(start, start + stop, new_carry, piece, to_host(bad)[:stop].T)
            carry = new_carry
            pieces.append(piece)
            done = start + stop
            if bar is not None:
                bar.update(stop)
                bar.set_postfix(diverged=int(to_host(carry[1]).sum()))
            if stop_when is not None and done < num_steps and stop_when(pieces, done):
                stopped = True
                break
    except KeyboardInterrupt:
        global _LAST_INTERRUPT
        now = time.monotonic()
        again = _LAST_INTERRUPT is not None and now - _LAST_INTERRUPT < SECOND_INTERRUPT_WINDOW
        _LAST_INTERRUPT = now
        if done == 0 or again:  # a second Ctrl-C soon after the first aborts: the caller's loop must stop too
            raise
        warnings.warn(f"interrupted after {done} of {num_steps} steps: returning the completed steps (partial)"
                      + (f"; rerun with checkpoint={checkpoint!r} to resume" if store is not None else ""),
                      RuntimeWarning, stacklevel=2)
    finally:
        if bar is not None:
            bar.close()
    stats = {k: np.concatenate([p[k] for p in pieces], axis=1) for k in pieces[0]} if pieces else {}
    state, diverged, diverged_at = carry
    if jax.process_count() > 1:  # every process gets every chain's final state
        state = jax.tree.map(lambda x: to_host(x) if isinstance(x, jax.Array) else x, state)
    return ChainRun(state, stats, to_host(diverged), to_host(diverged_at), done, stopped)
