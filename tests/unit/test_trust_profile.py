"""Profiles for unreleased chips (profile new/check/diff), the cost-only shortcut of propagation, sensitivity."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from edgesim.cli import main
from edgesim.hw.derive import NewChip, new_profile
from edgesim.hw.family import FAMILIES, profile_families
from edgesim.hw.loader import load_profile
from edgesim.hw.uncertain import ranged_fields, uncertain_fields, with_field
from edgesim.pipeline import RunSpec, run
from edgesim.pipeline.intervals import affine_energy, cost_only, interval, perturbed_runs, rerun
from edgesim.pipeline.sensitivity import sensitivity


@pytest.mark.parametrize("fam", [f.id for f in FAMILIES])
def test_every_family_template_makes_a_valid_profile_of_its_family(fam: str) -> None:
    from edgesim.errors import ProfileError
    from edgesim.hw.family import family

    try:  # an installed checkout's bundled profiles may be newer than this schema (editable installs)
        load_profile(family(fam).template)
    except ProfileError as exc:
        pytest.skip(f"template does not load here: {exc}")
    _, prof = new_profile(NewChip(family=fam, id=f"new-{fam}", clock_mhz=300.0))
    assert prof.clock_mhz == 300.0 and prof.dvfs.default_freq_mhz == 300.0
    assert fam in profile_families(prof) or fam.startswith("cortex")  # an NPU family's template host is a Cortex
    assert any(f.derived and not f.exact for f in uncertain_fields(prof))


def test_new_profile_sets_given_numbers_and_scales_the_npu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "acme.yaml"
    assert main(["profile", "new", "--like", "ethos-u55", "--clock-mhz", "400", "--sram-kb", "2048",
                 "--npu-macs", "256", "--source", "press release", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    prof = load_profile(out)
    base = load_profile("ethos-u55-128")
    npu = prof.unit("npu")
    assert prof.id == "acme" and prof.clock_mhz == 400.0 and npu.macs_per_cycle[next(iter(npu.macs_per_cycle))] > 0
    assert prof.memory("sram").size_bytes == 2048 * 1024
    assert npu.mac_block is not None and base.unit("npu").mac_block is not None
    assert npu.mac_block.cycles_per_step == pytest.approx(base.unit("npu").mac_block.cycles_per_step / 2)
    by_path = {f.path: f for f in uncertain_fields(prof)}
    assert by_path["clock_mhz"].source == "press release" and not by_path["clock_mhz"].derived
    assert all(f.derived for p, f in by_path.items() if "energy" in p or "power" in p)
    # Held out: the Ethos-U55-256 profile (configured from Vela, never used by the rule) lies inside the range
    # the derived chip's own uncertain fields give, on every bundled CNN.
    for model in ("vww_96_int8.tflite", "pretrainedResnet_quant.tflite", "kws_ref_model.tflite"):
        result = run(RunSpec(model, prof))
        real = run(RunSpec(model, "ethos-u55-256", clock_mhz=400.0)).latency_s
        lo, hi = interval(result).profile_latency_log
        assert math.exp(lo) <= real / result.latency_s <= math.exp(hi), model
    # the written YAML is the uncertain-number form, readable again
    raw = yaml.safe_load(out.read_text())
    assert raw["clock_mhz"] == {"value": 400.0, "source": "press release"}


@pytest.mark.parametrize("argv, text", [
    (["--like", "cortex-m99"], "unknown family 'cortex-m99'"),
    (["--like", "cortex-m4", "--npu-macs", "64"], "has no NPU unit"),
    (["--like", "cortex-m4", "--clock-mhz", "0"], "--clock-mhz must be a positive"),
])
def test_profile_new_bad_input_is_one_line_exit_2(tmp_path: Path, argv: list[str], text: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "new", *argv, "-o", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and text in err
    assert not (tmp_path / "x.yaml").exists()


def test_profile_check_and_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m4x.yaml"
    assert main(["profile", "new", "--like", "cortex-m4", "--clock-mhz", "200", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["profile", "check", str(out)]) == 0
    text = capsys.readouterr().out
    assert "loads and validates" in text and "unsourced:" in text
    assert "memories[flash].read_bw_bytes_per_cycle" in text and "derived" in text
    assert "the profile's ranges alone:" in text and "(80%)" in text
    assert main(["profile", "diff", "stm32l4r5", str(out)]) == 0
    text = capsys.readouterr().out
    assert "clock_mhz" in text and "120.0 -> 200.0" in text and "(x1.67)" in text
    assert "memories[flash].read_bw_bytes_per_cycle" in text and "[1.05..1.95]" in text


def test_cost_only_fields_give_the_same_answer_as_mapping_again() -> None:
    _, prof = new_profile(NewChip(family="cortex-m55", id="chk", npu_macs=256))
    result = run(RunSpec("kws_ref_model.tflite", prof))
    checked = 0
    for f in ranged_fields(prof):
        if not cost_only(prof, f.path, f.lo):
            continue
        new = with_field(prof, f.path, f.lo)
        short, full = rerun(result, new, keep_schedule=True), rerun(result, new)
        assert short.latency_s == pytest.approx(full.latency_s, rel=1e-12), f.path
        assert short.energy_j == pytest.approx(full.energy_j, rel=1e-12), f.path
        checked += 1
    assert checked >= 4
    # energy fields: the high end is extrapolated from the low end (energy is affine in them); check it is exact
    _, effects = perturbed_runs(result)
    for e in effects:
        if affine_energy(e.field.path):
            full = rerun(result, with_field(prof, e.field.path, e.field.hi))
            assert e.energy_j[2] == pytest.approx(full.energy_j, rel=1e-9), e.field.path
            assert e.latency_s[2] == pytest.approx(full.latency_s, rel=1e-12)
            checked += 1
    assert checked >= 6


def test_sensitivity_separates_memory_from_compute_bound_layers(capsys: pytest.CaptureFixture[str]) -> None:
    sens = sensitivity(run(RunSpec("kws_ref_model.tflite", "stm32l4r5")))
    by = {e.label: e for e in sens.parameters}
    assert by["clock_mhz"].latency == pytest.approx(-1.0, abs=0.02)  # everything counts cycles
    assert by["units[cpu].macs_per_cycle.int8"].latency < -0.5  # the MCU computes
    assert sum(s.share for s in sens.layers) == pytest.approx(1.0, abs=0.05)
    # On the Ethos-U55 the weights stream from flash: some layers move with the flash bandwidth.
    npu = sensitivity(run(RunSpec("vww_96_int8.tflite", "ethos-u55-128")))
    tops = {s.top for s in npu.layers}
    assert any("flash" in t for t in tops) and any("npu" in t or "kernel_efficiency" in t for t in tops)
    assert main(["run", "kws_ref_model.tflite", "--hw", "stm32l4r5", "--fast", "--sensitivity"]) == 0
    assert "elasticity" in capsys.readouterr().out


def test_interval_of_a_new_chip_has_a_profile_part() -> None:
    _, prof = new_profile(NewChip(family="cortex-m7", id="m7x", clock_mhz=600.0))
    assert prof.default_runtime == "tflm"  # X-CUBE-AI, the template's, drives STM32 parts only
    iv = interval(run(RunSpec("kws_ref_model.tflite", prof)))
    assert iv.uncertain_fields >= 2 and iv.profile_latency_log[1] > 0
    assert iv.novelty.value == "known_family"  # Cortex-M7 has measured devices


def test_html_report_has_the_interval_and_sensitivity_section(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "vww_96_int8.tflite", "--hw", "ethos-u55-128", "--fast", "--confidence", "0.9",
                 "-o", str(out)]) == 0
    text = out.read_text()
    assert "How sure: interval and sensitivity" in text and "(90%)" in text
    assert "memories[flash].read_bw_bytes_per_cycle" in text and "moves most with" in text
