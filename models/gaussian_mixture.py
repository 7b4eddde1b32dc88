"""Two-component mixture (1 - a) N(0, 1) + a N(mu, 1) with true distribution N(0, 1).

The true set is {a = 0} ∪ {mu = 0}. The global coefficient is lambda = 1/2 with m = 2 (at
a = mu = 0; slt_ppl.theory.gaussian_mixture). Here w* = (a = 1/2, mu = 0), an interior point of the
true set where K ≈ a^2 mu^2 / 2 is quadratic in mu only: the local coefficient is also 1/2
(with m = 1). a lives in (0, 1) and is sampled in logit coordinates. The data are standardised
(mean 0, variance 1) so that w* is a critical point of L_n.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from .zoo_case import ZooCase
from slt_ppl import theory


def model(x, a_prior=1.0):
    a = numpyro.sample("a", dist.Beta(a_prior, a_prior))
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    with numpyro.plate("data", x.shape[0]) as idx:
        mix = dist.MixtureSameFamily(
            dist.Categorical(probs=jnp.stack([1.0 - a, a])), dist.Normal(jnp.stack([0.0, mu]), 1.0)
        )
        numpyro.sample("x", mix, obs=x[idx])


def make(n: int = 10_000, seed: int = 0, a_star: float = 0.5) -> ZooCase:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x = ((x - x.mean()) / x.std()).astype(np.float32)
    return ZooCase(
        name="gaussian_mixture",
        model=model,
        model_args=(jnp.asarray(x),),
        params={"a": jnp.asarray(a_star, jnp.float32), "mu": jnp.asarray(0.0, jnp.float32)},
        coefficient=theory.Coefficient(theory.gaussian_mixture().lam, 1),
        d=2,
    )
