"""A runtime loads only the weight formats its loader reads (LlmRuntime.weight_formats): any other format, or a GGUF
file for a runtime that reads no GGUF, is refused in one line naming the runtime and the format, through every
door (CLI prediction, context plot, chat session, API); each runtime's defaults and every reference row's pair
are formats it loads."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from edgesim.errors import EdgesimError, ProfileError
from edgesim.llm import predict
from edgesim.llm.quant import canonical, quant_names
from edgesim.llm.runtime import load_llm_runtime, runtime_ids, runtimes_dir, weight_formats_markdown
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[3]

# (hw, runtime, quant, words the one error line must hold): the silent answers and the per-chip limits
REFUSED = [
    ("rk3588", "rkllm", "Q4_K_M", ["runtime rkllm cannot load weight format Q4_K_M", "w8a8"]),  # RKLLM reads no GGUF
    ("rk3588", "rkllm", "int4-awq-g128", ["runtime rkllm cannot load weight format int4-awq-g128"]),
    ("jetson-orin-nano", "tensorrt-llm", "Q4_K_M", ["runtime tensorrt-llm cannot load weight format Q4_K_M"]),
    ("rpi5", "llama.cpp", "w8a8", ["runtime llama.cpp cannot load weight format w8a8", "GGUF types"]),
    ("rk3588", "rkllm", "w4a16", ["weight format w4a16 on rk3588", "rk3576*"]),  # rknn-llm#186: not on RK3588
    ("jetson-orin-nano", "tensorrt-llm", "nvfp4", ["weight format nvfp4 on jetson-orin-nano"]),  # Ampere: no FP4
    ("jetson-orin-nano", "mlc", "Q4_0", ["runtime mlc cannot load weight format Q4_0"]),
    ("jetson-orin-nano", "tinychat", "q4f16", ["runtime tinychat cannot load weight format q4f16"]),
]


def _one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str], words: list[str]) -> None:
    code, out, err = run_cli(argv, capsys)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert out == "" and "field 'quant'" in lines[0], lines[0]
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("hw, runtime, quant, words", REFUSED)
def test_cli_refuses_a_format_the_runtime_cannot_load(hw: str, runtime: str, quant: str, words: list[str],
                                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.json"
    _one_error_line(["llm", "llama-3.2-1b", "--hw", hw, "--runtime", runtime, "--quant", quant, "--json", str(out)],
                    capsys, words)
    assert not out.exists()


@pytest.mark.parametrize("hw, runtime, quant, words", REFUSED)
def test_api_refuses_a_format_the_runtime_cannot_load(hw: str, runtime: str, quant: str, words: list[str]) -> None:
    with pytest.raises(EdgesimError) as exc:
        predict("llama-3.2-1b", hw, runtime=runtime, quant=quant, prompt=16, gen=4)
    assert exc.value.field == "quant" and all(w in str(exc.value) for w in words), str(exc.value)


def test_the_same_formats_load_where_the_runtime_reads_them() -> None:
    assert predict("llama-3.2-1b", "rpi5", runtime="llama.cpp", quant="Q4_K_M", prompt=16, gen=4).decode
    assert predict("llama-3.2-1b", "rk3576", runtime="rkllm", quant="w4a16", prompt=16, gen=4).decode
    assert predict("llama-3.2-1b", "rk3588", runtime="rkllm", quant="w8a8", prompt=16, gen=4).decode
    assert predict("llama-3.2-1b", "jetson-orin-nano", runtime="tensorrt-llm", quant="int4-awq-g128", prompt=16,
                   gen=4).decode
    # aliases resolve before the check: MLC's q4f16_1 is edgesim's q4f16, Hailo's A8W4 is w4a8
    assert predict("llama-3.2-1b", "jetson-orin-nano", runtime="mlc", quant="q4f16_1", prompt=16, gen=4).decode
    # NVFP4 loads on a Blackwell Jetson (the format check alone: no Thor profile is bundled)
    load_llm_runtime("tensorrt-llm").check_format("nvfp4", "jetson-agx-thor")


def test_a_gguf_file_is_refused_by_a_runtime_that_reads_no_gguf(gguf_file: Callable[..., Path],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = gguf_file()
    assert predict(str(path), "rk3588", runtime="llama.cpp", prompt=16, gen=4).decode  # a GGUF loader reads it
    for extra in ([], ["--quant", "w8a8"]):  # naming a format it loads does not make the file readable
        code, out, err = run_cli(["llm", str(path), "--hw", "rk3588", "--runtime", "rkllm", *extra], capsys)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith(f"error: {path}: field 'quant': runtime rkllm cannot load weight format GGUF"), err


def test_every_door_goes_through_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "ctx.png"
    _one_error_line(["llm", "llama-3.2-1b", "--hw", "rk3588", "--runtime", "rkllm", "--quant", "Q4_K_M",
                     "--context-plot", str(plot)], capsys, ["runtime rkllm cannot load weight format Q4_K_M"])
    _one_error_line(["llm", "llama-3.2-1b", "--hw", "rk3588", "--runtime", "rkllm", "--quant", "Q4_K_M",
                     "--chat-session", "30"], capsys, ["runtime rkllm cannot load weight format Q4_K_M"])
    assert not plot.exists()
    from edgesim.llm.chat import chat_session
    from edgesim.llm.predict import decode_curve

    with pytest.raises(EdgesimError, match="cannot load weight format w8a8"):
        decode_curve("llama-3.2-1b", "rpi5", [16, 32], runtime="llama.cpp", quant="w8a8")
    with pytest.raises(EdgesimError, match="cannot load weight format w8a8"):
        chat_session("llama-3.2-1b", "rpi5", duration_s=30, runtime="llama.cpp", quant="w8a8")


@pytest.mark.parametrize("rid", runtime_ids())
def test_every_runtime_loads_its_own_defaults(rid: str) -> None:
    rt = load_llm_runtime(rid)
    assert rt.loadable_formats(), rid
    for q in [rt.default_quant, *rt.default_quant_by_model.values()]:
        rt.check_format(canonical(q))
        assert canonical(q) in rt.loadable_formats()
    for fmt, chips in rt.format_chips.items():  # a chip-limited format is listed, and loads on its own chips
        assert fmt in rt.loadable_formats()
        assert chips and all(re.fullmatch(r"[a-z0-9*?\-]+", c) for c in chips)


def _write_runtime(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load((runtimes_dir() / "rkllm.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    for k in [k for k, v in changes.items() if v is None]:
        del data[k]
    path = tmp_path / "rt.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("changes, words", [
    ({"default_quant": "w4a8"}, ["default_quant 'w4a8' is not in weight_formats"]),
    ({"weight_formats": ["w8a8", "w4a61"]}, ["'w4a61' names no edgesim format"]),
    ({"weight_formats": None}, ["weight_formats"]),  # required: a runtime says what it loads
    ({"format_chips": {"Q4_0": ["rk3588*"]}}, ["format_chips key 'Q4_0'"]),
    ({"default_quant_by_model": {"qwen2-0.5b": "Q4_0"}}, ["default_quant_by_model.qwen2-0.5b 'Q4_0'"]),
    ({"default_quant": "w4a16"}, ["default_quant 'w4a16' loads only on rk3576*"]),  # refused on an RK3588
])
def test_a_runtime_yaml_whose_lists_disagree_is_refused(changes: dict[str, object], words: list[str],
                                                        tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as exc:
        load_llm_runtime(str(_write_runtime(tmp_path, **changes)))
    assert all(w in str(exc.value) for w in words), str(exc.value)


@pytest.mark.parametrize("hw, runtime", [
    # were answered: TinyChat's CUDA kernels and PyTorch's fp16 on an Adreno GPU, TinyChat on an Intel iGPU and on the
    # Maxwell Jetson Nano (its GEMM is an Ampere mma), PyTorch on Iris Xe graphics
    ("snapdragon-8-gen3", "tinychat"), ("core-ultra-7-155h", "tinychat"), ("jetson-nano", "tinychat"),
    ("snapdragon-8-gen3", "hf-transformers"), ("core-i7-1185gre", "hf-transformers"),
])
def test_a_gpu_runtime_is_refused_on_gpus_it_has_no_backend_for(hw: str, runtime: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["llm", "qwen2.5-0.5b", "--hw", hw, "--runtime", runtime], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert f"device {hw}, runtime {runtime}: the runtime targets only" in err
    assert run_cli(["llm", "qwen2.5-0.5b", "--hw", "jetson-orin-nano", "--runtime", runtime], capsys)[0] == 0


def test_a_runtime_yaml_that_cannot_be_read_or_inherits_in_a_loop_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("inherits: b.yaml\nid: a\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("inherits: a.yaml\nid: b\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="'inherits' cycle: a.yaml -> b.yaml -> a.yaml"):  # was RecursionError
        load_llm_runtime(str(tmp_path / "a.yaml"))
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe binary")
    with pytest.raises(ProfileError, match="not UTF-8"):  # was UnicodeDecodeError (exit 3)
        load_llm_runtime(str(tmp_path / "bin.yaml"))
    (tmp_path / "orphan.yaml").write_text("inherits: nope\nid: o\n", encoding="utf-8")
    with pytest.raises(ProfileError) as exc:
        load_llm_runtime(str(tmp_path / "orphan.yaml"))
    assert exc.value.file == str(tmp_path / "orphan.yaml") and exc.value.field == "inherits"
    # a parent YAML next to the child is found there, as a profile's 'extends' is
    (tmp_path / "mine.yaml").write_text("inherits: base.yaml\nid: mine\n", encoding="utf-8")
    (tmp_path / "base.yaml").write_text("inherits: llama.cpp\nid: base\n", encoding="utf-8")
    assert load_llm_runtime(str(tmp_path / "mine.yaml")).id == "mine"


def test_every_reference_row_is_a_pair_its_runtime_loads() -> None:
    from edgesim.llm.reference import read_reference

    rows = [r for r in read_reference() if r.runtime is not None and r.model]
    assert len(rows) > 250
    for r in rows:
        rt = load_llm_runtime(r.runtime or "")
        q = canonical(r.quant) if r.quant else canonical(rt.quant_for(r.model or ""))
        rt.check_format(q, r.hw)  # raises (and names the line) if the reference names an impossible pair


def test_the_docs_table_is_generated_from_the_yamls() -> None:
    doc = (REPO / "docs" / "llm.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- weight-formats:begin -->\n(.*?)\n<!-- weight-formats:end -->", doc, re.S)
    assert m is not None and m.group(1) == weight_formats_markdown()
    assert set(quant_names()) >= {"Q4_K_M", "w8a8", "nvfp4"}


def test_awq_keeps_the_embedding_and_head_fp16_and_a_tied_table_once() -> None:
    """llm-awq quantizes only the linears of the decoder blocks: Llama-3.2-1B's tied 128256 x 2048 table stays fp16
    and is stored once (6.67 bits/weight overall, not 4 + 20/128 = 4.16); an untied model's embedding is fp16 too."""
    from edgesim.llm.arch import zoo_arch
    from edgesim.llm.quant import scheme

    arch = zoo_arch("llama-3.2-1b")
    qs = scheme("int4-awq-g128", arch)
    table = 128256 * 2048
    total = sum(t.elements for t in arch.weights())
    assert [t.role for t, _ in qs.tensors].count("token_embd") == 1 and not qs.untied
    expected = ((total - table) * (4 + 20 / 128) + table * 16) / total
    assert qs.bits_per_weight == pytest.approx(expected, rel=1e-9) and 6.6 < expected < 6.7
    for fmt in ("int4-awq-g128", "int4-gptq-g128"):  # AutoGPTQ leaves embed_tokens and lm_head unquantized too
        untied = scheme(fmt, zoo_arch("llama-3.1-8b"))
        bits = {t.role: f.bits_per_weight for t, f in untied.tensors if t.role in ("token_embd", "output")}
        assert bits == {"token_embd": 16.0, "output": 16.0}, fmt
