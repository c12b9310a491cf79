"""Bits per weight from block layouts, llama.cpp's per-role mixes, config and GGUF import, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from edgesim.errors import EdgesimError, ModelError
from edgesim.llm.arch import load_config, zoo_arch, zoo_names
from edgesim.llm.gguf_file import read_gguf
from edgesim.llm.quant import ggml_bits_per_weight, gguf_tensor_type, scheme
from tests.unit.llm.conftest import Q


@pytest.mark.parametrize("typ,bpw", [("Q4_0", 4.5), ("Q8_0", 8.5), ("Q4_K", 4.5), ("Q5_K", 5.5),
                                     ("Q6_K", 6.5625), ("Q2_K", 2.625), ("Q3_K", 3.4375), ("IQ4_NL", 4.5),
                                     ("F16", 16.0)])
def test_bits_per_weight_from_block_layouts(typ: str, bpw: float) -> None:
    assert ggml_bits_per_weight(typ) == pytest.approx(bpw)


def test_q4_k_m_mix_follows_llama_quant_rules() -> None:
    arch = zoo_arch("llama-3.2-1b")  # 16 layers, tied embeddings
    types = {t.name: gguf_tensor_type("Q4_K_M", t, arch) for t in arch.weights()}
    n = arch.num_layers
    more = [i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2 for i in range(n)]
    for i in range(n):
        want = "Q6_K" if more[i] else "Q4_K"
        assert types[f"blk.{i}.attn_v.weight"] == want
        assert types[f"blk.{i}.ffn_down.weight"] == want
        assert types[f"blk.{i}.attn_q.weight"] == "Q4_K"
    assert types["token_embd.weight"] == "Q6_K"  # tied: quantized as the output tensor
    assert 4.5 < scheme("Q4_K_M", arch).bits_per_weight < 5.5


def test_file_sizes_match_published_gguf_sizes() -> None:
    # llama-bench sizes in llm_edge.csv (Raspberry Pi 4 sweep): Llama-3.2-1B Q4_K_M 0.800 GB, Q8_0 1.313 GB,
    # gemma-3-1b Q3_K_S 0.682 GB; TinyLlama Q4_K_M 636.18 MiB (Dragon Q6A row)
    for model, quant, gb in (("llama-3.2-1b", "Q4_K_M", 0.800), ("llama-3.2-1b", "Q8_0", 1.313),
                             ("gemma-3-1b", "Q3_K_S", 0.682), ("tinyllama-1.1b", "Q4_K_M", 0.667)):
        assert scheme(quant, zoo_arch(model)).weights_bytes / 1e9 == pytest.approx(gb, rel=0.01)


def test_rows_not_a_multiple_of_256_fall_back() -> None:
    arch = zoo_arch("qwen2.5-0.5b")  # hidden 896 = 3.5 super-blocks
    q = next(t for t in arch.weights() if t.role == "attn_q")
    assert gguf_tensor_type("Q4_K_M", q, arch) == "Q5_0"


def test_all_zoo_configs_load_with_gqa_and_windows() -> None:
    names = zoo_names()
    assert len(names) == 30
    for n in names:
        a = zoo_arch(n)
        assert a.params > 1e8 and a.num_heads % a.num_kv_heads == 0
    g3 = zoo_arch("gemma-3-1b")
    assert g3.sliding_window == 512 and g3.sliding_layers == 26 - 26 // 6
    assert g3.kv_elements(8192) < 0.3 * 2 * g3.kv_dim * g3.num_layers * 8192
    assert zoo_arch("llama-3.1-8b").params == pytest.approx(8.03e9, rel=0.01)


def _cfg(tmp_path: Path, **over: object) -> Path:
    cfg = json.loads((Path(__file__).parents[3] / "edgesim/llm/data/configs/llama-3.2-1b.json").read_text())
    cfg.update(over)
    cfg = {k: v for k, v in cfg.items() if v is not None}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def test_config_bad_input_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model_type"):
        load_config(_cfg(tmp_path, model_type="mamba9"))
    with pytest.raises(ModelError, match="hidden_size"):
        load_config(_cfg(tmp_path, hidden_size=None))
    with pytest.raises(ModelError, match="num_key_value_heads"):
        load_config(_cfg(tmp_path, num_key_value_heads=5))
    assert load_config(_cfg(tmp_path)).num_kv_heads == 8


@pytest.mark.parametrize("fields, field, words", [
    # a layer count no decoder has: listing 10^7 layers' matrices ran out of memory (exit 1) after minutes
    ({"num_hidden_layers": 10**7}, "num_hidden_layers", "not a plausible decoder"),
    # 2048 / 3 heads was costed as 682-wide heads (2046 of 2048 columns): transformers refuses it
    ({"num_attention_heads": 3, "num_key_value_heads": 1, "head_dim": None}, "num_attention_heads",
     "not a multiple of 3 attention heads"),
    # these three were silently read: a negative or text window ignored, 'yes' (or "false") taken as tied
    ({"model_type": "mistral", "sliding_window": -1}, "sliding_window", "positive integer"),
    ({"model_type": "mistral", "sliding_window": "4096"}, "sliding_window", "positive integer"),
    ({"model_type": "gemma2", "sliding_window": 4096, "sliding_window_pattern": -2}, "sliding_window_pattern",
     "positive integer"),  # made more local layers than layers (a negative KV cache for the global ones)
    ({"tie_word_embeddings": "false"}, "tie_word_embeddings", "true, false or null"),
    ({"hidden_size": 0}, "hidden_size", "positive integer"),
    ({"vocab_size": -1}, "vocab_size", "positive integer"),
])
def test_implausible_config_fields_are_refused_by_name(tmp_path: Path, fields: dict[str, object], field: str,
                                                       words: str) -> None:
    with pytest.raises(ModelError, match=words) as exc:
        load_config(_cfg(tmp_path, **fields))
    assert exc.value.field == field
    # a head_dim given explicitly may differ from hidden / heads (Gemma: 256-wide heads on a 2304-wide model)
    assert load_config(_cfg(tmp_path, num_attention_heads=3, num_key_value_heads=1, head_dim=64)).q_dim == 192


def test_a_binary_file_named_json_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"\xff\xfe\x00 not text")  # was exit 3 (UnicodeDecodeError out of read_text)
    with pytest.raises(ModelError, match="not a UTF-8 text file"):
        load_config(path)


def test_gguf_header_gives_arch_and_per_tensor_types(gguf_file: Callable[..., Path]) -> None:
    path = gguf_file(types={"attn_v": Q.Q6_K, "ffn_down": Q.Q8_0, "output": Q.Q6_K})
    g = read_gguf(path)
    assert (g.arch.num_layers, g.arch.hidden_size, g.arch.num_kv_heads, g.arch.vocab_size) == (2, 256, 2, 1000)
    assert not g.arch.tied_embeddings
    kinds = {t.name: f.kernel for t, f in g.scheme.tensors}
    assert kinds["blk.1.attn_v.weight"] == "Q6_K" and kinds["blk.0.ffn_down.weight"] == "Q8_0"
    assert kinds["blk.0.attn_q.weight"] == "Q4_0"
    # bytes = exactly what the file's tensor data holds
    assert g.scheme.weights_bytes == pytest.approx(
        sum(t.elements * f.bits_per_weight / 8 for t, f in g.scheme.tensors))
    assert read_gguf(gguf_file("tied.gguf", tied=True)).arch.tied_embeddings


def test_corrupt_or_truncated_gguf_is_one_clean_error(gguf_file: Callable[..., Path], tmp_path: Path) -> None:
    good = gguf_file().read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good[: len(good) // 3])
    with pytest.raises(ModelError, match="cut.gguf"):
        read_gguf(cut)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all")
    with pytest.raises(ModelError, match="junk.gguf"):
        read_gguf(junk)
    with pytest.raises(ModelError, match="architecture"):
        read_gguf(gguf_file("rwkv.gguf", arch="rwkv6"))


@pytest.mark.parametrize("header, field, words", [
    # were answered as two models at once: weights from the 2-layer table, KV cache and per-layer cost for 32
    ({"header_layers": 32}, "llama.block_count", "header gives 32 layers but the tensor table has blocks 0..1"),
    ({"header_layers": 1}, "llama.block_count", "header gives 1 layers"),
    ({"header_hidden": 4096}, "llama.embedding_length", "token_embd.weight rows are 256 wide"),
])
def test_a_gguf_whose_header_disagrees_with_its_tensors_is_refused(gguf_file: Callable[..., Path],
                                                                    header: dict[str, int], field: str,
                                                                    words: str) -> None:
    with pytest.raises(ModelError, match=words) as exc:
        read_gguf(gguf_file("bad.gguf", **header))
    assert exc.value.field == field and exc.value.file is not None and exc.value.file.endswith("bad.gguf")


def test_unknown_quant_is_refused() -> None:
    with pytest.raises(EdgesimError, match="quant"):
        scheme("Q7_Z", zoo_arch("llama-3.2-1b"))


def test_onnx_decoder_with_past_key_values_imports(tmp_path: Path) -> None:
    from edgesim.llm.onnx_decoder import read_onnx_decoder
    from edgesim.llm.predict import predict
    from tests.unit.llm.conftest import write_onnx_decoder

    path = write_onnx_decoder(tmp_path / "decoder_model.onnx")
    arch, qs = read_onnx_decoder(path)
    assert (arch.num_layers, arch.hidden_size, arch.intermediate_size, arch.num_heads, arch.num_kv_heads,
            arch.head_dim, arch.vocab_size) == (2, 256, 512, 4, 2, 64, 1000)
    assert arch.gated_mlp and not arch.tied_embeddings
    fmts = {t.name: f for t, f in qs.tensors}
    assert fmts["q0"].bits_per_weight == pytest.approx(4.5) and fmts["k0"].bits_per_weight == 16
    ort = tmp_path / "ort.yaml"  # an engine that reads decoder ONNX (llama.cpp, the rpi5's default, refuses it)
    ort.write_text("inherits: llama.cpp\nonnx_decoders: true\n", encoding="utf-8")
    est = predict(str(path), "rpi5", str(ort), prompt=16, gen=8)
    assert est.fits and est.decode is not None and est.quant == "onnx:decoder_model.onnx"
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="bad.onnx"):
        read_onnx_decoder(bad)
