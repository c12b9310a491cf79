"""edgesim.validate.device_offsets: the shrunk per-device offsets (DerSimonian-Laird), and the held-out check of
what a device's own vendor rows add: fitted on even lines only, scored on odd lines."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from edgesim.validate.device_offsets import (
    LEVELS,
    Tier,
    device_offset_check,
    leave_one_line_out,
    shrunk_offsets,
    with_offsets,
)
from edgesim.validate.npu_vendor import VendorResult


def test_dersimonian_laird_by_hand() -> None:
    # two groups of two rows: within variance pooled ((0.1^2 * 2) * 2 / 2 = 0.02), v_g = 0.01
    fit = shrunk_offsets({("a", "r"): [0.4, 0.6], ("b", "r"): [-0.1, -0.3]})
    assert fit.within_var == pytest.approx(0.02)
    q = (0.5 ** 2 + 0.2 ** 2) / 0.01  # sum w m^2
    tau2 = (q - 2) / 200
    assert fit.between_var == pytest.approx(tau2)
    assert fit.offset(("a", "r")) == pytest.approx(0.5 * tau2 / (tau2 + 0.01))
    assert fit.offset(("b", "r")) == pytest.approx(-0.2 * tau2 / (tau2 + 0.01))
    assert fit.offset(("c", "r")) == 0.0  # no rows: no offset


def test_means_within_their_noise_are_not_moved() -> None:
    # group means no further from 0 than the rows' scatter explains: tau^2 = 0, every offset 0
    fit = shrunk_offsets({("a", "r"): [0.3, -0.3], ("b", "r"): [0.25, -0.25], ("c", "r"): [0.01, -0.01]})
    assert fit.between_var == 0.0
    assert all(v == 0.0 for _, v in fit.offsets)


def test_a_group_with_few_rows_moves_less_than_one_with_many() -> None:
    groups = {("a", "r"): [0.3] * 2 + [0.1] * 2, ("b", "r"): [0.3, 0.1] * 10, ("c", "r"): [-0.2, -0.4] * 5}
    fit = shrunk_offsets(groups)
    assert 0 < fit.offset(("a", "r")) < fit.offset(("b", "r")) < 0.2


def _table(offsets: dict[str, float], noise: float, seed: int = 3) -> list[VendorResult]:
    """Rows of four devices on one runtime, each device off by its offset, each row by noise."""
    rng = random.Random(seed)
    out, line = [], 2
    for device, off in offsets.items():
        for i in range(12):
            measured = 10.0 * math.exp(off + rng.gauss(0.0, noise))
            out.append(VendorResult(line, device, "rknn", f"n{i}", "int8", "latency", measured, 10.0))
            line += 1
    return out


def test_strong_device_offsets_are_found_held_out() -> None:
    rows = _table({"a": 0.5, "b": -0.4, "c": 0.2, "d": -0.3}, noise=0.05)
    check = device_offset_check(rows)
    plain = check.levels[0]
    assert plain.level == LEVELS[0][0]
    assert plain.mape_after < plain.mape_before / 3
    assert plain.log_sd_after < plain.log_sd_before / 3
    assert check.even_odd_correlation > 0.9


def test_no_device_offsets_gain_nothing() -> None:
    rows = _table(dict.fromkeys("abcd", 0.0), noise=0.2)
    plain = device_offset_check(rows).levels[0]
    assert plain.between_var < 0.005
    assert plain.mape_after == pytest.approx(plain.mape_before, abs=0.01)


def test_odd_lines_never_set_their_own_offsets() -> None:
    rows = _table({"a": 0.5, "b": -0.4, "c": 0.2, "d": -0.3}, noise=0.05)
    held, _ = with_offsets(rows, (Tier(),))
    # make every odd line of device a ten times slower: the even-line fit, hence a's odd predictions, stay
    moved = [replace(r, measured_ms=r.measured_ms * 10) if r.line % 2 and r.device == "a" else r for r in rows]
    held2, _ = with_offsets(moved, (Tier(),))
    assert [r.predicted_ms for r in held] == [r.predicted_ms for r in held2]
    # one (odd) line left out: its own offset comes from the other lines only
    odd = rows[1]
    assert odd.line % 2 == 1
    loo = {r.line: r for r in leave_one_line_out(rows, (Tier(),))}
    moved = [replace(r, measured_ms=r.measured_ms * 10) if r.line == odd.line else r for r in rows]
    assert {r.line: r for r in leave_one_line_out(moved, (Tier(),))}[odd.line].predicted_ms == pytest.approx(
        loo[odd.line].predicted_ms)


def test_coverage_with_and_without_offsets() -> None:
    rows = _table({"a": 0.5, "b": -0.4, "c": 0.2, "d": -0.3}, noise=0.05)
    check = device_offset_check(rows, lodo=rows, confidences=(0.8,))
    first = check.coverage[0]
    assert first.level == LEVELS[0][0] and first.confidence == 0.8
    assert first.after.half_width < first.before.half_width  # the offsets narrow the intervals of devices this far off
    assert "npu_measured_device at 80%" in check.table()


def test_own_variance_moves_a_group_whose_rows_disagree_less() -> None:
    groups = {("a", "r"): [0.9, -0.1], ("b", "r"): [0.31, 0.29] * 3, ("c", "r"): [-0.29, -0.31] * 3,
              ("d", "r"): [0.2, 0.22] * 3}
    pooled, own = shrunk_offsets(groups), shrunk_offsets(groups, own_variance=True)
    assert own.offset(("a", "r")) < pooled.offset(("a", "r"))  # its two rows 1.0 apart: its mean says little
    assert own.offset(("b", "r")) > pooled.offset(("b", "r"))  # six rows that agree: trusted more


def test_json_form_has_no_nan() -> None:
    import json

    rows = _table({"a": 0.1}, noise=0.05)  # one group: no correlation between groups
    check = device_offset_check(rows)
    assert math.isnan(check.even_odd_correlation)
    doc = json.loads(json.dumps(check.as_dict(), allow_nan=False))
    assert doc["even_odd_correlation"] is None and doc["levels"][0]["level"] == LEVELS[0][0]


def test_a_second_tier_is_fitted_on_what_the_first_leaves() -> None:
    """Board a runs everything ~1.6x slow and its network n0 1.5x on top: the precision tier takes the board's
    part, the network tier n0's, and a network new to a gets the board's part only."""
    from edgesim.validate.device_offsets import fit_tiers

    rng = random.Random(5)
    rows, line = [], 2
    for device, off in {"a": 0.47, "b": -0.4, "c": 0.2, "d": -0.3, "e": 0.1}.items():
        for net in ("n0", "n1", "n2", "n3"):
            extra = math.log(1.5) if device == "a" and net == "n0" else rng.gauss(0.0, 0.03)
            for _ in range(3):
                rows.append(VendorResult(line, device, "rknn", net, "int8", "latency",
                                         10.0 * math.exp(off + extra + rng.gauss(0.0, 0.02)), 10.0))
                line += 1
    fit = fit_tiers(rows, (Tier(("precision",)), Tier(("network",))))
    new = VendorResult(999, "a", "rknn", "n99", "int8", "latency", 1.0, 1.0)
    n0 = next(r for r in rows if r.device == "a" and r.network == "n0")
    assert fit.offset(new) == pytest.approx(0.47 + math.log(1.5) / 4, abs=0.05)  # the board's mean, n0 in it
    assert fit.offset(n0) == pytest.approx(0.47 + math.log(1.5), abs=0.05)  # n0's own part on top


def test_new_networks_are_scored_without_their_own_rows() -> None:
    from edgesim.validate.device_offsets import leave_one_network_out

    rows = _table({"a": 0.5, "b": -0.4, "c": 0.2, "d": -0.3}, noise=0.05)
    tiers = (Tier(("precision",)), Tier(("network",)))
    base = {r.line: r.predicted_ms for r in leave_one_network_out(rows, tiers)}
    moved = [replace(r, measured_ms=r.measured_ms * 10) if r.device == "a" and r.network == "n3" else r for r in rows]
    again = {r.line: r.predicted_ms for r in leave_one_network_out(moved, tiers)}
    mine = [r.line for r in rows if r.device == "a" and r.network == "n3"]
    assert all(again[x] == pytest.approx(base[x]) for x in mine)  # its own rows never set its prediction
    # and the board's offset carries: a's other networks say it runs ~1.65x slow
    assert all(base[x] > 10.0 * 1.4 for x in mine)


def test_a_row_with_a_declared_unmodelled_cost_sets_only_its_own_network() -> None:
    """The Jetson Nano's one TensorRT row (SSD with the NMS plugin the model leaves out, 5x) set TensorRT's
    runtime multiplier, hence every network's on the board, to 5."""
    from edgesim.validate.device_offsets import board_wide, device_calibration_dict

    rows = _table({"a": 0.1, "b": -0.1, "c": 0.0, "d": 0.05}, noise=0.05)
    gap = VendorResult(900, "e", "tensorrt", "ssd", "int8", "latency", 50.0, 10.0, unmodelled=("not modelled: x",))
    assert not board_wide(gap, Tier(("precision",))) and board_wide(gap, Tier(("network",)))
    doc = device_calibration_dict([*rows, gap])
    assert "tensorrt" not in doc["runtime_multipliers"]  # type: ignore[operator]
    tiers = doc["tiers"]
    assert isinstance(tiers, list)
    assert not any(g["device"] == "e" for g in tiers[0]["groups"])
    assert any(g["device"] == "e" and g["network"] == "ssd" for g in tiers[1]["groups"])


def test_the_check_kept_in_the_shipped_file_reads_back_to_the_same_table() -> None:
    import json

    from edgesim.validate.device_offsets import OffsetCheck

    check = device_offset_check(_table({"a": 0.5, "b": -0.4, "c": 0.2, "d": -0.3}, noise=0.05))
    kept = {k: v for k, v in check.as_dict().items() if k != "coverage"}
    back = OffsetCheck.levels_from_dict(json.loads(json.dumps(kept, allow_nan=False)))
    assert back.table() == check.table()
    assert "new network" in back.table() and len(back.levels) == len(LEVELS)


def test_no_runtime_multiplier_is_fitted_on_a_row_with_a_declared_unmodelled_cost() -> None:
    """Leave-one-device-out and the held-out figures fit the runtime multipliers the same way as the shipped
    table: a new board on TensorRT is not predicted 5x slow because the Jetson Nano's SSD row is."""
    from edgesim.validate.npu_vendor import fit_runtime_scales, leave_one_device_out

    plain = VendorResult(3, "a", "tensorrt", "resnet", "int8", "latency", 10.0, 10.0)
    gap = VendorResult(2, "b", "tensorrt", "ssd", "int8", "latency", 50.0, 10.0, unmodelled=("not modelled: x",))
    assert fit_runtime_scales([plain, gap], lambda r: True) == {"tensorrt": 1.0}
    assert "tensorrt" not in fit_runtime_scales([gap], lambda r: True)
    (a, b) = sorted(leave_one_device_out([plain, gap]), key=lambda r: r.device)
    assert a.predicted_ms == 10.0  # a's rows with b's multiplier: b has none to give
