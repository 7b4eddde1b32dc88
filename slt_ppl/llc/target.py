"""The localized tempered target of the LLC and the statistics every draw records.

    p(w) ∝ exp{-n beta L_n(w) - (gamma/2) ||w - w*||^2}
(Lau, Furman, Wang, Murfet, Wei, "The Local Learning Coefficient", arXiv 2308.12108, the localized tempered posterior of its LLC estimator),
with n beta = n / log n by default (Watanabe's WBIC temperature beta* = 1/log n, JMLR 14 (2013)).
On a minibatch B the log density is written through the paired difference
L_B(w*) - L_B(w) = mean_{i in B} [log p(X_i|w) - log p(X_i|w*)], with the per-datum
log-likelihoods at w* computed once: unbiased, and the batch noise of L_B cancels in it.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from slt_ppl.checks import positive_float
from slt_ppl.trees import sq_distance

__all__ = ["default_nbeta", "check_nbeta", "localized_logdensity", "localized_target", "draw_stats", "divergence_bound"]


def default_nbeta(n: int) -> float:
    """n beta* = n / log n (Watanabe's WBIC temperature beta* = 1/log n, n = size of the data plate)."""
    return n / math.log(n) if n > 1 else 1.0


def check_nbeta(n: int, nbeta) -> float:
    """n beta as given (finite, > 0), or the default n / log n."""
    if nbeta is None:
        return default_nbeta(n)
    return positive_float("nbeta", nbeta, " (n*beta, the inverse temperature times n)")


def divergence_bound(num_params: int) -> float:
    """E[n beta (L - L*)] <= d/2 under the target; a draw past 100 (d + 10) means the chain diverged."""
    return 100.0 * (num_params + 10)


def localized_logdensity(loglik_fn, nbeta, gamma, w_star, ll_star):
    """(position, idx) -> (log density, aux) of the localized target at w* with per-datum log-liks ll_star.

    aux = (L_B(w), L_B(w) - L_B(w*), ||w - w*||^2), from which every sampler's draw statistics are built.
    ll_star None: the minibatch's log-likelihoods at w* are computed in the step (data streamed from the
    host, where no per-datum array of length n is kept): one more forward pass, the same pairing.
    """

    def logdensity_fn(position, idx):
        ll = loglik_fn(position, idx)
        at_star = jax.lax.stop_gradient(loglik_fn(w_star, idx)) if ll_star is None else jnp.asarray(ll_star)[idx]
        diff = jnp.mean(at_star - ll)
        sq = sq_distance(position, w_star)
        return -(nbeta * diff + 0.5 * gamma * sq), (-jnp.mean(ll), diff, sq)

    return logdensity_fn


def draw_stats(aux, nbeta, bound):
    """Per-draw statistics from the target's aux: loss L_B(w), llc = n beta (L_B(w) - L_B(w*)), distance."""
    loss, diff, sq = aux
    llc = nbeta * diff
    return {"loss": loss, "llc": llc, "distance": jnp.sqrt(sq), "diverged": llc > bound}


def localized_target(pot, nbeta, localization, *, host_rows: bool = False):
    """(factory(consts, data) -> the localized log density, data, cache key or None).

    With the Potential's data-argument form the data travel as an argument of the compiled programs and
    the key names the rest (pot.cache_id, n beta, gamma); otherwise the closure holds the data and
    nothing is cached (a restricted or hand-built Potential without cache_id). host_rows: the rows stay on
    the host and are streamed (the data returned are the rest of the argument, pot.data); else every row
    is on the device (pot.device_data())."""
    if pot.loglik_data_fn is None:
        loglik_fn = pot.loglik_fn
        return (lambda c, _: localized_logdensity(loglik_fn, nbeta, localization, c[0], c[1])), None, None
    data_fn = pot.loglik_data_fn

    def factory(c, data):
        return localized_logdensity(lambda p, idx: data_fn(p, idx, data), nbeta, localization, c[0], c[1])

    key = None if pot.cache_id is None else (pot.cache_id, float(nbeta), float(localization))
    return factory, pot.data if host_rows else pot.device_data(), key
