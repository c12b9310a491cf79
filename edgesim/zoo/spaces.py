"""NAS search spaces shipped as data (workloads/*.yaml): the choices a zoo builder accepts, for explorers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edgesim.errors import EdgesimError


@dataclass(frozen=True)
class Choice:
    """A list argument of ``length`` entries, each one of ``values``."""

    name: str
    length: int
    values: tuple[int, ...]


@dataclass(frozen=True)
class Stage:
    width: int
    stride: int
    se: bool
    act: str


@dataclass(frozen=True)
class SearchSpace:
    name: str
    model: str  # zoo name that builds a point of the space
    stages: tuple[Stage, ...]
    blocks_per_stage: int
    choices: tuple[Choice, ...]
    resolutions: tuple[int, ...]
    defaults: dict[str, Any]

    def choice(self, name: str) -> Choice:
        for c in self.choices:
            if c.name == name:
                return c
        raise EdgesimError(f"search space '{self.name}' has no choice '{name}'", field=name)

    def sample(self, rng: np.random.Generator, resolution: bool = False) -> dict[str, Any]:
        """A uniformly random point, as keyword arguments for ``zoo.build(self.model, **point)``."""
        point: dict[str, Any] = {
            c.name: [int(v) for v in rng.choice(c.values, size=c.length)] for c in self.choices
        }
        if resolution:
            point["resolution"] = int(rng.choice(self.resolutions))
        return point

    def num_architectures(self) -> int:
        """Distinct networks (entries beyond a stage's depth do not count), excluding resolution."""
        per_block = len(self.choice("kernel_sizes").values) * len(self.choice("expand_ratios").values)
        per_stage = sum(per_block**d for d in self.choice("depths").values)
        return int(per_stage ** len(self.stages))


def _workloads_dir() -> Path:
    try:
        # Installed wheels ship workloads/ as the package edgesim.workloads.
        return Path(str(resources.files("edgesim.workloads")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "workloads"


def search_spaces() -> list[str]:
    """Names of the shipped search spaces."""
    return sorted(p.stem for p in _workloads_dir().glob("*.yaml") if _is_space(p))


def _is_space(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "choices" in data and "model" in data


@cache
def search_space(name: str = "ofa_mobilenet_v3") -> SearchSpace:
    path = _workloads_dir() / f"{name}.yaml"
    if not path.is_file():
        raise EdgesimError(f"unknown search space '{name}'; known: {', '.join(search_spaces())}")
    try:
        data = yaml.safe_load(path.read_text())
        stages = tuple(Stage(int(s["width"]), int(s["stride"]), bool(s["se"]), str(s["act"]))
                       for s in data["stages"])
        choices = tuple(Choice(k, int(v["length"]), tuple(int(x) for x in v["values"]))
                        for k, v in data["choices"].items())
        r = data["resolution"]
        resolutions = tuple(range(int(r["min"]), int(r["max"]) + 1, int(r["step"])))
        space = SearchSpace(str(data["name"]), str(data["model"]), stages, int(data["blocks_per_stage"]),
                            choices, resolutions, dict(data["defaults"]))
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as err:
        raise EdgesimError(f"malformed search space: {err}", file=str(path)) from None
    if math.prod((len(space.stages), space.blocks_per_stage)) != space.choice("kernel_sizes").length:
        raise EdgesimError("stages x blocks_per_stage must equal the kernel_sizes length", file=str(path))
    return space
