"""Does a minibatch step cost a minibatch? A check of the model's compiled cost at two batch sizes.

A NumPyro model that computes on the whole data set before the data plate and indexes the result
inside it (`mu = X @ W` outside, `obs=y[idx]` with `mu[idx]` inside) gives correct numbers, but
every minibatch step runs the full-data forward and backward pass: measured on a [100,100,100,100]
DLN at n = 10 000, batch 500, 4 chains, 50 ms a step against 3 ms with `X[idx] @ W` inside the plate.

The check asks XLA's cost analysis for the floating-point operations of one gradient of the
minibatch log-likelihood at the estimator's batch size b and at the full n, from the lowered
programs (traced, not compiled: about 0.1 s each, once per model and batch size). A model whose
minibatch costs more than half a full pass while b <= n/4 gets one warning that names the plate
and shows the fix. The figures are also returned, for a caller (or a test) that wants them.

The same analysis prices a step for llc/default_length.py (`gradient_cost`): flops plus transcendentals (exp,
log, tanh: XLA counts them apart), a transcendental weighted TRANSCENDENTAL_FLOPS flops. The weight is measured:
a gradient over 10 000 rows for 16 vmapped chains on the 2-core CPU of this project took 0.45 ms for a crossing
(2.2e5 flops, none transcendental), 2.57 ms for tanh(H=1) (3.2e5 flops, 1e4 tanh) and 3.24 ms for the Gaussian
mixture (6.4e5 flops, 2e4 exp/log): at the crossing's 2.0e-9 ms a flop, a transcendental costs 93 (tanh) and
47 (mixture) flops. The lowered program's counts do not depend on the backend or the machine's load, so a rule
built on them gives the same run for the same model on every machine.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp

from slt_ppl.caching import LRUCache

__all__ = ["GradientCost", "MinibatchCost", "TRANSCENDENTAL_FLOPS", "gradient_cost", "minibatch_cost",
           "warn_if_minibatch_costs_a_full_pass"]

TRANSCENDENTAL_FLOPS = 50  # flops one transcendental costs (module doc: 47-93 measured; the lower end)


class GradientCost(NamedTuple):
    rows: int
    flops: float  # one gradient of the summed log-likelihood of `rows` data
    transcendentals: float  # exp, log, tanh, ... in it (XLA's count)

    @property
    def flop_equivalents(self) -> float:
        """flops + TRANSCENDENTAL_FLOPS * transcendentals: what the gradient costs, in flops (module doc)."""
        return self.flops + TRANSCENDENTAL_FLOPS * self.transcendentals


class MinibatchCost(NamedTuple):
    batch_size: int
    n: int
    batch_flops: float  # one gradient of the log-likelihood on a minibatch of batch_size
    full_flops: float  # the same on all n data

    @property
    def ratio(self) -> float:
        """Cost of the minibatch gradient as a fraction of the full-data one (b/n when it scales)."""
        return self.batch_flops / self.full_flops if self.full_flops > 0 else float("nan")


def _analysis(pot, size: int) -> GradientCost:
    def total(position, idx, data):
        return jnp.sum(pot.loglik_data_fn(position, idx, data))

    lowered = jax.jit(jax.grad(total)).lower(pot.position, jnp.arange(size), pot.data)
    cost = lowered.cost_analysis()
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else {}
    cost = cost or {}
    return GradientCost(int(size), float(cost.get("flops", float("nan"))), float(cost.get("transcendentals", 0.0)))


_GRADIENT_COSTS = LRUCache(64)  # (cache_id, rows) -> GradientCost: shared by both uses (module doc)


def gradient_cost(pot, rows: int) -> GradientCost | None:
    """XLA's count of the flops and transcendentals of one log-likelihood gradient over `rows` data (module doc);
    None where it cannot be measured (data on the host, no data argument, a backend without cost analysis)."""
    if pot.loglik_data_fn is None or pot.on_host:
        return None

    def make():
        try:
            cost = _analysis(pot, int(rows))
        except Exception:  # cost analysis is best effort: a backend without it must not stop an estimate
            return None
        return cost if cost.flops == cost.flops else None  # no flops figure (NaN): not measured

    key = None if pot.cache_id is None else (pot.cache_id, int(rows))
    return _GRADIENT_COSTS.get_or_make(key, make, refs=pot.cache_refs)


_WARNED: set = set()


def minibatch_cost(pot, batch_size: int) -> MinibatchCost | None:
    """The flops of one minibatch gradient and of a full-data one (None: not measurable for this Potential; host
    rows are gathered per minibatch, so there a step costs a batch by construction)."""
    batch, full = gradient_cost(pot, int(batch_size)), gradient_cost(pot, int(pot.n))
    if batch is None or full is None:
        return None
    return MinibatchCost(int(batch_size), int(pot.n), batch.flops, full.flops)


def warn_if_minibatch_costs_a_full_pass(pot, batch_size, *, plate_name: str | None = None) -> MinibatchCost | None:
    """Warn once per model when a minibatch of `batch_size` costs more than half a full-data pass (module doc)."""
    if batch_size is None or batch_size * 4 > pot.n:
        return None
    cost = minibatch_cost(pot, batch_size)
    if cost is None or not cost.ratio > 0.5:
        return cost
    key = (pot.cache_id, int(batch_size))
    if key in _WARNED and pot.cache_id is not None:
        return cost
    _WARNED.add(key)
    plate = f"'{plate_name}'" if plate_name else "the data plate"
    warnings.warn(
        f"a minibatch of {batch_size} of the n = {pot.n} data costs {100 * cost.ratio:.0f}% of a full-data pass "
        f"({cost.batch_flops:.3g} against {cost.full_flops:.3g} flops a gradient; it should be about "
        f"{100 * batch_size / pot.n:.0f}%): the model computes on all the data outside {plate} and indexes the "
        "result inside it, so every minibatch step runs over all n data. Index the data inside the plate: "
        "`with numpyro.plate('data', n) as idx: mu = X[idx] @ W.T; numpyro.sample('y', dist.Normal(mu, 1), "
        "obs=y[idx])` instead of `mu = X @ W.T` before the plate and `mu[idx]` in it",
        UserWarning, stacklevel=3)
    return cost
