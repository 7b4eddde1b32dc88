"""Exact learning coefficients (lambda) and multiplicities (m) of models whose geometry is known.

These are the oracles that estimators are validated against. Every value is exact
(`fractions.Fraction`). Sources, function by function: regular models lambda = d/2 (Watanabe,
Algebraic Geometry and Statistical Learning Theory, 2009); normal crossings lambda = min_i (h_i + 1)/(2 k_i)
(same book, the resolution theorem's standard form); reduced-rank regression (Aoyagi & Watanabe,
Neural Networks 18 (2005) 924-933, main theorem); deep linear networks (Aoyagi, Neural Networks 172
(2024) 106132, its main theorem; Theorem B.1 of arXiv 2402.03698); one-hidden-layer tanh networks with
zero true function (Watanabe 2009, ch. 7); the two-component Gaussian mixture (lambda 1/2, m 2).
This module imports nothing else of slt_ppl.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple, Sequence

__all__ = [
    "Coefficient",
    "regular",
    "normal_crossing",
    "rrr",
    "dln",
    "tanh",
    "gaussian_mixture",
    "regular_finite_llc",
    "preferred_rank",
]


class Coefficient(NamedTuple):
    """A learning coefficient lambda with its multiplicity m (F_n ~ lambda log n - (m-1) log log n)."""

    lam: Fraction
    m: int

    def __float__(self) -> float:
        return float(self.lam)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _width(name: str, value) -> int:
    if _positive_int(name, value) < 1:
        raise ValueError(f"{name} must be a positive integer (a layer needs at least one unit), got {value!r}")
    return value


def regular(d: int) -> Coefficient:
    """Regular (identifiable, positive-definite Fisher) model with d parameters: lambda = d/2, m = 1."""
    _positive_int("d", d)
    return Coefficient(Fraction(d, 2), 1)


def normal_crossing(k: Sequence[int], h: Sequence[int] | None = None) -> Coefficient:
    """K(w) = prod_i w_i^{2 k_i}, prior ~ prod_i |w_i|^{h_i} near 0.

    lambda = min_i (h_i + 1) / (2 k_i) over k_i > 0, m = number of i attaining the minimum
    (Watanabe, Algebraic Geometry and Statistical Learning Theory, 2009, ch. 2; reference 4b).
    """
    k = [_positive_int("k[i]", int(ki) if isinstance(ki, int) else ki) for ki in k]
    h = [0] * len(k) if h is None else list(h)
    if len(h) != len(k):
        raise ValueError(f"h has length {len(h)} but k has length {len(k)}; give one h_i per k_i")
    ratios = [Fraction(hi + 1, 2 * ki) for ki, hi in zip(k, h) if ki > 0]
    if not ratios:
        raise ValueError("normal_crossing needs at least one k_i > 0 (K = 1 is not a loss)")
    lam = min(ratios)
    return Coefficient(lam, sum(1 for r in ratios if r == lam))


def rrr(M: int, H: int, N: int, r: int) -> Coefficient:
    """Reduced-rank regression y = B A x: input M, hidden H, output N, true rank r.

    Aoyagi & Watanabe, "Stochastic complexities of reduced rank regression in Bayesian
    estimation", Neural Networks 18 (2005) 924-933 (reference 4c).
    """
    for name, v in (("M", M), ("H", H), ("N", N)):
        _width(name, v)
    _positive_int("r", r)
    if r > min(M, H, N):
        raise ValueError(f"true rank r={r} cannot exceed min(M, H, N)={min(M, H, N)}")
    if M + H < N + r:
        return Coefficient(Fraction(H * M - H * r + N * r, 2), 1)
    if N + H < M + r:
        return Coefficient(Fraction(H * N - H * r + M * r, 2), 1)
    if M + N < H + r:
        return Coefficient(Fraction(M * N, 2), 1)
    base = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
    if (M + H + N + r) % 2 == 0:
        return Coefficient(Fraction(base, 8), 1)
    return Coefficient(Fraction(base + 1, 8), 2)


def dln(widths: Sequence[int], r: int) -> Coefficient:
    """Deep linear network with layer widths H_1 (input), ..., H_{L+1} (output), true rank r.

    Aoyagi, "Consideration on the learning efficiency of multiple-layered neural networks with
    linear units", Neural Networks 172 (2024) 106132; Theorem B.1 of arXiv 2402.03698
    (reference 4d). With one hidden layer it equals `rrr`. m is unverified for ell >= 3.
    """
    widths = [_width("widths[i]", w) for w in widths]
    _positive_int("r", r)
    if len(widths) < 2:
        raise ValueError(f"widths must list at least an input and an output width, got {widths}")
    if r > min(widths):
        raise ValueError(f"true rank r={r} cannot exceed the narrowest width {min(widths)}")
    deltas = sorted(w - r for w in widths)
    for k in range(2, len(deltas) + 1):
        sigma, rest, ell = deltas[:k], deltas[k:], k - 1
        s = sum(sigma)
        if rest and not max(sigma) < min(rest):
            continue
        if s < ell * max(sigma):
            continue
        if rest and not s < ell * min(rest):
            continue
        big_m = -(-s // ell)  # ceil(S / ell)
        a = s - (big_m - 1) * ell
        pair_sum = sum(sigma[i] * sigma[j] for i in range(k) for j in range(i + 1, k))
        lam = (
            Fraction(-(r * r) + r * (widths[0] + widths[-1]), 2)
            + Fraction(a * (ell - a), 4 * ell)
            - Fraction(ell * (ell - 1), 4) * Fraction(s, ell) ** 2
            + Fraction(pair_sum, 2)
        )
        return Coefficient(lam, a * (ell - a) + 1)
    raise AssertionError(f"no admissible subset found for widths={widths}, r={r}")  # pragma: no cover


def preferred_rank(lambdas: Sequence, singular_values: Sequence[float], nbeta: float) -> int:
    """The rank k <= r whose set of minimisers the tempered posterior at n beta prefers, by free energy.

    For a reduced-rank model (RRR, DLN) whose teacher's product has singular values s_1 >= ... >= s_r (in the
    data's metric: unit noise variance, E[x x^T] = I), the best rank-k product costs the loss
    sum_{j > k} s_j^2 / 2 over the teacher, and the asymptotic free energy of its neighbourhood at n beta is
        F_k = n beta sum_{j > k} s_j^2 / 2 + lambda_k log(n beta),   k = 0, ..., r
    (Watanabe 2009, F_n = n L_n(w_0) + lambda log n + O_p(log log n), at the tempered sample size n beta; the
    comparison of phases of Chen, Lau, Mendel, Wei, Murfet, arXiv 2310.06301). Returns argmin_k F_k: where it
    is below r, the small singular values are not resolved at this n beta and the finite-n LLC lies between
    lambda_k and lambda_r, not at lambda_r (benchmarks/certified_llc.py: all 21 Gaussian-teacher DLNs read
    inside that bracket within 2 se). lambdas[k]: lambda of the model of true rank k (r + 1 values).
    """
    lams = [float(v) for v in lambdas]
    s = sorted((abs(float(v)) for v in singular_values), reverse=True)
    if len(lams) != len(s) + 1:
        raise ValueError(f"lambdas needs one value per rank 0..r ({len(s) + 1} for {len(s)} singular values), "
                         f"got {len(lams)}")
    if not nbeta > 1:
        raise ValueError(f"nbeta must be > 1 (log(n beta) weighs the coefficients), got {nbeta}")
    free = [nbeta * sum(v * v for v in s[k:]) / 2 + lams[k] * math.log(nbeta) for k in range(len(lams))]
    return min(range(len(free)), key=lambda k: (free[k], -k))


def tanh(H: int) -> Coefficient:
    """One-hidden-layer tanh network sum_h a_h tanh(b_h x) with true function 0.

    lambda = (H + i^2 + i) / (4 i + 2), i = floor(sqrt(H)) (Watanabe 2009, ch. 7; reference 4e).
    m: for H = 1, K(a, b) ≈ a^2 b^2 E[x^2] / 2 near 0 is a normal crossing with m = 2 (derived);
    for H > 1 it is not established in the literature and is reported as 1 (unverified).
    """
    if _positive_int("H", H) < 1:
        raise ValueError("H must be at least 1")
    i = math.isqrt(H)
    return Coefficient(Fraction(H + i * i + i, 4 * i + 2), 2 if H == 1 else 1)


def gaussian_mixture() -> Coefficient:
    """(1-a) N(0,1) + a N(mu,1) with true N(0,1): lambda = 1/2, m = 2 (reference 4f)."""
    return Coefficient(Fraction(1, 2), 2)


def regular_finite_llc(hessian_eigenvalues: Sequence[float], nbeta: float, localization: float) -> float:
    """Exact expected LLC estimate of a quadratic loss at finite n*beta with localization gamma.

    E[llc_hat] = (1/2) sum_i n beta h_i / (n beta h_i + gamma), h_i the eigenvalues of the
    Hessian of L (reference 4a). Tends to d/2 as n beta grows.
    """
    if nbeta <= 0 or localization < 0:
        raise ValueError("nbeta must be > 0 and localization >= 0")
    total = 0.0
    for h in hessian_eigenvalues:
        denom = nbeta * h + localization
        total += 0.0 if denom == 0 else nbeta * h / denom
    return 0.5 * total


def _graded_grid(half_width: float, num: int, grading: float = 12.0):
    """Nodes on [-half_width, half_width] clustered near 0 (sinh map) and trapezoid weights."""
    import numpy as np

    t = np.linspace(-1.0, 1.0, num)
    x = half_width * np.sinh(grading * t) / np.sinh(grading)
    dx_dt = half_width * grading * np.cosh(grading * t) / np.sinh(grading)
    w = np.full(num, t[1] - t[0]) * dx_dt
    w[0] *= 0.5
    w[-1] *= 0.5
    return x, w


def finite_llc_quadrature(
    K, dim: int, nbeta: float, localization: float, half_width: float = 3.0, num: int | None = None
) -> float:
    """n beta E[K] under p(w) ∝ exp(-n beta K(w) - (gamma/2) ||w||^2) on the box [-a, a]^dim.

    The exact finite-n target of the LLC estimator for a model whose L_n(w) - L_n(w*) = K(w - w*)
    (derived here by quadrature: K = w1^2 w2^2 gives 0.361 / 0.391 / 0.425 at n beta = 145 / 1086 / 72382).
    K is vectorised: it takes `dim` arrays of nodes and returns K on the grid. dim is 1, 2 or 3; in 3-D
    the tensor grid (601 graded nodes per axis by default) is summed one slice of the first axis at a
    time, with the log-density shifted by its running maximum, so memory stays at one 2-D slice.
    """
    import numpy as np

    if dim not in (1, 2, 3):
        raise ValueError(f"quadrature is implemented for dim 1, 2 or 3, got {dim}")
    if nbeta <= 0 or localization < 0:
        raise ValueError("nbeta must be > 0 and localization >= 0")
    num = num or {1: 200_001, 2: 3001, 3: 601}[dim]
    x, w = _graded_grid(half_width, num)
    if dim == 3:
        b, c = np.meshgrid(x, x, indexing="ij")
        w_bc = np.outer(w, w)
        shift, mass, moment = -np.inf, 0.0, 0.0
        for xa, wa in zip(x, w):
            a = np.full_like(b, xa)
            k = np.asarray(K(a, b, c), dtype=np.float64)
            log_density = -nbeta * k - 0.5 * localization * (xa * xa + b * b + c * c)
            top = float(log_density.max())
            if top > shift:  # rescale what was summed so far to the new maximum
                mass, moment, shift = mass * np.exp(shift - top), moment * np.exp(shift - top), top
            density = wa * w_bc * np.exp(log_density - shift)
            mass += float(np.sum(density))
            moment += float(np.sum(density * k))
        return float(nbeta * moment / mass)
    grids = np.meshgrid(*([x] * dim), indexing="ij")
    weights = w if dim == 1 else np.outer(w, w)
    k = np.asarray(K(*grids), dtype=np.float64)
    sq = sum(g * g for g in grids)
    log_density = -nbeta * k - 0.5 * localization * sq
    density = weights * np.exp(log_density - log_density.max())
    return float(nbeta * np.sum(density * k) / np.sum(density))
