"""Reduced-rank regression y = B A x + N(0, I): input M, hidden H, output N, true rank r.

w* is the teacher: the first r hidden units carry a rank-r map, the other H - r have zero in-
and out-weights (the most degenerate true parameter, where the LLC equals the global
Aoyagi-Watanabe coefficient, slt_ppl.theory.rrr).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from .noise import orthogonal_noise
from .zoo_case import ZooCase
from slt_ppl import theory


def model(X, y=None, H=3, N=3, sigma=1.0):
    M = X.shape[1]
    A = numpyro.sample("A", dist.Normal(0.0, 1.0).expand([H, M]).to_event(2))
    B = numpyro.sample("B", dist.Normal(0.0, 1.0).expand([N, H]).to_event(2))
    with numpyro.plate("data", X.shape[0]) as idx:
        mean = X[idx] @ A.T @ B.T
        numpyro.sample("y", dist.Normal(mean, sigma).to_event(1), obs=None if y is None else y[idx])


def orthonormal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A rows x cols matrix with orthonormal rows or columns (all singular values 1)."""
    q, _ = np.linalg.qr(rng.normal(size=(max(rows, cols), min(rows, cols))))
    return (q if rows >= cols else q.T).astype(np.float32)


def teacher(M: int, H: int, N: int, r: int, rng: np.random.Generator):
    """Rank-r teacher with unit singular values, so the curvature at w* is O(n beta), not O(n beta M N)."""
    A = np.zeros((H, M), np.float32)
    B = np.zeros((N, H), np.float32)
    if r:
        A[:r] = orthonormal(r, M, rng)
        B[:, :r] = orthonormal(N, r, rng)
    return A, B


def make(M: int = 5, H: int = 3, N: int = 5, r: int = 0, n: int = 10_000, seed: int = 0, sigma: float = 1.0) -> ZooCase:
    coefficient = theory.rrr(M, H, N, r)  # validates the shape first, with a clear error
    rng = np.random.default_rng(seed)
    A, B = teacher(M, H, N, r, rng)
    X = rng.normal(size=(n, M)).astype(np.float32)
    y = (X @ A.T @ B.T + orthogonal_noise(X, (n, N), sigma, rng)).astype(np.float32)
    return ZooCase(
        name=f"rrr(M={M},H={H},N={N},r={r})",
        model=model,
        model_args=(jnp.asarray(X), jnp.asarray(y), H, N, sigma),
        params={"A": jnp.asarray(A), "B": jnp.asarray(B)},
        coefficient=coefficient,
        d=H * (M + N),
    )
