"""Prefill/decode mechanisms, memory verdict, CLI contract, validation on a slice of llm_edge.csv, chat session."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import edgesim
from edgesim.errors import EdgesimError
from edgesim.llm.arch import zoo_names
from edgesim.llm.predict import decode_curve, predict
from edgesim.llm.reference import BUNDLED, is_llm_reference, read_reference
from edgesim.llm.validate import validate

REPO = Path(__file__).resolve().parents[3]


def test_every_zoo_model_predicts_on_a_cpu_and_a_gpu_board() -> None:
    for name in zoo_names():
        est = predict(name, "rpi5", prompt=128, gen=16)
        if est.fits:
            assert est.decode is not None and est.decode.tokens_per_s > 0
            assert est.prefill is not None and est.prefill.tokens_per_s > est.decode.tokens_per_s
        gpu = predict(name, "jetson-agx-orin", runtime="mlc", prompt=128, gen=16)
        assert gpu.fits == (gpu.memory_bytes <= gpu.available_bytes)


def test_decode_is_memory_bound_and_scales_with_bytes() -> None:
    q4 = predict("llama-3.2-3b", "rpi5", quant="Q4_0", prompt=0, gen=64)
    q8 = predict("llama-3.2-3b", "rpi5", quant="Q8_0", prompt=0, gen=64)
    assert q4.decode and q8.decode and q4.decode.bound == "memory"
    ratio = q4.decode.tokens_per_s / q8.decode.tokens_per_s
    assert 1.4 < ratio < q8.decode_bytes_per_token / q4.decode_bytes_per_token + 0.01
    pre = predict("llama-3.2-3b", "rpi5", quant="Q4_0", prompt=512, gen=0)
    assert pre.prefill and pre.prefill.bound == "compute"


def test_bandwidth_saturates_with_threads() -> None:
    tps = [predict("llama-3.2-1b", "rpi5", quant="Q4_0", threads=n, prompt=0, gen=32).decode.tokens_per_s  # type: ignore[union-attr]
           for n in (1, 2, 4)]
    assert tps[0] < tps[1] <= tps[2]
    assert tps[2] / tps[1] < tps[1] / tps[0] + 1e-9  # diminishing returns


def test_context_curve_grows_and_sliding_window_flattens_it() -> None:
    ctx = np.array([128, 2048, 4096])
    full = decode_curve("llama-3.2-1b", "rpi5", ctx)
    assert full[0] < full[1] < full[2]
    local = decode_curve("gemma-3-1b", "rpi5", ctx)
    growth_full = (full[2] - full[1]) / full[1]
    growth_local = (local[2] - local[1]) / local[1]
    assert growth_local < 0.5 * growth_full


def test_70b_is_refused_on_an_8gb_board_and_cli_says_why(tmp_path: Path) -> None:
    est = predict("llama-2-70b", "rpi5")
    assert not est.fits and est.decode is None and "does not fit" in est.fit_reason
    out = tmp_path / "e.json"
    r = subprocess.run([sys.executable, "-m", "edgesim", "llm", "llama-2-70b", "--hw", "rpi5", "--json", str(out)],
                       cwd=REPO, capture_output=True, text=True)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2 and len(errors) == 1 and "Traceback" not in r.stderr
    assert json.loads(out.read_text())["fits"] is False


def test_cli_json_has_the_issue_fields(tmp_path: Path, gguf_file: Callable[..., Path]) -> None:
    out = tmp_path / "e.json"
    path = gguf_file()
    r = subprocess.run([sys.executable, "-m", "edgesim", "llm", str(path), "--hw", "rpi5", "--prompt", "64",
                        "--gen", "16", "--json", str(out), "--html", str(tmp_path / "r.html")],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r.html").read_text().count("<img") == 2
    d = json.loads(out.read_text())
    for key in ("prefill_tokens_per_s", "decode_tokens_per_s", "ttft_s", "energy_per_token_j", "weights_bytes",
                "kv_cache_bytes", "memory_bytes", "fits"):
        assert d[key] is not None, key
    assert d["prefill"]["bound"] in ("compute", "memory") and d["decode"]["bound"] in ("compute", "memory")


@pytest.mark.parametrize("args,needle", [(["--threads", "0"], "threads"), (["--prompt", "5000"], "context"),
                                         (["--quant", "Q9_X"], "quant"), (["--unit", "npu"], "npu"),
                                         (["--context", "100"], "context"), (["--chat-session", "-5"], "chat")])
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str) -> None:
    r = subprocess.run([sys.executable, "-m", "edgesim", "llm", "tinyllama-1.1b", "--hw", "rpi5", *args],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_api_is_callable_from_the_top_level() -> None:
    est = edgesim.llm("qwen2.5-0.5b", "rpi5", quant="Q8_0", prompt=32, gen=8)  # type: ignore[operator]
    assert est.quant == "Q8_0" and est.fits
    with pytest.raises(EdgesimError):
        predict("qwen2.5-0.5b", "rpi5", threads=0)


def test_validation_on_a_slice_fits_and_reports_every_row(tmp_path: Path) -> None:
    with open(BUNDLED, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for r in rows if r["hw_profile"] == "rpi4" and r["model_config"] in ("llama-3.2-1b", "qwen3-0.6b")]
    keep += [r for r in rows if r["device"].startswith("RK3576")][:2] + [r for r in rows if r["metric"] == "mixed_tps"][:1]
    path = tmp_path / "slice.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    assert is_llm_reference(path) and not is_llm_reference(REPO / "pyproject.toml")
    v = validate(path, cross=False)
    assert len(v.rows) == len(keep)
    d = v.as_dict()
    assert d["fit"]["decode"]["mape_pct"] < 15 and d["fit"]["prefill"]["mape_pct"] < 25
    counts = d["status_counts"]
    assert counts.get("prefill and decode not separable") == 1 and sum(counts.values()) == len(keep)
    assert min(v.spearman(v.rows).values()) > 0.8


def test_reference_rows_map_runtimes_and_ranges() -> None:
    rows = read_reference()
    assert len(rows) == 341
    rng = next(r for r in rows if r.device.startswith("Jetson Orin NX 8GB") and r.model == "tinyllama-1.1b")
    assert rng.approximate and rng.value == pytest.approx(24.5)
    assert {r.runtime for r in rows if "RK3588" in r.device} == {"rkllm", "mlc"}


def test_chat_session_on_a_bare_pi5_heats_up() -> None:
    from edgesim.llm.chat import chat_session

    r = chat_session("llama-3.2-3b", "rpi5", duration_s=600, prompt=256, gen=256, think_s=5, quant="Q4_K_M",
                     window_s=2.0)
    assert r.turns >= 3 and r.max_temp_c > 60 and r.energy_j > 0
    assert r.throttled and r.last_turn_ttft_s > r.first_turn_ttft_s  # the 80 C trip slows the compute-bound prefill
    # decode is memory-bound: it loses a smaller share than prefill
    assert r.last_turn_decode_tps / r.first_turn_decode_tps > r.first_turn_ttft_s / r.last_turn_ttft_s
    cool = chat_session("llama-3.2-3b", "rpi5", duration_s=600, prompt=256, gen=256, think_s=5, quant="Q4_K_M",
                        window_s=2.0, ambient_c=0.0)
    assert cool.max_temp_c < r.max_temp_c


def test_npu_runtime_places_on_the_npu_and_w4_decodes_faster() -> None:
    # w4a16 is an RK3576/RK3562 format (RKLLM refuses it for the RK3588: airockchip/rknn-llm#186)
    w8 = predict("qwen2.5-1.5b", "rk3576", runtime="rkllm", prompt=128, gen=64)
    w4 = predict("qwen2.5-1.5b", "rk3576", runtime="rkllm", quant="w4a16", prompt=128, gen=64)
    assert w8.unit == "npu" and w8.quant == "w8a8" and w8.decode and w4.decode
    assert w4.decode.tokens_per_s > 1.3 * w8.decode.tokens_per_s
    assert predict("qwen2.5-1.5b", "rk3588", runtime="rkllm", prompt=128, gen=64).unit == "npu"
    with pytest.raises(EdgesimError, match="w4a16 on rk3588"):
        predict("qwen2.5-1.5b", "rk3588", runtime="rkllm", quant="w4a16", prompt=128, gen=64)
    with pytest.raises(EdgesimError, match="npu"):
        predict("qwen2.5-1.5b", "rpi5", runtime="rkllm")
    with pytest.raises(EdgesimError, match="threads"):
        predict("qwen2.5-1.5b", "rpi5", threads=9)


def test_quantized_kv_cache_shrinks_memory_and_long_context_latency() -> None:
    # llama.cpp --cache-type-k/v q4_0 (MLC, which this used, has no quantized KV cache: refused now)
    f16 = predict("llama-3.1-8b", "jetson-orin-nano", runtime="llama.cpp", prompt=4000, gen=64)
    q4 = predict("llama-3.1-8b", "jetson-orin-nano", runtime="llama.cpp", prompt=4000, gen=64, kv_cache="q4_0")
    assert f16.kv_cache == "f16" and q4.kv_cache == "q4_0"
    assert q4.kv_cache_bytes == pytest.approx(f16.kv_cache_bytes * 4.5 / 16)
    assert q4.decode and f16.decode and q4.decode.tokens_per_s > f16.decode.tokens_per_s
    # GQA: Llama-3.1-8B keeps 8 KV heads of 128 for 32 query heads: 128 KB of f16 K+V per token
    assert f16.kv_cache_bytes / (4000 + 64) == pytest.approx(2 * 32 * 8 * 128 * 2)
    with pytest.raises(EdgesimError, match="KV cache"):
        predict("llama-3.1-8b", "rpi5", kv_cache="q3_z")


@pytest.mark.parametrize("kw, field", [
    ({"threads": 1.5}, "threads"), ({"threads": True}, "threads"),  # were costed as 1.5 and 1 cores
    ({"threads": "2"}, "threads"),  # was a TypeError
    ({"quant": ""}, "quant"), ({"runtime": ""}, "runtime"), ({"unit": ""}, "unit"),  # were the defaults, silently
    ({"quant": 5}, "quant"), ({"runtime": 5}, "runtime"),  # were AttributeErrors
])
def test_api_refuses_wrong_types_and_empty_names_by_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(EdgesimError) as exc:
        predict("qwen2.5-0.5b", "rpi5", prompt=16, gen=4, **kw)  # type: ignore[arg-type]
    assert exc.value.field == field
    est = predict("qwen2.5-0.5b", "rpi5", prompt=np.int64(16), gen=np.int32(4), threads=np.int64(2))
    assert est.threads == 2 and type(est.threads) is int and type(est.prompt_tokens) is int
    json.dumps(est.as_dict(0.8))  # numpy counts were kept as numpy ints, which the JSON writer refused


@pytest.mark.parametrize("contexts", [[-5], [1.5], [float("nan")], [[1, 2]], ["a"]])
def test_decode_curve_refuses_contexts_that_are_not_token_counts(contexts: list[object]) -> None:
    # -5, 1.5 and [[1, 2]] were answered with latencies; nan and 'a' were ValueError / UFuncTypeError
    with pytest.raises(EdgesimError) as exc:
        decode_curve("qwen2.5-0.5b", "rpi5", contexts)  # type: ignore[arg-type]
    assert exc.value.field == "context"
    assert decode_curve("qwen2.5-0.5b", "rpi5", [0, 16]).shape == (2,)


def test_a_board_without_the_runtimes_unit_names_the_runtime() -> None:
    # no --unit given: the placement is the runtime's choice, so the error says so (it blamed 'unit' alone)
    with pytest.raises(EdgesimError, match="runtime mlc runs on the gpu, and profile 'rpi5' has no gpu unit"):
        predict("qwen2.5-0.5b", "rpi5", runtime="mlc")
    with pytest.raises(EdgesimError, match="^field 'unit': profile 'rpi5' has no gpu unit"):
        predict("qwen2.5-0.5b", "rpi5", unit="gpu")


def test_an_endless_chat_names_the_flag_the_user_has() -> None:
    from edgesim.llm.chat import chat_session

    with pytest.raises(EdgesimError, match="shorten --chat-session") as exc:  # it named a --window flag llm lacks
        chat_session("qwen2.5-0.5b", "rpi5", duration_s=1e9)
    assert "--window" not in str(exc.value)


@pytest.mark.parametrize("hw", ["hailo-10h", "hailo-8", "coral-edgetpu-usb"])
def test_an_accelerator_cards_stand_in_host_cpu_runs_no_llm(hw: str) -> None:
    # was answered: llama.cpp on the card's stand-in host cores at the card's static power (qwen2.5-0.5b on
    # hailo-10h: 15.5 tokens/s at 0.75 W, where the same cores on rpi5 draw 6 W)
    with pytest.raises(EdgesimError, match=f"runtime llama.cpp runs on the cpu, and profile '{hw}' describes an "
                                           "accelerator"):
        predict("qwen2.5-0.5b", hw)
    with pytest.raises(EdgesimError, match="describes an accelerator") as exc:
        predict("qwen2.5-0.5b", hw, unit="cpu")
    assert exc.value.field == "unit"
    if hw == "hailo-10h":  # its own runtime still runs on its NPU
        assert predict("qwen2.5-0.5b", hw, runtime="hailo-genai").unit == "npu"


def test_reference_rows_that_cannot_be_measurements_are_counted_not_read(tmp_path: Path) -> None:
    header = BUNDLED.read_text(encoding="utf-8").splitlines()[0]
    good = "Pi 4,rpi4,CPU,4,llama.cpp,b1,TinyLlama,tinyllama-1.1b,1.1,Q8_0,,{p},,{m},{v},t/s,,,"
    lines = [good.format(p="", m="decode_tps", v="3"),
             good.format(p="-5", m="prefill_tps", v="3"),  # was read as blank: predicted at a 128-token prompt
             good.format(p="1.5", m="prefill_tps", v="3"),
             good.format(p="", m="decode_tps", v="inf"),  # was a measurement of infinitely many tokens/s
             good.format(p="", m="tokens_per_joule", v="3"),  # was 'unreadable value' for a readable 3
             "Pi 4,rpi4,CPU,4,llama.cpp,b1,TinyLlama,tinyllama-1.1b,1.1,Q8_0,,,,decode_tps,3"]  # was a TypeError
    path = tmp_path / "ref.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    status = [r.status for r in read_reference(path)]
    assert status == ["", "unreadable prompt_tokens '-5'", "unreadable prompt_tokens '1.5'", "unreadable value 'inf'",
                      "unknown metric 'tokens_per_joule'", "has 15 fields, the header 19"]
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(EdgesimError, match="not a UTF-8 CSV"):  # llm-fit --reference: was exit 3
        read_reference(tmp_path / "bin.csv")


def test_llm_fit_leaves_the_overlay_whole_when_its_write_fails(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from edgesim.llm import validate as llm_validate

    with open(BUNDLED, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["hw_profile"] == "rpi4" and r["model_config"] == "llama-3.2-1b"]
    ref = tmp_path / "ref.csv"
    with open(ref, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    monkeypatch.setattr(llm_validate, "fit_path", lambda rid: tmp_path / f"{rid}.fit.yaml")
    monkeypatch.setattr(llm_validate, "BUNDLED", ref)  # only the bundled reference refits the overlays
    overlay = tmp_path / "llama.cpp.fit.yaml"
    overlay.write_text("placements: {}\n", encoding="utf-8")
    real_write = Path.write_text

    def full_disk(self: Path, data: str, *args: object, **kw: object) -> int:
        real_write(self, data[: len(data) // 2], *args, **kw)  # type: ignore[arg-type]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    # was an OSError (exit 3) leaving half an overlay that every later llama.cpp prediction would read
    with pytest.raises(EdgesimError, match="No space left on device"):
        llm_validate.write_fits(ref)
    monkeypatch.undo()
    assert overlay.read_text(encoding="utf-8") == "placements: {}\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left either


def test_a_board_with_less_dram_than_the_os_keeps_says_so() -> None:
    est = predict("qwen2.5-0.5b", "esp32-p4")  # 32 MB of PSRAM against llama.cpp's 0.7 GB for the OS
    assert not est.fits and est.available_bytes < 0
    assert "none is left" in est.fit_reason and "-0." not in est.fit_reason  # was '-0.67 GB available'
