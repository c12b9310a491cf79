"""Chapter 7 of the memory-wall tutorial: language models. Decode reads every weight once per token, so tokens/s
is DRAM bandwidth / bytes per token; int4 buys tokens/s in proportion to the bytes it removes, prefill does not
care.

Writes llm_roofline.png to $EDGESIM_DOCS_OUT (default build/docs/, untracked) and prints the chapter's table.
`--update-doc` rewrites the generated block of docs/tutorial/memory_wall.md with that table, so the page quotes
numbers the code produces (tests/integration/test_llm_tutorial.py checks the block is current).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from edgesim.llm import predict  # noqa: E402
from edgesim.llm.model import effective_bw  # noqa: E402
from edgesim.llm.predict import setup  # noqa: E402

BOARDS = (("rpi4", "llama.cpp"), ("rpi5", "llama.cpp"), ("jetson-orin-nano", "mlc"))
CPU_FORMATS = ("F16", "Q8_0", "Q6_K", "Q4_K_M", "Q4_0", "Q3_K_S")
GPU_FORMATS = ("fp16", "int4-awq-g128", "q4f16")  # formats MLC loads (q0f16, q4f16_awq, q4f16_1): no w8a8
MODELS = ("qwen2.5-0.5b", "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b")
TABLE_MODEL = "llama-3.2-3b"
BEGIN, END = "<!-- BEGIN GENERATED llm_roofline.py -->", "<!-- END GENERATED llm_roofline.py -->"


def out_path() -> Path:
    out = Path(os.environ.get("EDGESIM_DOCS_OUT", REPO / "build" / "docs"))
    out.mkdir(parents=True, exist_ok=True)
    return out / "llm_roofline.png"


def table() -> str:
    rows = ["| board (runtime) | format | bits/weight | MB read per token | decode tokens/s | prefill tokens/s |",
            "|---|---|---|---|---|---|"]
    for hw, rt in BOARDS:
        for q in (GPU_FORMATS if rt == "mlc" else CPU_FORMATS):
            e = predict(TABLE_MODEL, hw, runtime=rt, quant=q, prompt=512, gen=128)
            if not e.fits or e.decode is None or e.prefill is None:
                rows.append(f"| {hw} ({rt}) | {q} | {e.bits_per_weight:.2f} | - | does not fit | - |")
                continue
            rows.append(f"| {hw} ({rt}) | {q} | {e.bits_per_weight:.2f} | {e.decode_bytes_per_token / 1e6:.0f} | "
                        f"{e.decode.tokens_per_s:.1f} | {e.prefill.tokens_per_s:.1f} |")
    return "\n".join(rows)


def figure(path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 5))
    colours = {"rpi4": "tab:red", "rpi5": "tab:blue", "jetson-orin-nano": "tab:green"}
    for hw, rt in BOARDS:
        s = setup(MODELS[0], hw, rt)
        bw = effective_bw(s.m, s.rt.placement(None)[1])
        xs = [1e7, 3e10]
        ax.loglog(xs, [bw / x for x in xs], "--", color=colours[hw], lw=0.8,
                  label=f"{hw}: {bw / 1e9:.1f} GB/s sustained / bytes")
        for m in MODELS:
            for q in (GPU_FORMATS if rt == "mlc" else CPU_FORMATS):
                e = predict(m, hw, runtime=rt, quant=q, prompt=0, gen=32)
                if e.decode is not None:
                    ax.loglog(e.decode_bytes_per_token, e.decode.tokens_per_s, "o", color=colours[hw], ms=4,
                              alpha=0.8)
    ax.set_xlabel("bytes read per decoded token (weights + KV cache)")
    ax.set_ylabel("decode tokens/s")
    ax.set_title("LLM decode is a bandwidth roofline (0.5B to 8B models, all formats)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_doc(text: str) -> None:
    doc = REPO / "docs" / "tutorial" / "memory_wall.md"
    page = doc.read_text(encoding="utf-8")
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    path = out_path()
    figure(path)
    text = table()
    print(text)
    print(f"wrote {path}")
    if "--update-doc" in sys.argv:
        update_doc(text)


if __name__ == "__main__":
    main()
