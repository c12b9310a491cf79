"""Pruning (magnitude, N:M, channels) and weight compression (int4 packing, Huffman)."""

from __future__ import annotations

import numpy as np
import pytest

from edgesim import zoo
from edgesim.errors import EdgesimError
from edgesim.ir.graph import Graph
from edgesim.ir.ops import OpKind
from edgesim.ir.work import graph_macs, graph_params, node_work
from edgesim.passes.compress import (
    build_huffman,
    compression_summary,
    huffman_compress,
    huffman_decode,
    huffman_encode,
    huffman_encoded_bytes,
    pack_int4,
    unpack_int4,
)
from edgesim.passes.float_exec import run_float, synthetic_inputs
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.optimize import Options, optimize
from edgesim.passes.pipeline import run_pipeline
from edgesim.passes.prune import PruneSpec, parse_prune, prune_channels, prune_magnitude, prune_nm
from edgesim.passes.quantize import QuantSpec, weighted_layers
from tests.conftest import DATA

SHARED = DATA


@pytest.fixture(scope="module")
def resnet8() -> Graph:
    return zoo.build("resnet8")


def _weights(g: Graph) -> list[np.ndarray]:
    return [np.asarray(g.tensors[n.inputs[1]].data) for n in weighted_layers(g)]


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_magnitude_prune_half(resnet8: Graph, scope: str) -> None:
    p = run_pipeline(resnet8, [lambda g: prune_magnitude(g, 0.5, scope)])
    ws = _weights(p)
    zeros = sum(int((w == 0).sum()) for w in ws) / sum(w.size for w in ws)
    assert zeros == pytest.approx(0.5, abs=0.01)
    if scope == "layer":
        for n in weighted_layers(p):
            t = p.tensors[n.inputs[1]]
            assert t.sparsity is not None and t.sparsity.zero_fraction == pytest.approx(0.5, abs=0.02)
            assert node_work(p, n).weight_zero_fraction == pytest.approx(0.5, abs=0.02)
    # the kept weights are the largest ones: every kept |w| >= every pruned original |w| in the layer
    orig = _weights(resnet8)[3]
    new = ws[3]
    if scope == "layer":
        assert np.abs(orig[new != 0]).min() >= np.abs(orig[new == 0]).max()


def test_nm_two_of_four(resnet8: Graph) -> None:
    p = run_pipeline(resnet8, [prune_nm])
    pruned = 0
    for n in weighted_layers(p):
        t = p.tensors[n.inputs[1]]
        w = np.asarray(t.data)
        in_axis = 1
        if w.shape[in_axis] % 4:
            assert t.sparsity is None  # 3-channel stem stays dense
            continue
        groups = np.moveaxis(w, in_axis, -1).reshape(-1, 4)
        assert np.all((groups == 0).sum(axis=1) == 2)
        assert t.sparsity is not None and t.sparsity.nm == (2, 4)
        assert node_work(p, n).nm_pattern == (2, 4)
        pruned += 1
    assert pruned >= 7


def test_nm_on_quantized_weights_uses_zero_point(resnet8: Graph) -> None:
    q = optimize(resnet8, Options(quant=QuantSpec(preset="int8", symmetric_weights=False), compress="none"))
    p = prune_nm(q)
    n = weighted_layers(p)[1]
    t = p.tensors[n.inputs[1]]
    assert t.quant is not None and t.data is not None
    zp = np.asarray(t.quant.zero_points).reshape(-1, 1, 1, 1)
    groups = np.moveaxis(t.data == zp, 1, -1).reshape(-1, 4)
    assert np.all(groups.sum(axis=1) >= 2)


@pytest.mark.parametrize("model,res", [("resnet8", None), ("mobilenet_v2", 32), ("ds_cnn", None)])
def test_channel_pruning_shrinks_and_verifies(model: str, res: int | None) -> None:
    g = zoo.build(model, resolution=res) if res else zoo.build(model)
    for graph in (g, run_pipeline(g, [fuse_operators])):
        p = run_pipeline(graph, [lambda x: prune_channels(x, 0.5)])
        assert graph_macs(p) < 0.8 * graph_macs(graph)
        assert graph_params(p) < graph_params(graph)
        out = run_float(p, synthetic_inputs(p, 1)[0])
        assert all(np.isfinite(v).all() for v in out.values())
        assert [p.tensors[o].shape for o in p.outputs] == [graph.tensors[o].shape for o in graph.outputs]
        # residual adds keep matching shapes; verify_graph in run_pipeline checked the rest
        for n in p.nodes:
            if n.op is OpKind.ADD:
                assert len({p.tensors[i].shape for i in n.inputs}) == 1


def test_channel_pruning_keeps_the_strongest_filters() -> None:
    g = zoo.build("resnet8")
    conv = g.node("conv_1")  # first conv of the first block: feeds BN -> RELU -> conv_2
    w = np.asarray(g.tensors[conv.inputs[1]].data)
    norms = np.abs(w).sum(axis=(1, 2, 3))
    p = prune_channels(g, 0.25)
    kept = np.asarray(p.tensors[conv.inputs[1]].data)
    assert kept.shape[0] == 12
    expect = np.sort(np.argsort(-norms, kind="stable")[:12])
    np.testing.assert_array_equal(kept, w[expect])
    nxt = np.asarray(p.tensors[g.node("conv_2").inputs[1]].data)
    assert nxt.shape[1] == 12


def test_prune_spec_parsing() -> None:
    assert parse_prune("0.5") == PruneSpec("magnitude", 0.5)
    assert parse_prune("global:0.3") == PruneSpec("magnitude", 0.3, scope="global")
    assert parse_prune("2:4") == PruneSpec("nm", n=2, m=4)
    assert parse_prune("channels:0.3") == PruneSpec("channels", 0.3)
    for bad in ("4:2", "channels:x", "1.0", "-0.1"):
        with pytest.raises(EdgesimError) as ei:
            parse_prune(bad)
        assert ei.value.field == "prune"


def test_int4_pack_roundtrip() -> None:
    v = np.random.default_rng(0).integers(-8, 8, 101).astype(np.int8)
    packed = pack_int4(v)
    assert packed.size == 51
    np.testing.assert_array_equal(unpack_int4(packed, v.size), v)
    with pytest.raises(EdgesimError):
        pack_int4(np.array([9]))


def test_huffman_skewed_is_smaller_and_decodes_exactly() -> None:
    rng = np.random.default_rng(0)
    skewed = np.clip(np.round(rng.laplace(0, 3, 4000)), -127, 127).astype(np.int8)
    enc, nbits, code = huffman_encode(skewed)
    assert len(enc) < skewed.size
    assert huffman_decode(enc, nbits, code) == skewed.tobytes()
    assert huffman_encoded_bytes(skewed) == (nbits + 7) // 8 + code.table_bytes
    # prefix-free
    words = [format(c, f"0{code.lengths[s]}b") for s, c in code.codes.items()]
    assert not any(a != b and b.startswith(a) for a in words for b in words)
    uniform = rng.integers(-128, 128, 4000).astype(np.int8)
    assert huffman_encoded_bytes(uniform) >= uniform.size  # nothing to gain on uniform bytes
    single = np.zeros(10, np.int8)
    e1, n1, c1 = huffman_encode(single)
    assert huffman_decode(e1, n1, c1) == single.tobytes() and build_huffman(single).lengths == {0: 1}


def test_huffman_on_pruned_quantized_model(resnet8: Graph) -> None:
    opts = Options(quant=QuantSpec(preset="int8"), prune=PruneSpec("magnitude", 0.5), compress="huffman")
    g = optimize(resnet8, opts)
    s = compression_summary(g)
    assert s["stored_bytes"] < 0.8 * s["dense_bytes"]
    conv = weighted_layers(g)[2]
    t = g.tensors[conv.inputs[1]]
    assert t.encoding is not None and t.encoding.kind == "huffman" and t.encoding.decode_bits_per_cycle > 0
    nw = node_work(g, conv)
    assert nw.stored_weight_bytes is not None and nw.stored_weight_bytes < nw.weight_bytes
    assert nw.weight_decode_bits_per_cycle > 0


def test_compress_real_int8_model() -> None:
    path = SHARED / "models" / "ad01_int8.tflite"
    if not path.exists():
        pytest.skip("shared models absent")
    from edgesim.frontends.tflite_import import import_tflite

    g = huffman_compress(prune_nm(import_tflite(path)))
    s = compression_summary(g)
    assert s["stored_bytes"] < s["dense_bytes"]
