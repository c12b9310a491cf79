"""Uncertain profile numbers: loaded as their nominal value, listed with their range, refused when inconsistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesim.cli import main
from edgesim.errors import ProfileError
from edgesim.hw.loader import load_profile
from edgesim.hw.uncertain import (
    DERIVED_DEFAULT_REL,
    display_path,
    ranged_fields,
    split_uncertain,
    uncertain_fields,
    with_field,
)

CHILD = """\
extends: stm32l4r5
id: stm32l4-uncertain
clock_mhz: {value: 120.0, source: "DS12023"}
memories:
  - name: sram
    kind: sram
    size_bytes: 655360
    read_bw_bytes_per_cycle: {value: 4.0, range: [3.0, 4.0], source: "bus matrix, zero wait state"}
    write_bw_bytes_per_cycle: 4.0
    latency_cycles: 1.0
    read_energy_pj_per_byte: 5.0
    write_energy_pj_per_byte: 5.0
  - name: flash
    kind: flash
    size_bytes: 2097152
    read_bw_bytes_per_cycle: {value: 1.5, rel: 0.2, reason: "ART prefetch hides part of 5 wait states"}
    write_bw_bytes_per_cycle: 0.0
    latency_cycles: 5.0
    read_energy_pj_per_byte: {value: 15.0, derived: true, reason: "3x SRAM"}
    write_energy_pj_per_byte: 0.0
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "chip.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_nominal_values_equal_the_plain_profile_and_ranges_are_listed(tmp_path: Path) -> None:
    prof = load_profile(_write(tmp_path, CHILD))
    plain = load_profile("stm32l4r5")
    assert prof.memories == plain.memories and prof.clock_mhz == plain.clock_mhz
    fields = {f.path: f for f in uncertain_fields(prof)}
    assert set(fields) == {"clock_mhz", "memories.0.read_bw_bytes_per_cycle", "memories.1.read_bw_bytes_per_cycle",
                           "memories.1.read_energy_pj_per_byte"}
    assert fields["clock_mhz"].exact and fields["clock_mhz"].source == "DS12023"
    assert (fields["memories.0.read_bw_bytes_per_cycle"].lo, fields["memories.0.read_bw_bytes_per_cycle"].hi) == (3, 4)
    flash = fields["memories.1.read_bw_bytes_per_cycle"]
    assert flash.lo == pytest.approx(1.2) and flash.hi == pytest.approx(1.8)
    derived = fields["memories.1.read_energy_pj_per_byte"]
    assert derived.derived and derived.default_range
    assert derived.hi == pytest.approx(15 * (1 + DERIVED_DEFAULT_REL))
    assert len(ranged_fields(prof)) == 3
    assert display_path(prof, "memories.1.read_bw_bytes_per_cycle") == "memories[flash].read_bw_bytes_per_cycle"
    assert uncertain_fields(plain) == ()


def test_with_field_changes_one_number_and_keeps_the_ranges(tmp_path: Path) -> None:
    prof = load_profile(_write(tmp_path, CHILD))
    low = with_field(prof, "memories.1.read_bw_bytes_per_cycle", 1.2)
    assert low.memories[1].read_bw_bytes_per_cycle == 1.2 and prof.memories[1].read_bw_bytes_per_cycle == 1.5
    assert uncertain_fields(low) == uncertain_fields(prof)
    with pytest.raises(ProfileError, match="invalid"):
        with_field(prof, "memories.1.read_bw_bytes_per_cycle", -1.0)


@pytest.mark.parametrize("node, message", [
    ({"value": 4.0, "range": [4.5, 5.0]}, "does not contain the value 4"),
    ({"value": 4.0, "range": [5.0, 3.0]}, "lo > hi"),
    ({"value": 4.0, "rel": 1.5}, "rel must be in"),
    ({"value": 4.0, "range": [3, 5], "rel": 0.1}, "either range or rel"),
    ({"value": "fast", "rel": 0.1}, "finite number"),
])
def test_inconsistent_uncertain_numbers_are_refused(node: dict[str, object], message: str) -> None:
    with pytest.raises(ProfileError, match=message) as exc:
        split_uncertain({"memories": [{"read_bw_bytes_per_cycle": node}]}, "chip.yaml")
    assert exc.value.field == "memories.0.read_bw_bytes_per_cycle" and exc.value.file == "chip.yaml"


def test_cli_range_without_its_value_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, CHILD.replace("range: [3.0, 4.0]", "range: [3.0, 3.5]"))
    assert main(["run", "kws_ref_model.tflite", "--hw", str(path), "--fast"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "chip.yaml" in err and "memories.0.read_bw_bytes_per_cycle" in err and "does not contain" in err
