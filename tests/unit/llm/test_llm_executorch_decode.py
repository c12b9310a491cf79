"""ExecuTorch on the Snapdragon 8 Gen 3: the 8da4w weight format and the CPU streaming share decode reads from."""

from __future__ import annotations

import pytest

from edgesim.api import load_profile
from edgesim.llm.arch import zoo_arch
from edgesim.llm.machine import machine
from edgesim.llm.model import model_work
from edgesim.llm.predict import predict
from edgesim.llm.quant import scheme
from edgesim.llm.reference import map_quant

MIB = 2**20


@pytest.mark.parametrize("model,pte_mib", [("llama-3.2-1b", 1083), ("llama-3.2-3b", 2435)])
def test_8da4w_format_reproduces_the_published_pte_sizes(model: str, pte_mib: float) -> None:
    # Llama 3.2 model card: SpinQuant .pte files 1083 MiB (1B) and 2435 MiB (3B). The .pte stores the 4-bit g32
    # linear layers (fp32 scales), the int8 per-channel classification layer and, untied, an int8 embedding table.
    arch = zoo_arch(model)
    assert arch.tied_embeddings
    qs = scheme("w4a8-g32", arch)
    assert qs.weights_bytes / MIB == pytest.approx(pte_mib, rel=0.01)
    # the generic w4a8 (group 128, fp16 scales, 4-bit head stored once) is ~40% short of the file
    assert scheme("w4a8", arch).weights_bytes / MIB < 0.7 * pte_mib


def test_8da4w_head_is_int8_and_decode_streams_it() -> None:
    arch = zoo_arch("llama-3.2-1b")  # tied embeddings: the head is the embedding matrix
    work = model_work(arch, scheme("w4a8-g32", arch))
    w8 = {k.kernel: k for k in work.kernels}["w8"]  # the head (streamed) and the embedding table (one row gathered)
    assert w8.precision == "int8"
    assert w8.head_macs_per_token == arch.vocab_size * arch.hidden_size
    assert w8.bytes_read == pytest.approx(arch.vocab_size * arch.hidden_size + arch.hidden_size)
    # 16 layers of 4-bit g32 (5 bits per weight) + the int8 head: 0.87 GB per token, not the generic 0.64
    assert work.bytes_per_token == pytest.approx(0.871e9, rel=0.01)


def test_executorch_rows_map_to_8da4w() -> None:
    assert map_quant("SpinQuant (4-bit)", "executorch") == ("w4a8-g32", "")
    assert map_quant("QLoRA (QAT+LoRA 4-bit)", "executorch") == ("w4a8-g32", "")


def test_snapdragon_cpu_streams_what_its_bf16_decode_demonstrates() -> None:
    # a bf16 decode is a pure weight stream: Llama-3.2-1B BF16 (2.47 GB) at 19.2 tok/s moves 47.5 GB/s; the CPU
    # share must come within 5% of that (the Pi-class default of 0.40 x 76.8 GB/s gave 30.7)
    m = machine(load_profile("snapdragon-8-gen3"), "cpu", None)
    bf16_bytes = model_work(zoo_arch("llama-3.2-1b"), scheme("bf16", zoo_arch("llama-3.2-1b"))).bytes_per_token
    assert m.dram_bw_bytes_per_s >= 0.95 * bf16_bytes * 19.2


def test_the_oneplus_12s_3b_bf16_model_fits_the_profile() -> None:
    # the ExecuTorch rows ran on a OnePlus 12 (12 GB at least): 6.4 GB of bf16 weights plus Android's share fit
    est = predict("llama-3.2-3b", "snapdragon-8-gen3", "executorch", "bf16", prompt=64, gen=8)
    assert est.fits, est.fit_reason
    assert est.decode is not None


def test_bf16_decode_runs_the_bfdot_gemv_not_the_prefill_gemm() -> None:
    # ExecuTorch's bf16 linears run in its op library (no XNNPACK bf16 kernels): the one-token path is a BFDOT dot
    # per output row, so decode is a weight stream, not the slow bf16 GEMM prefill fits kernel_efficiency on
    from edgesim.llm.runtime import load_llm_runtime

    _, p = load_llm_runtime("executorch").placement("cpu")
    assert p.decode_efficiency("f16") > 2 * p.efficiency("f16")
    assert p.decode_efficiency("w4") == pytest.approx(p.efficiency("w4") * p.decode_compute_scale)
    est = predict("llama-3.2-1b", "snapdragon-8-gen3", "executorch", "bf16", prompt=64, gen=128)
    assert est.decode is not None
    # the step is within 5% of the weight stream alone plus the per-token cost
    m = machine(load_profile("snapdragon-8-gen3"), "cpu", None)
    stream_s = model_work(zoo_arch("llama-3.2-1b"), scheme("bf16", zoo_arch("llama-3.2-1b"))).bytes_per_token / (
        p.bw_efficiency * m.dram_bw_bytes_per_s)
    assert 1.0 / est.decode.tokens_per_s <= 1.05 * (stream_s + p.per_token_overhead_s)


def test_xnnpack_decode_gemv_loses_the_gemm_tile_reuse_per_core_path() -> None:
    # XNNPACK runs decode on its mr=1 kernels: on i8mm cores half of each SMMLA tile is a wasted row and the nibble
    # unpacks feed one row, not four (0.47 of the GEMM's rate for 4-bit weights); on SDOT cores only the unpacks
    # are lost (0.68), and an int8 weight GEMV on SDOT keeps the GEMM's rate
    from edgesim.llm.model import int8_path
    from edgesim.llm.runtime import load_llm_runtime

    _, p = load_llm_runtime("executorch").placement("cpu")
    sd = machine(load_profile("snapdragon-8-gen3"), "cpu", None)
    pi5 = machine(load_profile("rpi5"), "cpu", None)
    assert (int8_path(sd), int8_path(pi5)) == ("i8mm", "dotprod")
    assert p.decode_efficiency("w4", "i8mm") == pytest.approx(0.47 * p.efficiency("w4"))
    assert p.decode_efficiency("w4", "dotprod") == pytest.approx(0.68 * p.efficiency("w4"))
    assert p.decode_efficiency("w8", "dotprod") == pytest.approx(p.efficiency("w8"))


def test_snapdragon_decode_orders_1b_bf16_above_3b_8da4w() -> None:
    # measured on the OnePlus 12: 1B bf16 19.2 tokens/s, 3B SpinQuant / QLoRA 19.7 / 18.5 (mean 19.1): the bf16
    # stream runs its BFDOT GEMV at the memory wall while the 4-bit model pays its GEMV's unpack and wasted tile
    bf16 = predict("llama-3.2-1b", "snapdragon-8-gen3", "executorch", "bf16", prompt=64, gen=128).decode
    w4 = predict("llama-3.2-3b", "snapdragon-8-gen3", "executorch", "w4a8-g32", prompt=64, gen=128).decode
    assert bf16 is not None and w4 is not None
    assert bf16.tokens_per_s > w4.tokens_per_s
