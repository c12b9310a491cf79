"""Interval model error by board and by device (energy on new boards, group-weighted new-device latency), throttle
onset and LLM energy/token intervals, compare's shared-error rule, and the generated docs figures."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgesim.cli import main
from edgesim.pipeline import RunSpec, run
from edgesim.pipeline.intervals import (
    GROUP_WEIGHTED,
    NoveltyClass,
    calibration_table,
    energy_bounds,
    group_weights,
    interval,
    model_bounds,
    new_board_energy_bounds,
    power_log_bounds,
    shared_margin,
    weighted_bounds,
)
from tests.conftest import REPO


def test_student_t_quantiles_match_the_tables() -> None:
    from edgesim.pipeline.interval_calibration import _t_quantiles

    for df, p, ref in ((1, 0.95, 6.314), (4, 0.9, 1.533), (4, 0.95, 2.132), (10, 0.9, 1.372)):
        assert float(np.quantile(_t_quantiles(df, 4000), p)) == pytest.approx(ref, rel=0.01)


def test_a_board_with_many_rows_counts_once_for_a_new_board() -> None:
    lat = [x / 50 for x in range(-10, 11)]
    boards = [[-0.2, -0.18], [0.0, 0.02], [0.1, 0.12], [0.2, 0.22]]
    base = new_board_energy_bounds(lat, boards, 0.8)
    many = new_board_energy_bounds(lat, [boards[0] * 20, *boards[1:]], 0.8)
    assert many[:2] == pytest.approx(base[:2], abs=1e-9)
    # pooled rows would drag the bounds toward the board with many rows
    pooled = energy_bounds(lat, [x for b in [boards[0] * 20, *boards[1:]] for x in b], 0.8)
    assert pooled[1] < many[1]
    # board offsets spread wider than the rows inside a board: the new-board bounds cover the spread of means
    assert base[0] < -0.2 and base[1] > 0.2 and not base[2]


def test_group_weights_keep_one_device_from_deciding_the_tails() -> None:
    values = [(0.05 * i, "big") for i in range(-10, 11)] + [(1.5, "small"), (1.6, "small"), (-0.1, "other")]
    pairs = group_weights(values)
    res, w = [v for v, _ in pairs], [x for _, x in pairs]
    assert sum(w) == pytest.approx(3.0)  # one per device
    lo, hi, capped = weighted_bounds(res, w, 0.8)
    # the small device is a third of the devices, not 2 rows of 24: its top residual is inside the bounds
    assert hi == 1.6 and lo < 0 and not capped
    assert weighted_bounds(res, [1.0] * len(res), 0.8)[1] < 1.5


def test_new_devices_use_group_weighted_bounds_and_the_table_has_them() -> None:
    table = calibration_table()
    for cls in GROUP_WEIGHTED:
        w = table.residual_weights(cls)
        assert w is not None and len(w) == len(table.residuals(cls))
        devices = {r for r in table.devices}
        assert sum(w) <= len(devices)
        assert model_bounds(table, cls, 0.8) == weighted_bounds(table.residuals(cls), w, 0.8)
    assert table.residual_weights(NoveltyClass.MEASURED_DEVICE) is None


def test_energy_of_a_board_without_energy_rows_uses_the_board_spread() -> None:
    table = calibration_table()
    boards = dict(table.board_power)
    assert "stm32l4r5" in boards and "m467" not in boards
    known = power_log_bounds("stm32l4r5", 0.8)
    new = power_log_bounds("m467", 0.8)
    assert new[0] < 0 < new[1]  # a new board: the spread of board offsets, about their mean
    # this board's factor is fitted on its own rows: its held-out residuals centre on the prediction, and its own
    # offset is known better than a new board's
    assert known[0] < 0 < known[1] and known[1] - known[0] < new[1] - new[0]
    iv = interval(run(RunSpec("kws_ref_model.tflite", "m467")))
    assert iv.novelty is NoveltyClass.KNOWN_FAMILY
    assert iv.power_ratio == pytest.approx((math.exp(new[0]), math.exp(new[1])))
    assert iv.energy_j.lo < run(RunSpec("kws_ref_model.tflite", "m467")).energy_j < iv.energy_j.hi


def test_new_board_spread_comes_from_fallback_factor_residuals_not_in_sample_ones() -> None:
    """The profiles' board-power factors are fitted on the measured boards' energy rows. A new board's spread
    must come from residuals at the factor each board would get as a new chip (the fallback fitted without it),
    whose board means differ; the held-out-benchmark residuals each board's own offset uses centre on zero."""
    table = calibration_table()
    own = {d: sum(v) / len(v) for d, v in table.board_power}
    spread = {d: sum(v) / len(v) for d, v in table.new_board_power}
    assert len(spread) >= 3 and set(spread) <= set(own)
    assert max(abs(m) for m in own.values()) < 0.05
    assert max(spread.values()) - min(spread.values()) > 0.2
    assert table.spread_boards() == [v for _, v in table.new_board_power]


def test_coverage_computes_bounds_as_the_run_time_does() -> None:
    """The held-out check of a new-device class with every group kept is the run-time bound."""
    from edgesim.validate.intervals import _latency_bounds, shipped_residuals

    res = [x for x in shipped_residuals(npu=False) if x.cls is NoveltyClass.NEW_FAMILY]
    assert _latency_bounds(NoveltyClass.NEW_FAMILY, res, 0.8) == pytest.approx(
        model_bounds(calibration_table(), NoveltyClass.NEW_FAMILY, 0.8))


def test_throttle_onset_interval_brackets_the_onset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, plot = tmp_path / "s.json", tmp_path / "s.png"
    assert main(["sustain", "mobilenet_v2", "--hw", "rpi4", "--ambient", "50", "--duration", "300", "--window",
                 "2", "--json", str(out), "--plot", str(plot)]) == 0
    assert "interval: throttle onset" in capsys.readouterr().out
    data = json.loads(out.read_text())
    early, late = data["throttle_onset_interval_s"]
    assert early < data["throttle_onset_s"] and (late is None or late > data["throttle_onset_s"])
    assert plot.stat().st_size > 10_000


def test_big_little_runs_get_an_onset_interval_too(tmp_path: Path) -> None:
    out = tmp_path / "bl.json"
    assert main(["sustain", "mobilenet_v2", "--hw", "rk3588", "--policy", "big-only", "--duration", "300",
                 "--ambient", "45", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    early, late = data["throttle_onset_interval_s"]
    assert early <= (data["throttle_onset_s"] or math.inf) and (late is None or late >= early)


def test_onset_interval_is_none_when_even_the_hot_end_never_throttles() -> None:
    from edgesim.thermal.governor import GovernorKind
    from edgesim.thermal.sustain import characterise, throttle_onset_interval

    base = run(RunSpec("kws_ref_model.tflite", "stm32l4r5"))
    early, late = throttle_onset_interval(base, (0.5, 2.0), characterise(base), duration_s=20.0, rate_hz=None,
                                          ambient_c=None, governor=GovernorKind.PERFORMANCE, window_s=1.0)
    assert early is None and late is None


def test_llm_energy_per_token_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, html = tmp_path / "l.json", tmp_path / "l.html"
    assert main(["llm", "llama-3.2-1b", "--hw", "rpi5", "--json", str(out), "--html", str(html)]) == 0
    assert "energy/token" in capsys.readouterr().out
    assert "interval (80%, measured_device)" in html.read_text() and "energy/token" in html.read_text()
    data = json.loads(out.read_text())
    lo, hi = data["interval"]["energy_per_token_interval_j"]
    assert lo < data["energy_per_token_j"] < hi
    dec_lo, dec_hi = data["interval"]["decode_tokens_per_s_interval"]
    # at least as wide as the decode time's own bounds (energy = power x time per token)
    assert hi / data["energy_per_token_j"] >= data["decode"]["tokens_per_s"] / dec_lo * 0.999


def test_compare_counts_a_shared_runtime_error_once() -> None:
    from edgesim.explore.compare import CompareRow, indistinguishable

    margin = shared_margin(NoveltyClass.MEASURED_DEVICE, 0.8)
    assert margin is not None and 0 < margin < 1
    ratio = math.exp(margin * 1.2)  # beyond the calibrated spread of same-runtime pairs
    a = CompareRow("m", "a", "x-cube-ai@10.2.0", 1.0, 1.0, 1.0, 1.0, 0, 0, True, "compute", 1,
                   latency_lo_s=0.8, latency_hi_s=1.25, energy_lo_j=0.5, energy_hi_j=2.0, confidence=0.8,
                   novelty="measured_device")
    b = replace(a, hw="b", latency_s=ratio, latency_lo_s=0.8 * ratio, latency_hi_s=1.25 * ratio)
    assert a.latency_hi_s is not None and b.latency_lo_s is not None and b.latency_lo_s < a.latency_hi_s  # overlap
    assert indistinguishable([a, b]) == []  # shared error cancels: they differ
    assert indistinguishable([a, replace(b, runtime="tflm@2.11.0")]) != []  # independent errors: overlap decides
    wide = replace(b, latency_profile_hi_log=0.0, latency_profile_lo_log=-1.0)  # b's own range may close the gap
    assert indistinguishable([a, wide]) != []
    assert shared_margin(NoveltyClass.NEW_RUNTIME, 0.8) is None  # substituted runtimes share no engine


def test_docs_figures_are_generated(tmp_path: Path) -> None:
    from edgesim.cli.intervals_doc import rewrite_doc

    doc_dir = tmp_path / "docs"
    doc_dir.mkdir()
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "intervals.json").write_text(
        (REPO / "benchmarks" / "results" / "intervals.json").read_text())
    copy = doc_dir / "intervals.md"
    shipped = (REPO / "docs" / "intervals.md").read_text()
    copy.write_text(shipped)
    assert rewrite_doc(copy).read_text() == shipped  # run `python docs/intervals_tables.py` when this fails


@pytest.mark.parametrize("model, hw, path, factor", [
    ("kws_ref_model.tflite", "ethos-u55-128", "units.0.mac_block.cycles_per_step", 1.3),
    ("vww_96_int8.tflite", "ethos-u55-128", "units.0.mac_block.cycles_per_step", 0.7),
    ("pretrainedResnet_quant.tflite", "ethos-u55-128", "units.0.kernel_efficiency_scale", 0.8),
    ("pretrainedResnet_quant.tflite", "stm32l4r5", "units.0.macs_per_cycle.int8", 1.25),
    ("kws_ref_model.tflite", "stm32l4r5", "units.0.elementwise_ops_per_cycle.int8", 0.6),
])
def test_a_seeded_compute_rate_maps_as_a_full_map_does(model: str, hw: str, path: str, factor: float) -> None:
    """The perturbed chip's schedule assembled from the seeded memo is the one a fresh map builds."""
    from edgesim.hw.uncertain import with_field
    from edgesim.mapping.mapper import build_schedule
    from edgesim.pipeline.interval_remap import compute_only, seed_plan_memo
    from edgesim.pipeline.intervals import rerun

    base = run(RunSpec(model, hw))
    node: object = base.profile
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else (  # type: ignore[index]
            node[int(part)] if isinstance(node, list) else getattr(node, part))  # type: ignore[index]
    value = float(node) * factor  # type: ignore[arg-type]
    seeded_profile = with_field(base.profile, path, value)
    unit = compute_only(seeded_profile, path, value)
    assert unit == 0
    seed_plan_memo(base, seeded_profile, unit)
    seeded = rerun(base, seeded_profile)
    fresh_profile = with_field(base.profile, path, value)  # another object: an empty memo, a full map
    full = build_schedule(base.graph, fresh_profile, base.runtime, base.version, fuse_residual_add=True)
    assert [p.compute_cycles for p in seeded.schedule.plans] == pytest.approx(
        [p.compute_cycles for p in full.plans], rel=1e-9)
    assert [[g.compute_cycles for g in p.tiles] for p in seeded.schedule.plans] == [
        pytest.approx([g.compute_cycles for g in p.tiles], rel=1e-9) for p in full.plans]
    assert [(p.unit, p.traffic, p.tile_shape) for p in seeded.schedule.plans] == [
        (p.unit, p.traffic, p.tile_shape) for p in full.plans]
    assert seeded.latency_s == pytest.approx(rerun(base, fresh_profile).latency_s, rel=1e-9)
    assert seeded.latency_s != pytest.approx(base.latency_s, rel=1e-6)  # the rate did matter


def test_sensitivity_takes_the_short_ways_and_gets_the_full_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import edgesim.pipeline.sensitivity as sens
    from edgesim.hw.schema import HardwareProfile
    from edgesim.pipeline.intervals import _PERTURBED, rerun

    result = run(RunSpec("kws_ref_model.tflite", "ethos-u55-128"))
    short = sens.sensitivity(result)
    _PERTURBED.clear()  # new perturbed chips: empty memos, full maps
    monkeypatch.setattr(sens, "rerun_changed", lambda base, new, path, lo: rerun(base, new) if isinstance(
        new, HardwareProfile) else rerun(base, base.profile, new))
    full = sens.sensitivity(result)
    assert [(e.path, e.latency, e.energy) for e in short.parameters] == [
        (e.path, pytest.approx(e.latency, abs=1e-9), pytest.approx(e.energy, abs=1e-9)) for e in full.parameters]
    assert short.layers == full.layers
