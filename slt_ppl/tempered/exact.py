"""Exact finite-n values of the global quantities by quadrature, for small singular models.

The model is a regression through a monomial of 2-3 parameters,

    y_i ~ N(x_i f(w), sigma^2),   f(w) = prod_j w_j^{k_j},   w_j ~ N(0, s_j^2),

singular wherever some w_j = 0 with k_j >= 1 and the others vary (the "arms" of the singular set),
with lambda = 1 / (2 max_j k_j) when the truth is f = 0. For such a model n L_n(w) and the per-datum
log-likelihoods depend on w only through f:

    n L_n(w) = Q_min + S_xx (f - f_hat)^2 / (2 sigma^2),   log p(X_i | w) = a_i + b_i f + c_i f^2,

(S_xx = sum x_i^2, f_hat = sum x_i y_i / S_xx), so every quantity the global estimators target is a
function of the first four moments of f under the tempered posterior p_beta(w) ∝ phi(w) exp(-beta n L_n(w)):

    E_beta[n L_n], Var_beta[n L_n], WBIC = E_{1/log n}[n L_n],
    F(beta) = -log ∫ phi(w) exp(-beta n L_n(w)) dw   (the Bayes free energy F_n at beta = 1),
    V_n(beta) = sum_i Var_beta[log p(X_i | w)],  nu = beta V_n / 2   (tempered/fluctuation.py's convention),
    the least-squares slope of E_beta[n L_n] on 1/beta over a ladder (tempered/rlct.py's RLCT).

The moments are integrals over w, done as a product trapezoid rule on w_j = A sinh(t_j), t_j uniform
on [-T, T] (a sinh map: nodes dense near 0 and relative spacing uniform farther out, so the narrow
posterior along each arm of the singular set is resolved at every distance from the origin; a smooth,
fast-decaying integrand in t, where the trapezoid rule converges quickly). ``converged`` compares two
grid sizes. Float64 NumPy throughout; nothing here samples.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["ProductRegression", "TemperedMoments", "product_data"]


class TemperedMoments(NamedTuple):
    log_z: float  # log ∫ phi(w) exp(-beta (n L_n(w) - Q_min)) dw
    m: np.ndarray  # (5,) E_beta[f^p], p = 0..4


def product_data(n: int, signal: float, seed: int = 0, sigma: float = 1.0):
    """(x, y) with x ~ N(0, 1) and y = signal * x + sigma * noise, float64."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, signal * x + sigma * rng.standard_normal(n)


class ProductRegression:
    """Exact (quadrature) tempered-posterior quantities of y ~ N(x prod_j w_j^{k_j}, sigma^2), w_j ~ N(0, s_j^2).

    Parameters
    ----------
    x, y : array_like
        The data, (n,) each.
    powers : sequence of int
        The exponents k_j (2 or 3 of them, each >= 1).
    prior_scale : float or sequence of float, default 1.0
        The prior standard deviations s_j.
    sigma : float, default 1.0
        The known noise standard deviation.
    num_points : int, optional
        Nodes per coordinate. None: 2400 for 2 parameters, 360 for 3.
    inner_scale : float, default 1e-7
        A, the scale below which the grid is uniform (w = A sinh t).
    """

    def __init__(self, x, y, powers, *, prior_scale=1.0, sigma: float = 1.0, num_points: int | None = None,
                 inner_scale: float = 1e-7):
        self.x = np.asarray(x, dtype=np.float64).ravel()
        self.y = np.asarray(y, dtype=np.float64).ravel()
        if self.x.shape != self.y.shape:
            raise ValueError(f"x and y must have the same length, got {self.x.shape} and {self.y.shape}")
        self.powers = tuple(int(k) for k in powers)
        d = len(self.powers)
        if d not in (2, 3) or min(self.powers) < 1:
            raise ValueError(f"powers must be 2 or 3 exponents >= 1, got {powers!r}")
        self.prior_scale = np.broadcast_to(np.asarray(prior_scale, dtype=np.float64), (d,)).copy()
        self.sigma = float(sigma)
        self.n = self.x.size
        self.num_points = int(num_points or (2400 if d == 2 else 360))
        self.inner_scale = float(inner_scale)
        s2 = self.sigma**2
        self.sxx = float(self.x @ self.x)
        self.sxy = float(self.x @ self.y)
        self.f_hat = self.sxy / self.sxx
        self.q_min = 0.5 * self.n * math.log(2 * math.pi * s2) + float(np.sum((self.y - self.f_hat * self.x) ** 2)) / (2 * s2)
        # per-datum log p = a_i + b_i f + c_i f^2
        self._b = self.x * self.y / s2
        self._c = -(self.x**2) / (2 * s2)
        self._nodes = [self._axis(s) for s in self.prior_scale]
        self._cache: dict[float, TemperedMoments] = {}

    @property
    def num_params(self) -> int:
        return len(self.powers)

    def _axis(self, scale: float):
        """(w, log weight) of one coordinate: nodes A sinh(t) and log(prior density * dw/dt * dt)."""
        A = self.inner_scale
        T = math.asinh(9.0 * scale / A)
        t, dt = np.linspace(-T, T, self.num_points, retstep=True)
        w = A * np.sinh(t)
        logw = (-0.5 * (w / scale) ** 2 - math.log(scale * math.sqrt(2 * math.pi)) + np.log(A * np.cosh(t)) + math.log(dt))
        return w, logw

    def nll(self, f) -> np.ndarray:
        """n L_n as a function of f = prod_j w_j^{k_j}."""
        f = np.asarray(f, dtype=np.float64)
        return self.q_min + self.sxx * (f - self.f_hat) ** 2 / (2 * self.sigma**2)

    def moments(self, beta: float) -> TemperedMoments:
        """log Z and E_beta[f^p], p = 0..4, by the product trapezoid rule (chunked over the first coordinate)."""
        beta = float(beta)
        if beta in self._cache:
            return self._cache[beta]
        (w1, l1), *rest = self._nodes
        k1, *krest = self.powers
        # the other coordinates, flattened: their monomial and log weight
        g = np.ones(1)
        lg = np.zeros(1)
        for (w, lw), k in zip(rest, krest):
            g = (g[:, None] * w[None, :] ** k).ravel()
            lg = (lg[:, None] + lw[None, :]).ravel()
        a = beta * self.sxx / (2 * self.sigma**2)
        sums = np.zeros(5)
        shift = float(l1.max() + lg.max())  # every term is scaled by exp(-shift): no overflow
        rows = max(1, int(4e6 // g.size))
        for i in range(0, w1.size, rows):
            f = (w1[i:i + rows, None] ** k1) * g[None, :]
            e = np.exp(l1[i:i + rows, None] + lg[None, :] - shift - a * (f - self.f_hat) ** 2)
            p = e
            for j in range(5):
                sums[j] += p.sum()
                if j < 4:
                    p = p * f
        log_z = math.log(sums[0]) + shift
        out = TemperedMoments(log_z, sums / sums[0])
        self._cache[beta] = out
        return out

    # ---- the estimators' targets --------------------------------------------------------------
    def mean_nll(self, beta: float) -> float:
        """E_beta[n L_n]."""
        m = self.moments(beta).m
        c = self.sxx / (2 * self.sigma**2)
        return self.q_min + c * (m[2] - 2 * self.f_hat * m[1] + self.f_hat**2)

    def var_nll(self, beta: float) -> float:
        """Var_beta[n L_n] (n L_n = Q_min + c (f - f_hat)^2)."""
        m = self.moments(beta).m
        c = self.sxx / (2 * self.sigma**2)
        h = self.f_hat
        # central moments of g = f - f_hat from the raw moments of f
        g2 = m[2] - 2 * h * m[1] + h**2
        g4 = m[4] - 4 * h * m[3] + 6 * h**2 * m[2] - 4 * h**3 * m[1] + h**4
        return c**2 * (g4 - g2**2)

    def free_energy(self, beta: float = 1.0) -> float:
        """F(beta) = -log ∫ phi(w) exp(-beta n L_n(w)) dw; the Bayes free energy F_n at beta = 1."""
        return beta * self.q_min - self.moments(beta).log_z

    def wbic(self) -> float:
        """E_beta[n L_n] at beta = 1 / log n."""
        return self.mean_nll(1.0 / math.log(self.n))

    def rlct_slope(self, betas=None, num_betas: int = 5) -> float:
        """The least-squares slope of E_beta[n L_n] on 1/beta over `betas` (None: tempered.rlct's default ladder)."""
        if betas is None:
            half = 1.0 / math.sqrt(2.0 * math.log(self.n))
            betas = np.linspace(1.0 - half, 1.0 + half, num_betas) / math.log(self.n)
        betas = np.asarray(betas, dtype=np.float64)
        return float(np.polyfit(1.0 / betas, [self.mean_nll(b) for b in betas], 1)[0])

    def functional_variance(self, beta: float = 1.0) -> float:
        """V_n = sum_i Var_beta[log p(X_i | w)], log p(X_i | w) = a_i + b_i f + c_i f^2."""
        m = self.moments(beta).m
        var_f = m[2] - m[1] ** 2
        var_f2 = m[4] - m[2] ** 2
        cov = m[3] - m[1] * m[2]
        return float(np.sum(self._b**2) * var_f + np.sum(self._c**2) * var_f2 + 2 * np.sum(self._b * self._c) * cov)

    def nu(self, beta: float = 1.0) -> float:
        """The singular fluctuation beta V_n / 2 at inverse temperature beta."""
        return 0.5 * beta * self.functional_variance(beta)

    def targets(self, num_betas: int = 5) -> dict:
        """Every target at once: WBIC, F_n, the RLCT slope on the default ladder, nu and V_n at beta = 1."""
        return {"wbic": self.wbic(), "free_energy": self.free_energy(1.0), "rlct": self.rlct_slope(num_betas=num_betas),
                "nu": self.nu(1.0), "functional_variance": self.functional_variance(1.0)}

    def converged(self, factor: float = 1.5, rtol: float = 1e-4, num_betas: int = 5) -> tuple[bool, dict]:
        """(agree, largest relative differences) between this grid and one with `factor` times the nodes.

        Free energy and E[n L_n] are compared on their fluctuating parts (minus Q_min), not on their size."""
        fine = ProductRegression(self.x, self.y, self.powers, prior_scale=self.prior_scale, sigma=self.sigma,
                                 num_points=int(round(self.num_points * factor)), inner_scale=self.inner_scale)
        a, b = self.targets(num_betas), fine.targets(num_betas)
        rel = {}
        for k in a:
            base = self.q_min if k in ("wbic", "free_energy") else 0.0
            rel[k] = abs(a[k] - b[k]) / max(abs(b[k] - base), 1e-300)
        return all(v <= rtol for v in rel.values()), rel

    def numpyro_model(self):
        """(model, model_args): the same model as a NumPyro program, sites w1.. and an observed y in the data plate."""
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        powers, scales, sigma = self.powers, tuple(float(s) for s in self.prior_scale), self.sigma

        def model(x, y):
            f = 1.0
            for j, (k, s) in enumerate(zip(powers, scales)):
                f = f * numpyro.sample(f"w{j + 1}", dist.Normal(0.0, s)) ** k
            with numpyro.plate("data", x.shape[0]) as idx:
                numpyro.sample("y", dist.Normal(x[idx] * f, sigma), obs=y[idx])

        return model, (jnp.asarray(self.x), jnp.asarray(self.y))
