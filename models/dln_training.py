"""A deep linear network trained from small initialisation: saddle-to-saddle dynamics for developmental curves.

Gradient descent from a tiny initialisation learns the teacher's singular modes one at a time,
largest first (Saxe, McClelland & Ganguli 2014; Jacot et al. 2021, "saddle-to-saddle"): the loss
sits on a plateau (a saddle where the rank learned so far is k) and drops when the next mode is
learned. `train` returns the data, the loss curve and the parameters at every step;
`plateaus` finds the middle of each plateau; `self_distilled` gives data whose truth is the
network's own function at a checkpoint (see the developmental-curve notebook for why).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .dln import model  # noqa: F401  (the NumPyro program the estimates use)
from .noise import orthogonal_noise

__all__ = ["Training", "train", "plateaus", "self_distilled", "learned_rank"]


class Training(NamedTuple):
    X: jax.Array
    y: jax.Array
    widths: tuple
    loss: np.ndarray  # (steps,) mean squared-error loss 0.5 E|y - f(x)|^2 before each step
    params: dict  # name -> (steps, ...) parameters before each step
    singular_values: np.ndarray  # the teacher's


def _forward(params, X, depth):
    h = X
    for k in range(depth):
        h = h @ params[f"W{k}"].T
    return h


def train(widths=(5, 5, 5), singular_values=(5.0, 2.0, 0.8), n: int = 10_000, steps: int = 6000,
          lr: float = 0.005, init_scale: float = 1e-5, seed: int = 0) -> Training:
    """Full-batch gradient descent on y = T x + N(0, I), T with the given singular values."""
    widths = tuple(int(w) for w in widths)
    rng = np.random.default_rng(seed)
    s = np.asarray(singular_values, dtype=np.float64)
    U = np.linalg.qr(rng.normal(size=(widths[-1], widths[-1])))[0][:, : len(s)]
    V = np.linalg.qr(rng.normal(size=(widths[0], widths[0])))[0][:, : len(s)]
    X = rng.normal(size=(n, widths[0])).astype(np.float32)
    y = (X @ ((U * s) @ V.T).T + rng.normal(size=(n, widths[-1]))).astype(np.float32)
    X, y = jnp.asarray(X), jnp.asarray(y)
    depth = len(widths) - 1
    init = {f"W{k}": jnp.asarray(init_scale * rng.normal(size=(widths[k + 1], widths[k])), jnp.float32)
            for k in range(depth)}

    def loss(p):
        return 0.5 * jnp.mean(jnp.sum((y - _forward(p, X, depth)) ** 2, axis=1))

    @jax.jit
    def run(p):
        def body(p, _):
            value, grad = jax.value_and_grad(loss)(p)
            return jax.tree.map(lambda a, g: a - lr * g, p, grad), (value, p)

        return jax.lax.scan(body, p, None, length=steps)[1]

    losses, params = run(init)
    return Training(X, y, widths, np.asarray(losses), {k: np.asarray(v) for k, v in params.items()}, s)


def learned_rank(params: dict, depth: int, threshold: float = 0.1) -> int:
    """Number of singular values of the end-to-end map above `threshold`."""
    prod = params["W0"]
    for k in range(1, depth):
        prod = params[f"W{k}"] @ prod
    return int(np.sum(np.linalg.svd(np.asarray(prod), compute_uv=False) > threshold))


def plateaus(training: Training, threshold: float = 0.1, flatness: float = 1e-4) -> list[int]:
    """One checkpoint per stage: for each learned rank, the median step where the loss is flat.

    Flat: the loss changes by less than `flatness` (relative) per step; a rank whose steps are
    never flat (a transition) gets no checkpoint.
    """
    depth = len(training.widths) - 1
    stride = max(1, len(training.loss) // 400)
    steps = np.arange(0, len(training.loss) - stride, stride)
    ranks = np.array([learned_rank({k: v[t] for k, v in training.params.items()}, depth, threshold) for t in steps])
    slope = np.abs(training.loss[steps + stride] - training.loss[steps]) / stride / training.loss[steps]
    out = []
    for rank in np.unique(ranks):
        flat = steps[(ranks == rank) & (slope < flatness)]
        if len(flat):
            out.append(int(np.median(flat)))
    return sorted(out)


def self_distilled(training: Training, step: int, seed: int = 1):
    """(params at `step`, model_args whose data come from that network itself plus orthogonal noise).

    At these data the checkpoint is an exact minimiser of L_n, so its LLC is the degeneracy of the
    function it computes so far: for a rank-k map, theory.dln(widths, k).
    """
    params = {k: jnp.asarray(v[step]) for k, v in training.params.items()}
    X = np.asarray(training.X)
    f = np.asarray(_forward(params, training.X, len(training.widths) - 1), dtype=np.float64)
    y = (f + orthogonal_noise(X, f.shape, 1.0, np.random.default_rng(seed))).astype(np.float32)
    return params, (training.X, jnp.asarray(y), training.widths, 1.0)
