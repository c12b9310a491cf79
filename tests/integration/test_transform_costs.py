"""What transformations buy, per the hardware: sparsity only where the unit can skip, bytes only where stored
encoded (issue: quantization, pruning, fusion, compression)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesim.api import load_model, load_profile, resolve_runtime
from edgesim.cli import main
from edgesim.cost.analytic import estimate_schedule
from edgesim.ir.graph import Graph
from edgesim.mapping.mapper import build_schedule
from edgesim.passes.optimize import Options, optimize, options_from_cli
from edgesim.passes.prune import parse_prune


def _mac_cycles(graph: Graph, profile, runtime=None) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    rt, ver = resolve_runtime(profile, None)
    rt = runtime or rt
    sched = build_schedule(graph, profile, rt, ver)
    est = estimate_schedule(sched, profile)
    mac = sum(p.compute_cycles for p in sched.plans if p.macs)
    return mac, est.latency_s


@pytest.fixture(scope="module")
def int8_model() -> Graph:
    g = load_model("mobilenet_v2", input_shape=(1, 3, 96, 96))
    return optimize(g, options_from_cli(quant="int8", fuse=True, compress="none", graph=g))


def _with_sparsity(pid: str, support: list[str]):  # type: ignore[no-untyped-def]
    prof = load_profile(pid)
    units = [u.model_copy(update={"sparsity": support}) for u in prof.units]
    return prof.model_copy(update={"units": units})


def test_unstructured_prune_on_dense_hardware_changes_nothing(int8_model: Graph) -> None:
    pruned = optimize(int8_model, options_from_cli(prune="0.5", fuse=False, compress="none", graph=int8_model))
    prof = load_profile("ethos-u55-128")
    assert not any(u.sparsity for u in prof.units)
    # Weights stored raw (Vela's own weight encoder would shrink the zeros: see the next test).
    raw = resolve_runtime(prof, None)[0].model_copy(update={"weight_compression_ratio": None})
    dense_mac, dense_lat = _mac_cycles(int8_model, prof, raw)
    pr_mac, pr_lat = _mac_cycles(pruned, prof, raw)
    assert pr_mac == pytest.approx(dense_mac)
    assert pr_lat == pytest.approx(dense_lat)


def test_unstructured_prune_helps_only_through_compressed_bytes(int8_model: Graph) -> None:
    pruned = optimize(int8_model, options_from_cli(prune="0.5", fuse=False, compress="huffman", graph=int8_model))
    prof = load_profile("ethos-u55-128")
    dense_mac, _ = _mac_cycles(int8_model, prof)
    pr_mac, _ = _mac_cycles(pruned, prof)
    rt, ver = resolve_runtime(prof, None)
    dense_w = build_schedule(int8_model, prof, rt, ver).total_weight_bytes
    pr_w = build_schedule(pruned, prof, rt, ver).total_weight_bytes
    assert pr_w < 0.8 * dense_w  # zeros compress
    assert pr_mac >= dense_mac * 0.999  # but no MAC is skipped (decode may even add cycles)


@pytest.mark.parametrize("compress", ["none", "huffman"])
def test_unstructured_prune_changes_only_weight_bytes_on_dense_hardware(int8_model: Graph, compress: str) -> None:
    """50% unstructured on hardware that cannot skip zeros, weights compressed by Vela's encoder (none) or by
    our Huffman pass: every op does the same MACs in the same cycles and moves the same activation bytes; only
    weight-memory bytes shrink (decoder kept fast here so it cannot become the bound), and that alone is what
    changes the latency."""
    opts = Options(prune=parse_prune("0.5"), fuse=False, compress=compress, decode_bits_per_cycle=1e6)
    pruned = optimize(int8_model, opts)
    prof = load_profile("ethos-u55-128")
    rt, ver = resolve_runtime(prof, None)
    dense = build_schedule(int8_model, prof, rt, ver)
    sparse = build_schedule(pruned, prof, rt, ver)
    assert [p.node for p in dense.plans] == [p.node for p in sparse.plans]
    weight_mems = {dense.weight_memory}
    shrunk = 0
    for d, s in zip(dense.plans, sparse.plans, strict=True):
        assert s.macs == d.macs and s.compute_cycles == pytest.approx(d.compute_cycles)
        dt = {t.memory: (t.read_bytes, t.write_bytes) for t in d.traffic}
        st = {t.memory: (t.read_bytes, t.write_bytes) for t in s.traffic}
        for mem in set(dt) | set(st):
            if mem in weight_mems:
                # (a tiny layer may grow: its code table costs more than Vela's own 0.73 weight compression)
                shrunk += dt.get(mem, (0, 0))[0] - st.get(mem, (0, 0))[0]
            else:
                assert st.get(mem) == dt.get(mem), (d.node, mem)
    assert sparse.total_weight_bytes < 0.8 * dense.total_weight_bytes and shrunk > 0
    d_est, s_est = estimate_schedule(dense, prof), estimate_schedule(sparse, prof)
    assert s_est.latency_s <= d_est.latency_s
    assert sum(lay.compute_cycles for lay in s_est.layers) == pytest.approx(
        sum(lay.compute_cycles for lay in d_est.layers))


def test_2_4_on_nm_hardware_halves_mac_cycles(int8_model: Graph) -> None:
    pruned = optimize(int8_model, options_from_cli(prune="2:4", fuse=False, compress="none", graph=int8_model))
    dense_hw = load_profile("ethos-u55-128")
    nm_hw = _with_sparsity("ethos-u55-128", ["nm_2_4"])
    rt, ver = resolve_runtime(nm_hw, None)
    d = {p.node: p for p in build_schedule(int8_model, nm_hw, rt, ver).plans}
    s = {p.node: p for p in build_schedule(pruned, nm_hw, rt, ver).plans}
    halved = [n for n in s if s[n].macs and s[n].compute_cycles == pytest.approx(d[n].compute_cycles / 2)]
    nm_layers = [n.name for n in pruned.nodes if any(
        t is not None and t.sparsity is not None and t.sparsity.nm == (2, 4) for t in pruned.input_tensors(n))]
    assert nm_layers and set(nm_layers) <= set(halved)
    # the same pruned model on dense hardware: no change in MAC cycles
    dense_mac, _ = _mac_cycles(int8_model, dense_hw)
    pr_mac, _ = _mac_cycles(pruned, dense_hw)
    assert pr_mac == pytest.approx(dense_mac)


def test_w4a8_shrinks_weights_and_reports_sqnr(tmp_path: Path) -> None:
    unpacked = tmp_path / "u.json"
    assert main(["run", "resnet8", "--hw", "stm32l4r5", "--quant", "w4a8", "--compress", "none", "--json",
                 str(unpacked), "--fast"]) == 0
    t = json.loads(unpacked.read_text())["transform"]
    assert t["weight_bytes_before"] / t["weight_bytes_after"] == pytest.approx(4.0, rel=0.1)  # one int4 per byte
    out = tmp_path / "r.json"
    # Zoo weights are random, so accuracy is only measured when asked (and then marked as such).
    assert main(["run", "resnet8", "--hw", "stm32l4r5", "--quant", "w4a8", "--json", str(out), "--fast",
                 "--accuracy"]) == 0
    rep = json.loads(out.read_text())
    assert "random" in rep["accuracy_note"]
    t = rep["transform"]
    assert t["weight_bytes_before"] / t["weight_bytes_after"] == pytest.approx(8.0, rel=0.1)  # packed, default
    assert rep["accuracy"]["output_sqnr_db"]
    assert all(v > 5 for v in rep["accuracy"]["output_sqnr_db"].values())
    assert rep["fusion"]["groups"] and rep["fusion"]["saved_activation_bytes"] > 0


def test_optimize_writes_onnx_that_reimports(tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    assert main(["optimize", "resnet8", "--quant", "int8", "-o", str(out)]) == 0
    g = load_model(out)
    assert any(t.quant is not None for t in g.tensors.values())
    with pytest.raises(SystemExit) as exc:  # argparse rejects it: usage line, exit 2
        main(["optimize", "resnet8", "--quant", "int9", "-o", str(out)])
    assert exc.value.code == 2
    assert main(["optimize", "resnet8", "--prune", "3:2", "-o", str(tmp_path / "x.onnx")]) == 2
    assert not (tmp_path / "x.onnx").exists()
