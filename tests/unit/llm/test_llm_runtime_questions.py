"""`edgesim llm` questions a runtime cannot answer are refused by runtime, not costed (audit14): a KV cache type the
runtime cannot store, a decoder ONNX on a runtime that cannot load one; and a user's runtime file (an 'llm-fit -o'
overlay) is named as such wherever the runtime is, never as the shipped one it inherits."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from edgesim.llm.predict import predict
from edgesim.llm.reference import BUNDLED
from edgesim.llm.runtime import load_llm_runtime, runtime_ids
from tests.conftest import refused_by_cli, run_cli
from tests.unit.llm.conftest import write_onnx_decoder

KW = {"prompt": 16, "gen": 8}


@pytest.mark.parametrize(("runtime", "hw", "kv", "stores"), [
    ("mlc", "jetson-orin-nano", "q4_0", "f16"),  # MLC's quantized KV cache is an open request (mlc-llm#3236)
    ("tensorrt-llm", "jetson-orin-nano", "q8_0", "f16, int8"),  # INT8/FP8 KV, not ggml blocks
    ("rkllm", "rk3588", "q8_0", "f16"),
    ("tinychat", "jetson-orin-nano", "q4_0", "f16"),
])
def test_a_kv_cache_type_the_runtime_cannot_store_is_refused(runtime: str, hw: str, kv: str, stores: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # each was answered with the smaller cache costed on the runtime's kernels
    with pytest.raises(EdgesimError) as exc:
        predict("llama-3.2-1b", hw, runtime, kv_cache=kv, **KW)
    assert exc.value.field == "kv_cache" and f"runtime {runtime} has no {kv} KV cache (it stores: {stores})" in str(
        exc.value)
    refused_by_cli(["llm", "llama-3.2-1b", "--hw", hw, "--runtime", runtime, "--kv-cache", kv], capsys,
                   "field 'kv_cache'", runtime, kv)


def test_the_kv_cache_types_runtimes_store_are_still_answered() -> None:
    for runtime, hw, kv in [("llama.cpp", "rpi5", "q4_0"), ("llama.cpp", "rpi5", "q8_0"), ("ollama", "rpi5", "q4_0"),
                            ("tensorrt-llm", "jetson-orin-nano", "int8"), ("mlc", "jetson-orin-nano", "f16"),
                            ("executorch", "rpi5", "int8")]:
        est = predict("llama-3.2-1b", hw, runtime, kv_cache=kv, **KW)
        assert est.kv_cache == kv and est.kv_cache_bytes > 0
    f16 = predict("llama-3.2-1b", "rpi5", "llama.cpp", kv_cache="fp16", **KW)
    assert f16.kv_cache == "f16"  # one name for one type


def test_every_runtime_stores_its_own_default_kv_cache() -> None:
    for rid in runtime_ids():
        rt = load_llm_runtime(rid)
        assert rt.check_kv_cache(rt.kv_cache) == rt.kv_cache


@pytest.mark.parametrize("runtime", ["llama.cpp", "mlc", "tensorrt-llm", "hf-transformers"])
def test_a_decoder_onnx_on_a_runtime_that_cannot_load_it_is_refused(runtime: str, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = write_onnx_decoder(tmp_path / "decoder_model.onnx")
    hw = "rpi5" if runtime == "llama.cpp" else "jetson-orin-nano"
    # was answered: the ONNX's MatMulNBits blocks costed on llama.cpp's GGUF kernels (or MLC's)
    with pytest.raises(EdgesimError, match=f"runtime {runtime} cannot load a decoder ONNX") as exc:
        predict(str(path), hw, runtime, **KW)
    assert exc.value.field == "runtime"
    refused_by_cli(["llm", str(path), "--hw", hw, "--runtime", runtime], capsys, "decoder_model.onnx",
                   "cannot load a decoder ONNX", "config.json")


def onnx_runtime(tmp_path: Path, parent: str = "mlc") -> Path:
    """A user's profile of an engine that reads decoder ONNX graphs (as onnxruntime-genai does)."""
    path = tmp_path / "ort.yaml"
    path.write_text(f"inherits: {parent}\nonnx_decoders: true\n", encoding="utf-8")
    return path


def test_a_runtime_profile_that_reads_onnx_takes_the_decoder(tmp_path: Path) -> None:
    path = write_onnx_decoder(tmp_path / "decoder_model.onnx")
    est = predict(str(path), "jetson-orin-nano", str(onnx_runtime(tmp_path)), **KW)
    assert est.fits and est.quant == "onnx:decoder_model.onnx"
    assert est.runtime_source == f"user profile {tmp_path / 'ort.yaml'}"


def test_a_users_fit_is_named_in_text_json_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = tmp_path / "mine.csv"
    row = "Raspberry Pi 4,rpi4,CPU,4,llama.cpp,,TinyLlama-1.1B,tinyllama-1.1b,1.1,Q8_0,,,,decode_tps,3,tokens/s,,,"
    ref.write_text(BUNDLED.read_text(encoding="utf-8").splitlines()[0] + "\n" + row + "\n", encoding="utf-8")
    out = tmp_path / "fit"
    assert run_cli(["llm-fit", "--reference", str(ref), "-o", str(out)], capsys)[0] == 0
    mine = out / "llama.cpp.yaml"
    label = f"llama.cpp (user fit {mine})"
    est = predict("tinyllama-1.1b", "rpi4", str(mine), quant="Q8_0", **KW)
    assert est.runtime == "llama.cpp" and est.runtime_label == label  # was 'llama.cpp', as the shipped fit
    code, text, err = run_cli(["llm", "tinyllama-1.1b", "--hw", "rpi4", "--runtime", str(mine), "--quant", "Q8_0",
                               "--json", str(tmp_path / "e.json"), "--html", str(tmp_path / "e.html")], capsys)
    assert code == 0, err
    assert f"(llama.cpp, user fit {mine}, cpu, Q8_0" in text.splitlines()[0]
    assert json.loads((tmp_path / "e.json").read_text())["runtime_source"] == f"user fit {mine}"
    assert f"{label} on the cpu" in html.unescape((tmp_path / "e.html").read_text())
    shipped = predict("tinyllama-1.1b", "rpi4", "llama.cpp", quant="Q8_0", **KW)
    assert shipped.runtime_source is None and shipped.as_dict()["runtime_source"] is None
