"""Unit tests for edgesim.validate: statistics, reference parsing, validate with a stub predictor, calibrate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from edgesim.validate import RowResult, read_reference, spearman, validate, write_json, write_plot
from edgesim.validate.core import ReferenceRow, summarize
from tests.conftest import DATA

SHARED = DATA
HEADER = "device,runtime,runtime_version,clock_mhz,benchmark,model_file,latency_ms,energy_uj\n"


def _csv(tmp_path: Path, body: str, name: str = "ref.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + body, encoding="utf-8")
    return p


def test_spearman_perfect_inverse_and_ties() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties get average ranks: x ranks [1.5, 1.5, 3], y ranks [1, 2, 3] -> r = 0.866
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(math.sqrt(3) / 2)
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1], [2]) is None
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_spearman_is_rank_based() -> None:
    # a monotone but very non-linear relation still has rho = 1
    assert spearman([1, 2, 3, 4, 5], [1, 8, 27, 1000, 1e9]) == pytest.approx(1.0)


def test_read_reference_parses_and_rejects(tmp_path: Path) -> None:
    p = _csv(tmp_path, "stm32l4r5,x-cube-ai,10.2,120,ic,m.tflite,165.7,5495.9\nstm32l4r5,tflm,,120,kws,k.tflite,181.9,\n")
    rows = read_reference(p)
    assert [r.runtime_spec for r in rows] == ["x-cube-ai@10.2", "tflm"]
    assert rows[0].energy_uj == pytest.approx(5495.9) and rows[1].energy_uj is None
    assert rows[0].line == 2
    bad = _csv(tmp_path, "stm32l4r5,tflm,,120,kws,k.tflite,fast,\n", "bad.csv")
    with pytest.raises(EdgesimError, match="line 2"):
        read_reference(bad)
    missing = tmp_path / "missing.csv"
    missing.write_text("device,runtime\nx,y\n", encoding="utf-8")
    with pytest.raises(EdgesimError, match="lacks columns"):
        read_reference(missing)
    with pytest.raises(EdgesimError, match="cannot read"):
        read_reference(tmp_path / "nope.csv")


def test_validate_with_stub_predictor_computes_errors(tmp_path: Path) -> None:
    p = _csv(tmp_path, "a,r,,100,b1,m1,10,100\nb,r,,100,b1,m1,20,\nc,r,,100,b1,m1,40,400\nd,r,,100,b2,m2,5,\n")

    def predict(row: ReferenceRow) -> tuple[float, float]:
        if row.device == "d":
            raise EdgesimError("unknown hardware profile 'd'")
        return row.latency_ms * 1.1, (row.energy_uj or 1.0) * 0.8

    res = validate(p, predictor=predict)
    assert len(res.rows) == 3 and len(res.skipped) == 1 and "unknown" in (res.skipped[0].error or "")
    b1 = res.benchmarks[0]
    assert b1.benchmark == "b1" and b1.rows == 3
    assert b1.latency_mape == pytest.approx(0.1) and b1.latency_median_ape == pytest.approx(0.1)
    assert b1.latency_spearman == pytest.approx(1.0)
    assert b1.energy_rows == 2 and b1.energy_mape == pytest.approx(0.2)
    with pytest.raises(EdgesimError):
        validate(p, predictor=predict, strict=True)
    out = write_json(res, tmp_path / "v.json")
    data = json.loads(out.read_text())
    assert data["overall"]["rows"] == 3 and data["rows"][0]["latency_error"] == pytest.approx(0.1)
    png = write_plot(res, tmp_path / "v.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "b1" in res.table()


def test_summarize_median_and_signs() -> None:
    rows = [RowResult(i, "d", "r", "b", "m", 1.0, 10.0, 10.0 * f, None, None) for i, f in
            enumerate((0.5, 1.0, 1.2, 2.0))]
    s = summarize("b", rows)
    assert s.latency_mape == pytest.approx((0.5 + 0 + 0.2 + 1.0) / 4)
    assert s.latency_median_ape == pytest.approx(0.35)
    assert rows[0].latency_error == pytest.approx(-0.5)


def test_every_issue_profile_and_runtime_loads() -> None:
    from edgesim.hw.loader import load_profile, load_runtime

    for pid in ("stm32h7a3", "stm32f746", "stm32u575", "stm32u385", "stm32g0b1", "psoc62", "nrf5340", "ra6m4",
                "ra8d1", "m467", "efr32mg24", "gap9", "ethos-u55-256", "ethos-u65-256", "coral-edgetpu-usb",
                "hailo-8", "rpi4", "jetson-orin-nano", "jetson-agx-orin"):
        prof = load_profile(pid)
        assert prof.id == pid and prof.sources
    for rid in ("plumerai", "microtvm", "bosch-hal", "onnc", "leip", "gapflow", "tensorrt", "hailort"):
        rt, _ = load_runtime(rid)
        assert rt.id == rid


def test_profile_facts_order_cores() -> None:
    """Core microarchitecture facts: M0+ < M4/M33 < M85 Helium; U55-256 has twice U55-128's MACs."""
    from edgesim.hw.loader import load_profile

    def int8(pid: str) -> float:
        return float(load_profile(pid).host.macs_per_cycle["int8"])  # type: ignore[index]

    assert int8("stm32g0b1") < 1.0 < int8("stm32u575") == int8("psoc62") < int8("ra8d1")
    u128 = load_profile("ethos-u55-128").unit("npu").macs_per_cycle
    u256 = load_profile("ethos-u55-256").unit("npu").macs_per_cycle
    assert u256["int8"] == 2 * u128["int8"]  # type: ignore[index]
    usb = load_profile("coral-edgetpu-usb")
    assert usb.memory("host_link").read_bw_bytes_per_s(usb.clock_mhz) < 5e8  # USB 3.0 is below 500 MB/s


def _models() -> Path:
    if not (SHARED / "models").is_dir():
        pytest.skip("bundled models (edgesim/data/models) not present")
    return SHARED / "models"


def test_calibrate_recovers_synthetic_runtime(tmp_path: Path) -> None:
    """Measurements generated by the model itself with a 2x slower engine: the fit must find them."""
    from edgesim.api import estimate, load_profile
    from edgesim.validate.calibrate import calibrate

    models = _models()
    rows = []
    prof = load_profile("stm32l4r5")
    for m in ("kws_ref_model.tflite", "ad01_int8.tflite", "vww_96_int8.tflite", "pretrainedResnet_quant.tflite"):
        lat = estimate(str(models / m), prof, "x-cube-ai@10.2.0").latency_s * 1e3 * 2.0
        rows.append(f"stm32l4r5,x-cube-ai,10.2.0,120,{m},{m},{lat},\n")
    p = _csv(tmp_path, "".join(rows))
    res = calibrate(p, "stm32l4r5", "x-cube-ai@10.2.0", models_dir=models)
    assert res.rows == 4
    assert res.before_mape == pytest.approx(0.5, abs=0.02)  # the profile predicts half the latency
    assert res.fit_mape < 0.05
    # Held out, KWS and VWW (depthwise + 1x1 convs, each exercised by the other) are recovered. The FC-only
    # autoencoder and ResNet-8 (3x3 convs) are not: their op group is under 20% of every other model's time,
    # so without them it is not fitted and the prediction stays at the profile's (-50%) instead of
    # extrapolating from noise.
    loo = dict(zip(("kws", "ad", "vww", "ic"), res.loo_errors, strict=True))
    for name in ("kws", "vww"):
        assert abs(loo[name]) < 0.1, (name, loo)
    for name in ("ad", "ic"):
        assert loo[name] == pytest.approx(-0.5, abs=0.02), (name, loo)
    out = res.write_calibrated_profile(tmp_path / "xcube-cal.yaml")
    text = out.read_text()
    assert "extends: x-cube-ai" in text
    # the written profile loads and reproduces the fitted latency through the public API
    from edgesim.hw.loader import load_runtime

    rt, _ = load_runtime(str(out))
    assert rt.id == "x-cube-ai-calibrated"
    assert rt.per_op_overhead_cycles == pytest.approx(res.per_op_overhead_cycles, rel=1e-3)


def test_calibrate_needs_two_rows(tmp_path: Path) -> None:
    from edgesim.validate.calibrate import calibrate

    p = _csv(tmp_path, "stm32l4r5,tflm,2.3.1,120,kws,kws_ref_model.tflite,181.9,\n")
    with pytest.raises(EdgesimError, match="at least 2"):
        calibrate(p, "stm32l4r5", "tflm")


def test_cli_parsers_registered() -> None:
    import argparse

    from edgesim.cli.validate import add_validate_parsers

    p = argparse.ArgumentParser()
    add_validate_parsers(p.add_subparsers(dest="command"))
    a = p.parse_args(["validate", "--json", "x.json", "--plot", "x.png"])
    assert a.json == "x.json" and a.plot == "x.png" and callable(a.func)
    c = p.parse_args(["calibrate", "m.csv", "--hw", "stm32l4r5", "--runtime", "tflm", "-o", "o.yaml"])
    assert c.measurements == "m.csv" and c.output == "o.yaml"
    s = p.parse_args(["validate", "--lobo-strict"])
    assert s.lobo_strict and not s.lobo
    assert p.parse_args(["validate", "--lodo"]).lodo


def test_edge_latency_conversion_maps_only_known_rows(tmp_path: Path) -> None:
    from edgesim.validate.edge import convert_edge_latency

    src = tmp_path / "edge.csv"
    src.write_text(
        "device,accelerator,runtime,model,input_size,precision,batch,metric,latency_ms,source_url\n"
        "Coral Dev Board,Edge TPU,libedgetpu / TFLite,MobileNet v1,224x224,int8,1,t,2.4,u1\n"
        "Desktop CPU + Coral USB Accelerator (USB 3.0),Edge TPU,libedgetpu / TFLite,ResNet-50 V1,224,int8,1,t,50,u2\n"
        "Desktop CPU (coral footnote 1),none,TFLite (CPU),MobileNet v1,224,int8,1,t,47,u3\n"
        "Jetson Orin Nano,-,OpenCV DNN 4.10.0,mobilenet_v1,224,fp32,1,t,10,u4\n"
        "Hailo-8 (performance mode),Hailo-8,HailoRT (DFC v3.27.0),Inception V3,299,int8 (quantized),1,t,1,u5\n",
        encoding="utf-8",
    )
    out = tmp_path / "ref.csv"
    assert convert_edge_latency(src, out) == 3
    rows = read_reference(out)
    # OpenCV DNN rows are kept at their own precision since issue #6 (tests/unit/test_edge_opencv.py)
    assert [(r.device, r.runtime, r.model_file, r.precision) for r in rows] == [
        ("coral-edgetpu", "edgetpu", "mobilenet_v1", "int8"), ("coral-edgetpu-usb", "edgetpu", "resnet50", "int8"),
        ("jetson-orin-nano", "opencv-dnn", "mobilenet_v1", "fp32")]


def test_cli_commands_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """validate (table + JSON + plot) and calibrate (-o) through the argparse entry points on real models."""
    import argparse

    from edgesim.cli.validate import add_validate_parsers

    _models()
    ref = _csv(tmp_path, "stm32l4r5,x-cube-ai,10.2.0,120,kws,kws_ref_model.tflite,43.2,1820\n"
                         "stm32l4r5,x-cube-ai,10.2.0,120,ad,ad01_int8.tflite,4.79,160\n"
                         "stm32u575,x-cube-ai,10.2.0,160,ad,ad01_int8.tflite,3.2,77\n")
    p = argparse.ArgumentParser()
    add_validate_parsers(p.add_subparsers(dest="command"))
    a = p.parse_args(["validate", "--reference", str(ref), "--json", str(tmp_path / "v.json"),
                      "--plot", str(tmp_path / "v.png")])
    assert a.func(a) == 0
    out = capsys.readouterr().out
    assert "kws" in out and "ALL" in out
    data = json.loads((tmp_path / "v.json").read_text())
    assert len(data["rows"]) == 3 and all(r["predicted_latency_ms"] > 0 for r in data["rows"])
    assert (tmp_path / "v.png").stat().st_size > 1000
    c = p.parse_args(["calibrate", str(ref), "--hw", "stm32l4r5", "--runtime", "x-cube-ai",
                      "-o", str(tmp_path / "cal.yaml")])
    assert c.func(c) == 0
    assert "leave-one-out" in capsys.readouterr().out
    assert "extends: x-cube-ai" in (tmp_path / "cal.yaml").read_text()


def test_core_kernel_efficiency_scale_is_a_chip_property() -> None:
    """Same engine, same clock: a Cortex-M7-class core (kernel_efficiency_scale 1.75) needs fewer cycles."""
    from edgesim.api import estimate, load_profile

    models = _models()
    m4 = load_profile("stm32l4r5")
    m7 = load_profile("stm32h7a3", clock_mhz=120.0)
    assert m4.host.kernel_efficiency_scale == 1.0 and m7.host.kernel_efficiency_scale == pytest.approx(1.75)
    kws = str(models / "kws_ref_model.tflite")
    t4 = estimate(kws, m4, "x-cube-ai@10.2.0").latency_s
    # 120 MHz is below the H7A3 profile's DVFS table (140-280 MHz): a deliberate same-clock what-if
    t7 = estimate(kws, m7, "x-cube-ai@10.2.0", overclock=True).latency_s
    assert 0.5 < t7 / t4 < 0.75  # kernels 1.75x faster, overheads not


def test_version_op_scales_and_pointwise_key(tmp_path: Path) -> None:
    """Per-op release factors validate their keys; CONV2D_1X1 falls back to CONV2D; 1x1 convs use their key."""
    from pydantic import ValidationError

    from edgesim.api import load_model
    from edgesim.hw.schema import RuntimeVersion
    from edgesim.mapping.compute import kernel_key

    v = RuntimeVersion(version="1", efficiency_scale=0.5, overhead_scale=1.0,
                       op_efficiency_scale={"CONV2D": 2.0, "DEPTHWISE_CONV2D": 3.0})
    assert v.scale_for("CONV2D") == pytest.approx(1.0)
    assert v.scale_for("CONV2D_1X1") == pytest.approx(1.0)  # no own entry: the CONV2D factor
    assert v.scale_for("DEPTHWISE_CONV2D") == pytest.approx(1.5)
    assert v.scale_for("ADD") == pytest.approx(0.5)
    with pytest.raises(ValidationError, match="not an op kind"):
        RuntimeVersion(version="1", efficiency_scale=1.0, overhead_scale=1.0, op_efficiency_scale={"CONV": 1.0})
    with pytest.raises(ValidationError, match="positive"):
        RuntimeVersion(version="1", efficiency_scale=1.0, overhead_scale=1.0, op_efficiency_scale={"CONV2D": 0.0})
    g = load_model(str(_models() / "vww_96_int8.tflite"))
    keys = [kernel_key(n) for n in g.nodes if n.op.value == "CONV2D"]
    assert keys[0] == "CONV2D" and keys.count("CONV2D_1X1") == len(keys) - 1  # 3x3 stem, then pointwise


def test_runtime_version_scales_reach_the_schedule() -> None:
    """x-cube-ai releases differ per op type: 7.1 is slower than 10.2 on VWW by more than on ResNet-8."""
    from edgesim.api import estimate, load_profile

    models = _models()
    prof = load_profile("stm32l4r5")

    def ratio(model: str) -> float:
        path = str(models / model)
        return estimate(path, prof, "x-cube-ai@7.1.0").latency_s / estimate(path, prof, "x-cube-ai@10.2.0").latency_s

    assert ratio("vww_96_int8.tflite") > ratio("pretrainedResnet_quant.tflite") * 1.3


def test_vendor_accelerator_kernels_use_their_own_efficiency() -> None:
    """TFLM drives the EFR32MG24's MVP with Silicon Labs' kernels: unit_kernel_efficiency, not CMSIS-NN's."""
    from edgesim.api import load_model, load_profile
    from edgesim.hw.loader import load_runtime
    from edgesim.mapping.mapper import build_schedule

    prof = load_profile("efr32mg24")
    rt, ver = load_runtime("tflm")
    eff = rt.efficiency_for("CONV2D", "vector")
    assert eff == pytest.approx(rt.unit_kernel_efficiency[rt.applies_to[1]]["CONV2D"])
    assert rt.efficiency_for("CONV2D", "cpu") == rt.kernel_efficiency["CONV2D"] != eff
    sched = build_schedule(load_model(str(_models() / "kws_ref_model.tflite")), prof, rt, ver)
    mvp = [p for p in sched.plans if p.unit == "mvp" and p.macs]
    assert mvp, "the MVP runs the MAC layers"
    peak = prof.unit("mvp").macs_per_cycle["int8"]  # type: ignore[index]
    for p in mvp:
        op_eff = rt.efficiency_for(p.op, "vector")
        assert p.compute_cycles == pytest.approx(p.macs / (peak * op_eff * ver.scale_for(p.op)), rel=0.02)


def test_unit_kernel_efficiency_rejects_bad_tables() -> None:
    from pydantic import ValidationError

    from edgesim.hw.loader import load_runtime

    rt, _ = load_runtime("tflm")
    data = rt.model_dump()
    with pytest.raises(ValidationError, match="default"):
        type(rt).model_validate({**data, "unit_kernel_efficiency": {"vector": {"CONV2D": 0.5}}})
    with pytest.raises(ValidationError, match=r"\(0, 1\]"):
        type(rt).model_validate({**data, "unit_kernel_efficiency": {"vector": {"default": 1.5}}})


def test_calibrated_profile_reproduces_the_fit(tmp_path: Path) -> None:
    """The written YAML (per-release, per-op factors) gives the fitted latencies through the public API."""
    from edgesim.api import estimate, load_profile
    from edgesim.validate.calibrate import calibrate

    models = _models()
    rows = ("stm32l4r5,x-cube-ai,7.3.0,120,kws,kws_ref_model.tflite,75.06,\n"
            "stm32l4r5,x-cube-ai,7.3.0,120,vww,vww_96_int8.tflite,230.47,\n"
            "stm32l4r5,x-cube-ai,7.3.0,120,ad,ad01_int8.tflite,7.58,\n"
            "stm32l4r5,x-cube-ai,10.2.0,120,vww,vww_96_int8.tflite,89.44,\n"
            "stm32l4r5,x-cube-ai,10.2.0,120,ic,pretrainedResnet_quant.tflite,165.67,\n"
            "stm32l4r5,x-cube-ai,10.2.0,120,ad,ad01_int8.tflite,4.79,\n")
    res = calibrate(_csv(tmp_path, rows), "stm32l4r5", "x-cube-ai@10.2.0", models_dir=models)
    assert set(res.version_op_scales) == {"7.3.0"} and "DEPTHWISE_CONV2D" in res.version_op_scales["7.3.0"]
    out = res.write_calibrated_profile(tmp_path / "cal.yaml")
    prof = load_profile("stm32l4r5")
    meas = [75.06, 230.47, 7.58, 89.44, 165.67, 4.79]
    files = ["kws_ref_model", "vww_96_int8", "ad01_int8", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]
    versions = ["7.3.0"] * 3 + ["10.2.0"] * 3
    for m, f, v, err in zip(meas, files, versions, res.fit_errors, strict=True):
        ms = estimate(str(models / f"{f}.tflite"), prof, f"{out}@{v}").latency_s * 1e3
        assert ms == pytest.approx(m * (1 + err), rel=0.01), (f, v)


def test_robust_fit_is_not_dragged_by_a_sibling_submission(tmp_path: Path) -> None:
    """Three agreeing measurements and a sibling build 3x slower: the soft-L1 fit stays with the three."""
    from edgesim.api import estimate, load_profile
    from edgesim.validate.calibrate import calibrate

    models = _models()
    kws = estimate(str(models / "kws_ref_model.tflite"), load_profile("stm32l4r5"), "x-cube-ai@10.2.0")
    t = kws.latency_s * 1e3 * 1.2
    rows = "".join(f"stm32l4r5,x-cube-ai,10.2.0,120,kws,kws_ref_model.tflite,{x},\n" for x in (t, t, t, 3 * t))
    res = calibrate(_csv(tmp_path, rows), "stm32l4r5", "x-cube-ai@10.2.0", models_dir=models)
    # plain least squares in log space leaves the three at +15% (dragged toward the outlier), soft-L1 at +9%
    assert all(abs(e) < 0.12 for e in res.fit_errors[:3]), res.fit_errors


def test_strict_leave_one_benchmark_out_runs_on_a_small_file(tmp_path: Path) -> None:
    from edgesim.validate.calibrate import leave_one_benchmark_out

    models = _models()
    body = ("stm32l4r5,x-cube-ai,10.2.0,120,ad,ad01_int8.tflite,4.79,\n"
            "stm32l4r5,x-cube-ai,10.2.0,120,ic,pretrainedResnet_quant.tflite,165.67,\n"
            "stm32l4r5,x-cube-ai,10.2.0,120,vww,vww_96_int8.tflite,89.44,\n"
            "stm32u575,x-cube-ai,10.2.0,160,ad,ad01_int8.tflite,3.21,\n"
            "stm32u575,x-cube-ai,10.2.0,160,ic,pretrainedResnet_quant.tflite,109.49,\n"
            "stm32u575,x-cube-ai,10.2.0,160,vww,vww_96_int8.tflite,59.27,\n")
    ref = _csv(tmp_path, body)
    plain = leave_one_benchmark_out(ref, models_dir=models)
    strict = leave_one_benchmark_out(ref, models_dir=models, refit_runtime=True)
    assert len(strict.rows) == len(plain.rows) == 6 and not strict.skipped
    assert all(r.predicted_latency_ms and r.predicted_latency_ms > 0 for r in strict.rows)
    # the strict protocol refits the runtime without the held-out rows, so its predictions differ
    assert any(abs(a.predicted_latency_ms - b.predicted_latency_ms) > 1e-6  # type: ignore[operator]
               for a, b in zip(plain.rows, strict.rows, strict=True))


def test_leave_one_device_out_predicts_only_carried_over_rows(tmp_path: Path) -> None:
    """Each device is predicted by a runtime fitted on the other devices; a runtime seen on one device only has
    nothing to carry over and its rows are reported as skipped."""
    from edgesim.validate.calibrate import leave_one_device_out

    models = _models()
    body = ("stm32l4r5,x-cube-ai,10.2.0,120,ad,ad01_int8.tflite,4.79,\n"
            "stm32l4r5,x-cube-ai,10.2.0,120,vww,vww_96_int8.tflite,89.44,\n"
            "stm32u575,x-cube-ai,10.2.0,160,ad,ad01_int8.tflite,3.21,\n"
            "stm32u575,x-cube-ai,10.2.0,160,vww,vww_96_int8.tflite,59.27,\n"
            "stm32l4r5,onnc,,120,ad,ad01_int8.tflite,8.07,\n")
    res = leave_one_device_out(_csv(tmp_path, body), models_dir=models)
    assert [r.device for r in res.rows] == ["stm32l4r5", "stm32l4r5", "stm32u575", "stm32u575"]
    assert [s.runtime for s in res.skipped] == ["onnc"] and "no other device" in (res.skipped[0].error or "")
    assert all(abs(r.latency_error or 9) < 0.3 for r in res.rows), [r.latency_error for r in res.rows]
