"""Noise that leaves the teacher an exact minimiser of the empirical loss.

With Gaussian noise E projected off the column space of X (X^T E = 0), the empirical loss of a
linear-in-X model is L_n(W) = L_n(W*) + (1/2 n sigma^2) ||X (W - W*)^T||^2: the teacher W* is
an exact minimiser of L_n, as a trained network is. Without it, w* = teacher sits a random
distance above the minimum of L_n and the LLC estimate is shifted by about -beta * chi^2_k / 2
(about -lambda / log n), which no sampler can remove.
"""

from __future__ import annotations

import numpy as np


def orthogonal_noise(X: np.ndarray, shape, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of `shape` (n, ...) with X^T noise = 0, rescaled to keep its per-entry variance."""
    e = rng.normal(size=shape).reshape(shape[0], -1)
    q, _ = np.linalg.qr(X.astype(np.float64))
    e = e - q @ (q.T @ e)
    n, k = X.shape[0], X.shape[1]
    e *= np.sqrt(n / max(n - k, 1))
    return (sigma * e).reshape(shape)
