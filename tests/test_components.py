"""restrict= by transformer component ("l0h1", "l1 mlp", "embed") on Flax linen, Flax NNX and Equinox params."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import slt_ppl as slt
from slt_ppl.model.components import component_masks

pytest.importorskip("flax")


def _linen_params():
    from slt_ppl.models import icl_regression as icl

    net = icl.model_for(icl.QUICK)
    tokens = jnp.zeros((1, 4, icl.QUICK.task_dim + 1))
    return net.init(jax.random.key(0), tokens)["params"]


def _selected(params, name):
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    masks = component_masks(params, name)
    return {jax.tree_util.keystr(p): m for (p, _), m in zip(leaves, masks) if m.any()}


def test_linen_head_selects_its_qkv_and_output_slices_only():
    params = _linen_params()
    chosen = _selected(params, "l0h1")
    qk = chosen["['block_0']['attn']['query']['kernel']"]
    assert qk[:, 1, :].all() and not qk[:, 0, :].any()
    assert chosen["['block_0']['attn']['out']['kernel']"][1].all()
    assert not chosen["['block_0']['attn']['out']['kernel']"][0].any()
    assert "['block_0']['attn']['out']['bias']" not in chosen  # shared by every head
    assert not any("block_1" in k or "fc_" in k for k in chosen)
    # the heads of a layer partition its per-head attention weights
    h0, h1 = component_masks(params, "l0h0"), component_masks(params, "l0h1")
    assert not any((a & b).any() for a, b in zip(h0, h1))
    d_model, heads = 16, 2
    per_head = 4 * d_model * (d_model // heads) + 3 * (d_model // heads)
    assert sum(m.sum() for m in h0) == per_head


def test_linen_mlp_embed_unembed_and_layer_names():
    params = _linen_params()
    assert set(_selected(params, "l1 mlp")) == {f"['block_1']['{f}']['{p}']" for f in ("fc_in", "fc_out")
                                                for p in ("kernel", "bias")}
    assert set(_selected(params, "embed")) == {"['embed']['kernel']", "['embed']['bias']", "['pos_embed']"}
    assert set(_selected(params, "unembed")) == {"['unembed']['kernel']", "['unembed']['bias']"}
    layer = _selected(params, "l1")
    assert all("block_1" in k for k in layer) and any("ln_attn" in k for k in layer)
    names = slt.component_names(params)
    assert names[:4] == ["embed", "l0", "l0 attn", "l0h0"] and "l1 mlp" in names and names[-1] == "unembed"
    with pytest.raises(ValueError, match="components found"):
        component_masks(params, "l5h0")


def test_preview_and_refined_llc_of_a_head_on_a_flax_likelihood():
    from slt_ppl.models import icl_regression as icl

    training = icl.train(icl.QUICK, steps=200, num_checkpoints=3, n=512)
    params = training.params[-1]
    text = slt.preview_restriction(params, "l1h0")
    assert "block_1/attn/query/kernel" in text and "sampled" in text
    lik = icl.likelihood(training, checkpoint=len(training.steps) - 1)
    res = slt.estimate_llc(lik, params, restrict="l1h0", batch_size=64, num_draws=200, num_burnin=200,
                           step_size=1e-6, extend_burnin=0)
    head = 4 * 16 * 8 + 3 * 8
    assert res.idata.attrs["num_params"] == head  # only that head's Q/K/V/O slices were sampled
    assert np.isfinite(res.llc)


def test_equinox_fused_projections_split_by_the_modules_num_heads():
    eqx = pytest.importorskip("equinox")

    class Block(eqx.Module):
        attention: eqx.nn.MultiheadAttention
        mlp: eqx.nn.MLP

        def __init__(self, key):
            k1, k2 = jax.random.split(key)
            self.attention = eqx.nn.MultiheadAttention(num_heads=2, query_size=8, use_query_bias=True,
                                                       use_output_bias=True, key=k1)
            self.mlp = eqx.nn.MLP(8, 8, 16, 1, key=k2)

    class Net(eqx.Module):
        layers: list

        def __init__(self, key):
            self.layers = [Block(k) for k in jax.random.split(key, 2)]

    net = Net(jax.random.key(0))
    from slt_ppl.model.likelihood import split_params

    position, _ = split_params(net)
    masks = component_masks(position, "l1h1")
    leaves = jax.tree_util.tree_flatten_with_path(position)[0]
    chosen = {jax.tree_util.keystr(p): m for (p, _), m in zip(leaves, masks) if m.any()}
    q = chosen[".layers[1].attention.query_proj.weight"]
    assert q[4:].all() and not q[:4].any()  # rows of head 1 of 2 (head size 4)
    o = chosen[".layers[1].attention.output_proj.weight"]
    assert o[:, 4:].all() and not o[:, :4].any()
    assert ".layers[1].attention.output_proj.bias" not in chosen
    assert all("layers[1]" in k for k in chosen)
    mlp = component_masks(position, "l0 mlp")
    assert sum(m.sum() for m in mlp) == 8 * 16 + 16 + 16 * 8 + 8


def test_nnx_module_paths_resolve():
    nnx = pytest.importorskip("flax.nnx")

    class Attn(nnx.Module):
        def __init__(self, rngs):
            self.query = nnx.LinearGeneral(8, (2, 4), rngs=rngs)
            self.out = nnx.LinearGeneral((2, 4), 8, axis=(-2, -1), rngs=rngs)

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.embed = nnx.Linear(3, 8, rngs=rngs)
            self.block_0 = nnx.Dict(attn=Attn(rngs)) if hasattr(nnx, "Dict") else None

    net = Net(nnx.Rngs(0))
    if net.block_0 is None:
        pytest.skip("this flax has no nnx.Dict")
    from slt_ppl.model.likelihood import split_params

    position, _ = split_params(net)
    masks = component_masks(position, "l0h1")
    assert sum(m.sum() for m in masks) == 8 * 4 + 4 + 4 * 8  # q kernel (8,2,4)[:,1], q bias (2,4)[1], out (2,4,8)[1]
    assert sum(m.sum() for m in component_masks(position, "embed")) == 3 * 8 + 8
