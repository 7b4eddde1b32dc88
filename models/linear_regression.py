"""Linear regression y = X w + N(0, sigma^2), sigma known: a regular model, lambda = d/2."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from .noise import orthogonal_noise
from .zoo_case import ZooCase
from slt_ppl import theory


def model(X, y=None, sigma=1.0):
    d = X.shape[1]
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
    with numpyro.plate("data", X.shape[0]) as idx:
        numpyro.sample("y", dist.Normal(X[idx] @ w, sigma), obs=None if y is None else y[idx])


def make(n: int = 10_000, d: int = 5, seed: int = 0, sigma: float = 1.0) -> ZooCase:
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=d).astype(np.float32)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X @ w_true + orthogonal_noise(X, (n,), sigma, rng)).astype(np.float32)
    return ZooCase(
        name=f"linear_regression(d={d})",
        model=model,
        model_args=(jnp.asarray(X), jnp.asarray(y), sigma),
        params={"w": jnp.asarray(w_true)},
        coefficient=theory.regular(d),
        d=d,
    )
