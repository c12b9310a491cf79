"""Prediction intervals: conformal bounds, novelty classes, propagation of profile ranges, the CLI and JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from edgesim.cli import main
from edgesim.errors import EdgesimError
from edgesim.hw.loader import load_profile, load_runtime
from edgesim.hw.uncertain import ranged_fields
from edgesim.pipeline import RunSpec, run
from edgesim.pipeline.intervals import (
    NoveltyClass,
    calibration_table,
    check_confidence,
    combine,
    conformal_bounds,
    energy_bounds,
    interval,
    novelty,
    perturbed_runs,
    power_log_bounds,
)

RANGED = """\
extends: stm32l4r5
id: stm32l4-ranged
clock_mhz: {value: 120.0, range: [100.0, 120.0], reason: "boost mode may not hold"}
memories:
  - name: sram
    kind: sram
    size_bytes: 655360
    read_bw_bytes_per_cycle: 4.0
    write_bw_bytes_per_cycle: 4.0
    latency_cycles: 1.0
    read_energy_pj_per_byte: 5.0
    write_energy_pj_per_byte: 5.0
  - name: flash
    kind: flash
    size_bytes: 2097152
    read_bw_bytes_per_cycle: {value: 0.05, range: [0.02, 0.08], reason: "a slow serial flash, assumed"}
    write_bw_bytes_per_cycle: 0.0
    latency_cycles: 5.0
    read_energy_pj_per_byte: 15.0
    write_energy_pj_per_byte: 0.0
"""


def test_conformal_bounds_use_finite_sample_ranks() -> None:
    res = [x / 10 for x in range(-9, 10)]  # 19 residuals: -0.9 .. 0.9
    lo, hi, capped = conformal_bounds(res, 0.8)
    # ranks floor(20 * 0.1) = 2 and ceil(20 * 0.9) = 18
    assert (lo, hi, capped) == (-0.8, 0.8, False)
    lo, hi, capped = conformal_bounds(res[:4], 0.95)
    assert capped and (lo, hi) == (-0.9, -0.6)
    with pytest.raises(EdgesimError):
        conformal_bounds([], 0.8)


def test_energy_bounds_widen_latency_bounds_by_the_power_spread() -> None:
    lat = [x / 20 for x in range(-10, 11)]
    lo0, hi0, _ = conformal_bounds(lat, 0.8)
    lo, hi, _ = energy_bounds(lat, [-0.3, -0.1, 0.0, 0.1, 0.3] * 5, 0.8)
    assert lo < lo0 and hi > hi0


def test_combined_interval_contains_the_point_and_adds_in_quadrature() -> None:
    iv = combine(10.0, (-0.3, 0.4), (-0.4, 0.3))
    assert iv.lo == pytest.approx(10 * 2.718281828 ** -0.5) and iv.hi == pytest.approx(10 * 2.718281828 ** 0.5)
    biased = combine(10.0, (0.0, 0.0), (0.1, 0.5))  # every residual above: the point still inside
    assert biased.lo == 10.0 and biased.hi > 10.0


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_confidence_outside_0_1_is_refused(bad: float) -> None:
    with pytest.raises(EdgesimError, match="confidence"):
        check_confidence(bad)


def test_novelty_classes_follow_the_calibration_coverage() -> None:
    table = calibration_table()
    xcube, _ = load_runtime("x-cube-ai", note_missing_version=False)
    assert novelty(load_profile("stm32l4r5"), xcube, table) is NoveltyClass.MEASURED_DEVICE
    assert novelty(load_profile("m467"), xcube, table) is NoveltyClass.KNOWN_FAMILY  # Cortex-M4, never measured
    assert novelty(load_profile("ra8d1"), xcube, table) is NoveltyClass.NEW_FAMILY  # Cortex-M85
    assert novelty(load_profile("stm32l4r5"), None, table) is NoveltyClass.NEW_RUNTIME
    # Each class ships enough held-out residuals for an 80% interval.
    for cls in NoveltyClass:
        assert len(table.residuals(cls)) >= 20, cls


def test_more_novel_cases_get_wider_intervals() -> None:
    known = interval(run(RunSpec("kws_ref_model.tflite", "stm32l4r5", "tflm@2.11.0")))
    new = interval(run(RunSpec("kws_ref_model.tflite", "ra8d1", "tflm@2.11.0")))
    assert known.novelty is NoveltyClass.MEASURED_DEVICE and new.novelty is NoveltyClass.NEW_FAMILY
    assert new.latency_s.half_width_rel(1.0) / new.latency_s.hi > known.latency_s.half_width_rel(1.0) / known.latency_s.hi
    assert interval(run(RunSpec("kws_ref_model.tflite", "stm32l4r5", "tflm@2.11.0")), 0.95).latency_s.hi > known.latency_s.hi


def test_profile_ranges_are_propagated(tmp_path: Path) -> None:
    path = tmp_path / "ranged.yaml"
    path.write_text(RANGED, encoding="utf-8")
    result = run(RunSpec("kws_ref_model.tflite", str(path)))
    base, effects = perturbed_runs(result)
    assert base.latency_s == pytest.approx(result.latency_s)
    by_path = {e.field.path: e for e in effects}
    slow, nominal, fast = by_path["memories.1.read_bw_bytes_per_cycle"].latency_s
    assert slow > nominal > fast  # less flash bandwidth, slower: the weights stream from flash
    slow, nominal, same = by_path["clock_mhz"].latency_s
    assert slow == pytest.approx(nominal * 1.2, rel=0.01) and same == nominal  # one-sided range
    iv = interval(result)
    assert iv.uncertain_fields == 2 and iv.profile_latency_log[0] >= 0  # never faster
    assert 0.1 < iv.profile_latency_log[1] < 0.19  # most of 20% slower, never more
    # wider than the model error alone on the slow side, equal to it on the fast side
    assert iv.latency_s.hi > result.latency_s * math.exp(iv.model_latency_log[1]) * 1.01
    assert iv.latency_s.lo == pytest.approx(result.latency_s * math.exp(iv.model_latency_log[0]))
    # Seeded: the same question gets the same interval.
    assert interval(result) == iv


def test_interval_maps_only_for_fields_the_mapper_reads_and_reuses_perturbed_chips(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the interval costs, counted in map runs (benchmarks/bench_intervals.py measures the time): the clock's
    one-sided range maps once (its high end is the nominal), the flash bandwidth is costed on the same schedule,
    and a second interval on the same chip maps nothing: the perturbed chips are the same objects, memoised."""
    from edgesim.pipeline import stages
    from edgesim.pipeline.intervals import set_field

    path = tmp_path / "ranged.yaml"
    path.write_text(RANGED, encoding="utf-8")
    result = run(RunSpec("kws_ref_model.tflite", str(path)))
    maps: list[object] = []
    real = stages.build_schedule
    monkeypatch.setattr(stages, "build_schedule", lambda *a, **k: maps.append(a[1]) or real(*a, **k))
    first = interval(result)
    assert len(maps) == 1 and maps[0].clock_mhz == 100.0  # type: ignore[attr-defined]
    assert interval(result) == first and len(maps) == 1
    assert set_field(result.profile, "clock_mhz", 100.0) is set_field(result.profile, "clock_mhz", 100.0)


def test_cli_run_prints_and_writes_the_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["run", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--fast", "--confidence", "0.9",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "interval: latency " in text and "(90%)" in text and "measured_device" in text
    data = json.loads(out.read_text())
    lo, hi = data["latency_interval_s"]
    assert lo < data["latency_s"] < hi
    elo, ehi = data["energy_interval_j"]
    # This board's power factor is fitted on its own energy rows, so its held-out power residuals centre on the
    # prediction: the interval reaches both sides of the point, narrower than a board without energy rows gets.
    assert elo < data["energy_j"] < ehi
    own, new = power_log_bounds("stm32l4r5", 0.9), power_log_bounds("no-such-board", 0.9)
    assert own[0] < 0 < own[1] and own[1] - own[0] < new[1] - new[0]
    assert data["interval"]["confidence"] == 0.9


@pytest.mark.parametrize("bad", ["0", "1", "1.5", "-0.1"])
def test_cli_bad_confidence_is_one_line_exit_2(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--fast", "--confidence", bad]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().startswith("error:") and len(captured.err.strip().splitlines()) == 1
    assert "confidence" in captured.err and captured.out == ""


def test_compare_marks_overlapping_intervals_and_draws_them(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.explore.compare import compare, indistinguishable

    rows = compare(["kws_ref_model.tflite"], ["stm32h7a3", "ra8d1", "stm32l4r5"], confidence=0.8)
    assert all(r.latency_lo_s is not None and r.latency_lo_s < r.latency_s < (r.latency_hi_s or 0) for r in rows)
    pairs = {(a.hw, b.hw) for a, b in indistinguishable(rows)}
    for a in rows:  # overlap is exactly what is reported
        for b in rows:
            if a.hw < b.hw:
                assert a.latency_lo_s is not None and a.latency_hi_s is not None
                assert b.latency_lo_s is not None and b.latency_hi_s is not None
                overlap = a.latency_lo_s <= b.latency_hi_s and b.latency_lo_s <= a.latency_hi_s
                assert overlap == ((a.hw, b.hw) in pairs or (b.hw, a.hw) in pairs)
    assert ("stm32h7a3", "ra8d1") in pairs  # ~10 ms vs ~7.5 ms, both intervals about +/-20-40%
    plot = tmp_path / "c.png"
    assert main(["compare", "kws_ref_model.tflite", "--hw", "stm32h7a3", "--hw", "ra8d1", "--hw", "stm32l4r5",
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "latency 80%" in out and "not distinguishable at 80%" in out and "stm32h7a3 vs ra8d1" in out
    assert plot.stat().st_size > 10_000


def test_sustain_and_api_report_intervals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import edgesim

    out = tmp_path / "s.json"
    assert main(["sustain", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--duration", "5", "--json", str(out)]) == 0
    assert "interval: mean latency" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["latency_interval_s"][0] < data["mean_latency_s"] < data["latency_interval_s"][1]
    iv = edgesim.interval("kws_ref_model.tflite", "stm32l4r5", confidence=0.9)
    same = edgesim.interval(edgesim.run(RunSpec("kws_ref_model.tflite", "stm32l4r5")), confidence=0.9)
    assert iv == same and iv.latency_s.lo < edgesim.estimate("kws_ref_model.tflite", "stm32l4r5").latency_s
    with pytest.raises(EdgesimError, match="confidence"):
        edgesim.interval("kws_ref_model.tflite", "stm32l4r5", confidence=1.0)


def test_event_engine_frames_get_a_throughput_interval(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["run", "kws_ref_model.tflite", "--hw", "stm32h7a3", "--frames", "2", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    lo, hi = data["throughput_interval_inf_per_s"]
    assert lo < data["throughput_inf_per_s"] < hi
    assert data["latency_interval_s"][0] < data["latency_s"] < data["latency_interval_s"][1]


def test_sweep_rows_carry_intervals_and_edited_chips_count_as_new() -> None:
    import edgesim
    from edgesim.explore.sweep import evaluate_point
    from edgesim.explore.sweep_spec import spec_from_dict
    from edgesim.files import data_path

    model = str(data_path("models", "kws_ref_model.tflite"))
    loaded = spec_from_dict({"name": "t", "profiles": ["stm32l4r5"], "axes": {"clock_mhz": [80.0, 120.0],
                             "memories.sram.size_bytes": [1048576]}, "models": [model]})
    for point in loaded.points:
        row = evaluate_point(point, 0.8)
        assert not row["error"] and row["latency_lo_s"] < row["latency_s"] < row["latency_hi_s"]
        assert row["novelty"] == "known_family"  # an edited measured chip is a new chip of a known family
    # a clock axis alone asks what `run --clock-mhz` asks: the same chip at another DVFS point, the same interval
    clocked = spec_from_dict({"name": "c", "profiles": ["stm32l4r5"], "axes": {"clock_mhz": [80.0]},
                              "models": [model]})
    row = evaluate_point(clocked.points[0], 0.8)
    iv = edgesim.interval(model, "stm32l4r5", clock_mhz=80.0, confidence=0.8)
    assert row["novelty"] == iv.novelty.value == "measured_device"
    assert (row["latency_lo_s"], row["latency_hi_s"]) == (iv.latency_s.lo, iv.latency_s.hi)
    assert (row["energy_lo_j"], row["energy_hi_j"]) == (iv.energy_j.lo, iv.energy_j.hi)
    plain = spec_from_dict({"name": "p", "profiles": ["stm32l4r5"], "models": [model]})
    row = evaluate_point(plain.points[0], 0.8)
    assert row["novelty"] == "measured_device" and row["energy_lo_j"] <= row["energy_j"] < row["energy_hi_j"]


def test_runtime_ranges_are_propagated_too(tmp_path: Path) -> None:
    rt = tmp_path / "rt.yaml"
    rt.write_text("extends: x-cube-ai\nid: x-cube-ai-next\nkernel_efficiency:\n"
                  "  CONV2D: {value: 0.305, range: [0.2, 0.4], reason: \"a new release, conv kernels rewritten\"}\n",
                  encoding="utf-8")
    result = run(RunSpec("pretrainedResnet_quant.tflite", "stm32l4r5", runtime=f"{rt}@10.2.0"))
    _, (effect,) = perturbed_runs(result)
    slow, nominal, fast = effect.latency_s
    assert effect.owner == "runtime" and slow > nominal > fast  # ResNet-8 is mostly 3x3 convolutions
    iv = interval(result)
    assert iv.novelty is NoveltyClass.NEW_RUNTIME and iv.uncertain_fields == 1


def test_llm_estimates_get_tokens_per_s_and_ttft_intervals(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.llm.intervals import llm_interval, llm_table
    from edgesim.llm.predict import predict

    measured, rows = llm_table()
    # rpi5's rows are Ollama's: they measure llama.cpp's kernels (Ollama's engine) on the board
    assert "rpi5/llama.cpp" in measured and {r.cls for r in rows} == {"measured_device", "new_device"}
    est = predict("llama-3.2-1b", "rpi5")
    iv = llm_interval(est, 0.8)
    assert iv.novelty == "measured_device"
    assert est.decode is not None and iv.decode_tokens_per_s is not None
    assert iv.decode_tokens_per_s.lo <= est.decode.tokens_per_s <= iv.decode_tokens_per_s.hi
    assert iv.ttft_s is not None and est.ttft_s is not None and iv.ttft_s.lo <= est.ttft_s <= iv.ttft_s.hi
    wide = llm_interval(est, 0.95)
    assert wide.decode_tokens_per_s is not None and wide.decode_tokens_per_s.hi >= iv.decode_tokens_per_s.hi
    out = tmp_path / "l.json"
    assert main(["llm", "llama-3.2-1b", "--hw", "rpi5", "--json", str(out)]) == 0
    assert "interval (80%, measured_device)" in capsys.readouterr().out
    assert json.loads(out.read_text())["interval"]["decode_tokens_per_s_interval"][0] > 0
    assert main(["llm", "llama-3.2-1b", "--hw", "rpi5", "--confidence", "1"]) == 2
    assert "confidence" in capsys.readouterr().err


def test_llm_board_measured_only_with_another_engine_is_new_to_the_runtime() -> None:
    from edgesim.llm.intervals import llm_interval, measured_key
    from edgesim.llm.predict import predict
    from edgesim.llm.runtime import engine_of

    assert engine_of("ollama") == "llama.cpp" and engine_of("mlc") == "mlc"
    assert engine_of("llama.cpp@b7070") == "llama.cpp"
    assert measured_key("rpi5", "ollama") == measured_key("rpi5", "llama.cpp")
    # the AGX Orin's rows are MLC, TinyChat and HF transformers: llama.cpp's CUDA engine never saw the board
    mlc = llm_interval(predict("llama-2-7b", "jetson-agx-orin", runtime="mlc"), 0.8)
    cpp = llm_interval(predict("llama-2-7b", "jetson-agx-orin", runtime="llama.cpp"), 0.8)
    assert mlc.novelty == "measured_device" and cpp.novelty == "new_device"


def test_ranges_a_single_inference_never_reads_add_no_width(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("extends: stm32l4r5\nid: stm32l4-thermal\nthermal:\n  ambient_c: {value: 25.0, range: [20.0, 35.0], "
                    "source: lab}\ndvfs:\n  nominal_voltage_v: {value: 1.28, rel: 0.05, reason: assumed}\n",
                    encoding="utf-8")
    result = run(RunSpec("kws_ref_model.tflite", str(path)))
    iv = interval(result)
    assert iv.uncertain_fields == 0 and iv.profile_latency_log == (0.0, 0.0)


def test_npu_boards_use_the_vendor_table_calibration(tmp_path: Path) -> None:
    table = calibration_table()
    assert len(table.residuals(NoveltyClass.NPU_MEASURED_DEVICE)) >= 50
    assert len(table.residuals(NoveltyClass.NPU_NEW_DEVICE)) >= 50
    device, rid = sorted(table.npu_devices)[0]
    runtime, _ = load_runtime(rid, note_missing_version=False)
    assert rid not in table.runtimes  # an MCU runtime would take the MLPerf Tiny classes first
    assert novelty(load_profile(device), runtime, table) is NoveltyClass.NPU_MEASURED_DEVICE
    clone = tmp_path / "clone.yaml"
    clone.write_text(f"extends: {device}\nid: {device}-next\n", encoding="utf-8")
    assert novelty(load_profile(clone), runtime, table) is NoveltyClass.NPU_NEW_DEVICE


def test_surrogate_quantiles_match_numpy_and_strata_are_permutations() -> None:
    import numpy as np

    from edgesim.pipeline.intervals import _MC_DRAWS, _quantile, _stratum_order

    x = np.sin(np.arange(1001.0)) * 3
    for q in (0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0):
        assert _quantile(x, q) == pytest.approx(float(np.quantile(x, q)), abs=1e-12)
    a, b = _stratum_order(0), _stratum_order(1)
    assert sorted(a) == sorted(b) and len(set(a)) == _MC_DRAWS and not (a == b).all()
    assert abs(float(np.corrcoef(a, b)[0, 1])) < 0.1  # fields paired at random, not in step


def test_board_power_range_is_counted_once_in_the_model_part(tmp_path: Path) -> None:
    """A derived board-power factor's range and the model part's spread of board offsets describe the same
    uncertainty: the range is not propagated, so a ranged factor gives the same energy interval as a plain one,
    and the model part alone makes it wider than the point."""
    ranged = tmp_path / "ranged.yaml"
    ranged.write_text("extends: m467\nid: m467-ranged\n")
    p_ranged = load_profile(ranged)
    plain = tmp_path / "plain.yaml"  # the same factor written as a plain number (the shipped fallback's value)
    plain.write_text("extends: m467\nid: m467-plain\npower:\n  static_power_mw: 8.580\n  idle_power_mw: 38.61\n"
                     f"  sleep_power_mw: 0.01\n  board_power_factor: {p_ranged.power.board_power_factor!r}\n")
    p_plain = load_profile(plain)
    assert any(f.path == "power.board_power_factor" for f in ranged_fields(p_ranged))
    assert p_ranged.power.board_power_factor == p_plain.power.board_power_factor
    a = interval(run(RunSpec("kws_ref_model.tflite", p_ranged)))
    b = interval(run(RunSpec("kws_ref_model.tflite", p_plain)))
    assert a.energy_j.lo < run(RunSpec("kws_ref_model.tflite", p_ranged)).energy_j < a.energy_j.hi
    assert (a.energy_j.lo, a.energy_j.hi) == pytest.approx((b.energy_j.lo, b.energy_j.hi), rel=1e-9)


def test_interval_text_never_uses_an_exponent() -> None:
    from edgesim.pipeline.intervals import Interval, format_range
    assert format_range(Interval(959.0, 1490.0), 0.8, "s") == "959-1490 s (80%)"  # was '959-1.49e+03 s'
    assert format_range(Interval(0.0121, 0.0174), 0.8, "s") == "12.1-17.4 ms (80%)"
