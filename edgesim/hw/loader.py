"""Find, merge (``extends``) and validate hardware and runtime profiles from YAML.

Every failure becomes a one-line ProfileError naming the file and the dotted field path, so a user editing a
profile sees exactly which number is wrong.
"""

from __future__ import annotations

import functools
import math
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from edgesim.errors import ProfileError, did_you_mean
from edgesim.hw import schema
from edgesim.hw.schema import HardwareProfile, RuntimeProfile, RuntimeVersion
from edgesim.hw.uncertain import attach, split_uncertain

_SUFFIXES = (".yaml", ".yml")
_M = TypeVar("_M", bound=BaseModel)


@functools.lru_cache(maxsize=8)
def bundled_dir(sub: str = "") -> Path:
    """The folder of bundled profiles: the repository checkout this code runs from, else the installed package
    data. The checkout comes first: an editable install maps ``edgesim.hw_profiles`` to the checkout it was
    installed from, which need not be the one running (a second worktree would read the first one's profiles)."""
    repo = Path(__file__).resolve().parents[2] / "hw_profiles"
    cand = repo / sub if sub else repo
    if cand.is_dir() and any(cand.glob("*.yaml")):
        return cand
    try:
        from importlib.resources import files

        root = Path(str(files("edgesim.hw_profiles")))
        cand = root / sub if sub else root
        if cand.is_dir() and any(cand.glob("*.yaml")):
            return cand
    except (ModuleNotFoundError, TypeError):
        pass
    return cand


def profiles_dir() -> Path:
    return bundled_dir()


def runtimes_dir() -> Path:
    return bundled_dir("runtimes")


def _ids(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in _SUFFIXES and not p.name.startswith("_"))


def _locate(id_or_path: str | Path, folder: Path, what: str) -> Path:
    text = str(id_or_path)
    path = Path(text)
    if path.suffix in _SUFFIXES or path.is_file():
        if not path.is_file():
            raise ProfileError(f"{what} file not found", file=text)
        return path
    for suffix in _SUFFIXES:
        cand = folder / f"{text}{suffix}"
        if cand.is_file():
            return cand
    known = _ids(folder)
    raise ProfileError(f"unknown {what} '{text}'{did_you_mean(text, known)} (known: {', '.join(known) or 'none'})")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"not UTF-8 text (byte {exc.start})", file=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"YAML syntax error{where}: {problem}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ProfileError(f"top level must be a mapping, got {type(data).__name__}", file=str(path))
    return data


def deep_merge(parent: Any, child: Any) -> Any:
    """Child over parent: mappings merge key by key, everything else (lists included) is replaced. An uncertain
    number in the child ({value: ...}) replaces the parent's whole, range and source included."""
    if isinstance(parent, dict) and isinstance(child, dict) and "value" not in child:
        out = dict(parent)
        for k, v in child.items():
            out[k] = deep_merge(parent[k], v) if k in parent else v
        return out
    return child


def _resolve_extends(path: Path, folder: Path, what: str, chain: tuple[Path, ...] = (),
                     read: list[Path] | None = None) -> dict[str, Any]:
    """The profile at ``path`` merged over its ``extends`` parents; ``read`` collects every file it read."""
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ProfileError(f"'extends' cycle: {cycle}", file=str(path), field="extends")
    data = _read_yaml(path)
    if read is not None:
        read.append(path)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ProfileError("'extends' must be a profile id or relative path", file=str(path), field="extends")
    rel = path.parent / base
    parent_path = rel if (rel.suffix in _SUFFIXES and rel.is_file()) else None
    if parent_path is None:
        try:
            parent_path = _locate(base, path.parent if (path.parent / f"{base}.yaml").is_file() else folder, what)
        except ProfileError as exc:
            raise ProfileError(exc.message, file=str(path), field="extends") from None
    parent = _resolve_extends(parent_path, folder, what, (*chain, path), read)
    merged = deep_merge(parent, data)
    assert isinstance(merged, dict)
    return merged


def _stamp(paths: Sequence[Path]) -> tuple[tuple[Path, int, int], ...] | None:
    try:
        return tuple((p, (st := p.stat()).st_mtime_ns, st.st_size) for p in paths)
    except OSError:
        return None


# Validated profiles by (schema, file): with the stamps (mtime, size) of every file their ``extends`` chain read, so
# an edited file (or parent) is read again. A sweep or validation run loads the same few profiles thousands of times.
_LOADED: dict[tuple[type[BaseModel], Path], tuple[tuple[tuple[Path, int, int], ...], BaseModel]] = {}


def _load_validated(model: type[_M], path: Path, folder: Path, what: str) -> _M:
    key = (model, path.resolve())
    hit = _LOADED.get(key)
    if hit is not None and _stamp([p for p, _, _ in hit[0]]) == hit[0]:
        assert isinstance(hit[1], model)
        return hit[1]
    read: list[Path] = []
    # Uncertain numbers ({value, range|rel, source}) become their value; the ranges ride along on the object.
    data, uncertain = split_uncertain(_resolve_extends(path, folder, what, read=read), str(path))
    obj: _M = attach(_validate(model, data, path), uncertain)
    stamps = _stamp(read)
    if stamps is not None:
        _LOADED[key] = (stamps, obj)
    return obj


def _field_path(loc: tuple[int | str, ...]) -> str:
    # pydantic appends the validator/tag name for unions (e.g. 'list[str]'); drop those for readability.
    parts = [str(p) for p in loc if not re.search(r"[\[\]]|^literal|^function-", str(p))]
    return ".".join(parts)


_FIELD_NAMES = frozenset(
    name for cls in vars(schema).values()
    if isinstance(cls, type) and issubclass(cls, BaseModel) for name in cls.model_fields
)


def _validate(model: type[BaseModel], data: dict[str, Any], path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        field = _field_path(tuple(first["loc"])) or None
        msg = first["msg"].removeprefix("Value error, ")
        # Cross-field validators run on the whole model (empty loc) but start their message with the field path.
        head = re.match(r"([a-z_]+(?:\.[a-z0-9_]+)*)\b", msg)
        if head and head.group(1).split(".")[0] in _FIELD_NAMES:
            field = ".".join(p for p in (field, head.group(1)) if p)
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ProfileError(f"{msg}{more}", file=str(path), field=field) from None


def profile_file(id_or_path: str | Path) -> Path:
    """The YAML file a hardware profile id or path names (a bundled id resolves into the bundled folder)."""
    return _locate(id_or_path, profiles_dir(), "hardware profile")


def load_profile(id_or_path: str | Path, *, clock_mhz: float | None = None) -> HardwareProfile:
    """A bundled hardware profile by id, or a YAML file path; optionally at another clock."""
    folder = profiles_dir()
    path = _locate(id_or_path, folder, "hardware profile")
    profile = _load_validated(HardwareProfile, path, folder, "hardware profile")
    if clock_mhz is not None:
        if not 0 < clock_mhz < math.inf:  # also refuses nan
            raise ProfileError(f"clock must be positive and finite, got {clock_mhz}", field="clock_mhz")
        profile = profile.with_clock(clock_mhz)
    return profile


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)) or (0,)


def _same_version(a: str, b: str) -> bool:
    """'9.0' and '9.0.0' are one release; trailing zero components do not make a version different."""
    ka, kb = list(_version_key(a)), list(_version_key(b))
    while len(ka) > 1 and ka[-1] == 0:
        ka.pop()
    while len(kb) > 1 and kb[-1] == 0:
        kb.pop()
    return ka == kb


def _version_line(v: str) -> str:
    """The release line a version names by its non-numeric prefix: '' for the engine's own releases (a leading
    'v' included), e.g. 'gsdk' for the Silicon Labs Gecko SDK builds of TFLM."""
    head = re.match(r"[A-Za-z_-]*", v.strip())
    line = (head.group(0) if head else "").lower().rstrip("-_")
    return "" if line == "v" else line


def _nearest_version(runtime: RuntimeProfile, wanted: str) -> RuntimeVersion:
    """The known release nearest ``wanted`` within its release line (a TFLM number never resolves to a Gecko SDK
    build, nor the reverse: their numbers count different things)."""
    line = _version_line(wanted)
    same_line = [v for v in runtime.versions if _version_line(v.version) == line]
    if not same_line:
        raise ProfileError(f"runtime '{runtime.id}' has no version '{wanted}' (no release of that line); known: "
                           f"{', '.join(v.version for v in runtime.versions)}", field="runtime")
    target = _version_key(wanted)
    width = max(len(target), *(len(_version_key(v.version)) for v in same_line))

    def padded(k: tuple[int, ...]) -> tuple[int, ...]:
        return k + (0,) * (width - len(k))

    t = padded(target)

    def distance(v: RuntimeVersion) -> tuple[int, ...]:
        # Compare component by component: the first differing component dominates (10.0 is nearer 10.2 than 9.9).
        k = padded(_version_key(v.version))
        return tuple(abs(a - b) for a, b in zip(k, t, strict=True))

    # A version beyond the known ones is nearest the newest (tflm@4.1.1 is 2.11.0, not 2.3.1 by its minor digit),
    # one before them the oldest; one in between is nearest one of its two neighbours in release order.
    ordered = sorted(same_line, key=lambda v: padded(_version_key(v.version)))
    below = [v for v in ordered if padded(_version_key(v.version)) <= t]
    above = [v for v in ordered if padded(_version_key(v.version)) >= t]
    neighbours = [*below[-1:], *above[:1]]
    return min(neighbours, key=distance)


_DEFAULT_VERSION_NOTED: set[str] = set()  # missing-version notices already printed this run


def _note_once(message: str) -> None:
    # A validate run resolves the same spec for many rows: each notice is printed once per run.
    if message not in _DEFAULT_VERSION_NOTED:
        _DEFAULT_VERSION_NOTED.add(message)
        print(message, file=sys.stderr)


def load_runtime(spec: str, note_missing_version: bool = True, profile_default: str | None = None,
                 profile_id: str = "?", quiet: bool = False) -> tuple[RuntimeProfile, RuntimeVersion]:
    """``id`` or ``id@version``; an unknown version resolves to the nearest known one (with a stderr notice).

    Without a version: the release ``profile_default`` (a chip profile's ``default_runtime``) names for this
    engine, the one the chip's numbers were built with, else the engine's default; either with a notice (once per
    run) unless ``note_missing_version`` is off. ``quiet`` prints no notice at all (a caller that may still refuse
    the runtime resolves it quietly first, so a refusal is its one line)."""
    note_missing_version = note_missing_version and not quiet
    rid, _, wanted = str(spec).partition("@")
    if "@" in wanted:  # 'tflm@2.11.0@3' resolved to the 'nearest' of a version that is no version
        raise ProfileError(f"runtime '{spec}' names more than one version; give id@VERSION", field="runtime")
    folder = runtimes_dir()
    path = _locate(rid, folder, "runtime")
    runtime = _load_validated(RuntimeProfile, path, folder, "runtime")
    if not wanted:
        chip_rid, _, chip_version = (profile_default or "").partition("@")
        if chip_rid == rid and chip_version:
            if note_missing_version:
                _note_once(f"edgesim: runtime {rid}: no version given; using {chip_version}, the version profile "
                           f"{profile_id} names")
            wanted = chip_version
        else:
            if note_missing_version and len(runtime.versions) > 1:
                # Releases of one engine differ by up to ~1.5x: say which one stands in.
                _note_once(f"edgesim: runtime {rid}: no version given; using its default {runtime.default_version} "
                           f"(known: {', '.join(v.version for v in runtime.versions)}; pick one with "
                           f"{rid}@VERSION)")
            return runtime, runtime.version(runtime.default_version)
    names = [v.version for v in runtime.versions]
    if wanted in names:
        return runtime, runtime.version(wanted)
    if not re.search(r"\d", wanted):
        raise ProfileError(f"runtime '{rid}' has no version '{wanted}'; known: {', '.join(names)}")
    chosen = _nearest_version(runtime, wanted)
    if _same_version(chosen.version, wanted) or quiet:
        return runtime, chosen  # '9.0' names release 9.0.0: nothing to warn about
    print(
        f"edgesim: runtime {rid} version {wanted} is not modelled; using nearest {chosen.version}",
        file=sys.stderr,
    )
    return runtime, chosen


def _iter_described(folder: Path) -> Iterator[tuple[str, str]]:
    for rid in _ids(folder):
        path = next(folder / f"{rid}{s}" for s in _SUFFIXES if (folder / f"{rid}{s}").is_file())
        try:
            desc = _resolve_extends(path, folder, "profile").get("description", "")
        except ProfileError as exc:
            desc = f"(invalid: {exc.message})"
        yield rid, " ".join(str(desc).split())


def bundled_profile_ids() -> list[str]:
    """Ids of the bundled hardware profiles, from the file names alone (list_profiles parses every YAML for its
    description: seconds, which a question asked per run must not pay)."""
    return _ids(profiles_dir())


def list_profiles() -> list[tuple[str, str]]:
    """(id, description) of every bundled hardware profile."""
    return list(_iter_described(profiles_dir()))


def list_runtimes() -> list[tuple[str, str]]:
    """(id, description) of every bundled runtime profile."""
    return list(_iter_described(runtimes_dir()))
