"""slt.from_hf: GPT-NeoX and GPT-2 checkpoints in JAX against torch/transformers, restrictions by devinterp's names.

Reference logits come from tests/hf_reference.py (torch + transformers) and live in tests/data/hf/; with
SLT_PPL_HF_REFERENCE set, that directory is used instead (a live regeneration). No test touches the network.
"""

import json
import os
import shutil
import sys
import types

import jax
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import slt_ppl as slt

ROOT = os.environ.get("SLT_PPL_HF_REFERENCE") or os.path.join(os.path.dirname(__file__), "data", "hf")
CONFIGS = sorted(n for n in os.listdir(ROOT) if os.path.exists(os.path.join(ROOT, n, "config.json"))) \
    if os.path.isdir(ROOT) else []
NEOX, GPT2 = "neox_parallel_rot25_untied", "gpt2_untied_gelu_layerscale"
NEOX_TIED, GPT2_TIED = "neox_sequential_rot100_tied", "gpt2_tied_gelunew"


def _load(name, **kw):
    return slt.from_hf(os.path.join(ROOT, name), **kw)


def _copy(name, tmp_path):
    out = tmp_path / name
    shutil.copytree(os.path.join(ROOT, name), out)
    return out


def test_fixtures_cover_both_families():
    assert {NEOX, GPT2, NEOX_TIED, GPT2_TIED} <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_logits_match_transformers(name):
    lm = _load(name)
    ref = np.load(os.path.join(ROOT, name, "reference.npz"))
    out = np.asarray(jax.jit(lm.logits)(lm.params, ref["input_ids"]))
    rel = np.abs(out - ref["logits"]).max() / np.abs(ref["logits"]).max()
    print(f"{name}: max|diff| / max|ref| = {rel:.2e}")
    assert out.shape == ref["logits"].shape and rel < 1e-5


def test_likelihood_is_the_sequence_nll():
    lm = _load(NEOX)
    ids = np.load(os.path.join(ROOT, NEOX, "reference.npz"))["input_ids"]
    logits = np.asarray(lm.logits(lm.params, ids), np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(logp[:, :-1], ids[:, 1:, None], -1)[..., 0].sum(-1)
    lik = lm.likelihood(ids)
    assert lik.n == 2
    np.testing.assert_allclose(lik.nll_per_example(lm.params, lik.data), expected, rtol=1e-5)
    mean = lm.likelihood(ids.tolist(), reduction="mean")
    np.testing.assert_allclose(mean.nll_per_example(lm.params, mean.data), expected / (ids.shape[1] - 1), rtol=1e-5)
    assert lik.nll_per_example is lm.likelihood(ids + 0).nll_per_example  # one function per architecture
    assert "gpt_neox" in repr(lm) and "untied" in repr(lm)


def test_sharded_checkpoint_loads(tmp_path):
    src = os.path.join(ROOT, GPT2)
    out = tmp_path / "sharded"
    out.mkdir()
    shutil.copy(os.path.join(src, "config.json"), out)
    arrays = load_file(os.path.join(src, "model.safetensors"))
    keys = sorted(arrays)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    for file, ks in shards.items():
        save_file({k: arrays[k] for k in ks}, str(out / file))
    with open(out / "model.safetensors.index.json", "w") as f:
        json.dump({"metadata": {}, "weight_map": {k: file for file, ks in shards.items() for k in ks}}, f)
    ids = np.load(os.path.join(src, "reference.npz"))["input_ids"]
    np.testing.assert_array_equal(slt.from_hf(out).logits(slt.from_hf(out).params, ids),
                                  _load(GPT2).logits(_load(GPT2).params, ids))


def _selected(params, restrict) -> dict:
    """{key: mask} for every tensor the restriction touches."""
    from slt_ppl.model import resolve_masks

    masks = resolve_masks(params, restrict)
    return {k: m for k, m in zip(params.keys(), masks) if m.any()}


def test_one_head_neox_layout():
    lm = _load(NEOX)
    d, hd = 32, 8
    got = _selected(lm.params, "l1h2")
    prefix = "gpt_neox.layers.1.attention."
    assert set(got) == {prefix + "query_key_value.weight", prefix + "query_key_value.bias", prefix + "dense.weight"}
    rows = np.flatnonzero(got[prefix + "query_key_value.weight"].any(1))
    np.testing.assert_array_equal(rows, np.arange(2 * 3 * hd, 3 * 3 * hd))  # per head [q_h, k_h, v_h]
    assert got[prefix + "query_key_value.weight"].sum() == 3 * hd * d
    np.testing.assert_array_equal(np.flatnonzero(got[prefix + "query_key_value.bias"]), rows)
    cols = np.flatnonzero(got[prefix + "dense.weight"].any(0))
    np.testing.assert_array_equal(cols, np.arange(2 * hd, 3 * hd))
    assert got[prefix + "dense.weight"].sum() == d * hd


def test_one_head_gpt2_layout():
    lm = _load(GPT2)
    d, hd = 32, 8
    got = _selected(lm.params, "l1h2")
    prefix = "transformer.h.1.attn."
    assert set(got) == {prefix + "c_attn.weight", prefix + "c_attn.bias", prefix + "c_proj.weight"}
    cols = np.flatnonzero(got[prefix + "c_attn.weight"].any(0))  # Conv1D (in, out): q | k | v, each per head
    np.testing.assert_array_equal(cols, np.concatenate([t * d + np.arange(2 * hd, 3 * hd) for t in range(3)]))
    assert got[prefix + "c_attn.weight"].sum() == 3 * hd * d
    np.testing.assert_array_equal(np.flatnonzero(got[prefix + "c_attn.bias"]), cols)
    np.testing.assert_array_equal(np.flatnonzero(got[prefix + "c_proj.weight"].any(1)), np.arange(2 * hd, 3 * hd))
    assert got[prefix + "c_proj.weight"].sum() == d * hd


@pytest.mark.parametrize("name", [NEOX, GPT2])
def test_head_mask_is_one_head_functionally(name):
    """With head 2's output slice zeroed, its q/k/v slice cannot change the logits; any other q/k/v can."""
    lm = _load(name)
    ids = np.load(os.path.join(ROOT, name, "reference.npz"))["input_ids"]
    masks = dict(zip(lm.params.keys(), slt.model.resolve_masks(lm.params, "l1h2")))
    out_key = [k for k in masks if k.endswith(("attention.dense.weight", "attn.c_proj.weight")) and ".1." in k][0]
    qkv_key = [k for k in masks if k.endswith(("query_key_value.weight", "c_attn.weight")) and ".1." in k][0]
    base = dict(lm.params)
    base[out_key] = np.where(masks[out_key], 0.0, base[out_key])
    rng = np.random.default_rng(0)
    noise = rng.normal(size=base[qkv_key].shape).astype(np.float32)
    inside, outside = dict(base), dict(base)
    inside[qkv_key] = base[qkv_key] + np.where(masks[qkv_key], noise, 0.0)
    outside[qkv_key] = base[qkv_key] + np.where(masks[qkv_key], 0.0, noise)
    ref = np.asarray(lm.logits(base, ids))
    assert np.abs(np.asarray(lm.logits(inside, ids)) - ref).max() < 1e-5 * np.abs(ref).max()
    assert np.abs(np.asarray(lm.logits(outside, ids)) - ref).max() > 1e-2


@pytest.mark.parametrize("name,embed,unembed", [
    (NEOX, {"gpt_neox.embed_in.weight"}, {"embed_out.weight"}),
    (NEOX_TIED, {"gpt_neox.embed_in.weight"}, {"gpt_neox.embed_in.weight"}),
    (GPT2, {"transformer.wte.weight", "transformer.wpe.weight"}, {"lm_head.weight"}),
    (GPT2_TIED, {"transformer.wte.weight", "transformer.wpe.weight"}, {"transformer.wte.weight"}),
])
def test_embed_unembed_and_mlp(name, embed, unembed):
    lm = _load(name)
    for restrict, expected in (("embed", embed), ("unembed", unembed)):
        got = _selected(lm.params, restrict)
        assert set(got) == expected and all(m.all() for m in got.values())
    mlp = _selected(lm.params, "l0 mlp")
    assert len(mlp) == 4 and all(m.all() and ".0.mlp." in k for k, m in mlp.items())
    attn = _selected(lm.params, ["l0 attn"])
    assert len(attn) == 4 and all(".0.attention." in k or ".0.attn." in k for k in attn)
    assert "l1h3" in lm.component_names and "unembed" in slt.component_names(lm.params)


def test_checkpoint_names_and_mixed_lists():
    lm = _load(NEOX)
    key = "gpt_neox.layers.0.attention.dense.weight"
    assert set(_selected(lm.params, key)) == {key}
    both = _selected(lm.params, ["l1h0", key])
    assert key in both and "gpt_neox.layers.1.attention.dense.weight" in both
    text = slt.preview_restriction(lm.params, "l0h1")
    assert "gpt_neox.layers.0.attention.query_key_value.weight" in text and "24/96" in text
    with pytest.raises(ValueError, match="has 4 heads"):
        _selected(lm.params, "l0h4")
    with pytest.raises(ValueError, match="has 2 layers"):
        _selected(lm.params, "l2 mlp")


def test_unsupported_architecture(tmp_path):
    out = _copy(NEOX, tmp_path)
    cfg = json.loads((out / "config.json").read_text())
    cfg["model_type"] = "llama"
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"model_type 'llama'.*not supported.*gpt_neox.*gpt2"):
        slt.from_hf(out)


def test_missing_weight_and_shape_mismatch(tmp_path):
    out = _copy(GPT2, tmp_path)
    arrays = load_file(str(out / "model.safetensors"))
    gone = dict(arrays)
    del gone["transformer.h.1.mlp.c_fc.bias"]
    save_file(gone, str(out / "model.safetensors"))
    with pytest.raises(KeyError, match="missing weight 'transformer.h.1.mlp.c_fc.bias'"):
        slt.from_hf(out)
    arrays["transformer.h.0.attn.c_proj.weight"] = arrays["transformer.h.0.attn.c_proj.weight"][:, :16].copy()
    save_file(arrays, str(out / "model.safetensors"))
    with pytest.raises(ValueError, match=r"'transformer.h.0.attn.c_proj.weight' has shape \(32, 16\)"):
        slt.from_hf(out)


def test_repo_id_without_huggingface_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ImportError, match="needs huggingface_hub, which is not installed"):
        slt.from_hf("EleutherAI/pythia-14m", revision="step1000")


def test_repo_id_without_network(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("cannot reach huggingface.co")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=offline))
    with pytest.raises(OSError, match=r"could not fetch 'EleutherAI/pythia-14m' \(revision 'step1000'\).*network"):
        slt.from_hf("EleutherAI/pythia-14m", revision="step1000")


def test_dtypes():
    if not jax.config.jax_enable_x64:
        with pytest.raises(ValueError, match="jax_enable_x64"):
            _load(NEOX, dtype="float64")
    lm = _load(NEOX, dtype="bfloat16")
    assert all(v.dtype == np.dtype("bfloat16") for v in lm.params.values())
    with pytest.raises(ValueError, match="one of"):
        _load(NEOX, dtype="int8")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # random weights: w* is no minimum, the verdicts say so
def test_restricted_llc_on_one_head():
    lm = _load(NEOX)
    ids = np.random.default_rng(0).integers(0, 64, size=(64, 12))
    res = slt.estimate_llc(lm.likelihood(ids), lm.params, restrict="l0h1", num_chains=2, num_draws=40,
                           num_burnin=20, step_size=1e-5, batch_size=16, progress_bar=False, seed=0)
    assert np.isfinite(res.llc) and np.isfinite(res.se)


def _checkpoints(tmp_path, count):
    src = os.path.join(ROOT, NEOX)
    arrays = load_file(os.path.join(src, "model.safetensors"))
    rng = np.random.default_rng(1)
    dirs = []
    for step in range(count):
        out = tmp_path / f"step{100 * step}"
        out.mkdir()
        shutil.copy(os.path.join(src, "config.json"), out)
        save_file({k: (v + 0.01 * step * rng.normal(size=v.shape)).astype(np.float32) for k, v in arrays.items()},
                  str(out / "model.safetensors"))
        dirs.append(str(out))
    return dirs


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_trajectory_over_checkpoint_directories(tmp_path):
    dirs = _checkpoints(tmp_path, 3)
    ids = np.random.default_rng(0).integers(0, 64, size=(64, 12))
    traj = slt.hf_trajectory(dirs, ids, num_chains=2, num_draws=30, num_burnin=10, step_size=1e-5, batch_size=16,
                             progress_bar=False, seed=0)
    assert list(traj.table["checkpoint"].values) == [0, 100, 200]
    assert np.isfinite(traj.llc).all() and "converged" in traj.table and isinstance(traj.stages, list)


def test_trajectory_needs_one_architecture(tmp_path):
    with pytest.raises(ValueError, match="share one architecture.*tied: False vs True"):
        slt.hf_trajectory([os.path.join(ROOT, NEOX), os.path.join(ROOT, NEOX_TIED)], np.zeros((4, 8), int))


@pytest.mark.parametrize("name", [NEOX, GPT2_TIED])
def test_save_checkpoint_round_trip(name, tmp_path):
    from slt_ppl.hf import init_params, save_checkpoint

    config = json.loads(open(os.path.join(ROOT, name, "config.json")).read())
    params = init_params(config, seed=3)
    lm = slt.from_hf(save_checkpoint(tmp_path / "ckpt", params, config))
    assert set(lm.params) == set(params) and set(params) == set(load_file(os.path.join(ROOT, name, "model.safetensors")))
    ids = np.arange(10).reshape(2, 5)
    np.testing.assert_allclose(lm.logits(lm.params, ids), lm.logits(params, ids), rtol=1e-5, atol=1e-6)


def test_checkpoint_step_names():
    from slt_ppl.hf.trajectory import checkpoint_step

    assert [checkpoint_step(n, -1) for n in ("step1000", "/runs/checkpoint-500/", "final")] == [1000, 500, -1]
