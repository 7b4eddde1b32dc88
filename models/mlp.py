"""An ordinary two-hidden-layer tanh MLP regression, for speed and realism: no known coefficient.

w* is a trained point: full-batch L-BFGS on L_n started from the teacher that generated the data,
so it is a local minimum of L_n, as in practice. lambda <= d/2 is all theory says.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from .noise import orthogonal_noise
from .zoo_case import ZooCase


def forward(params, x):
    h = jnp.tanh(x @ params["W0"].T + params["b0"])
    h = jnp.tanh(h @ params["W1"].T + params["b1"])
    return h @ params["W2"].T


def train(params, X, y, steps: int = 1000) -> dict:
    """Minimise the mean squared error from `params` with full-batch L-BFGS (optax)."""
    import optax

    loss = lambda p: 0.5 * jnp.mean(jnp.sum((forward(p, X) - y) ** 2, axis=-1))  # noqa: E731
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    @jax.jit
    def step(carry, _):
        p, state = carry
        value, grad = value_and_grad(p, state=state)
        updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=loss)
        return (optax.apply_updates(p, updates), state), None

    p = jax.tree.map(jnp.asarray, params)
    (p, _), _ = jax.lax.scan(step, (p, opt.init(p)), None, length=steps)
    return {k: np.asarray(v) for k, v in p.items()}


def model(X, y=None, widths=(8, 16, 16, 1), sigma=1.0):
    params = {}
    for l in range(3):
        params[f"W{l}"] = numpyro.sample(f"W{l}", dist.Normal(0.0, 1.0).expand([widths[l + 1], widths[l]]).to_event(2))
        if l < 2:
            params[f"b{l}"] = numpyro.sample(f"b{l}", dist.Normal(0.0, 1.0).expand([widths[l + 1]]).to_event(1))
    with numpyro.plate("data", X.shape[0]) as idx:
        numpyro.sample("y", dist.Normal(forward(params, X[idx]), sigma).to_event(1), obs=None if y is None else y[idx])


def make(widths=(8, 16, 16, 1), n: int = 10_000, seed: int = 0, sigma: float = 1.0) -> ZooCase:
    widths = tuple(int(w) for w in widths)
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(3):
        params[f"W{l}"] = (rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l])).astype(np.float32)
        if l < 2:
            params[f"b{l}"] = (0.1 * rng.normal(size=widths[l + 1])).astype(np.float32)
    X = rng.normal(size=(n, widths[0])).astype(np.float32)
    mean = np.asarray(forward(jax.tree.map(jnp.asarray, params), jnp.asarray(X)))
    y = (mean + orthogonal_noise(X, mean.shape, sigma, rng)).astype(np.float32)
    params = train(params, jnp.asarray(X), jnp.asarray(y))
    return ZooCase(
        name=f"mlp(widths={list(widths)})",
        model=model,
        model_args=(jnp.asarray(X), jnp.asarray(y), widths, sigma),
        params={k: jnp.asarray(v) for k, v in params.items()},
        coefficient=None,
        d=sum(int(np.size(v)) for v in params.values()),
    )
