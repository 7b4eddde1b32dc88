"""The LLC at many points w* of one model in a single vmapped run (checkpoints of a training run).

Every (checkpoint, chain) pair is one chain of one run: the per-checkpoint constants (w* and its
per-datum log-likelihoods) travel in the chains' carry, so the whole set compiles once and the
checkpoints share every kernel launch. Chain c of every checkpoint reuses the keys of chain c of a
single `estimate_llc` call with the same seed, so the numbers match the one-at-a-time results.
Checkpoints are processed in groups small enough for `max_values` carried values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.llc import _assemble, check_nbeta_and_batch, check_settings, localized_logdensity, make_potential
from slt_ppl.llc_sampling import SamplingOutcome, sample_sg
from slt_ppl.potential import minibatch_fn
from slt_ppl.samplers import SG_SAMPLERS
from slt_ppl.samplers.runner import ChainRun
from slt_ppl.validation import positive_int

__all__ = ["estimate_llc_batched"]


def estimate_llc_batched(model, params_list, model_args=(), model_kwargs=None, sampler: str = "sgld",
                         num_chains: int = 4, num_draws: int | None = None, num_burnin: int | None = None,
                         step_size: float = 1e-4, nbeta: float | None = None, localization: float | None = 1.0,
                         batch_size: int | None = None, seed: int = 0, *, burnin_step_factor: float = 4.0,
                         chunk_size: int = 500, progress_bar: bool | None = None,
                         max_values: int = 50_000_000, diagnostic_every: int | None = 10) -> list:
    """estimate_llc at every w* in `params_list` with one fixed step size (stochastic-gradient samplers)."""
    if sampler not in SG_SAMPLERS:
        raise ValueError(f"batched estimation runs the stochastic-gradient samplers {sorted(SG_SAMPLERS)}, got {sampler!r}")
    if isinstance(step_size, str):
        raise ValueError("batched estimation needs a fixed step_size (calibrate it once with estimate_llc first)")
    num_chains, num_draws, num_burnin, step_size, localization, burnin_step_factor = check_settings(
        sampler, num_chains, num_draws, num_burnin, step_size, localization, seed, burnin_step_factor)
    positive_int("max_values", max_values)
    if diagnostic_every is not None:
        diagnostic_every = positive_int("diagnostic_every", diagnostic_every)
    pots = [make_potential(model, p, model_args, model_kwargs) for p in params_list]
    if not pots:
        raise ValueError("params_list is empty")
    shapes = {str(jax.tree.map(jnp.shape, p.position)) for p in pots}
    if len(shapes) != 1:
        raise ValueError(f"every checkpoint must have the same parameter shapes; got {sorted(shapes)}")
    n, d = pots[0].n, pots[0].num_params
    nbeta, batch_size = check_nbeta_and_batch(n, nbeta, batch_size)
    loglik_fn = pots[0].loglik_fn  # the same program and data for every checkpoint; only w* differs
    full = jnp.arange(n)
    per_checkpoint = num_chains * (n + 2 * d)
    group = max(1, min(len(pots), max_values // per_checkpoint))
    results = []
    for start in range(0, len(pots), group):
        chunk = pots[start:start + group]
        K = len(chunk)
        w_stars = jax.tree.map(lambda *xs: jnp.stack(xs), *[p.position for p in chunk])
        ll_stars = jax.jit(jax.vmap(lambda w: loglik_fn(w, full)))(w_stars)
        tile = lambda x: jnp.repeat(x, num_chains, axis=0)  # noqa: E731  (checkpoint-major: k * C + c)
        consts = (jax.tree.map(tile, w_stars), tile(ll_stars))
        factory = lambda c: localized_logdensity(loglik_fn, nbeta, localization, c[0], c[1])  # noqa: E731
        out = sample_sg(sampler, factory, consts[0], minibatch_fn(n, batch_size), jax.random.key(int(seed)),
                        num_chains=K * num_chains, num_burnin=num_burnin, num_draws=num_draws, step_size=step_size,
                        kappa=0.1, burnin_step_factor=burnin_step_factor, nbeta=nbeta, bound=100.0 * (d + 10),
                        chunk_size=chunk_size, progress_bar=progress_bar, minibatched=False, consts=consts,
                        group_size=num_chains, diagnostic_every=diagnostic_every)
        loss_stars = -np.mean(np.asarray(ll_stars, dtype=np.float64), axis=1)
        for k in range(K):
            rows = slice(k * num_chains, (k + 1) * num_chains)
            run = ChainRun(None, {name: v[rows] for name, v in out.run.stats.items()}, out.run.diverged[rows],
                           out.run.diverged_at[rows], out.run.completed)
            one = SamplingOutcome(run, out.num_burnin, out.step_size, out.step_size_per_chain[rows], None, out.num_steps)
            results.append(_assemble(one, float(loss_stars[k]), nbeta, localization, n, sampler, d))
    return results
