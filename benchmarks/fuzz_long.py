"""A longer fuzz budget than CI: the tests/fuzz and tests/property suites with EDGESIM_FUZZ_SCALE examples
multiplied, plus an atheris (libFuzzer) run of the importers when atheris is installed.

Run: python benchmarks/fuzz_long.py [--scale 50] [--atheris-seconds 300]
     [--target tflite|onnx|profile|scalesim]
Exit status is pytest's (0 = no failing input found). Failing inputs are printed by hypothesis with the exact
example; atheris writes crash-* files into the current directory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_hypothesis(scale: float, suites: list[str]) -> int:
    env = {**os.environ, "EDGESIM_FUZZ_SCALE": str(scale)}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::DeprecationWarning",
        *suites,
    ]
    print("+", " ".join(cmd), f"(EDGESIM_FUZZ_SCALE={scale})", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def _atheris_target(target: str) -> None:
    """libFuzzer entry point: every input must import or raise EdgesimError."""
    import atheris

    with atheris.instrument_imports():
        # Imported here (not lazily inside load_model) so the importers are instrumented for coverage.
        import edgesim.frontends.onnx_import
        import edgesim.frontends.tflite_import  # noqa: F401
        from edgesim.api import load_model
        from edgesim.errors import EdgesimError
        from edgesim.frontends.scalesim import read_config, read_topology
        from edgesim.hw.loader import load_profile
    suffix = {"tflite": ".tflite", "onnx": ".onnx", "profile": ".yaml", "scalesim": ".csv"}[target]
    tmp = Path(tempfile.mkdtemp()) / f"input{suffix}"

    def one(data: bytes) -> None:
        tmp.write_bytes(data)
        try:
            if target == "profile":
                load_profile(tmp)
            elif target == "scalesim":
                read_topology(tmp)
                read_config(tmp)
            else:
                load_model(tmp)
        except EdgesimError:
            pass

    # libFuzzer sees everything after '--atheris-child TARGET' (its -flags and the corpus directory).
    rest = sys.argv[sys.argv.index("--atheris-child") + 2 :]
    atheris.Setup(sys.argv[:1] + rest, one)
    atheris.Fuzz()


def run_atheris(target: str, seconds: int) -> int:
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed (pip install atheris); skipping the libFuzzer run")
        return 0
    corpus = Path(tempfile.mkdtemp(prefix=f"corpus-{target}-"))
    seeds = {
        "tflite": ROOT.parent / "shared" / "models",
        "profile": ROOT / "hw_profiles",
        "scalesim": ROOT.parent / "shared" / "reference" / "scalesim",
    }.get(target)
    if seeds and seeds.is_dir():
        for f in sorted(seeds.iterdir()):
            if f.is_file() and f.stat().st_size < 2_000_000:
                (corpus / f.name).write_bytes(f.read_bytes())
    cmd = [
        sys.executable,
        __file__,
        "--atheris-child",
        target,
        f"-max_total_time={seconds}",
        "-timeout=30",
        str(corpus),
    ]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--scale",
        type=float,
        default=50.0,
        help="multiply every fuzz test's examples (default 50; 0 skips them)",
    )
    ap.add_argument("--suites", nargs="*", default=["tests/fuzz", "tests/property"])
    ap.add_argument("--atheris-seconds", type=int, default=0, help="seconds per atheris target (0 = skip)")
    ap.add_argument("--target", choices=["tflite", "onnx", "profile", "scalesim"], action="append")
    ap.add_argument("--atheris-child", help=argparse.SUPPRESS)
    if "--atheris-child" in sys.argv:
        _atheris_target(sys.argv[sys.argv.index("--atheris-child") + 1])
        return 0
    args = ap.parse_args()
    rc = run_hypothesis(args.scale, args.suites) if args.scale > 0 else 0  # --scale 0: atheris only
    if args.atheris_seconds > 0:
        for target in args.target or ["tflite", "profile", "scalesim"]:
            rc = rc or run_atheris(target, args.atheris_seconds)
    return rc


if __name__ == "__main__":
    sys.exit(main())
