"""Deep linear network y = W_L ... W_1 x + N(0, I) with widths H_1 (input) ... H_{L+1} (output).

w* is a teacher whose product has rank r: the first r units of every hidden layer carry it,
the rest have zero weights (slt_ppl.theory.dln gives the exact coefficient there).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from .rrr import orthonormal
from .noise import orthogonal_noise
from .zoo_case import ZooCase
from slt_ppl import theory


def model(X, y=None, widths=(3, 3, 3, 3), sigma=1.0):
    h = None
    weights = [
        numpyro.sample(f"W{l}", dist.Normal(0.0, 1.0).expand([widths[l + 1], widths[l]]).to_event(2))
        for l in range(len(widths) - 1)
    ]
    with numpyro.plate("data", X.shape[0]) as idx:
        h = X[idx]
        for W in weights:
            h = h @ W.T
        numpyro.sample("y", dist.Normal(h, sigma).to_event(1), obs=None if y is None else y[idx])


def teacher(widths, r: int, rng: np.random.Generator) -> dict:
    """Every layer's active block has orthonormal rows/columns: the product has rank r, unit singular values."""
    params = {}
    for l in range(len(widths) - 1):
        W = np.zeros((widths[l + 1], widths[l]), np.float32)
        rows = widths[l + 1] if l == len(widths) - 2 else r
        cols = widths[l] if l == 0 else r
        if rows and cols:
            W[:rows, :cols] = orthonormal(rows, cols, rng)
        params[f"W{l}"] = W
    return params


def make(widths=(3, 4, 3, 3), r: int = 1, n: int = 10_000, seed: int = 0, sigma: float = 1.0) -> ZooCase:
    widths = tuple(int(w) for w in widths)
    coefficient = theory.dln(widths, r)  # validates the shape first, with a clear error
    rng = np.random.default_rng(seed)
    params = teacher(widths, r, rng)
    return _case(f"dln(widths={list(widths)},r={r})", params, widths, n, sigma, rng, coefficient)


def _case(name, params, widths, n, sigma, rng, coefficient) -> ZooCase:
    """The ZooCase of teacher `params`: X ~ N(0, I) drawn from rng, then noise off the column space of X."""
    X = rng.normal(size=(n, widths[0])).astype(np.float32)
    mean = X
    for l in range(len(widths) - 1):
        mean = mean @ params[f"W{l}"].T
    y = (mean + orthogonal_noise(X, mean.shape, sigma, rng)).astype(np.float32)
    return ZooCase(
        name=name,
        model=model,
        model_args=(jnp.asarray(X), jnp.asarray(y), widths, sigma),
        params={k: jnp.asarray(v) for k, v in params.items()},
        coefficient=coefficient,
        d=sum(widths[l] * widths[l + 1] for l in range(len(widths) - 1)),
    )


SIZE_CLASSES = {"1K": 1_000, "10K": 10_000, "100K": 100_000}


def random_widths(size_class: str, rng: np.random.Generator) -> tuple[tuple[int, ...], int]:
    """Random depth and widths near a parameter budget, and the true rank (benchmark recipe).

    Reference sheet section 5 (Furman & Lau, App. E.2): depth L (weight matrices) uniform in
    2..6, widths uniform in [h/2, 3h/2] with h = sqrt(budget / L); each layer is rank-reduced with
    probability 1/2 (its rank uniform in 1..min(in, out)); the true rank r is the smallest.
    """
    if size_class not in SIZE_CLASSES:
        raise ValueError(f"unknown size class {size_class!r}; choose one of {list(SIZE_CLASSES)}")
    budget = SIZE_CLASSES[size_class]
    L = int(rng.integers(2, 7))
    h = np.sqrt(budget / L)
    widths = tuple(int(rng.integers(max(2, int(h / 2)), int(1.5 * h) + 1)) for _ in range(L + 1))
    ranks = [
        int(rng.integers(1, min(a, b) + 1)) if rng.random() < 0.5 else min(a, b)
        for a, b in zip(widths, widths[1:])
    ]
    return widths, min(ranks)


def random_instance(size_class: str = "1K", seed: int = 0, n: int = 10_000) -> ZooCase:
    """A random DLN of the size class with w* = its (most degenerate) teacher."""
    widths, r = random_widths(size_class, np.random.default_rng([seed, 1]))
    case = make(widths, r, n=n, seed=seed)
    return case._replace(name=f"dln_{size_class}#{seed}(L={len(widths) - 1},r={r})")


def gaussian_teacher(widths, r: int, n: int = 10_000, seed: int = 0, sigma: float = 1.0) -> ZooCase:
    """A DLN whose teacher has Gaussian weights N(0, 1 / fan-in) (spread singular values: an ill-conditioned
    product), its rank cut to r in the first layer; noise projected off the column space of X, so that w* is an
    exact minimiser of L_n (the construction of benchmarks/certified_llc.py). Aoyagi's lambda for
    rank r is the limit; at finite n beta the product's smallest kept singular values s count only once their
    loss n beta s^2 / 2 outweighs the coefficient they add times log(n beta): theory.preferred_rank gives the rank
    the tempered posterior prefers, and below r the finite-n LLC lies between lambda(that rank) and lambda(r)."""
    widths = tuple(int(w) for w in widths)
    coefficient = theory.dln(widths, r)
    rng = np.random.default_rng([seed, 7])
    params = {}
    for l in range(len(widths) - 1):
        W = rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l])
        if l == 0:
            W[r:] = 0.0
        params[f"W{l}"] = W.astype(np.float32)
    return _case(f"dln_gauss{list(widths)} r={r}", params, widths, n, sigma, rng, coefficient)
