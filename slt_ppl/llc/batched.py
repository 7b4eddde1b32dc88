"""The LLC at many points w* of one model in a single vmapped run (checkpoints of a training run).

Every (checkpoint, chain) pair is one chain of one run: the per-checkpoint constants (w* and its
per-datum log-likelihoods) travel in the chains' carry, so the whole set compiles once and the
checkpoints share every kernel launch. Chain c of every checkpoint reuses the keys of chain c of a
single `estimate_llc` call with the same seed, so the numbers match the one-at-a-time results.
Checkpoints are processed in groups small enough for `max_values` carried values.

The finite-n check of llc/temperature_check.py runs here too (temperature_check, default T = 4): every checkpoint
gets num_chains partner chains at n beta / T, laid out after all the checkpoints' own chains (partner c of
checkpoint k copies chain c of checkpoint k and draws the keys a single run's partner c draws), so each
checkpoint's se carries the shift exactly as a single `estimate_llc` call's does, and the numbers match it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from slt_ppl.checks import batch_size_for, non_negative_float, positive_int
from slt_ppl.llc.assemble import assemble_partner, assemble_result, split_outcome, with_note
from slt_ppl.caching import LRUCache
from slt_ppl.llc.estimate import llc_settings
from slt_ppl.llc.sampling import sample_sg
from slt_ppl.llc.temperature_check import DEFAULT_TEMPERATURE, check_temperature, combine_temperature
from slt_ppl.llc.target import check_nbeta, divergence_bound, localized_target
from slt_ppl.model import make_potential, minibatch_fn
from slt_ppl.samplers import SG_SAMPLERS
from slt_ppl.trees import stack

__all__ = ["estimate_llc_batched"]


def estimate_llc_batched(model, params_list, model_args=(), model_kwargs=None, *, sampler: str = "sgld",
                         num_chains: int = 4, num_draws: int | None = None, num_burnin: int | None = None,
                         step_size: float = 1e-4, seed: int = 0, nbeta: float | None = None,
                         localization: float | None = 1.0, batch_size: int | None = None,
                         burnin_step_factor: float = 4.0, diagnostic_every: int | None = 10, chunk_size: int = 500,
                         progress_bar: bool | None = None, max_values: int = 50_000_000,
                         temperature_check: float | None = DEFAULT_TEMPERATURE) -> list:
    """Estimate the LLC at every w* in ``params_list`` in one vmapped, once-compiled run.

    The estimator of ``estimate_llc`` (lambda_hat = n beta (E_w[L_n(w)] - L_n(w*))) at several points with one
    fixed step size: the chains of every point share one compiled program, in groups small enough for
    ``max_values`` carried values, and give the numbers separate runs at the same seed give. Stochastic-gradient
    samplers only.

    Parameters
    ----------
    model : callable or Likelihood
        As in ``estimate_llc``.
    params_list : sequence of dict or pytree
        The points w*, each shaped like ``estimate_llc``'s ``params``.
    model_args : tuple, default ()
        The NumPyro model's positional arguments.
    model_kwargs : dict, optional
        The NumPyro model's keyword arguments.
    sampler : str, default "sgld"
        A stochastic-gradient kernel: ``"sgld"``, ``"rmsprop_sgld"``, ``"sghmc"`` or ``"sgnht"``.
    num_chains : int, default 4
        Chains per point.
    num_draws : int, optional
        Draws per chain. None: 4000.
    num_burnin : int, optional
        Burn-in steps. None: ``num_draws``.
    step_size : float, default 1e-4
        The fixed step used at every point (no automatic step: ``calibrate_step_size`` or
        ``estimate_llc_trajectory`` choose one).
    seed : int, default 0
        The PRNG seed.
    nbeta : float, optional
        n beta. None: n / log n.
    localization : float, default 1.0
        gamma, the Gaussian localization strength.
    batch_size : int, optional
        Minibatch size. None: full batch.
    burnin_step_factor : float, default 4.0
        The burn-in runs at this multiple of the step.
    diagnostic_every : int or None, default 10
        Record the MALA acceptance of the proposal every this many steps; None: never.
    chunk_size : int, default 500
        Steps per compiled chunk.
    progress_bar : bool, optional
        Show a progress bar. None: only in an interactive terminal.
    max_values : int, default 50_000_000
        Upper bound on the values carried by one group of points (chains x parameters x points); more points run
        in further groups.
    temperature_check : float or None, default 4.0
        As in ``estimate_llc``: partner chains at n beta / T per point, their shift in each se; None turns it
        off, halving the chains.

    Returns
    -------
    list of LLCResult
        One result per entry of ``params_list``, in order.
    """
    if sampler not in SG_SAMPLERS:
        raise ValueError(f"batched estimation runs the stochastic-gradient samplers {sorted(SG_SAMPLERS)}, got {sampler!r}")
    if isinstance(step_size, str):
        raise ValueError("batched estimation needs a fixed step_size (calibrate it once with estimate_llc first)")
    settings = llc_settings(sampler=sampler, num_chains=num_chains, num_draws=num_draws, num_burnin=num_burnin,
                            step_size=step_size, seed=seed, burnin_step_factor=burnin_step_factor,
                            diagnostic_every=diagnostic_every, chunk_size=chunk_size, progress_bar=progress_bar,
                            extend_burnin=0)  # one checkpoint's chains cannot be extended alone in a batched run
    localization = 1.0 if localization is None else non_negative_float("localization", localization)
    positive_int("max_values", max_values)
    temperature_check = check_temperature(temperature_check)
    pots = [make_potential(model, p, model_args, model_kwargs) for p in params_list]
    if not pots:
        raise ValueError("params_list is empty")
    shapes = {str(jax.tree.map(jnp.shape, p.position)) for p in pots}
    if len(shapes) != 1:
        raise ValueError(f"every checkpoint must have the same parameter shapes; got {sorted(shapes)}")
    n, d = pots[0].n, pots[0].num_params
    nbeta = check_nbeta(n, nbeta)
    batch_size = batch_size_for(batch_size, n, sampler=sampler, metropolis=False,
                                subsample_size=pots[0].subsample_size)
    num_chains = settings.num_chains
    # the same program and data for every checkpoint; only w* differs
    factory, data, cache_key = localized_target(pots[0], nbeta, localization)
    ll_at = _vmapped_loglik(pots[0])
    full = jnp.arange(n)
    copies = 1 if temperature_check is None else 2  # each checkpoint's chains, and its partners at n beta / T
    per_checkpoint = copies * num_chains * (n + 2 * d)
    group = max(1, min(len(pots), max_values // per_checkpoint))
    full_batch = batch_size is None or batch_size >= n
    results = []
    for start in range(0, len(pots), group):
        chunk = pots[start:start + group]
        K = len(chunk)
        w_stars = stack([p.position for p in chunk])
        ll_stars = ll_at(w_stars, full, data)
        # checkpoint-major, k * C + c; with the check, the partners' block after all of them in the same order
        tile = lambda x: jnp.tile(jnp.repeat(x, num_chains, axis=0), (copies,) + (1,) * (x.ndim - 1))  # noqa: E731
        consts = (jax.tree.map(tile, w_stars), tile(ll_stars))
        temperatures = None if temperature_check is None else np.repeat([1.0, temperature_check], K * num_chains)
        out = sample_sg(settings._replace(num_chains=copies * K * num_chains), factory, consts[0],
                        minibatch_fn(n, batch_size), jax.random.key(settings.seed), nbeta=nbeta,
                        bound=divergence_bound(d), minibatched=False, consts=consts, group_size=num_chains, data=data,
                        cache_key=None if cache_key is None else ("llc_batched", cache_key, n, batch_size,
                                                                  str(jax.tree.map(np.shape, w_stars))),
                        cache_refs=pots[0].cache_refs, temperatures=temperatures, localization=localization)
        loss_stars = -np.mean(np.asarray(ll_stars, dtype=np.float64), axis=1)
        parts = split_outcome(out, copies * K)
        for k in range(K):
            res = assemble_result(parts[k], float(loss_stars[k]), nbeta, localization, n, sampler, d,
                                  full_batch=full_batch)
            if temperature_check is None:
                results.append(with_note(res, "finite-n terms not measured (temperature_check=None): they are not "
                                              "in the se"))
                continue
            partner = assemble_partner(parts[K + k], float(loss_stars[k]), nbeta / temperature_check, localization,
                                       n, sampler, d, full_batch=full_batch)
            results.append(combine_temperature(partner, res, temperature=temperature_check))
    return results


_VMAPPED_LOGLIK = LRUCache(8)


def _vmapped_loglik(pot):
    """(w_stars, idx, data) -> per-datum log-likelihoods at every w*, compiled once per model (cache_id)."""
    if pot.loglik_data_fn is None:
        fn = pot.loglik_fn
        return jax.jit(jax.vmap(lambda w, idx, _: fn(w, idx), in_axes=(0, None, None)))
    key = None if pot.cache_id is None else ("vmapped", pot.cache_id)
    return _VMAPPED_LOGLIK.get_or_make(key, lambda: jax.jit(jax.vmap(pot.loglik_data_fn, in_axes=(0, None, None))),
                                       refs=pot.cache_refs)
