"""One-hidden-layer tanh network y = sum_h a_h tanh(b_h x) + noise with true function 0, w* = 0.

lambda = (H + i^2 + i) / (4 i + 2), i = floor(sqrt(H)) (Watanabe 2009, ch. 7; slt_ppl.theory.tanh).
The noise is made orthogonal to x, x^3, x^5 (the odd monomials that tanh(b x) starts with), so
w* = 0 is a critical point of L_n with the population-shaped loss to the orders that set lambda.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from .noise import orthogonal_noise
from .zoo_case import ZooCase
from slt_ppl import theory


def model(x, y=None, H=3, sigma=1.0):
    a = numpyro.sample("a", dist.Normal(0.0, 1.0).expand([H]).to_event(1))
    b = numpyro.sample("b", dist.Normal(0.0, 1.0).expand([H]).to_event(1))
    with numpyro.plate("data", x.shape[0]) as idx:
        mean = jnp.tanh(x[idx, None] * b) @ a
        numpyro.sample("y", dist.Normal(mean, sigma), obs=None if y is None else y[idx])


def make(H: int = 3, n: int = 10_000, seed: int = 0, sigma: float = 1.0) -> ZooCase:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n).astype(np.float32)
    basis = np.stack([x, x**3, x**5], axis=1)
    y = orthogonal_noise(basis, (n,), sigma, rng).astype(np.float32)
    finite_n = None
    if H == 1:
        # K(a, b) = a^2 g(b) / (2 sigma^2), g(b) = mean_i tanh(b x_i)^2: a 2-D quadrature target
        x64 = x.astype(np.float64)
        b_nodes = np.linspace(-3.0, 3.0, 1201)
        g_nodes = np.array([np.mean(np.tanh(b * x64) ** 2) for b in b_nodes])
        K = lambda a, b: a**2 * np.interp(b, b_nodes, g_nodes) / (2 * sigma**2)  # noqa: E731
        finite_n = lambda nbeta, gamma: theory.finite_llc_quadrature(K, 2, nbeta, gamma)  # noqa: E731
    return ZooCase(
        name=f"tanh(H={H})",
        model=model,
        model_args=(jnp.asarray(x), jnp.asarray(y), H, sigma),
        params={"a": jnp.zeros(H, jnp.float32), "b": jnp.zeros(H, jnp.float32)},
        coefficient=theory.tanh(H),
        d=2 * H,
        finite_n=finite_n,
    )
