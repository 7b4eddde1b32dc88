"""Stage boundaries of a developmental LLC curve: the critical points of the LLC over training.

Hoogland, Wang, Farrugia-Roberts, Carroll, Wei, Murfet, "The developmental landscape of in-context
learning" (arXiv 2402.02364, Sec. 3-4) cut training into stages at the critical points of the LLC curve
lambda_hat(t): the checkpoints where its slope over (log) training time changes sign, a local maximum
or minimum, found on a smoothed curve. Here:
- the curve is smoothed with a Gaussian kernel in u = log10(1 + t) of width `smooth` decades (0: none),
  which is the paper's log-time axis with its early, log-spaced checkpoints;
- critical points are the sign changes of the smoothed slope;
- an extremum is kept only when it is significant: the LLC rises (falls) into it and falls (rises)
  after it by more than `min_change` on both sides, where min_change defaults to 2 x the largest
  standard error along the curve (a wiggle within the error bars is noise, not a stage). Insignificant
  extrema are removed in pairs, smallest excursion first (topological persistence), so that the
  stages left are monotone stretches each longer than the noise.
The boundary is placed at the checkpoint of the extremum (the smoothed curve's extremum's checkpoint).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["StageBoundary", "stage_boundaries"]


class StageBoundary(NamedTuple):
    step: float  # the training step of the checkpoint where the LLC turns
    kind: str  # "max" (the LLC stops rising) or "min" (it stops falling)
    llc: float  # the smoothed LLC there
    checkpoint: int  # the index of the checkpoint


def _smoothed(u, y, width):
    if width <= 0:
        return y.copy()
    weights = np.exp(-0.5 * ((u[:, None] - u[None, :]) / width) ** 2)
    return weights @ y / weights.sum(axis=1)


def _extrema(y):
    """Indices of interior local extrema of y (plateaus: their first point) with their kinds."""
    slope = np.sign(np.diff(y))
    idx, kinds, last, last_i = [], [], 0, 0
    for i, s in enumerate(slope):
        if s == 0:
            continue
        if last and s != last:
            idx.append(last_i + 1)
            kinds.append("max" if last > 0 else "min")
        last, last_i = s, i
    return idx, kinds


def stage_boundaries(steps, llc, se=None, *, smooth: float = 0.0, min_change: float | None = None) -> list:
    """The significant critical points of an LLC curve over training, as StageBoundary records.

    Following Hoogland et al. (arXiv 2402.02364, Sec. 3-4), stages are cut at the local maxima and minima of the
    LLC over log training time: the curve is smoothed in u = log10(1 + step), critical points are the sign
    changes of its slope, and an extremum is kept only if the LLC moves by more than ``min_change`` on both sides
    of it (insignificant extrema removed in pairs, smallest excursion first). Details: the module docstring of
    ``slt_ppl/llc/stages.py``.

    Parameters
    ----------
    steps : array_like
        The training step of each checkpoint, increasing.
    llc : array_like
        The LLC estimate at each checkpoint.
    se : array_like, optional
        Their standard errors; they set ``min_change = 2 max(se)`` when ``min_change`` is None.
    smooth : float, default 0.0
        Width of the Gaussian smoothing kernel in decades of u (0: no smoothing).
    min_change : float, optional
        The excursion an extremum needs on both sides. None: 2 max(se), or, without ``se``, every sign change
        counts.

    Returns
    -------
    list of StageBoundary
        Named tuples ``(step, kind, llc, checkpoint)``: the training step, ``"max"`` or ``"min"``, the smoothed LLC
        there and the checkpoint's index.
    """
    t = np.asarray(steps, dtype=float)
    y = np.asarray(llc, dtype=float)
    if t.ndim != 1 or t.shape != y.shape:
        raise ValueError(f"steps {t.shape} and llc {y.shape} must be 1-D and of one length (one per checkpoint)")
    if len(t) > 1 and np.any(np.diff(t) <= 0):
        raise ValueError("steps must increase strictly: give the checkpoints in training order")
    if not np.all(np.isfinite(y)):
        raise ValueError("the LLC curve holds NaN or infinite values: drop or re-run those checkpoints first")
    if min_change is None:
        min_change = 0.0 if se is None else 2.0 * float(np.max(np.asarray(se, dtype=float)))
    ys = _smoothed(np.log10(1.0 + np.maximum(t, 0.0)), y, smooth)
    idx, kinds = _extrema(ys)
    # persistence: the chain of turning points, ends included; drop the smallest excursion pair at a time
    points = [0] + idx + [len(ys) - 1]
    while len(points) > 2:
        gaps = np.abs(np.diff(ys[points]))
        k = int(np.argmin(gaps))
        if gaps[k] > min_change:
            break
        if k == 0:  # the first stretch is too small: drop the first interior extremum
            del points[1]
        elif k == len(gaps) - 1:
            del points[-2]
        else:  # an interior pair of extrema with a small excursion between them: drop both
            del points[k:k + 2]
    kind_of = dict(zip(idx, kinds))
    return [StageBoundary(float(t[i]), kind_of[i], float(ys[i]), int(i)) for i in points[1:-1]]
