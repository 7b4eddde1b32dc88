"""Running co-moments of two vector observables over the draws: covariances with memory flat in the draws.

Per chain the accumulator holds the count, the sums of a and b, of a^2 and b^2, and of a b^T. A chunk
of draws arrives as (chains, steps, P) and (chains, steps, T) arrays and is added with one matrix
product per chain, A^T B, so no per-draw P x T matrix is ever formed. Observables are shifted by their
value at w* before accumulating (covariances are shift-invariant): the raw sums stay of the order of
the posterior spread, and E[ab] - E[a]E[b] cancels nothing large. Sums are float64 unless P x T is large
(> 1e7 entries, float32 to halve the memory; the shift keeps that accurate).
From C chains: the pooled covariance over all draws, and a standard error from the spread of the C
per-chain covariances, sd_c / sqrt(C) (independent chains; autocorrelation within a chain shows in that
spread).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["CoMoments"]


class CoMoments:
    """Per-chain co-moments of a (P values) and b (T values), updated chunk by chunk (module doc)."""

    def __init__(self, num_chains: int, p: int, t: int, first_draw: int = 0):
        dtype = np.float64 if p * t <= 10_000_000 else np.float32
        self.first_draw = int(first_draw)
        self.count = np.zeros(num_chains)
        self.sum_a, self.sum_b = np.zeros((num_chains, p)), np.zeros((num_chains, t))
        self.sum_aa, self.sum_bb = np.zeros((num_chains, p)), np.zeros((num_chains, t))
        self.sum_ab = np.zeros((num_chains, p, t), dtype)

    def update(self, a: np.ndarray, b: np.ndarray, start: int) -> None:
        """Add a chunk: a (chains, steps, P), b (chains, steps, T) for steps start, start + 1, ...; rows before
        first_draw (burn-in) and rows with a non-finite value (after a divergence) are skipped."""
        skip = max(0, self.first_draw - start)
        a, b = a[:, skip:], b[:, skip:]
        for c in range(a.shape[0]):
            ok = np.all(np.isfinite(a[c]), axis=1) & np.all(np.isfinite(b[c]), axis=1)
            ac, bc = a[c][ok], b[c][ok]
            if not len(ac):
                continue
            self.count[c] += len(ac)
            self.sum_a[c] += ac.sum(axis=0, dtype=np.float64)
            self.sum_b[c] += bc.sum(axis=0, dtype=np.float64)
            self.sum_aa[c] += np.einsum("sp,sp->p", ac, ac, dtype=np.float64)
            self.sum_bb[c] += np.einsum("st,st->t", bc, bc, dtype=np.float64)
            dtype = self.sum_ab.dtype
            self.sum_ab[c] += ac.T.astype(dtype) @ bc.astype(dtype)

    @staticmethod
    def _cov(count, sum_a, sum_b, sum_aa, sum_bb, sum_ab):
        mean_a, mean_b = sum_a / count, sum_b / count
        scale = count / (count - 1)
        dtype = sum_ab.dtype  # float32 for large matrices: the (P, T) work stays in it
        cov = (sum_ab / dtype.type(count) - np.multiply.outer(mean_a.astype(dtype), mean_b.astype(dtype))) \
            * dtype.type(scale)
        return cov, (sum_aa / count - mean_a**2) * scale, (sum_bb / count - mean_b**2) * scale

    def covariances(self, kept: np.ndarray, keep_per_chain: bool = True) -> dict:
        """Pooled cov, var_a, var_b over the kept chains' draws, the between-chain se of cov, and (when asked)
        the per-chain covs. Large matrices stay in the sums' dtype and the chains are visited one at a time
        (Welford over chains), so the peak is a few copies of one (P, T) matrix."""
        kept = np.flatnonzero(np.asarray(kept, bool))
        count = self.count[kept]
        if count.size == 0 or np.any(count < 2):
            raise ValueError("the observables need at least 2 draws per chain after the burn-in")
        parts = [x[kept] for x in (self.sum_a, self.sum_b, self.sum_aa, self.sum_bb)]
        total_ab = np.zeros(self.sum_ab.shape[1:], self.sum_ab.dtype)
        mean_c = np.zeros_like(total_ab)
        m2_c = np.zeros_like(total_ab)
        per_chain = []
        for i, c in enumerate(kept):
            total_ab += self.sum_ab[c]
            cov_c = self._cov(count[i], *[x[i] for x in parts], self.sum_ab[c])[0].astype(total_ab.dtype)
            delta = cov_c - mean_c
            mean_c += delta / (i + 1)
            m2_c += delta * (cov_c - mean_c)
            if keep_per_chain:
                per_chain.append(cov_c)
        cov, var_a, var_b = self._cov(count.sum(), *[x.sum(axis=0) for x in parts], total_ab)
        C = len(kept)
        if C >= 2:
            se = np.sqrt(m2_c / (C - 1)) / np.sqrt(C)
        else:  # never a silent NaN: say why the error bars are missing
            warnings.warn("the standard errors of the covariances need >= 2 usable chains and are NaN; use "
                          "num_chains >= 2", RuntimeWarning, stacklevel=3)
            se = np.full_like(total_ab, np.nan)
        return {"cov": cov.astype(total_ab.dtype), "var_a": var_a, "var_b": var_b, "se": se,
                "per_chain": np.stack(per_chain) if keep_per_chain else None, "draws": int(count.sum())}
