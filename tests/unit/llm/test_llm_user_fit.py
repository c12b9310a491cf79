"""`edgesim llm-fit --reference MY.csv -o DIR`: a user's rows refit only what they constrain, outside the package.

The llm13 audit: a one-row decode CSV rewrote llama.cpp.fit.yaml in the package (bw_efficiency 1.0 -> 0.825 and 13
fitted CPU overhead slots dropped back to their priors) for every later prediction of the install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgesim.errors import EdgesimError
from edgesim.llm.fit import constrained_fields
from edgesim.llm.predict import predict
from edgesim.llm.reference import BUNDLED, read_reference
from edgesim.llm.runtime import fit_path, load_llm_runtime, runtime_ids, runtimes_dir
from edgesim.llm.user_fit import write_user_fits
from edgesim.llm.validate import shipped_fit_texts, write_fits
from tests.conftest import run_cli

HEADER = BUNDLED.read_text(encoding="utf-8").splitlines()[0]
# rpi4, llama.cpp on the CPU, TinyLlama Q8_0: one decode row (3 tokens/s, as justine.lol's table) / one prefill row
ROW = "Raspberry Pi 4,rpi4,CPU,4,llama.cpp,,TinyLlama-1.1B,tinyllama-1.1b,1.1,{q},,{p},{g},{m},{v},tokens/s,,,"
DECODE = ROW.format(q="Q8_0", p="", g="", m="decode_tps", v="3")
PREFILL = ROW.format(q="Q4_0", p="128", g="0", m="prefill_tps", v="9")


def _csv(tmp_path: Path, *rows: str, name: str = "mine.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _overlays() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in runtimes_dir().glob("*.yaml")}


def _cpu(spec: str) -> dict[str, Any]:
    return load_llm_runtime(spec).placements["cpu"].model_dump()


def test_one_decode_row_changes_its_bandwidth_efficiency_and_nothing_else(tmp_path: Path) -> None:
    before = _overlays()
    ref = _csv(tmp_path, DECODE)
    rows = read_reference(ref)
    assert constrained_fields(rows, load_llm_runtime("llama.cpp"), "cpu") == {("bw_efficiency",)}
    written = write_user_fits(ref, tmp_path / "out").paths
    assert sorted(p.name for p in written) == ["llama.cpp.yaml", "ollama.yaml"]  # ollama runs llama.cpp's kernels
    assert _overlays() == before  # the package's runtime YAMLs and shipped fits: untouched
    shipped, mine = _cpu("llama.cpp"), _cpu(str(tmp_path / "out" / "llama.cpp.yaml"))
    assert mine["bw_efficiency"] != shipped["bw_efficiency"]
    # every field the row says nothing about keeps the shipped fit: the 13+ fitted overhead slots above all
    keep = {k: v for k, v in shipped.items() if k not in ("bw_efficiency", "fit")}
    assert {k: v for k, v in mine.items() if k in keep} == keep
    assert len(shipped["cpu_gemm"]["overhead_slots"]) > 10
    assert mine["fit"]["reference"] == "mine.csv" and mine["fit"]["rows"] == [2]
    assert mine["fit"]["prefill_mape_pct"] is None  # not the shipped fit's prefill figure: this fit had none
    for rid in ("llama.cpp", "ollama"):  # the rest of the runtime as shipped
        a = load_llm_runtime(rid).model_dump(exclude={"placements"})
        assert load_llm_runtime(str(tmp_path / "out" / f"{rid}.yaml")).model_dump(exclude={"placements"}) == a
    text = (tmp_path / "out" / "llama.cpp.yaml").read_text(encoding="utf-8")
    assert "mine.csv lines 2" in text and "llama.cpp.fit.yaml, fitted on" in text  # both fits named
    assert "inherits: llama.cpp" in text
    # the one change, shipped -> refitted, is the only one the header lists
    assert f"#     bw_efficiency: {shipped['bw_efficiency']} -> {mine['bw_efficiency']}\n" in text
    assert [x for x in text.splitlines() if x.startswith("#     ") and " -> " in x] == [
        f"#     bw_efficiency: {shipped['bw_efficiency']} -> {mine['bw_efficiency']}"]


def test_a_prefill_row_refits_only_the_gguf_types_it_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_user_fits(_csv(tmp_path, PREFILL), out)
    shipped, mine = _cpu("llama.cpp"), _cpu(str(out / "llama.cpp.yaml"))
    slots_s, slots_m = shipped["cpu_gemm"]["overhead_slots"], mine["cpu_gemm"]["overhead_slots"]
    moved = {k for k in slots_s if slots_m[k] != slots_s[k]}
    paths = constrained_fields(read_reference(out.parent / "mine.csv"), load_llm_runtime("llama.cpp"), "cpu")
    ran = {path[-1] for path in paths if path[0] == "cpu_gemm"}
    assert {path[-1] for path in paths if path[0] == "kernel_efficiency"} == ran
    assert "Q4_0" in ran and "Q8_0" not in ran and moved <= ran and moved
    assert mine["bw_efficiency"] == shipped["bw_efficiency"]  # no decode row
    assert {k: v for k, v in mine["kernel_efficiency"].items() if k not in ran} == {
        k: v for k, v in shipped["kernel_efficiency"].items() if k not in ran}  # default included


def test_the_written_runtime_is_what_llm_predicts_with(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, stdout, err = run_cli(["llm-fit", "--reference", str(_csv(tmp_path, DECODE)), "-o", str(out)], capsys)
    assert code == 0, err
    assert f"wrote {out / 'llama.cpp.yaml'}" in stdout
    mine = str(out / "llama.cpp.yaml")
    eff = load_llm_runtime(mine).placements["cpu"].bw_efficiency
    shipped = load_llm_runtime("llama.cpp")
    by_hand = shipped.model_copy(update={"placements": {**shipped.placements, "cpu": shipped.placements[
        "cpu"].model_copy(update={"bw_efficiency": eff})}})
    kw: dict[str, Any] = {"quant": "Q8_0", "prompt": 128, "gen": 32}
    tps = predict("tinyllama-1.1b", "rpi4", mine, **kw).decode
    base = predict("tinyllama-1.1b", "rpi4", "llama.cpp", **kw).decode
    hand = predict("tinyllama-1.1b", "rpi4", by_hand, **kw).decode
    assert tps is not None and base is not None and hand is not None
    assert tps.tokens_per_s == pytest.approx(hand.tokens_per_s)
    # memory-bound decode: tokens/s follows the fitted bandwidth efficiency (3 tokens/s measured)
    assert tps.tokens_per_s / base.tokens_per_s == pytest.approx(eff / shipped.placements["cpu"].bw_efficiency,
                                                                 rel=0.05)
    assert tps.tokens_per_s == pytest.approx(3.0, rel=0.05)
    code, stdout, err = run_cli(["llm", "tinyllama-1.1b", "--hw", "rpi4", "--runtime", mine, "--quant", "Q8_0",
                                 "--prompt", "128", "--gen", "32"], capsys)
    assert code == 0, err
    assert f"decode 32 tokens: {tps.tokens_per_s:.2f} tokens/s" in stdout


def test_the_bundled_refit_rewrites_the_shipped_overlays_byte_for_byte() -> None:
    texts = shipped_fit_texts()  # what 'edgesim llm-fit' without --reference writes, without writing it
    # a change to the LLM model or priors moves the fit: then the shipped overlays are stale, not this test wrong
    assert texts == {fit_path(p.name.removesuffix(".fit.yaml")): p.read_text(encoding="utf-8")
                     for p in runtimes_dir().glob("*.fit.yaml")}, \
        "the shipped fit is stale: run 'python -m edgesim llm-fit' and commit hw_profiles/llm_runtimes/*.fit.yaml"
    assert shipped_fit_texts(BUNDLED) == texts


@pytest.mark.parametrize("argv, message", [
    (["--reference", "{csv}"], "--reference needs -o DIR"),
    (["--reference", "{csv}", "-o", "{profiles}"], "points into the package's profiles"),
    (["--reference", "{csv}", "-o", "{profiles}/llm_runtimes/mine"], "points into the package's profiles"),
    (["--reference", "{csv}", "-o", "{csv}/sub"], "cannot write there"),  # under a file: unwritable
    (["--reference", "{csv}", "-o", "{csv}"], "-o must be a folder"),
    (["--reference", "{none}", "-o", "{out}"], "none of its 1 rows can be predicted"),
    (["--reference", "{doubtful}", "-o", "{out}"], "no row can be fitted"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(argv: list[str], message: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    before = _overlays()
    paths = {"csv": _csv(tmp_path, DECODE), "profiles": runtimes_dir().parent, "out": tmp_path / "out",
             "none": _csv(tmp_path, DECODE.replace("llama.cpp", "FooLLM"), name="none.csv"),
             "doubtful": _csv(tmp_path, DECODE + "low credibility", name="doubtful.csv")}  # its note
    code, out, err = run_cli(["llm-fit", *(a.format(**paths) for a in argv)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert _overlays() == before
    assert not (tmp_path / "out").exists()
    assert {p.name for p in tmp_path.iterdir()} == {"mine.csv", "none.csv", "doubtful.csv"}  # nothing else made


def test_a_write_cut_short_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = Path.write_text
    calls = []

    def second_fails(self: Path, data: str, *args: object, **kw: object) -> int:
        calls.append(self.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write(self, data, *args, **kw)  # type: ignore[arg-type]

    ref = _csv(tmp_path, DECODE)
    monkeypatch.setattr(Path, "write_text", second_fails)
    with pytest.raises(EdgesimError, match="No space left on device"):
        write_user_fits(ref, tmp_path / "out")
    monkeypatch.undo()
    assert not (tmp_path / "out").exists()  # the folder it made, its first file and the scratch copy: all gone
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine\n", encoding="utf-8")
    monkeypatch.setattr(Path, "write_text", second_fails)
    calls.clear()
    with pytest.raises(EdgesimError):
        write_user_fits(ref, tmp_path / "kept")
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["notes.txt"]  # a folder it did not make stays


def test_the_api_refuses_a_users_reference_for_the_package_overlays(tmp_path: Path) -> None:
    before = _overlays()
    with pytest.raises(EdgesimError, match="only the bundled llm_edge.csv"):
        write_fits(_csv(tmp_path, DECODE))
    assert _overlays() == before
    assert "llama.cpp" in runtime_ids()


def test_every_row_left_out_is_named_with_its_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [DECODE, DECODE.replace("tinyllama-1.1b", "qwen2.5-0.5b").replace("Q8_0", "Q4_0"),  # lines 2, 3: fitted
            DECODE.replace("rpi4", "rpi5"),  # another board
            DECODE.replace("Q8_0", "Q4_K_M") + "low credibility",  # flagged in its note
            DECODE.replace("llama.cpp", "FooLLM")]  # no runtime profile
    ref = _csv(tmp_path, *rows)
    fit = write_user_fits(ref, tmp_path / "out")
    assert set(fit.unused) == {4, 5, 6}
    assert fit.unused[4].startswith("held out: llama.cpp on the cpu is fitted on one set of rows, the 2 llama.cpp "
                                    "rows on rpi4")
    assert fit.unused[5] == "its note flags it doubtful"
    assert fit.unused[6].startswith("cannot be predicted: no LLM runtime profile for 'FooLLM'")
    assert load_llm_runtime(str(tmp_path / "out" / "llama.cpp.yaml")).placements["cpu"].fit.rows == [2, 3]  # type: ignore[union-attr]
    code, out, err = run_cli(["llm-fit", "--reference", str(ref), "-o", str(tmp_path / "cli")], capsys)
    assert code == 0 and "not fitted on line 4: held out" in err and "not fitted on line 6: cannot" in err


def test_the_bundled_reference_without_o_is_the_maintainers_refit(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.llm import validate as llm_validate

    calls: list[object] = []

    def record(ref: object) -> list[Path]:  # instead of rewriting the package's files
        calls.append(ref)
        return []

    monkeypatch.setattr(llm_validate, "write_fits", record)
    for argv in (["llm-fit"], ["llm-fit", "--reference", str(BUNDLED)]):
        code, _, err = run_cli(argv, capsys)
        assert code == 0, err
    assert calls == [None, str(BUNDLED)]


def _unconstrained_moves(rows: list[Any]) -> list[str]:
    """Fields a fit from the shipped fit moved although constrained_fields says the rows do not inform them."""
    from edgesim.llm.fit import serving_constrained_fields
    from edgesim.llm.user_fit import _at, _leaves
    from edgesim.llm.validate import fit_rows, fitted_runtimes

    chosen, moved = fit_rows(rows), []
    for (engine, unit), rt in fitted_runtimes(rows, "rows.csv", start=True).items():
        fr = chosen[(engine, unit)]
        if rt.id != engine:  # a serving runtime's own cost
            was, now = (load_llm_runtime(rt.id).serving[unit].model_dump(),  # type: ignore[index]
                        rt.serving[unit].model_dump())  # type: ignore[index]
            paths = serving_constrained_fields(fr)
        else:
            was, now = (load_llm_runtime(engine).placements[unit].model_dump(),  # type: ignore[index]
                        rt.placements[unit].model_dump())  # type: ignore[index]
            paths = constrained_fields(fr, load_llm_runtime(engine), unit)
        free = {("kernel_efficiency", "default")}  # recomputed from the fitted kernels, not written (see its doc)
        for path, value in _leaves({k: v for k, v in now.items() if k != "fit"}):
            if path not in paths and path not in free and (_at(was, path) if _has(was, path) else None) != value:
                moved.append(f"{engine}/{unit}: {'.'.join(path)}")
    return moved


def _has(data: dict[str, Any], path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def test_constrained_fields_are_all_a_fit_moves_on_every_shipped_placement() -> None:
    from edgesim.llm.validate import _predictable, fit_rows

    rows = _predictable(read_reference(BUNDLED), str(BUNDLED))
    assert _unconstrained_moves(rows) == []  # every placement, on all its rows
    for fr in fit_rows(rows).values():  # and on one row, and three, of each (overheads need three)
        for subset in (fr[:1], fr[-1:], fr[:3]):
            assert _unconstrained_moves(subset) == [], subset
