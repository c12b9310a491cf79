"""Silicon Labs' MVP programs per Gecko SDK release (tflm@gsdk-4.0.1 / tflm@gsdk-4.1.1, issue #18).

GSDK 4.0.1's conv program runs two MVP instructions per complex MAC, 4.1.1's (SL_MVP_OPTIMIZE_SPEED, as the MLPerf
Tiny v1.0 submission builds it) one; depthwise and FC are unchanged; the M33's CMSIS-NN kernels are not the MVP's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edgesim.errors import EdgesimError

MODELS = Path(__file__).resolve().parents[2] / "edgesim" / "data" / "models"


def _plans(hw: str, runtime: str, model: str) -> dict[str, tuple[str, str, float]]:
    from edgesim.api import load_model, load_profile
    from edgesim.hw.loader import load_runtime
    from edgesim.mapping.mapper import build_schedule

    path = MODELS / model
    if not path.is_file():
        pytest.skip("bundled models (edgesim/data/models) not present")
    rt, ver = load_runtime(runtime, quiet=True)
    sched = build_schedule(load_model(str(path)), load_profile(hw), rt, ver)
    return {p.node: (p.unit, p.op, p.compute_cycles) for p in sched.plans if p.macs}


def _reference(tmp_path: Path, model: str, *rows: str) -> Path:
    """A reference CSV of ``rows`` (skipped when the bundled ``model`` is absent)."""
    if not (MODELS / model).is_file():
        pytest.skip("bundled models (edgesim/data/models) not present")
    ref = tmp_path / "ref.csv"
    ref.write_text("device,runtime,runtime_version,clock_mhz,benchmark,model_file,latency_ms,energy_uj\n"
                   + "".join(r + "\n" for r in rows))
    return ref


def test_gsdk_4_1_halves_the_mvp_conv_cycles_only() -> None:
    old = _plans("efr32mg24", "tflm@gsdk-4.0.1", "kws_ref_model.tflite")
    new = _plans("efr32mg24", "tflm@gsdk-4.1.1", "kws_ref_model.tflite")
    convs = [n for n, (unit, op, _) in new.items() if unit == "mvp" and op in ("CONV2D", "CONV2D_1X1")]
    others = [n for n, (unit, op, _) in new.items() if unit == "mvp" and n not in convs]
    assert convs and others  # DS-CNN: a 10x4 conv and four 1x1 convs, four depthwise, one FC
    for n in convs:  # two MVP instructions per complex MAC -> one
        assert old[n][2] == pytest.approx(2.0 * new[n][2], rel=1e-6)
    for n in others:  # depthwise (2 instructions in both releases) and FC (1 in both)
        assert old[n][2] == pytest.approx(new[n][2], rel=1e-6)


def test_release_scale_is_the_mvp_programs_not_the_cpu_kernels() -> None:
    # On a chip without an MVP the Gecko SDK releases run the same CMSIS-NN kernels as the base release.
    base = _plans("stm32l4r5", "tflm@2.3.1", "kws_ref_model.tflite")
    for release in ("gsdk-4.0.1", "gsdk-4.1.1"):
        assert _plans("stm32l4r5", f"tflm@{release}", "kws_ref_model.tflite") == base


def test_efr32_defaults_to_the_newest_release_and_rows_name_theirs() -> None:
    from edgesim.api import load_profile
    from edgesim.validate.core import default_reference, read_reference

    assert load_profile("efr32mg24").default_runtime == "tflm@gsdk-4.1.1"
    rows = [r for r in read_reference(default_reference()) if r.device == "efr32mg24"]
    assert rows
    # the submissions' READMEs: v0.7 "git checkout v4.0.1", v1.0 "git checkout v4.1.1"
    assert {(r.mlperf_version, r.runtime_version) for r in rows} == {("0.7", "gsdk-4.0.1"), ("1.0", "gsdk-4.1.1")}


def test_leave_one_device_out_keeps_each_rows_release(tmp_path: Path) -> None:
    """The refit model (validate.calibrate) costs vendor layers once: each row's release must still apply."""
    from edgesim.validate.calibrate import leave_one_device_out

    ref = _reference(tmp_path, "pretrainedResnet_quant.tflite",
                     "stm32l4r5,tflm,2.3.1,120,kws,kws_ref_model.tflite,181.917,",
                     "stm32l4r5,tflm,2.3.1,120,vww,vww_96_int8.tflite,600.601,",
                     "efr32mg24,tflm,gsdk-4.0.1,78,ic,pretrainedResnet_quant.tflite,239.98,",
                     "efr32mg24,tflm,gsdk-4.1.1,78,ic,pretrainedResnet_quant.tflite,120.93,")
    rows = {(r.device, r.runtime): r for r in leave_one_device_out(ref).rows}
    old = rows[("efr32mg24", "tflm@gsdk-4.0.1")].predicted_latency_ms
    new = rows[("efr32mg24", "tflm@gsdk-4.1.1")].predicted_latency_ms
    assert old is not None and new is not None
    assert 1.8 < old / new < 2.0  # ResNet-8's time is nearly all 3x3 convs on the MVP


def test_unit_release_scales_are_checked() -> None:
    from edgesim.hw.loader import load_runtime

    rt, _ = load_runtime("tflm", quiet=True)
    data = rt.model_dump()
    bad = [{"version": "x", "efficiency_scale": 1.0, "overhead_scale": 1.0,
            "unit_op_efficiency_scale": {"vector": {"CONV3X3": 2.0}}}]
    with pytest.raises(ValidationError, match="not an op kind"):
        type(rt).model_validate({**data, "versions": bad, "default_version": "x"})
    bad[0]["unit_op_efficiency_scale"] = {"vector": {"CONV2D": 0.0}}
    with pytest.raises(ValidationError, match="positive"):
        type(rt).model_validate({**data, "versions": bad, "default_version": "x"})


def test_unknown_gsdk_release_is_refused_by_name() -> None:
    from edgesim.hw.loader import load_runtime

    with pytest.raises(EdgesimError, match="no version 'gsdk'"):
        load_runtime("tflm@gsdk", quiet=True)


def test_calibrated_tflm_profile_keeps_the_mvp_releases(tmp_path: Path) -> None:
    """`edgesim calibrate` on the EFR32 rows writes a profile whose releases still differ on the MVP."""
    from edgesim.api import estimate, load_profile
    from edgesim.validate.calibrate import calibrate

    ref = _reference(tmp_path, "kws_ref_model.tflite",
                     "efr32mg24,tflm,gsdk-4.0.1,78,kws,kws_ref_model.tflite,63.09,",
                     "efr32mg24,tflm,gsdk-4.1.1,78,kws,kws_ref_model.tflite,36.28,")
    res = calibrate(ref, "efr32mg24", "tflm@gsdk-4.1.1", models_dir=MODELS)
    out = res.write_calibrated_profile(tmp_path / "cal.yaml")
    prof = load_profile("efr32mg24")
    for version, err in zip(("gsdk-4.0.1", "gsdk-4.1.1"), res.fit_errors, strict=True):
        ms = estimate(str(MODELS / "kws_ref_model.tflite"), prof, f"{out}@{version}").latency_s * 1e3
        # the MVP layers are not fitted: the written releases must keep their MVP scales for the fit to reproduce
        assert ms == pytest.approx({"gsdk-4.0.1": 63.09, "gsdk-4.1.1": 36.28}[version] * (1 + err), rel=0.02)


def test_gecko_sdk_release_on_another_vendors_chip_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import run_cli

    model = MODELS / "kws_ref_model.tflite"
    if not model.is_file():
        pytest.skip("bundled models (edgesim/data/models) not present")
    code, out, err = run_cli(["run", str(model), "--hw", "stm32l4r5", "--runtime", "tflm@gsdk-4.1.1"], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "stm32l4r5" in lines[0] and "gsdk-4.1.1" in lines[0] and "efr32*" in lines[0]
    # --force runs it as a what-if, flagged
    code, out, err = run_cli(["run", str(model), "--hw", "stm32l4r5", "--runtime", "tflm@gsdk-4.1.1", "--force"],
                             capsys)
    assert code == 0 and "forced what-if" in out


def test_engine_numbers_never_resolve_to_a_vendor_release_line() -> None:
    from edgesim.hw.loader import load_runtime

    # '4.1.1' is a TFLM number (nearest TFLM release), not Gecko SDK 4.1.1; 'gsdk-4.1' is the SDK line
    assert not load_runtime("tflm@4.1.1", quiet=True)[1].version.startswith("gsdk")
    assert load_runtime("tflm@gsdk-4.1", quiet=True)[1].version == "gsdk-4.1.1"
    with pytest.raises(EdgesimError, match="no release of that line"):
        load_runtime("tflm@tvm-1.0", quiet=True)
