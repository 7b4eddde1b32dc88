"""How long an LLC run goes: the stop rule of rtol / max_time, and the burn-in extended while the draws are unsettled."""

from __future__ import annotations

import numpy as np

from slt_ppl.llc.verdict import unsettled
from slt_ppl.samplers import SamplingSettings

__all__ = ["MIN_DRAWS_FOR_RTOL", "extend_burnin", "outcome_steps", "stop_rule"]

MIN_DRAWS_FOR_RTOL = 500


def stop_rule(settings: SamplingSettings, first_draw: int, partner_block: int | None = None):
    """The runner's stop_when for rtol / max_time (None when neither is set): se / |llc| of the draws so far
    (chains with a non-finite value left out) at most rtol, or max_time seconds of sampling spent.
    partner_block: the chains come in blocks of this size and the last block holds the temperature partners
    (llc/temperature_check.py): the se read is then the one the result reports, the block before them with the
    shift between the two blocks counted once (temperature_check.total_se)."""
    if settings.rtol is None and settings.max_time is None:
        return None
    import time

    from slt_ppl.results import total_llc_se

    started = time.monotonic()

    def stop(pieces, done):
        if settings.max_time is not None and time.monotonic() - started > settings.max_time:
            return True
        if settings.rtol is None or done - first_draw < MIN_DRAWS_FOR_RTOL:
            return False
        llc = np.concatenate([p["llc"] for p in pieces], axis=1)[:, first_draw:]
        if partner_block is not None:
            from slt_ppl.llc.temperature_check import total_se

            main, partner = (b[np.all(np.isfinite(b), axis=1)] for b in
                             (llc[-2 * partner_block:-partner_block], llc[-partner_block:]))
            if main.shape[0] < 2 or partner.shape[0] < 2:
                return False
            se = total_se(total_llc_se(main)[0], main.mean() - partner.mean())
            return bool(np.isfinite(se) and se <= settings.rtol * abs(main.mean()))
        llc = llc[np.all(np.isfinite(llc), axis=1)]
        if llc.shape[0] == 0:
            return False
        se = total_llc_se(llc)[0]
        return bool(np.isfinite(se) and se <= settings.rtol * abs(llc.mean()))

    return stop


def outcome_steps(run, asked: int) -> int:
    """Steps the outcome counts as asked for: a run stopped by design is complete where it stopped."""
    return run.completed if run.stopped else asked


def extend_burnin(run, settings: SamplingSettings, num_burnin: int, go_on, *, eligible: bool, groups: int = 1,
                   unjudged: int = 0):
    """(run, burn-in, steps added): while the llc draws of a complete run are unsettled (R-hat > 1.05 across
    chains, or a drift between the halves of the draws: the burn-in had not finished; verdict.unsettled),
    the first half of the draws becomes burn-in and the chains go on for as many new draws, at most
    settings.extend_burnin times. Chains come in `groups` blocks judged apart (step sizes of a step-bias run); the
    last `unjudged` blocks (the temperature partners) are not judged: they never change the others' run.
    Runs with rtol or max_time (their length is set otherwise), or observers, are left as they are."""
    extended = 0
    if not eligible or settings.rtol is not None or settings.max_time is not None:
        return run, num_burnin, 0
    for k in range(settings.extend_burnin):
        if run.completed < settings.num_steps + extended or run.stopped:
            break
        llc = run.stats["llc"][:, num_burnin:]
        blocks = [b[~d] for b, d in zip(np.split(llc, groups), np.split(run.diverged, groups))][:groups - unjudged]
        if not any(b.shape[0] and unsettled(b) for b in blocks):
            break
        extra = llc.shape[1] // 2
        more = go_on(run, run.completed + extra, k + 1)
        stats = {k: np.concatenate([run.stats[k], more.stats[k]], axis=1) for k in run.stats}
        run = more._replace(stats=stats)
        num_burnin += extra
        extended += extra
    return run, num_burnin, extended
