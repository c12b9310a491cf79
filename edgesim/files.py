"""Files: atomic outputs (written to a temporary file beside the target and renamed, so no half-written file) and
the data shipped inside the package."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from edgesim.errors import EdgesimError

DATA_DIR = Path(__file__).resolve().parent / "data"
# The bundled language-model configs (edgesim.llm's zoo), named here, below every door: the model loader sends such
# a name to `edgesim llm` at every door (run, compare, sweep, report, the API) without importing llm above it.
LLM_CONFIG_DIR = Path(__file__).resolve().parent / "llm" / "data" / "configs"


def language_model_names() -> list[str]:
    """The bundled LLM config names (``edgesim llm`` takes them; no CNN door does)."""
    return sorted(p.stem for p in LLM_CONFIG_DIR.glob("*.json"))


def data_path(*parts: str) -> Path:
    """A file shipped in the package (``edgesim/data``: bundled models and reference measurements)."""
    return DATA_DIR.joinpath(*parts)


def bundled_models() -> list[Path]:
    """The bundled model files (the MLPerf Tiny int8 TFLite models), by name."""
    return sorted(data_path("models").glob("*.tflite"))


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``; on any failure the target is untouched."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise EdgesimError(f"cannot write '{target}': directory '{directory}' does not exist")
    if target.is_dir():
        raise EdgesimError(f"cannot write '{target}': it is a directory")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:  # a read-only or pseudo file system (/proc), a full disk: one line, not a traceback
        raise EdgesimError(f"cannot write '{target}': {exc.strerror or exc}") from None
    os.close(fd)
    # mkstemp creates 0600; give the result the permissions a plain open() would (0666 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EdgesimError(f"cannot write '{target}': {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_csv(path: str | Path, fieldnames: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    """A CSV with a header row, one line per mapping, written atomically."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(fieldnames))
            w.writeheader()
            for r in rows:
                w.writerow(r)

    return atomic_write(path, write)
