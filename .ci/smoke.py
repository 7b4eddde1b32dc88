"""Smoke test of an installed slt_ppl, run from outside the checkout (CI installs the wheel into a fresh
environment first): every public name imports, the zoo is installed as slt_ppl.models, and each estimator
family runs once on a tiny model and returns finite numbers that save and load.

    python .ci/smoke.py            # from any directory but the repository's
"""

import math
import os
import sys
import tempfile

import numpy as np


def check(cond, what):
    if not cond:
        sys.exit(f"smoke test failed: {what}")
    print(f"ok  {what}")


def main():
    import slt_ppl as slt

    here = os.path.dirname(os.path.abspath(slt.__file__))
    check("site-packages" in here or "dist-packages" in here, f"slt_ppl imported from an installation ({here})")
    for name in slt.__all__:
        getattr(slt, name)
    check(True, f"{len(slt.__all__)} public names import")
    from slt_ppl.models import linear_regression  # noqa: F401  (the zoo, installed in the namespace)
    check(float(slt.theory.rrr(M=4, H=3, N=5, r=1).lam) == 7.0, "theory.rrr(4,3,5,r=1).lam == 7")

    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    rng = np.random.default_rng(0)
    n, d = 400, 2
    X = rng.normal(size=(n, d)).astype(np.float32)
    w_true = np.array([0.5, -1.0], np.float32)
    y = (X @ w_true + rng.normal(size=n)).astype(np.float32)

    def nll(w, batch):
        x, t = batch
        return 0.5 * (t - x @ w) ** 2

    fast = dict(num_chains=2, num_draws=200, num_burnin=100, progress_bar=False)
    w_star = jnp.asarray(np.linalg.lstsq(X, y, rcond=None)[0])
    res = slt.estimate_llc(slt.Likelihood(nll, (X, y)), w_star, step_size=1e-4, temperature_check=None, **fast)
    check(math.isfinite(res.llc) and math.isfinite(res.se), f"estimate_llc: {res.llc:.3f} +/- {res.se:.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "llc.nc")
        res.save(path)
        check(abs(slt.load(path).llc - res.llc) < 1e-9, "save / load round-trip")

    b = slt.estimate_bif(slt.Likelihood(nll, (X, y)), w_star, query=(X[:3], y[:3]), step_size=1e-4, **fast)
    check(np.all(np.isfinite(b.covariance.values)), "estimate_bif: finite covariances")
    s = slt.estimate_susceptibilities(slt.Likelihood(nll, (X, y)), w_star, restrictions=[None],
                                      probes={"shifted": (X[:50] + 1.0, y[:50])}, step_size=1e-4, **fast)
    check(s.se is not None, "estimate_susceptibilities")

    def model(X, y=None):
        w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
        with numpyro.plate("data", X.shape[0]) as idx:
            numpyro.sample("y", dist.Normal(X[idx] @ w, 1.0), obs=None if y is None else y[idx])

    glob = dict(num_chains=2, num_draws=200, num_burnin=200, progress_bar=False)
    w = slt.estimate_wbic(model, (X, y), log_likelihood=True, **glob)
    check(math.isfinite(w.wbic), f"estimate_wbic: {w.wbic:.2f}")
    nu = slt.singular_fluctuation(w)
    check(math.isfinite(nu.nu), f"singular_fluctuation: nu {nu.nu:.3f}")
    g = slt.estimate_rlct(model, (X, y), num_betas=3, **glob)
    check(math.isfinite(g.rlct), f"estimate_rlct: {g.rlct:.3f} +/- {g.rlct_se:.3f}")
    f = slt.estimate_free_energy(model, (X, y), num_betas=4, **glob)
    check(math.isfinite(f.free_energy), f"estimate_free_energy: {f.free_energy:.2f}")
    print("smoke test passed")


if __name__ == "__main__":
    main()
