"""What a new user trips on, one test a case: data forms, parameter containers, NumPyro's
subsampled plate, saving results, restriction by name, errors that point the right way, the CLI."""

import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

import slt_ppl as slt
from slt_ppl.models import linear_regression
from slt_ppl.models.noise import orthogonal_noise

KW = dict(num_draws=300, num_burnin=200, seed=0)


def readme_model(X, y=None):
    w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    with numpyro.plate("data", X.shape[0]) as idx:
        numpyro.sample("y", dist.Normal(X[idx] @ w, 1.0), obs=None if y is None else y[idx])


def subsampled_model(X, y=None):
    w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    with numpyro.plate("data", X.shape[0], subsample_size=50) as idx:
        numpyro.sample("y", dist.Normal(X[idx] @ w, 1.0), obs=y[idx])


@pytest.fixture(scope="module")
def data():
    """n = 500, d = 3, noise orthogonal to X: w* (least squares) is an exact minimiser."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    y = X @ np.array([1.0, -1.0, 0.5]) + orthogonal_noise(X, (500,), 1.0, rng)
    return X, y, np.linalg.lstsq(X, y, rcond=None)[0]


# ---------------------------------------------------------------- data in every form a user holds

def test_numpy_and_pandas_data_give_the_numbers_of_jax_arrays(data):
    import pandas as pd

    X, y, w = data
    ref = slt.estimate_llc(readme_model, {"w": w}, (jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32)), **KW)
    from_numpy = slt.estimate_llc(readme_model, {"w": w}, (X, y), **KW)  # was TracerArrayConversionError
    from_pandas = slt.estimate_llc(readme_model, {"w": w}, (pd.DataFrame(X), pd.Series(y)), **KW)
    np.testing.assert_allclose(from_numpy.llc_per_chain, ref.llc_per_chain, rtol=1e-5)
    np.testing.assert_allclose(from_pandas.llc_per_chain, ref.llc_per_chain, rtol=1e-5)


def test_likelihood_data_as_memmap_lists_and_float16(data, tmp_path):
    X, y, w = data
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    nll = lambda p, b: 0.5 * (b[1] - b[0] @ p) ** 2  # noqa: E731
    ref = slt.estimate_llc(slt.Likelihood(nll, (X, y)), w, **KW)
    via_memmap = slt.estimate_llc(slt.Likelihood(nll, (mm, y)), w, **KW)
    via_lists = slt.estimate_llc(slt.Likelihood(nll, (X.tolist(), y.tolist())), w, **KW)  # was "got a scalar"
    np.testing.assert_allclose(via_memmap.llc_per_chain, ref.llc_per_chain, rtol=1e-5)
    np.testing.assert_allclose(via_lists.llc_per_chain, ref.llc_per_chain, rtol=1e-5)
    lik = slt.Likelihood(nll, (X.astype(np.float16), y.astype(np.float16)))
    assert lik.data[0].dtype == jnp.result_type(float)  # any float dtype becomes the working dtype


def test_a_scalar_in_likelihood_data_is_named():
    with pytest.raises(ValueError, match="leading data axis n; got a scalar"):
        slt.Likelihood(lambda p, b: b[0] * p, (np.ones(3), 2.0))


# ---------------------------------------------------------------- parameter containers

def _mlp_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 2)).astype(np.float32)
    return X, np.zeros((400, 1), np.float32)


def test_an_equinox_module_as_params():
    eqx = pytest.importorskip("equinox")
    X, y = _mlp_data()
    model = eqx.nn.MLP(2, 1, 3, 1, key=jax.random.key(0))  # activation functions are leaves too
    model = jax.tree.map(lambda a: a * 0.0 if eqx.is_array(a) else a, model)  # w* = 0: a minimum of y = 0

    def nll(m, batch):
        return 0.5 * jnp.sum((jax.vmap(m)(batch[0]) - batch[1]) ** 2, axis=-1)

    res = slt.estimate_llc(slt.Likelihood(nll, (X, y)), model, **KW)  # was "float() argument ... PjitFunction"
    assert res.idata.attrs["num_params"] == 2 * 3 + 3 + 3 + 1
    assert np.isfinite(res.llc) and res.llc > 0
    by_name = slt.estimate_llc(slt.Likelihood(nll, (X, y)), model, restrict=["layers/1"], **KW)
    assert by_name.idata.attrs["num_params"] == 3 + 1
    assert "layers/0/weight" in slt.preview_restriction(model, "layers/1")


def test_a_flax_nnx_module_as_params_and_its_integer_state_kept_fixed():
    nnx = pytest.importorskip("flax.nnx")
    X, y = _mlp_data()

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(2, 3, rngs=rngs)
            self.out = nnx.Linear(3, 1, rngs=rngs)
            self.count = nnx.Variable(jnp.array(0))

        def __call__(self, x):
            return self.out(jnp.tanh(self.hidden(x)))

    net = Net(nnx.Rngs(0))
    net.out.kernel.value = jnp.zeros_like(net.out.kernel.value)
    net.out.bias.value = jnp.zeros_like(net.out.bias.value)

    def nll(m, batch):
        return 0.5 * jnp.sum((m(batch[0]) - batch[1]) ** 2, axis=-1)

    with pytest.warns(UserWarning, match=r"count.*kept fixed"):
        res = slt.estimate_llc(slt.Likelihood(nll, (X, y)), net, **KW)
    assert res.idata.attrs["num_params"] == 2 * 3 + 3 + 3 + 1
    hidden = slt.estimate_llc(slt.Likelihood(nll, (X, y)), net, restrict="hidden", **KW)
    assert hidden.idata.attrs["num_params"] == 2 * 3 + 3


def test_flax_linen_params_restricted_by_nested_name_and_regex():
    X, y = _mlp_data()
    params = {"params": {"hidden": {"kernel": np.full((2, 3), 0.1, np.float32), "bias": np.zeros(3, np.float32)},
                         "out": {"kernel": np.zeros((3, 1), np.float32), "bias": np.zeros(1, np.float32)}}}

    def nll(p, batch):
        h = jnp.tanh(batch[0] @ p["params"]["hidden"]["kernel"] + p["params"]["hidden"]["bias"])
        return 0.5 * jnp.sum((h @ p["params"]["out"]["kernel"] + p["params"]["out"]["bias"] - batch[1]) ** 2, axis=-1)

    lik = slt.Likelihood(nll, (X, y))
    counts = {}
    for spec in ["hidden", "params/hidden/kernel", re.compile(r"\['out'\]"), ["hidden", "out"]]:
        res = slt.estimate_llc(lik, params, restrict=spec, num_draws=50, num_burnin=20, step_size=1e-4)
        counts[str(spec)] = res.idata.attrs["num_params"]  # "hidden" was refused: only top-level keys counted
    assert list(counts.values()) == [9, 6, 4, 13]
    with pytest.raises(ValueError, match=r"select no parameter; the parameters' paths are \['params/hidden/bias'"):
        slt.estimate_llc(lik, params, restrict=["hiden"], num_draws=5)
    table = slt.preview_restriction(params, "params/hidden/kernel")
    assert "6 of 13 coordinates sampled" in table


def test_an_integer_leaf_is_kept_fixed_with_a_warning(data):
    X, y, w = data
    lik = slt.Likelihood(lambda p, b: 0.5 * (b[1] - b[0] @ p["w"]) ** 2, (X, y))
    with pytest.warns(UserWarning, match=r"\['step'\].*kept fixed"):
        res = slt.estimate_llc(lik, {"w": w, "step": 100}, **KW)  # was silently sampled
    assert res.idata.attrs["num_params"] == 3


def test_a_restrict_predicate_must_return_booleans(data):
    X, y, w = data
    lik = slt.Likelihood(lambda p, b: 0.5 * (b[1] - b[0] @ p) ** 2, (X, y))
    with pytest.raises(ValueError, match="restrict predicate returned <U"):
        slt.estimate_llc(lik, w, restrict=lambda path, leaf: "yes", num_draws=5)  # selected everything before


# ---------------------------------------------------------------- NumPyro's subsampled plate

def test_subsample_size_is_the_batch_and_n_the_plate_size(data):
    X, y, w = data
    sub = slt.estimate_llc(subsampled_model, {"w": w}, (X, y), **KW)
    assert sub.n == 500 and sub.nbeta == pytest.approx(500 / np.log(500))  # was n = 50, nbeta 12.8
    same = slt.estimate_llc(readme_model, {"w": w}, (X, y), batch_size=50, **KW)
    np.testing.assert_allclose(sub.llc_per_chain, same.llc_per_chain, rtol=1e-5)
    with pytest.warns(UserWarning, match="batch_size=100 overrides the data plate's subsample_size=50"):
        slt.estimate_llc(subsampled_model, {"w": w}, (X, y), batch_size=100, num_draws=20, num_burnin=0,
                         step_size=1e-4)


# ---------------------------------------------------------------- errors that point the right way

def test_a_likelihood_that_is_nan_at_params_is_caught_up_front(data):
    X, y, w = data
    lik = slt.Likelihood(lambda p, b: jnp.log(b[1] - 100.0) + p @ p, (X, y))
    with pytest.raises(ValueError, match="NaN or infinite at params for 500 of 500"):
        slt.estimate_llc(lik, w)  # was a calibration / divergence message


def test_a_discrete_latent_site_is_named(data):
    X, y, w = data

    def model(X, y=None):
        w = numpyro.sample("w", dist.Normal(0, 1).expand([3]).to_event(1))
        numpyro.sample("z", dist.Categorical(jnp.ones(3) / 3))
        with numpyro.plate("data", X.shape[0]) as idx:
            numpyro.sample("y", dist.Normal(X[idx] @ w, 1.0), obs=y[idx])

    with pytest.raises(ValueError, match="latent site 'z' is discrete"):  # was an empty NotImplementedError
        slt.estimate_llc(model, {"w": w, "z": 0}, (X, y))


def test_observations_not_indexed_by_the_plate_are_named_for_minibatches(data):
    X, y, w = data

    def model(X, y=None):
        w = numpyro.sample("w", dist.Normal(0, 1).expand([3]).to_event(1))
        with numpyro.plate("data", X.shape[0]) as idx:
            numpyro.sample("y", dist.Normal(X[idx] @ w, 1.0), obs=y)

    with pytest.raises(ValueError, match=r"indexed with the plate's indices.*obs=y\[idx\]"):
        slt.estimate_llc(model, {"w": w}, (X, y), batch_size=50)  # was "Incompatible shapes for broadcasting"


def test_a_factor_outside_the_plate_is_named(data):
    X, y, w = data

    def model(X, y=None):
        w = numpyro.sample("w", dist.Normal(0, 1).expand([3]).to_event(1))
        numpyro.factor("penalty", -jnp.sum(w ** 2))
        with numpyro.plate("data", X.shape[0]) as idx:
            numpyro.sample("y", dist.Normal(X[idx] @ w, 1.0), obs=y[idx])

    with pytest.raises(ValueError, match=r"numpyro.factor\('penalty', ...\) lies outside the data plate"):
        slt.estimate_llc(model, {"w": w}, (X, y))


def test_jax_and_numpy_scalars_are_numbers(data):
    X, y, w = data
    res = slt.estimate_llc(readme_model, {"w": w}, (X, y), step_size=jnp.float32(1e-4), num_chains=np.int64(2),
                           num_draws=20, num_burnin=0)  # jnp.float32 was refused
    assert res.step_size == pytest.approx(1e-4) and len(res.llc_per_chain) == 2


def test_model_args_must_be_a_tuple(data):
    X, y, w = data
    with pytest.raises(TypeError, match=r"model_args must be a tuple .*model_args=\(X,\)"):
        slt.estimate_llc(readme_model, {"w": w}, X)


# ---------------------------------------------------------------- saving and loading results

def test_every_result_type_saves_and_loads(tmp_path):
    case = linear_regression.make(n=300, d=2, seed=0)
    kw = dict(num_draws=200, num_burnin=200, seed=0)
    results = {
        "llc": slt.estimate_llc(**case.llc_kwargs(), **kw),
        "wbic": slt.estimate_wbic(case.model, case.model_args, sampler="hmc", log_likelihood=True, **kw),
        "rlct": slt.estimate_rlct(case.model, case.model_args, sampler="hmc", num_betas=3, **kw),
        "free_energy": slt.estimate_free_energy(case.model, case.model_args, sampler="hmc", num_betas=4, **kw),
    }
    results["nu"] = slt.singular_fluctuation(results["wbic"])
    for name, res in results.items():
        path = res.save(tmp_path / f"{name}.nc")
        back = slt.load(path)
        assert type(back) is type(res), name
        assert back.value == res.value and back.se == res.se and back.n == res.n, name
        np.testing.assert_array_equal(back.per_chain, res.per_chain)
        assert back.idata.attrs["estimator"] == res.idata.attrs["estimator"] == res.estimator
        for group in res.idata.children:
            for var in res.idata[group].data_vars:
                np.testing.assert_array_equal(back.idata[group][var].values, res.idata[group][var].values)
        assert back.summary() == res.summary(), name
    with pytest.raises(ValueError, match="not an slt_ppl result"):
        import xarray as xr

        xr.DataTree().to_netcdf(tmp_path / "other.nc", engine="h5netcdf")
        slt.load(tmp_path / "other.nc")


def test_a_checkpoint_directory_keeps_a_bounded_number_of_files(tmp_path):
    case = linear_regression.make(n=300, d=2, seed=0)
    kw = dict(**case.llc_kwargs(), num_draws=600, num_burnin=40, chunk_size=20, step_size=1e-3)
    plain = slt.estimate_llc(**kw)
    saved = slt.estimate_llc(**kw, checkpoint=str(tmp_path))  # 32 chunks
    files = os.listdir(tmp_path)
    assert len(files) <= 1 + 6, files  # state.nc and at most log2(32) + 1 segments (was one file a chunk)
    again = slt.estimate_llc(**kw, checkpoint=str(tmp_path))  # resumes from the end: the same numbers
    np.testing.assert_array_equal(saved.llc_per_chain, plain.llc_per_chain)
    np.testing.assert_array_equal(again.idata["sample_stats"]["llc"].values, plain.idata["sample_stats"]["llc"].values)


# ---------------------------------------------------------------- results and the public namespace

def test_summary_shows_one_ess_and_arviz_summary_finds_the_trace():
    import arviz as az

    case = linear_regression.make(n=300, d=2, seed=0)
    res = slt.estimate_llc(**case.llc_kwargs(), **KW)
    assert res.summary().count("ESS") == 1
    table = az.summary(res.idata)  # was "Can not extract posterior"
    assert "llc" in table.index and "r_hat" in table.columns
    assert float(table.loc["llc", "mean"]) == pytest.approx(res.llc, rel=1e-3)


def test_the_public_namespace():
    import importlib.resources

    assert set(slt.SAMPLERS) == {"sgld", "rmsprop_sgld", "sghmc", "sgnht", "mala", "hmc", "nuts"}
    for name in ("LLCResult", "WBICResult", "RLCTResult", "FreeEnergyResult", "SingularFluctuationResult", "load"):
        assert name in dir(slt)
    assert not [n for n in dir(slt) if n.startswith("_") and n != "__version__"]
    assert "import_module" not in dir(slt)
    assert importlib.resources.files("slt_ppl").joinpath("py.typed").is_file()


# ---------------------------------------------------------------- the command line

def test_cli_version_help_and_option_errors(capsys):
    from slt_ppl import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"slt-ppl {slt.__version__}"
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"
    for argv, message in ((["llc", "--step-size", "abc"], "argument --step-size: must be 'auto' or a finite number"),
                          (["llc", "--d", "0"], "argument --d: must be a positive integer, got 0"),
                          (["llc", "--sampler", "sgd"], "argument --sampler: invalid choice")):
        with pytest.raises(SystemExit):
            cli.main(argv)
        assert message in capsys.readouterr().err


def test_validate_summary_never_prints_nan():
    from slt_ppl import validate

    row = dict(model="x", group="dln", d=2, lambda_exact="1", m=1, finite_n_target=float("nan"), mcse=0.1,
               time_s=1.0, **{"lambda": 1.0}, estimate=1.0, rel_error=0.0, rel_error_vs_lambda=0.0, passed=True)
    rows = [row, {**row, "model": "y"}]  # two DLN cases, as in --quick: no rank correlation
    table = validate.format_table({"rows": rows, "summary": validate.summarize(rows)})
    assert "nan" not in table.lower() and "needs >= 3 DLN cases" in table
