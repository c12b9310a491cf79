"""Zoo: every model builds, verifies, and matches the published MAC and parameter counts."""

from __future__ import annotations

import numpy as np
import pytest

from edgesim.errors import EdgesimError
from edgesim.ir import DType, OpKind, verify_graph
from edgesim.ir.work import graph_macs, graph_params
from edgesim.zoo import build, names, search_space, search_spaces

M = 1e6
# Published counts at the default resolution (MACs, params; None = not checked).
PUBLISHED: dict[str, tuple[float, float | None]] = {
    "mobilenet_v1": (569 * M, 4.2 * M),  # Howard et al. 2017, Table 1 (1.0 MobileNet-224)
    "mobilenet_v2": (300 * M, 3.5 * M),  # Sandler et al. 2018, Table 4 (torchvision: 3.50 M params)
    "mobilenet_v3_small": (56 * M, 2.5 * M),  # Howard et al. 2019, Table 3
    "mobilenet_v3_large": (217 * M, 5.4 * M),  # paper 219 M / torchvision 217 M MACs, 5.4-5.5 M params
    "resnet8": (12.5 * M, None),  # MLPerf Tiny image classification
    "resnet18": (1.8e9, 11.7 * M),  # torchvision 1.81 GFLOPs (MACs), 11.69 M params
    "resnet50": (4.1e9, 25.6 * M),  # torchvision 4.09 GMACs (v1.5), 25.56 M params
    # EfficientNet-B0 is 0.39 B MACs (Tan & Le 2019); Lite0 only drops the tiny SE convs. The TF README's 407 M
    # for Lite0 counts more than convolution/FC MACs, so the conv-MAC reference is B0's 390 M.
    "efficientnet_lite0": (390 * M, 4.7 * M),
    "squeezenet": (350 * M, 1.235 * M),  # SqueezeNet 1.1, torchvision 0.35 GFLOPs, 1.235 M params
    "squeezenet1_0": (819 * M, 1.248 * M),  # SqueezeNet 1.0, torchvision 0.82 GFLOPs, 1.248 M params
    "ds_cnn": (2.7 * M, None),  # MLPerf Tiny KWS DS-CNN (small)
    "vit_tiny": (1.26e9, 5.7 * M),  # DeiT-Ti / ViT-Ti/16: 1.3 GFLOPs(MACs), 5.7 M params
}


@pytest.fixture(scope="module")
def built() -> dict[str, object]:
    return {n: build(n) for n in names()}


def test_names_cover_the_published_table() -> None:
    from edgesim.zoo.published import PUBLISHED as NETWORKS  # the issue-17 networks (test_zoo_networks.py)

    assert sorted({*PUBLISHED, *NETWORKS}) == names()


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_macs_and_params_match_literature(name: str, built: dict) -> None:
    g = built[name]
    macs, params = PUBLISHED[name]
    got = graph_macs(g)
    assert abs(got - macs) / macs < 0.03, f"{name}: {got / M:.1f} M MACs vs {macs / M:.1f} M published"
    if params is not None:
        got_p = graph_params(g)
        assert abs(got_p - params) / params < 0.03, f"{name}: {got_p / M:.3f} M params vs {params / M:.3f} M"


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_models_are_float_nchw_with_constant_weights(name: str, built: dict) -> None:
    g = built[name]
    verify_graph(g)
    assert g.source_format == "zoo"
    assert len(g.inputs) == 1 and len(g.outputs) == 1
    x = g.tensors[g.inputs[0]]
    assert x.shape[0] == 1 and x.dtype is DType.FP32
    out = g.tensors[g.outputs[0]]
    assert out.shape == (1, 12 if name == "ds_cnn" else 10 if name == "resnet8" else 1000)
    for n in g.nodes:
        if n.op in (OpKind.CONV2D, OpKind.DEPTHWISE_CONV2D, OpKind.FULLY_CONNECTED):
            w = g.tensors[n.inputs[1]]
            assert w.is_const and w.data is not None and w.data.dtype == np.float32
            assert np.isfinite(w.data).all() and np.abs(w.data).max() > 0
            if n.op is not OpKind.FULLY_CONNECTED:
                assert n.attrs.layout.value == "NCHW"


def test_weights_are_deterministic() -> None:
    a, b = build("resnet8"), build("resnet8")
    for name, t in a.tensors.items():
        if t.is_const:
            assert np.array_equal(t.data, b.tensors[name].data)


def test_batchnorm_and_activations_are_separate_nodes(built: dict) -> None:
    ops = [n.op for n in built["mobilenet_v3_large"].nodes]
    assert OpKind.BATCH_NORM in ops and OpKind.HARD_SWISH in ops and OpKind.HARD_SIGMOID in ops
    assert OpKind.MUL in ops  # squeeze-and-excite gating
    g = built["mobilenet_v2"]
    conv = next(n for n in g.nodes if n.op is OpKind.CONV2D)
    (bn,) = g.consumers(conv.outputs[0])
    assert bn.op is OpKind.BATCH_NORM
    (act,) = g.consumers(bn.outputs[0])
    assert act.op is OpKind.CLIP and (act.attrs.min_value, act.attrs.max_value) == (0.0, 6.0)
    lite_ops = {n.op for n in built["efficientnet_lite0"].nodes}
    assert OpKind.MUL not in lite_ops and OpKind.HARD_SWISH not in lite_ops  # no SE, relu6 only
    vit_ops = {n.op for n in built["vit_tiny"].nodes}
    assert {OpKind.LAYER_NORM, OpKind.GELU, OpKind.MATMUL, OpKind.SOFTMAX} <= vit_ops
    assert sum(n.op is OpKind.LAYER_NORM for n in built["vit_tiny"].nodes) == 25


def test_resolution_and_num_classes() -> None:
    small = build("mobilenet_v1", resolution=128, num_classes=10, alpha=0.25)
    assert small.tensors[small.inputs[0]].shape == (1, 3, 128, 128)
    assert small.tensors[small.outputs[0]].shape == (1, 10)
    # MACs of the depthwise-separable body scale with resolution^2 and roughly alpha^2.
    full = build("mobilenet_v1")
    assert graph_macs(small) < graph_macs(full) / 20
    g = build("resnet18", input_shape=(1, 3, 160, 160))
    assert g.tensors[g.inputs[0]].shape == (1, 3, 160, 160)
    assert abs(graph_macs(g) / graph_macs(build("resnet18")) - (160 / 224) ** 2) < 0.02
    k = build("ds_cnn", input_shape=(1, 1, 98, 10))
    assert k.tensors[k.inputs[0]].shape == (1, 1, 98, 10)
    v = build("vit_tiny", resolution=96, num_classes=5)
    assert v.tensors[v.outputs[0]].shape == (1, 5)


def _ofa(**kw: object) -> int:
    return graph_macs(build("mobilenet_v3_large", **kw))


def test_ofa_defaults_and_choice_monotonicity() -> None:
    base = _ofa()
    d = search_space("ofa_mobilenet_v3").defaults
    assert base == _ofa(kernel_sizes=d["kernel_sizes"], expand_ratios=d["expand_ratios"], depths=d["depths"])
    assert _ofa(kernel_sizes=[7] * 20) > _ofa(kernel_sizes=[5] * 20) > _ofa(kernel_sizes=[3] * 20)
    assert _ofa(expand_ratios=[6] * 20) > _ofa(expand_ratios=[4] * 20) > _ofa(expand_ratios=[3] * 20)
    assert _ofa(depths=[4] * 5) > _ofa(depths=[3] * 5) > _ofa(depths=[2] * 5)
    # A stage uses only the first `depth` of its four entries: changing the unused fourth entry changes nothing.
    ks = list(d["kernel_sizes"])
    ks[3] = 7  # stage 1 has depth 2 by default
    assert _ofa(kernel_sizes=ks) == base
    ks[1] = 7
    assert _ofa(kernel_sizes=ks) > base


def test_ofa_largest_and_smallest_subnets_have_expected_block_counts() -> None:
    big = build("mobilenet_v3_large", kernel_sizes=[7] * 20, expand_ratios=[6] * 20, depths=[4] * 5)
    small = build("mobilenet_v3_large", kernel_sizes=[3] * 20, expand_ratios=[3] * 20, depths=[2] * 5)
    n_dw = lambda g: sum(n.op is OpKind.DEPTHWISE_CONV2D for n in g.nodes)  # noqa: E731
    assert n_dw(big) == 1 + 20 and n_dw(small) == 1 + 10
    assert all(n.attrs.kernel_hw == (7, 7) for n in big.nodes if n.op is OpKind.DEPTHWISE_CONV2D
               and n.name != "dwconv_0")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kernel_sizes": [3] * 19}, "kernel_sizes"),
        ({"kernel_sizes": [4] * 20}, "kernel_sizes"),
        ({"expand_ratios": [5] * 20}, "expand_ratios"),
        ({"expand_ratios": "3" * 20}, "expand_ratios"),
        ({"depths": [2, 3, 4, 2]}, "depths"),
        ({"depths": [1, 2, 2, 2, 2]}, "depths"),
        ({"width": 2}, "width"),
        ({"resolution": -5}, "resolution"),
        ({"num_classes": 0}, "num_classes"),
    ],
)
def test_invalid_choices_name_the_argument(kwargs: dict, field: str) -> None:
    with pytest.raises(EdgesimError) as err:
        build("mobilenet_v3_large", **kwargs)
    assert err.value.field == field
    assert field in str(err.value)


def test_unknown_name_lists_known_models() -> None:
    with pytest.raises(EdgesimError) as err:
        build("alexnet")
    assert "mobilenet_v3_large" in str(err.value) and "vit_tiny" in str(err.value)


def test_bad_input_shape_is_clean_error() -> None:
    with pytest.raises(EdgesimError):
        build("resnet50", input_shape=(1, 1, 224, 224))
    with pytest.raises(EdgesimError):
        build("vit_tiny", resolution=100)  # not a multiple of the patch size
    with pytest.raises(EdgesimError):
        build("squeezenet", resolution=8)  # unpadded convs and pools shrink it below zero


def test_ofa_search_space_data() -> None:
    assert "ofa_mobilenet_v3" in search_spaces()
    sp = search_space("ofa_mobilenet_v3")
    assert sp.model == "mobilenet_v3_large"
    assert [s.width for s in sp.stages] == [24, 40, 80, 112, 160]
    assert [s.stride for s in sp.stages] == [2, 2, 2, 1, 2]
    assert [s.se for s in sp.stages] == [False, True, False, True, True]
    assert sp.choice("kernel_sizes").values == (3, 5, 7) and sp.choice("depths").length == 5
    assert sp.resolutions[0] == 128 and sp.resolutions[-1] == 224
    # OFA's paper counts about 10^19 subnets ((3*3)^2 + (3*3)^3 + (3*3)^4)^5 = 2e19.
    assert sp.num_architectures() == (9**2 + 9**3 + 9**4) ** 5
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = sp.sample(rng, resolution=True)
        g = build(sp.model, **point)
        assert g.tensors[g.inputs[0]].shape == (1, 3, point["resolution"], point["resolution"])
    with pytest.raises(EdgesimError):
        search_space("no_such_space")
