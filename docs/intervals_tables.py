"""Regenerate the figures docs/intervals.md quotes (coverage tables, LLM table, interval cost ratios) from the
shipped calibration and benchmarks/results/intervals.json; never typed by hand.

    python docs/intervals_tables.py      # rewrites the blocks between the intervals-* markers
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgesim.cli.intervals_doc import rewrite_doc  # noqa: E402

if __name__ == "__main__":
    print(f"wrote {rewrite_doc(REPO / 'docs' / 'intervals.md')}")
