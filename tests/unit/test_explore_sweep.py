from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from edgesim.cli.explore import add_explore_parsers
from edgesim.errors import EdgesimError, ProfileError
from edgesim.explore.sweep import done_keys, parts_dir, read_results, run_sweep
from edgesim.explore.sweep_spec import apply_overrides, load_sweep_spec, spec_from_dict

SPEC: dict[str, Any] = {
    "name": "u55",
    "profiles": ["ethos-u55-128"],
    "axes": {"clock_mhz": [250.0, 500.0], "memories.sram.size_bytes": [262144, 4194304]},
    "models": ["resnet8", {"zoo": "ds_cnn", "label": "kws"}],
    "chunk_size": 2,
}


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_spec_expands_with_stable_keys(tmp_path: Path) -> None:
    loaded = load_sweep_spec(_write(tmp_path, SPEC))
    assert len(loaded.points) == 2 * 2 * 2
    assert len({p.key for p in loaded.points}) == 8
    again = spec_from_dict(SPEC)
    assert [p.key for p in again.points] == [p.key for p in loaded.points]
    assert {p.model.name for p in loaded.points} == {"resnet8", "kws"}


@pytest.mark.parametrize("patch, field", [
    ({"bogus": 1}, "bogus"),
    ({"axes": {"memories.nosuch.size_bytes": [1]}}, "axes.memories.nosuch.size_bytes"),
    ({"axes": {"clock_mhz": [-5.0]}}, "axes.clock_mhz"),
    ({"axes": {"clock_mhz": []}}, "axes"),
    ({"models": []}, "models"),
    ({"models": [{"zoo": "resnet8", "path": "x.tflite"}]}, "models.0"),
    ({"profiles": ["no-such-chip"]}, "profiles"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_bad_spec_names_file_and_field(tmp_path: Path, patch: dict[str, Any], field: str) -> None:
    path = _write(tmp_path, {**SPEC, **patch})
    with pytest.raises(EdgesimError) as info:
        load_sweep_spec(path)
    assert info.value.file == str(path)
    assert info.value.field is not None and info.value.field.startswith(field)
    assert "\n" not in str(info.value)


def test_overrides_reach_the_profile() -> None:
    from edgesim.api import load_profile

    base = load_profile("ethos-u55-128")
    var = apply_overrides(base, (("memories.sram.size_bytes", 1234), ("units.npu.macs_per_cycle.int8", 512.0)))
    sram = next(m for m in var.memories if m.name == "sram")
    npu = next(u for u in var.units if u.name == "npu")
    assert sram.size_bytes == 1234
    assert dict(npu.macs_per_cycle)["int8"] == 512.0
    with pytest.raises(ProfileError):
        apply_overrides(base, (("units.5.count", 1),))


class _Crash(Exception):
    pass


def test_interrupt_and_resume_exactly_once(tmp_path: Path) -> None:
    loaded = load_sweep_spec(_write(tmp_path, SPEC))
    out = tmp_path / "res.parquet"

    def crash(done: int) -> None:
        if done >= 4:
            raise _Crash

    with pytest.raises(_Crash):
        run_sweep(loaded, out, workers=2, progress=False, plot=False, on_chunk=crash)
    stored = done_keys(out)
    assert 4 <= len(stored) < len(loaded.points)
    assert not out.exists()
    res = run_sweep(loaded, out, workers=2, progress=False)
    assert res.evaluated == len(loaded.points) - len(stored)
    rows = read_results(out)
    assert sorted(r["key"] for r in rows) == sorted(p.key for p in loaded.points)
    assert [r["index"] for r in rows] == list(range(len(loaded.points)))
    assert not parts_dir(out).exists()
    assert res.plot is not None and res.plot.is_file()
    assert all(r["error"] == "" for r in rows)
    # Halving the clock slows the same model down, and the Pareto flag is set for every model.
    by = {(r["model"], r["axis.clock_mhz"], r["axis.memories.sram.size_bytes"]): r for r in rows}
    assert by[("resnet8", 250.0, 262144)]["latency_s"] > by[("resnet8", 500.0, 262144)]["latency_s"]
    assert {r["model"] for r in rows if r["pareto"]} == {"resnet8", "kws"}
    # A finished sweep run again evaluates nothing and keeps the rows.
    again = run_sweep(loaded, out, workers=1, progress=False, plot=False)
    assert again.evaluated == 0 and again.rows == len(loaded.points)
    assert pq.read_table(out).num_rows == len(loaded.points)


def test_failed_point_is_recorded_not_fatal(tmp_path: Path) -> None:
    # A model file that does not import makes an error row for that point; the sweep still completes.
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    loaded = load_sweep_spec(_write(tmp_path, {**SPEC, "models": ["resnet8", str(bad)]}))
    res = run_sweep(loaded, tmp_path / "r.parquet", workers=1, progress=False, plot=False)
    rows = read_results(res.out)
    errs = [r for r in rows if r["error"]]
    assert len(errs) == 4 and res.errors == 4
    assert all(not r["pareto"] for r in errs)


def test_sweep_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, {**SPEC, "axes": {"clock_mhz": [100.0, 200.0]}, "models": ["resnet8"]})
    parser = argparse.ArgumentParser()
    add_explore_parsers(parser.add_subparsers())
    out = tmp_path / "o.parquet"
    args = parser.parse_args(["sweep", str(spec), "-o", str(out), "--workers", "1"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert "2 rows" in captured.out and "Pareto front" in captured.out
    assert "ETA" in captured.err
    assert len(read_results(out)) == 2


def test_quant_field_changes_keys_and_results(tmp_path: Path) -> None:
    base = {**SPEC, "axes": {}, "models": ["resnet8"]}
    plain = spec_from_dict(base)
    quant = spec_from_dict({**base, "quant": "int8"})
    assert plain.points[0].key != quant.points[0].key
    a = run_sweep(plain, tmp_path / "a.parquet", workers=1, progress=False, plot=False)
    b = run_sweep(quant, tmp_path / "b.parquet", workers=1, progress=False, plot=False)
    assert read_results(b.out)[0]["latency_s"] < read_results(a.out)[0]["latency_s"]
    with pytest.raises(EdgesimError) as info:
        spec_from_dict({**base, "quant": "int3"}, "s.yaml")
    assert info.value.field == "quant"


def test_ctrl_c_keeps_every_finished_point_and_resumes(tmp_path: Path) -> None:
    from edgesim.explore.sweep import SweepInterrupted

    loaded = load_sweep_spec(_write(tmp_path, SPEC))
    out = tmp_path / "res.parquet"

    def ctrl_c(done: int) -> None:
        if done >= 2:
            raise KeyboardInterrupt  # what the terminal's SIGINT raises in the parent

    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(loaded, out, workers=2, progress=False, plot=False, on_chunk=ctrl_c)
    kept = stop.value.result
    assert 2 <= kept.rows < len(loaded.points)
    assert len(read_results(out)) == kept.rows == len(done_keys(out))  # written out, not only in parts
    res = run_sweep(loaded, out, workers=2, progress=False, plot=False)
    assert res.evaluated == len(loaded.points) - kept.rows and res.rows == len(loaded.points)


def test_ctrl_c_in_process_keeps_the_points_of_the_unfinished_chunk(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import edgesim.explore.sweep as sweep

    loaded = load_sweep_spec(_write(tmp_path, SPEC))  # chunks of 2 points
    out = tmp_path / "res.parquet"
    real = sweep.evaluate_point
    calls = {"n": 0}

    def evaluate(point: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 4:  # the second point of the second chunk
            raise KeyboardInterrupt
        return real(point)

    monkeypatch.setattr(sweep, "evaluate_point", evaluate)
    with pytest.raises(sweep.SweepInterrupted) as stop:
        run_sweep(loaded, out, workers=1, progress=False, plot=False)
    assert stop.value.result.rows == 3  # two from the first chunk, one finished in the second
