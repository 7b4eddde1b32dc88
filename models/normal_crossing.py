"""Normal-crossing regression y = x * prod_i w_i^{k_i} + noise, w* = 0.

With noise orthogonal to x, L_n(w) - L_n(0) = (mean(x^2) / 2) * prod_i w_i^{2 k_i} exactly: the
normal-crossing singularity of slt_ppl.theory.normal_crossing(k), lambda = 1 / (2 max k_i)
(devinterp's toy tests use the same family: true values 1/2, 1/4, 1/6).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from .noise import orthogonal_noise
from .zoo_case import ZooCase
from slt_ppl import theory


def model(x, y=None, k=(1, 2), sigma=1.0):
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([len(k)]).to_event(1))
    coef = jnp.prod(jnp.stack([w[i] ** int(ki) for i, ki in enumerate(k)]))  # integer powers: smooth at 0
    with numpyro.plate("data", x.shape[0]) as idx:
        numpyro.sample("y", dist.Normal(x[idx] * coef, sigma), obs=None if y is None else y[idx])


def make(k=(1, 2), n: int = 10_000, seed: int = 0, sigma: float = 1.0) -> ZooCase:
    k = tuple(int(v) for v in k)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n).astype(np.float32)
    y = orthogonal_noise(x[:, None], (n,), sigma, rng).astype(np.float32)
    scale = float(np.mean(x.astype(np.float64) ** 2)) / (2 * sigma**2)
    K = lambda *w: scale * np.prod([wi ** (2 * ki) for wi, ki in zip(w, k)], axis=0)  # noqa: E731
    return ZooCase(
        name=f"normal_crossing(k={list(k)})",
        model=model,
        model_args=(jnp.asarray(x), jnp.asarray(y), k, sigma),
        params={"w": jnp.zeros(len(k), jnp.float32)},
        coefficient=theory.normal_crossing(k),
        d=len(k),
        finite_n=lambda nbeta, gamma: theory.finite_llc_quadrature(K, len(k), nbeta, gamma) if len(k) <= 3 else None,
    )
