"""`edgesim llm-fit --reference MY.csv -o DIR`: a user's refit of the shipped runtime fits, written outside the package.

The package's ID.fit.yaml overlays are the maintainers' fit on the bundled llm_edge.csv; every prediction of the
install reads them, so a user's few rows must never overwrite them. A user's fit starts from the shipped fit, refits
on the user's rows, and keeps only the fields those rows constrain (edgesim.llm.fit.constrained_fields): one decode
row moves the bandwidth efficiency of its placement and nothing else. Each result is a runtime YAML, DIR/ID.yaml,
that ``inherits`` the shipped runtime (its sourced YAML and its shipped fit) and carries just those fields and the
user's fit record; it is used as ``edgesim llm ... --runtime DIR/ID.yaml``, as a ``calibrate -o`` output is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edgesim.errors import EdgesimError
from edgesim.llm.fit import constrained_fields, serving_constrained_fields
from edgesim.llm.reference import RefRow, read_reference
from edgesim.llm.runtime import FitRecord, engine_of, load_llm_runtime, runtime_ids, runtimes_dir
from edgesim.llm.validate import (
    FIT_COMMAND,
    _key,
    _predictable,
    contradictions,
    fit_eligible,
    fit_rows,
    fitted_runtimes,
    unpredictable,
)

# runtime id -> section ('placements' | 'serving') -> unit -> the fields written
_Sections = dict[str, dict[str, dict[str, dict[str, Any]]]]


def check_output_dir(out_dir: str | Path) -> Path:
    """The folder a user's overlays go to; never the package's profiles (every later prediction reads those)."""
    out = Path(out_dir).expanduser().resolve()
    profiles = runtimes_dir().resolve().parent  # hw_profiles/ of the running checkout or installed package
    if out == profiles or profiles in out.parents:
        raise EdgesimError(f"-o points into the package's profiles ({profiles}); a user's fit goes elsewhere "
                           "(the package's ID.fit.yaml are the shipped fit every prediction reads)", field="output")
    if out.exists() and not out.is_dir():
        raise EdgesimError("-o must be a folder (the fit writes one runtime YAML per runtime)", file=str(out_dir),
                           field="output")
    return out


def _pick(data: dict[str, Any], paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """The entries of ``data`` at ``paths`` (nested as in ``data``)."""
    out: dict[str, Any] = {}
    for path in sorted(paths):
        src = _at(data, path)
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = src
    return out


def _at(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def _leaves(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(key path, value) of every non-mapping entry of ``data``, sorted."""
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in sorted(data.items()):
        out += _leaves(v, (*prefix, k)) if isinstance(v, dict) else [((*prefix, k), v)]
    return out


def _fit_record(rec: FitRecord | None) -> dict[str, Any]:
    assert rec is not None
    # every key, None included: the record replaces the shipped one key by key (inherits merges mappings)
    return rec.model_dump()


@dataclass(frozen=True)
class UserFit:
    paths: list[Path]  # the runtime YAMLs written
    unused: dict[int, str]  # CSV line -> why the fit did not use it


def unused_rows(rows: list[RefRow], bad: dict[int, str]) -> dict[int, str]:
    """Why each row the fit leaves out is left out (a user's row must not vanish without a word)."""
    ok = [r for r in rows if r.line not in bad]
    chosen = fit_rows(ok)
    used = {r.line for fr in chosen.values() for r in fr}
    other = {a: b for pair in contradictions(ok) for a, b in (pair[:2], pair[1::-1])}
    out = {line: f"cannot be predicted: {why}" for line, why in bad.items()}
    for r in ok:
        if r.line in used:
            continue
        if not fit_eligible(r):
            out[r.line] = "its note flags it doubtful"
        elif r.line in other:
            out[r.line] = f"contradicts line {other[r.line]} (same setup, >30% apart)"
        else:
            fr = chosen[_key(r)]
            out[r.line] = (f"held out: {_key(r)[0]} on the {r.unit} is fitted on one set of rows, the {len(fr)} "
                           f"{fr[0].runtime} rows on {fr[0].hw} (the most of any board and runtime)")
    return dict(sorted(out.items()))


def user_sections(rows: list[RefRow], reference: str) -> _Sections:
    """Per runtime file: the fields the user's rows constrain, at their refitted values, and the fit records."""
    chosen = fit_rows(rows)
    out: _Sections = defaultdict(lambda: defaultdict(dict))
    engines: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for (engine, unit), rt in fitted_runtimes(rows, reference, start=True).items():
        fr = chosen[(engine, unit)]
        if rt.id != engine:  # a serving runtime's own cost (Ollama on a Jetson GPU)
            sv = rt.serving[unit]  # type: ignore[index]
            fields = _pick(sv.model_dump(), serving_constrained_fields(fr))
            out[rt.id]["serving"][unit] = {**fields, "fit": _fit_record(sv.fit)}
            continue
        p = rt.placements[unit]  # type: ignore[index]
        paths = constrained_fields(fr, load_llm_runtime(engine), unit)
        engines[engine][unit] = {**_pick(p.model_dump(), paths), "fit": _fit_record(p.fit)}
    # the engine's placement fit holds for the runtimes that run its kernels (Ollama's rows fit llama.cpp's)
    for rid in runtime_ids():
        for unit, fields in engines.get(engine_of(rid), {}).items():
            if unit in load_llm_runtime(rid).placements:
                out[rid]["placements"][unit] = fields
    return out


def _shipped(rid: str, section: str, unit: str) -> str:
    rt = load_llm_runtime(rid)
    rec = (rt.serving[unit] if section == "serving" else rt.placements[unit]).fit  # type: ignore[index]
    if rec is None:
        return "the sourced priors (no shipped fit)"
    owner = rid if section == "serving" else engine_of(rid)  # a placement's fit is its engine's (ollama: llama.cpp)
    return f"{owner}.fit.yaml, fitted on {len(rec.rows)} rows of {rec.reference}"


def _text(rid: str, sections: dict[str, dict[str, dict[str, Any]]], reference: str, out: Path) -> str:
    lines = [f"# Written by '{FIT_COMMAND} --reference {reference} -o {out}'; re-run it rather than editing.",
             f"# Runtime {rid} as shipped (inherits: its YAML and shipped fit), with only the fields the rows of "
             f"{reference} constrain refitted:"]
    rt = load_llm_runtime(rid)
    for section, units in sorted(sections.items()):
        for unit, fields in sorted(units.items()):
            lines.append(f"#   {section}.{unit}, from {reference} lines "
                         f"{', '.join(str(x) for x in fields['fit']['rows'])} (shipped -> refitted):")
            shipped = (rt.serving if section == "serving" else rt.placements)[unit].model_dump()  # type: ignore[index]
            for path, value in _leaves({k: v for k, v in fields.items() if k != "fit"}):
                lines.append(f"#     {'.'.join(path)}: {_at(shipped, path)} -> {value}")
            lines.append(f"#     every other field as shipped: {_shipped(rid, section, unit)}")
    lines.append(f"# Use: edgesim llm MODEL --hw HW --runtime {out / (rid + '.yaml')}")
    body = {"inherits": rid, **{k: {u: dict(v) for u, v in units.items()} for k, units in sorted(sections.items())}}
    return "\n".join(lines) + "\n" + yaml.safe_dump(body, sort_keys=False, width=110)


def _write_all(texts: dict[str, str], out: Path) -> list[Path]:
    """Every file or none: written to a scratch folder inside ``out``, then each renamed into place."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".llm-fit-", dir=out))
    except OSError as exc:
        raise EdgesimError(f"cannot write there: {exc.strerror or exc}", file=str(out), field="output") from None
    try:
        for name, text in texts.items():
            (scratch / name).write_text(text, encoding="utf-8")
        for name in texts:  # renames within one folder: once every file is whole
            os.replace(scratch / name, out / name)
    except OSError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise EdgesimError(f"cannot write there: {exc.strerror or exc}", file=str(out), field="output") from None
    shutil.rmtree(scratch, ignore_errors=True)
    return [out / name for name in texts]


def write_user_fits(reference: str | Path, out_dir: str | Path) -> UserFit:
    """Refit the shipped fit on a user's reference CSV and write DIR/ID.yaml per runtime it changes; the package's
    overlays are untouched. A CSV with no row that fits any runtime placement is refused, nothing written."""
    out = check_output_dir(out_dir)
    ref = str(reference)
    rows = read_reference(ref)
    bad = unpredictable(rows)
    sections = user_sections(_predictable(rows, ref, bad), Path(ref).name)
    if not sections:
        raise EdgesimError("no row can be fitted (each is flagged doubtful or contradicts another)", file=ref)
    texts = {f"{rid}.yaml": _text(rid, s, Path(ref).name, out) for rid, s in sorted(sections.items())}
    return UserFit(_write_all(texts, out), unused_rows(rows, bad))
