"""How long a ladder runs: the stop rule of rtol / atol / max_time for the global estimators.

The full-batch kernels (NUTS, HMC, MALA) run every temperature of a ladder as one vectorised run
(ladder.py), so one rule, read after each compiled chunk, ends them all together: the estimator's own
(value, se) from the draws so far (over the chains finite at every temperature), and the run stops once
se <= rtol |value|, or se <= atol, or after max_time seconds of sampling. ``num_draws`` is then the budget.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["MIN_DRAWS_FOR_RTOL", "ladder_stop_rule"]

MIN_DRAWS_FOR_RTOL = 200  # per chain and temperature before the rule may stop a run (se of fewer is unreliable)


def ladder_stop_rule(*, num_betas: int, num_chains: int, reduce, rtol=None, atol=None, max_time=None,
                     first_draw: int = 0):
    """The runner's stop_when (None when no target is set).

    reduce(nll) -> (value, se): the estimator's reduction of (K, C, D) n L_n draws."""
    if rtol is None and atol is None and max_time is None:
        return None
    started = time.monotonic()

    def stop(pieces, done):
        if max_time is not None and time.monotonic() - started > max_time:
            return True
        if (rtol is None and atol is None) or done - first_draw < MIN_DRAWS_FOR_RTOL:
            return False
        nll = np.concatenate([p["nll"] for p in pieces], axis=1)[:, first_draw:].astype(np.float64)
        nll = nll.reshape(num_betas, num_chains, -1)
        ok = np.all(np.isfinite(nll), axis=(0, 2))
        if ok.sum() < 2:
            return False
        value, se = reduce(nll[:, ok])
        if not np.isfinite(se):
            return False
        return bool((rtol is not None and se <= rtol * abs(value)) or (atol is not None and se <= atol))

    return stop


def precision_note(value: float, se: float, *, rtol=None, atol=None, stopped: bool, what: str) -> list[str]:
    """The verdict's note on a run with a precision target: stopped when precise, or ended on the budget."""
    if rtol is None and atol is None:
        return []
    target = " or ".join(t for t in ((f"se / |{what}| <= rtol = {rtol}" if rtol is not None else ""),
                                     (f"se <= atol = {atol}" if atol is not None else "")) if t)
    reached = (rtol is not None and se <= rtol * abs(value)) or (atol is not None and se <= atol)
    if reached:
        return [f"{'stopped when precise' if stopped else 'precise'}: se = {se:.3g} ({target})"]
    return [f"ended on the budget (num_draws / max_time) before the target: se = {se:.3g}, se / |{what}| = "
            f"{se / abs(value) if value else float('inf'):.3f} ({target} not met); give more draws or time"]
