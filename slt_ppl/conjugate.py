"""Closed forms of Bayesian linear regression, the exact oracle for WBIC, free energy and WAIC.

Model: y_i = x_i^T w + N(0, sigma^2) with sigma known, prior w ~ N(0, s^2 I_d). The tempered
posterior p_beta(w) ∝ phi(w) exp(-beta n L_n(w)) is Gaussian with precision
A_beta = I/s^2 + beta X^T X / sigma^2 and mean m_beta = A_beta^{-1} beta X^T y / sigma^2, so every
quantity the global estimators read (WBIC, the free energy, the singular fluctuation, WAIC) has a
closed form here (derived; each one is checked against Monte Carlo in tests/test_global.py,
test_conjugate_closed_forms_match_monte_carlo):
  F(beta) = -log ∫ phi(w) exp(-beta n L_n(w)) dw
          = beta (n/2) log(2 pi sigma^2) + (1/2)[beta y^T y / sigma^2 - b^T A^{-1} b] + (d/2) log s^2 + (1/2) log|A|,
    b = beta X^T y / sigma^2; F(1) = -log p(y | X), the Bayes free energy; F(0) = 0.
  E_beta[n L_n] = (n/2) log(2 pi sigma^2) + (||y - X m||^2 + tr(X^T X S)) / (2 sigma^2), S = A^{-1}
  Var_beta[n L_n] = (4 r^T X S X^T r + 2 tr((X^T X S)^2)) / (4 sigma^4), r = y - X m
  V_n = sum_i (2 s_i^4 + 4 r_i^2 s_i^2) / (4 sigma^4), s_i^2 = x_i^T S x_i   (functional variance)
  T_n = -(1/n) sum_i log N(y_i; x_i^T m, sigma^2 + s_i^2), WAIC = T_n + beta V_n / n.
Only numpy: like `theory`, this module imports nothing of the package.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GaussianLinearRegression"]


class GaussianLinearRegression:
    """Exact tempered-posterior quantities of y = X w + N(0, sigma^2), w ~ N(0, prior_scale^2 I)."""

    def __init__(self, X, y, sigma: float = 1.0, prior_scale: float = 1.0):
        self.X = np.asarray(X, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],):
            raise ValueError(f"X must be (n, d) and y (n,); got {self.X.shape} and {self.y.shape}")
        if sigma <= 0 or prior_scale <= 0:
            raise ValueError(f"sigma and prior_scale must be > 0, got {sigma} and {prior_scale}")
        self.sigma2, self.s2 = float(sigma) ** 2, float(prior_scale) ** 2
        self.n, self.d = self.X.shape
        self.xtx = self.X.T @ self.X

    def posterior(self, beta: float):
        """(mean m_beta, covariance S_beta) of the tempered posterior."""
        A = np.eye(self.d) / self.s2 + beta * self.xtx / self.sigma2
        S = np.linalg.inv(A)
        return S @ (beta * self.X.T @ self.y / self.sigma2), S

    def free_energy(self, beta: float = 1.0) -> float:
        """F(beta) = -log ∫ phi(w) exp(-beta n L_n(w)) dw; at beta = 1 the Bayes free energy -log p(y|X)."""
        A = np.eye(self.d) / self.s2 + beta * self.xtx / self.sigma2
        b = beta * self.X.T @ self.y / self.sigma2
        _, logdet = np.linalg.slogdet(A)
        return float(
            beta * 0.5 * self.n * np.log(2 * np.pi * self.sigma2)
            + 0.5 * (beta * self.y @ self.y / self.sigma2 - b @ np.linalg.solve(A, b))
            + 0.5 * self.d * np.log(self.s2)
            + 0.5 * logdet
        )

    def nll(self, w) -> float:
        """n L_n(w) = -sum_i log N(y_i; x_i^T w, sigma^2)."""
        r = self.y - self.X @ np.asarray(w, dtype=np.float64)
        return float(0.5 * self.n * np.log(2 * np.pi * self.sigma2) + r @ r / (2 * self.sigma2))

    def mean_nll(self, beta: float) -> float:
        """E_beta[n L_n(w)]; at beta = 1/log n this is the exact WBIC."""
        m, S = self.posterior(beta)
        return self.nll(m) + float(np.trace(self.xtx @ S)) / (2 * self.sigma2)

    def var_nll(self, beta: float) -> float:
        """Var_beta[n L_n(w)] = -d/dbeta E_beta[n L_n]."""
        m, S = self.posterior(beta)
        r = self.y - self.X @ m
        xr = self.X.T @ r
        M = self.xtx @ S
        return float((4 * xr @ S @ xr + 2 * np.trace(M @ M)) / (4 * self.sigma2**2))

    def _pointwise(self, beta: float):
        m, S = self.posterior(beta)
        r = self.y - self.X @ m
        s2 = np.einsum("ij,jk,ik->i", self.X, S, self.X)
        return r, s2

    def functional_variance(self, beta: float = 1.0) -> float:
        """V_n = sum_i Var_w[log p(y_i | w)] under the tempered posterior."""
        r, s2 = self._pointwise(beta)
        return float(np.sum(2 * s2**2 + 4 * r**2 * s2) / (4 * self.sigma2**2))

    def singular_fluctuation(self, beta: float = 1.0) -> float:
        """nu = (beta/2) V_n; tends to d/2 for this regular model at every beta."""
        return 0.5 * beta * self.functional_variance(beta)

    def training_loss(self, beta: float = 1.0) -> float:
        """T_n = -(1/n) sum_i log E_w[p(y_i | w)] (Bayes training loss)."""
        r, s2 = self._pointwise(beta)
        var = self.sigma2 + s2
        return float(np.mean(0.5 * np.log(2 * np.pi * var) + r**2 / (2 * var)))

    def waic(self, beta: float = 1.0) -> float:
        """WAIC = T_n + beta V_n / n on Watanabe's per-sample scale."""
        return self.training_loss(beta) + beta * self.functional_variance(beta) / self.n
