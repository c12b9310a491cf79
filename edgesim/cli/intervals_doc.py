"""The figures docs/intervals.md quotes, generated from the shipped calibration and the benchmark results (never
typed): the coverage tables at 80% and 90%, the LLM table, the interval cost ratios, the declared unmodelled
costs of the bundled runtimes and the held-out check of the device calibration's groupings.

``edgesim validate --calibrate-intervals`` rewrites the blocks between the markers when it runs from a checkout
(docs/intervals.md next to the package); ``python docs/intervals_tables.py`` does it alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgesim.errors import EdgesimError
from edgesim.files import atomic_write_text

# the blocks the calibration files alone give ('edgesim validate --calibrate-intervals' rewrites them), then the rest
CALIBRATION_BLOCKS = ("coverage", "llm-coverage", "device-offsets")
BLOCKS = (*CALIBRATION_BLOCKS, "cost", "unmodelled")


def _marker(name: str) -> tuple[str, str]:
    return f"<!-- intervals-{name}:begin -->", f"<!-- intervals-{name}:end -->"


def checkout_doc() -> Path | None:
    """docs/intervals.md of the checkout the package runs from (None in an installed wheel)."""
    path = Path(__file__).resolve().parents[2] / "docs" / "intervals.md"
    return path if path.is_file() else None


def _coverage_block() -> str:
    from edgesim.validate.coverage_tables import coverage_report
    from edgesim.validate.intervals import shipped_residuals

    res = shipped_residuals()
    return "\n\n".join(f"```text\n{coverage_report(res, c)}\n```" for c in (0.8, 0.9))


def _llm_block() -> str:
    from edgesim.llm.intervals import llm_coverage_table, llm_table

    return f"```text\n{llm_coverage_table(list(llm_table()[1]), 0.8)}\n```"


def _device_offsets_block() -> str:
    """The held-out check of the device calibration's groupings, as the shipped npu_device_scales.json keeps it."""
    from edgesim.pipeline.device_calibration import read_shipped
    from edgesim.validate.device_offsets import OffsetCheck

    check = read_shipped(lambda raw: OffsetCheck.levels_from_dict(raw["check"]))
    return f"```text\n{check.table()}\n```"


def cost_table(results: Path) -> str:
    """The interval cost ratios of benchmarks/results/intervals.json (``benchmarks/bench_intervals.py``)."""
    try:
        rows = json.loads(results.read_text(encoding="utf-8"))["rows"]
    except (OSError, ValueError, KeyError) as exc:
        raise EdgesimError(f"cannot read the interval benchmark ({exc}); run benchmarks/bench_intervals.py",
                           file=str(results)) from None
    out = ["| model | ranged fields | fresh process | in process, new chip | in process, loop |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['model']} | {r['ranged_fields']} | x{r['fresh_ratio']:.2f} | x{r['new_chip_ratio']:.2f} | "
                   f"x{r['loop_ratio']:.2f} |")
    return "\n".join(out)


def block(name: str, doc: Path) -> str:
    if name == "coverage":
        return _coverage_block()
    if name == "unmodelled":  # the declared unmodelled costs of the bundled runtimes (edgesim.report.gaps_doc)
        from edgesim.report.gaps_doc import bundled_gaps_markdown

        return bundled_gaps_markdown()
    if name == "llm-coverage":
        return _llm_block()
    if name == "device-offsets":
        return _device_offsets_block()
    return cost_table(doc.parents[1] / "benchmarks" / "results" / "intervals.json")


def rewrite_doc(doc: Path, names: tuple[str, ...] = BLOCKS) -> Path:
    """Replace each named block between its markers in ``doc`` by what the code produces now."""
    text = doc.read_text(encoding="utf-8")
    for name in names:
        begin, end = _marker(name)
        if begin not in text or end not in text:
            raise EdgesimError(f"markers {begin} / {end} missing", file=str(doc))
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{block(name, doc)}\n{end}{tail}"
    atomic_write_text(doc, text)
    return doc
