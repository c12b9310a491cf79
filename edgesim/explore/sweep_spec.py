"""Sweep specifications (YAML), validated like hardware profiles: a bad field names the file and the field.

A spec declares base profile(s), parameter axes as dotted paths into the profile (list entries are addressed
by their ``name``, e.g. ``memories.sram.size_bytes`` or ``units.npu.macs_per_cycle.int8``, or by index),
models (zoo names, zoo names with choices, or model files) and an optional runtime. The design space is the
cartesian product profiles x axis values x models; every point has a deterministic key so results can be
appended and resumed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edgesim.errors import EdgesimError, ProfileError
from edgesim.passes.choices import QuantPreset

AxisValue = int | float | str | bool


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelSpec(_Frozen):
    """A zoo model (``zoo``, with builder ``choices``) or a model file (``path``)."""

    zoo: str | None = None
    path: str | None = None
    choices: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    @field_validator("label")
    @classmethod
    def _label(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("label must not be empty")
        return v

    def model_post_init(self, _ctx: Any) -> None:
        if (self.zoo is None) == (self.path is None):
            raise ValueError("give exactly one of 'zoo' or 'path'")
        if self.path is not None and self.choices:
            raise ValueError("choices apply to zoo models only")

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.zoo is not None:
            extra = ",".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in sorted(self.choices.items()))
            return f"{self.zoo}[{extra}]" if extra else self.zoo
        return Path(str(self.path)).stem


class SweepSpec(_Frozen):
    name: str = Field(default="sweep", min_length=1)
    profiles: list[str] = Field(min_length=1)
    axes: dict[str, list[AxisValue]] = Field(default_factory=dict)
    models: list[ModelSpec] = Field(min_length=1)
    runtime: str | None = None
    quant: str | None = None  # post-training quantization preset applied to float models
    chunk_size: int = Field(default=4, gt=0)

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, v: Any) -> Any:
        # A bare string is a zoo name, or a file when it looks like one.
        if isinstance(v, list):
            out = []
            for m in v:
                if isinstance(m, str):
                    is_file = Path(m).suffix.lower() in (".tflite", ".onnx", ".csv")
                    out.append({"path": m} if is_file else {"zoo": m})
                else:
                    out.append(m)
            return out
        return v

    @field_validator("quant")
    @classmethod
    def _quant(cls, v: str | None) -> str | None:
        if v is not None and v not in list(QuantPreset):
            raise ValueError(f"unknown quantization preset '{v}'; choose {', '.join(QuantPreset)}")
        return v

    @field_validator("axes")
    @classmethod
    def _axes(cls, v: dict[str, list[AxisValue]]) -> dict[str, list[AxisValue]]:
        for path, values in v.items():
            if not re.fullmatch(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*", path):
                raise ValueError(f"axis '{path}' is not a dotted path like memories.sram.size_bytes")
            if not values:
                raise ValueError(f"axis '{path}' has no values")
            # 80 and 80.0 are one value (one design point evaluated twice under two keys before)
            same = {json.dumps(float(x) if isinstance(x, int) and not isinstance(x, bool) else x) for x in values}
            if len(same) != len(values):
                raise ValueError(f"axis '{path}' repeats a value")
        return v


@dataclass(frozen=True)
class SweepPoint:
    """One design point: everything a worker needs, picklable and independent of the spec file."""

    index: int
    key: str
    profile: str  # bundled id or absolute path
    overrides: tuple[tuple[str, AxisValue], ...]
    model: ModelSpec
    model_ref: str  # zoo name or absolute path
    runtime: str | None
    quant: str | None = None


def _set_path(data: Any, path: str, value: Any) -> None:
    parts = path.split(".")
    cur = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(cur, list):
            match = [j for j, item in enumerate(cur) if isinstance(item, dict) and item.get("name") == part]
            if match:
                idx = match[0]
            elif part.isdigit() and int(part) < len(cur):
                idx = int(part)
            else:
                names = [str(item.get("name")) for item in cur if isinstance(item, dict)]
                raise KeyError(f"'{where}': no list entry named '{part}' (entries: {', '.join(names)})")
            if last:
                cur[idx] = value
            else:
                cur = cur[idx]
        elif isinstance(cur, dict):
            if part not in cur:
                # Optional mappings (precision tables) may legitimately gain a key; anything else is a typo.
                if last and i > 0:
                    cur[part] = value
                    return
                raise KeyError(f"'{where}' does not exist in the profile")
            if last:
                cur[part] = value
            elif cur[part] is None:
                raise KeyError(f"'{where}' is not set in the base profile")
            else:
                cur = cur[part]
        else:
            raise KeyError(f"'{where}' goes inside a plain value")


def apply_overrides(base: Any, overrides: tuple[tuple[str, Any], ...] | list[tuple[str, Any]],
                    source: str = "") -> Any:
    """A validated copy of the profile ``base`` with dotted-path ``overrides`` applied. ProfileError names
    the offending axis."""
    from edgesim.hw.schema import HardwareProfile

    if not overrides:
        return base
    data = copy.deepcopy(base.model_dump(mode="json"))
    for path, value in overrides:
        try:
            _set_path(data, path, value)
        except KeyError as err:
            raise ProfileError(str(err.args[0]), file=source or None, field=f"axes.{path}") from None
    try:
        return HardwareProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        vals = ", ".join(f"{p}={v!r}" for p, v in overrides)
        raise ProfileError(f"profile variant ({vals}) is invalid: {loc}: {first['msg']}", file=source or None,
                           field=f"axes.{overrides[0][0]}" if len(overrides) == 1 else "axes") from None


def point_key(profile: str, overrides: tuple[tuple[str, Any], ...], model: ModelSpec, runtime: str | None,
              quant: str | None = None) -> str:
    """Deterministic id of a design point: the same point gets the same key in every run of every spec."""
    doc: dict[str, Any] = {"profile": profile, "axes": sorted(overrides), "model": model.model_dump(mode="json"),
                           "runtime": runtime}
    if quant is not None:
        doc["quant"] = quant
    canon = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canon.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class LoadedSpec:
    spec: SweepSpec
    source: str
    points: tuple[SweepPoint, ...]

    @property
    def axis_names(self) -> list[str]:
        return list(self.spec.axes)


def _resolve_profile(ref: str, base_dir: Path) -> str:
    p = Path(ref)
    if p.suffix.lower() in (".yaml", ".yml"):
        p = p if p.is_absolute() else base_dir / p
        return str(p.resolve())
    return ref


def _validate(data: Any, source: str) -> SweepSpec:
    if not isinstance(data, dict):
        raise EdgesimError("a sweep spec must be a YAML mapping", file=source)
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"] if not re.search(r"[\[\]]|^function-", str(p)))
        more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        msg = first["msg"].removeprefix("Value error, ")
        raise EdgesimError(f"{msg}{more}", file=source, field=field or None) from None


def expand_spec(spec: SweepSpec, source: str = "<spec>", base_dir: Path | None = None,
                check_profiles: bool = True) -> LoadedSpec:
    """All design points of ``spec``; profile variants are validated up front so a bad axis value fails
    before any work starts."""
    from edgesim.pipeline import resolve_profile as load_profile

    base = base_dir or Path.cwd()
    profiles = [_resolve_profile(p, base) for p in spec.profiles]
    axis_items = list(spec.axes.items())
    combos = list(itertools.product(*[vals for _, vals in axis_items])) if axis_items else [()]
    points: list[SweepPoint] = []
    for prof_ref in profiles:
        if check_profiles:
            try:
                base_profile = load_profile(prof_ref)
            except EdgesimError as err:
                raise EdgesimError(err.one_line(), file=source, field="profiles") from None
        for combo in combos:
            overrides = tuple((name, val) for (name, _), val in zip(axis_items, combo, strict=True))
            if check_profiles:
                apply_overrides(base_profile, overrides, source)
            for model in spec.models:
                ref = model.zoo if model.zoo is not None else str(_model_file(str(model.path), base))
                key = point_key(prof_ref, overrides, model, spec.runtime, spec.quant)
                points.append(SweepPoint(len(points), key, prof_ref, overrides, model, str(ref), spec.runtime,
                                         spec.quant))
    for model in spec.models:
        if model.path is not None and not _model_file(model.path, base).is_file():
            raise EdgesimError(f"model file '{model.path}' does not exist", file=source, field="models")
    if check_profiles:
        _check_models_and_runtime(spec, source)
    keys = [p.key for p in points]
    if len(set(keys)) != len(keys):
        raise EdgesimError("the spec lists the same design point twice (duplicate profiles or models)",
                           file=source)
    return LoadedSpec(spec, source, tuple(points))


def _check_models_and_runtime(spec: SweepSpec, source: str) -> None:
    """A typo in a zoo name, a builder option or the runtime id is the spec's error, found before the first point
    (not one failed row per point of a sweep that otherwise 'succeeds')."""
    from edgesim.hw.loader import load_runtime
    from edgesim.zoo import check_choices

    for model in spec.models:
        if model.zoo is not None:
            try:
                check_choices(model.zoo, dict(model.choices))
            except EdgesimError as err:
                raise EdgesimError(err.message, file=source, field=f"models.{err.field}" if err.field else "models"
                                   ) from None
    if spec.runtime is not None:
        try:
            load_runtime(spec.runtime, quiet=True)
        except EdgesimError as err:
            raise EdgesimError(err.one_line(), file=source, field="runtime") from None


def _abs(path: str, base: Path) -> Path:
    p = Path(path)
    return (p if p.is_absolute() else base / p).resolve()


def _model_file(path: str, base: Path) -> Path:
    """A model file relative to the spec's folder, else a bundled model by its bare file name, as ``edgesim run``
    and ``edgesim models`` take it (a spec naming kws_ref_model.tflite is not a missing file)."""
    from edgesim.files import data_path

    found = _abs(path, base)
    bundled = data_path("models", path)
    if not found.exists() and Path(path).parent == Path(".") and bundled.is_file():
        return bundled.resolve()
    return found


def load_sweep_spec(path: str | Path, check_profiles: bool = True) -> LoadedSpec:
    """Read, validate and expand a sweep spec YAML file."""
    src = Path(path)
    if not src.is_file():
        raise EdgesimError(f"sweep spec '{src}' does not exist")
    try:
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise EdgesimError(f"sweep spec '{src}' is not UTF-8 text", file=str(src)) from None
    except yaml.YAMLError as err:
        raise EdgesimError(f"not valid YAML: {' '.join(str(err).split())}", file=str(src)) from None
    spec = _validate(data, str(src))
    return expand_spec(spec, str(src), src.resolve().parent, check_profiles)


def spec_from_dict(data: dict[str, Any], source: str = "<spec>", base_dir: Path | None = None) -> LoadedSpec:
    return expand_spec(_validate(data, source), source, base_dir)


__all__ = ["LoadedSpec", "ModelSpec", "SweepPoint", "SweepSpec", "apply_overrides", "expand_spec",
           "load_sweep_spec", "point_key", "spec_from_dict"]
