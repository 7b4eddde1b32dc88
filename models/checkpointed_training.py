"""Adam on minibatches of a fixed dataset, keeping parameters at chosen steps: the training runs whose
checkpoints the developmental-interpretability zoo (icl_regression, char_lm) measures LLCs at.

`checkpoint_steps` spaces checkpoints as arXiv 2402.02364 does (log-spaced early, where the fast changes
are, then linear); `train_checkpointed` runs Adam (linear warmup over 5% of the steps, cosine decay to lr/10,
global-norm clipping at 1) in a compiled fori_loop between checkpoints and copies each checkpoint to NumPy.
Needs optax.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["checkpoint_steps", "train_checkpointed"]


def checkpoint_steps(total: int, num: int, log_fraction: float = 0.5) -> np.ndarray:
    """About `num` distinct training steps in [0, total]: a log-spaced first part (the fast early
    changes) and a linear rest, as arXiv 2402.02364 keeps them."""
    n_log = max(2, int(num * log_fraction))
    log_part = np.unique(np.round(np.logspace(0, np.log10(max(total, 1)), n_log)).astype(int))
    lin_part = np.round(np.linspace(0, total, num - len(log_part) + 1)).astype(int)
    return np.unique(np.concatenate([[0], log_part, lin_part]))


def train_checkpointed(params, mean_loss: Callable, batch_at: Callable, at: np.ndarray, *, lr: float,
                       evaluate: Callable) -> tuple[list, list]:
    """Adam steps 0 .. at[-1]; returns (params at each step in `at` as NumPy, evaluate(params) at each).

    mean_loss(params, batch) -> scalar; batch_at(t) -> the minibatch of step t (a pure function of t);
    evaluate(params) -> a tuple of scalars (jitted here)."""
    total = int(at[-1])
    schedule = optax.warmup_cosine_decay_schedule(0.0, lr, max(1, total // 20), max(total, 2), lr / 10)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))

    @jax.jit
    def advance(params, opt_state, start, stop):
        def body(t, carry):
            params, opt_state = carry
            grads = jax.grad(mean_loss)(params, batch_at(t))
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        return jax.lax.fori_loop(start, stop, body, (params, opt_state))

    evaluate = jax.jit(evaluate)
    opt_state, done = opt.init(params), 0
    kept, values = [], []
    for t in at:
        params, opt_state = advance(params, opt_state, jnp.int32(done), jnp.int32(int(t)))
        done = int(t)
        kept.append(jax.tree.map(np.asarray, params))
        values.append(tuple(float(v) for v in evaluate(params)))
    return kept, values
