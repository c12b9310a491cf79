"""Build the memory-wall tutorial: run every script into the build folder, then check (or update) the numbers
memory_wall.md quotes.

    python docs/tutorial/build.py            # run the scripts into docs/tutorial/_build, check the page
    python docs/tutorial/build.py --update   # ... and rewrite the page's quoted numbers from this run

The page marks every number it quotes as ``<!--q:SCRIPT.key-->text<!--/q-->``; each script records the text it
computes for ``key`` with ``_common.quote``. Nothing tracked is written except by ``--update``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PAGE = HERE / "memory_wall.md"
SCRIPTS = ("ai_vs_sram", "tiling", "fusion", "quantization", "pruning", "thermal")
MARK = re.compile(r"<!--q:([\w.-]+)-->(.*?)<!--/q-->")


def run_scripts(out: Path, scripts: tuple[str, ...] = SCRIPTS) -> dict[str, str]:
    """Run each script (full settings) writing into ``out``; the numbers they recorded, as 'script.key'."""
    env = {**os.environ, "EDGESIM_DOCS_OUT": str(out), "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("EDGESIM_DOCS_FAST", None)
    for name in scripts:
        r = subprocess.run([sys.executable, str(HERE / f"{name}.py")], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"{name}.py failed:\n{r.stderr[-3000:]}")
        sys.stdout.write(r.stdout)
    return read_numbers(out)


def read_numbers(out: Path) -> dict[str, str]:
    numbers: dict[str, str] = {}
    for path in sorted((out / "numbers").glob("*.json")):
        numbers.update({f"{path.stem}.{k}": v for k, v in json.loads(path.read_text()).items()})
    return numbers


def quoted(page: str) -> dict[str, str]:
    """The numbers the page quotes, by key."""
    return {m.group(1): m.group(2) for m in MARK.finditer(page)}


def mismatches(page: str, numbers: dict[str, str]) -> list[str]:
    out = []
    for key, text in quoted(page).items():
        if key not in numbers:
            out.append(f"{key}: quoted as '{text}' but no script computes it")
        elif numbers[key] != text:
            out.append(f"{key}: the page says '{text}', the script computes '{numbers[key]}'")
    return out


def update(page: str, numbers: dict[str, str]) -> str:
    return MARK.sub(lambda m: f"<!--q:{m.group(1)}-->{numbers.get(m.group(1), m.group(2))}<!--/q-->", page)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "_build")
    ap.add_argument("--update", action="store_true", help="rewrite the quoted numbers in memory_wall.md")
    args = ap.parse_args()
    numbers = run_scripts(args.out)
    page = PAGE.read_text(encoding="utf-8")
    if args.update:
        PAGE.write_text(update(page, numbers), encoding="utf-8")
        page = PAGE.read_text(encoding="utf-8")
    bad = mismatches(page, numbers)
    for line in bad:
        print(line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
