"""YOLOv8n (int8, 640x640) on the issue #17 boards with each board's NPU runtime: the latency/energy table and
Pareto front that `edgesim compare` prints, written into docs/profiles.md between markers, plus the plot.

    python docs/npu_compare.py
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgesim.explore.compare import CompareRow, compare, format_compare, plot_compare  # noqa: E402

BOARDS = [("rk3588", "rknn"), ("rk3576", "rknn"), ("rk3566", "rknn"), ("hailo-8", "hailort"),
          ("hailo-8l", "hailort"), ("hailo-10h", "hailort"), ("core-ultra-7-165h", "openvino-npu"),
          ("core-ultra-9-288v", "openvino-npu"), ("qcs6490", "qnn"), ("snapdragon-8-gen3", "qnn"),
          ("snapdragon-x-elite", "qnn"), ("imx8mp", "tflite-vx"), ("imx93", "tflite-ethosu"), ("vs680", "synap"),
          ("k230", "nncase")]
BEGIN, END = "<!-- npu-compare:begin -->", "<!-- npu-compare:end -->"
COMMAND = ("edgesim compare yolov8n --quant int8 " + " ".join(f"--hw {h}" for h, _ in BOARDS) + " "
           + " ".join(f"--runtime {r}" for _, r in BOARDS))


PAGE = REPO / "docs" / "profiles.md"


def rows() -> list[CompareRow]:
    return compare(["yolov8n"], [h for h, _ in BOARDS], [r for _, r in BOARDS], quant="int8")


def block(compared: list[CompareRow]) -> str:
    """The text between the markers (tests/unit/test_docs_npu_compare.py checks the page quotes it)."""
    return f"```\n$ {COMMAND}\n{format_compare(compared)}\n```\n![YOLOv8n across boards](npu_yolov8n_compare.png)"


def quoted() -> str:
    """The text the page holds between the markers now."""
    return PAGE.read_text(encoding="utf-8").partition(BEGIN)[2].partition(END)[0].strip("\n")


def main() -> None:
    compared = rows()
    plot_compare(compared, REPO / "docs" / "npu_yolov8n_compare.png")
    text = PAGE.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    PAGE.write_text(f"{head}{BEGIN}\n{block(compared)}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
