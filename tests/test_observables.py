"""BIF and susceptibilities against the closed forms of Bayesian linear regression.

Per-example loss (y - x.w)^2 / 2 at the least-squares w* (noise orthogonal to X, so w* is an exact
minimiser): the localized tempered posterior is N(w*, Sigma), Sigma^-1 = n beta X^T X / n + gamma I, and
Isserlis gives Cov[l_i, l_j] = r_i r_j C_ij + C_ij^2 / 2 with C_ij = x_i^T Sigma x_j, r the residuals.
For a restriction C and probe p: phi = d^T A d, dL_p = -g_p^T d + d^T (A_p - A) d on the C coordinates,
so chi = -n beta 2 tr(A Sigma (A_p - A) Sigma). Tolerances: a 10% relative Frobenius error,
which is about 2 standard errors of the Monte Carlo noise at the defaults (measured 7.6% for the BIF,
7.5-8.6% for chi), plus SGLD's discretisation bias (about 2 x 2.5% on a covariance of quadratic forms).
"""

import numpy as np
import pytest
from scipy.stats import spearmanr

import slt_ppl as slt
from slt_ppl.models.noise import orthogonal_noise

N, D, Q = 2000, 5, 20


def nll(w, batch):
    return 0.5 * (batch[1] - batch[0] @ w) ** 2


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    w0 = rng.normal(size=D)
    y = X @ w0 + orthogonal_noise(X, (N,), 1.0, rng)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    Xq = rng.normal(size=(Q, D))
    yq = Xq @ w0 + rng.normal(size=Q)
    probes = {}
    for k, (scale, shift) in enumerate([(2.0, 0.0), (1.0, 1.0), (0.5, -1.0)]):  # covariate shifts, same teacher
        Xp = rng.normal(size=(500, D)) * scale + shift
        probes[f"p{k}"] = (Xp, Xp @ w0 + rng.normal(size=500))
    return X, y, w_star, Xq, yq, probes


def exact_covariance(X, y, w_star, Xq, yq, nbeta, gamma):
    Sigma = np.linalg.inv(nbeta * X.T @ X / len(y) + gamma * np.eye(X.shape[1]))
    C = Xq @ Sigma @ X.T
    return np.outer(yq - Xq @ w_star, y - X @ w_star) * C + C**2 / 2


@pytest.fixture(scope="module")
def bif(regression):
    X, y, w_star, Xq, yq, _ = regression
    return slt.estimate_bif(slt.Likelihood(nll, (X, y)), w_star, query=(Xq, yq), seed=0)


def test_bif_covariance_matches_the_closed_form(regression, bif):
    X, y, w_star, Xq, yq, _ = regression
    exact = exact_covariance(X, y, w_star, Xq, yq, bif.nbeta, bif.localization)
    est = bif.covariance.values
    assert bif.covariance.dims == ("query", "train") and est.shape == (Q, N)
    rel = np.linalg.norm(est - exact) / np.linalg.norm(exact)
    corr = np.corrcoef(est.ravel(), exact.ravel())[0, 1]
    print(f"relative Frobenius error {rel:.3f}, entry correlation {corr:.4f}")
    assert rel <= 0.10 and corr >= 0.98
    z = (est - exact) / bif.se.values
    assert np.mean(np.abs(z) < 3) > 0.95  # the se describes the error entry by entry (bias included, roughly)
    np.testing.assert_allclose(bif.bif.values, -est)
    assert np.all(np.abs(bif.correlation.values) <= 1 + 1e-9)
    assert abs(bif.llc - D / 2) < 0.15 * D / 2  # the same draws give the LLC


def test_bif_ranks_training_samples_as_leave_one_out_refits_do(regression, bif):
    """A regular model: removing a training sample whose loss co-varies with the query's raises the query's
    loss at the refit. For each of 5 queries, the ranking of the 2000 covariances agrees with the exact
    leave-one-out change of the query loss."""
    X, y, w_star, Xq, yq, _ = regression
    H_inv = np.linalg.inv(X.T @ X)
    r = y - X @ w_star
    for q in range(5):
        loo = np.empty(N)
        for j in range(N):  # exact refit without j (Sherman-Morrison downdate of the least-squares solution)
            h = X[j] @ H_inv @ X[j]
            w_j = w_star - H_inv @ X[j] * r[j] / (1 - h)
            loo[j] = 0.5 * (yq[q] - Xq[q] @ w_j) ** 2 - 0.5 * (yq[q] - Xq[q] @ w_star) ** 2
        rho = spearmanr(bif.covariance.values[q], loo)[0]
        assert rho > 0.9, (q, rho)


def test_bif_saves_loads_and_accepts_a_numpyro_model(regression, tmp_path):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    X, y, w_star, Xq, yq, _ = regression

    def model(X, y=None):
        w = numpyro.sample("w", dist.Normal(0, 1).expand([D]).to_event(1))
        with numpyro.plate("data", X.shape[0]) as idx:
            numpyro.sample("y", dist.Normal(X[idx] @ w, 1.0), obs=y[idx])

    res = slt.estimate_bif(model, {"w": w_star}, (X, y), query=(Xq[:4], yq[:4]), train_indices=np.arange(50),
                           num_draws=400, num_burnin=200)
    assert res.covariance.shape == (4, 50) and list(res.covariance["train"].values) == list(range(50))
    exact = exact_covariance(X, y, w_star, Xq[:4], yq[:4], res.nbeta, res.localization)[:, :50]
    assert np.corrcoef(res.covariance.values.ravel(), exact.ravel())[0, 1] > 0.9  # Normal NLL: same covariances
    back = slt.load(res.save(tmp_path / "bif.nc"))
    np.testing.assert_array_equal(back.covariance.values, res.covariance.values)
    with pytest.raises(TypeError, match="query for a NumPyro model is a tuple"):
        slt.estimate_bif(model, {"w": w_star}, (X, y), query=jnp.asarray(Xq))
    with pytest.raises(ValueError, match="train_indices"):
        slt.estimate_bif(model, {"w": w_star}, (X, y), query=(Xq, yq), train_indices=[N + 1])


def exact_susceptibilities(X, w_star, probes, masks, nbeta, gamma):
    n = X.shape[0]
    A = X.T @ X / (2 * n)
    out = np.zeros((len(masks), len(probes)))
    for i, mask in enumerate(masks):
        S = np.linalg.inv(nbeta * (X.T @ X / n)[np.ix_(mask, mask)] + gamma * np.eye(mask.sum()))
        Ac = A[np.ix_(mask, mask)]
        for j, (Xp, yp) in enumerate(probes.values()):
            Ap = (Xp.T @ Xp / (2 * len(yp)))[np.ix_(mask, mask)]
            out[i, j] = -nbeta * 2 * np.trace(Ac @ S @ (Ap - Ac) @ S)
    return out


def test_susceptibilities_match_the_closed_form(regression, tmp_path):
    X, y, w_star, _, _, probes = regression
    restrictions = {"w01": lambda path, leaf: np.arange(D) < 2, "w234": lambda path, leaf: np.arange(D) >= 2,
                    "all": None}
    res = slt.estimate_susceptibilities(slt.Likelihood(nll, (X, y)), w_star, restrictions=restrictions,
                                        probes=probes, seed=0)
    masks = [np.arange(D) < 2, np.arange(D) >= 2, np.ones(D, bool)]
    exact = exact_susceptibilities(X, w_star, probes, masks, res.nbeta, res.localization)
    est = res.chi.values
    assert res.chi.dims == ("restriction", "probe") and list(res.chi["probe"].values) == ["p0", "p1", "p2"]
    rel = np.linalg.norm(est - exact) / np.linalg.norm(exact)
    corr = np.corrcoef(est.ravel(), exact.ravel())[0, 1]
    print(f"susceptibilities: relative Frobenius error {rel:.3f}, correlation {corr:.4f}\n{res.summary()}")
    assert rel <= 0.10 and corr >= 0.98
    np.testing.assert_allclose(res.llc.values, [1.0, 1.5, 2.5], rtol=0.1)  # restricted LLCs: regular, d_C / 2
    back = slt.load(res.save(tmp_path / "chi.nc"))
    np.testing.assert_array_equal(back.chi.values, est)


def test_memory_is_flat_in_the_number_of_draws(regression):
    """The accumulators are the whole state: 10x the draws, the same arrays (the LLC trace aside)."""
    X, y, w_star, Xq, yq, _ = regression
    lik = slt.Likelihood(nll, (X, y))
    short = slt.estimate_bif(lik, w_star, query=(Xq, yq), num_draws=100, num_burnin=50, step_size=1e-4)
    long = slt.estimate_bif(lik, w_star, query=(Xq, yq), num_draws=1000, num_burnin=50, step_size=1e-4)
    assert short.idata["influence"].nbytes == long.idata["influence"].nbytes
    assert long.num_draws == 10 * short.num_draws


def test_one_chain_says_its_error_bars_are_undefined(regression):
    X, y, w_star, Xq, yq, _ = regression
    with pytest.warns(RuntimeWarning, match="need >= 2 usable chains"):
        res = slt.estimate_bif(slt.Likelihood(nll, (X, y)), w_star, query=(Xq, yq), num_chains=1, num_draws=100,
                               num_burnin=50, step_size=1e-4)
    assert np.all(np.isnan(res.se.values)) and np.all(np.isfinite(res.covariance.values))
