"""Fuzz sweep specs: mutated, random and garbage spec files load or fail with a one-line EdgesimError, and
random axis overrides of a profile either validate or raise ProfileError."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("edgesim.explore.sweep_spec")
from edgesim.explore.sweep_spec import apply_overrides, load_sweep_spec  # noqa: E402
from edgesim.hw.loader import load_profile  # noqa: E402
from tests.fuzz._util import budget, clean  # noqa: E402

SETTINGS = settings(
    max_examples=budget(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BASE: dict[str, Any] = {
    "name": "fuzz",
    "profiles": ["ethos-u55-128"],
    "axes": {"clock_mhz": [250.0, 500.0], "memories.sram.size_bytes": [262144, 4194304]},
    "models": ["resnet8", {"zoo": "ds_cnn", "label": "kws", "choices": {"resolution": 25}}],
    "runtime": None,
    "chunk_size": 2,
}
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(-3, 3), st.text(max_size=3)), max_size=3),
    st.sampled_from(
        [
            "x.tflite",
            "missing.onnx",
            "no-such-hw",
            "memories.nope.size_bytes",
            "..",
            "units.0.count",
            {"zoo": "resnet8", "path": "a.onnx"},
            [],
            {},
        ]
    ),
)
KEYS = st.sampled_from(["name", "profiles", "axes", "models", "runtime", "quant", "chunk_size", "bogus"])
AXES = st.sampled_from(
    [
        "clock_mhz",
        "memories.sram.size_bytes",
        "memories.0.read_bw_bytes_per_cycle",
        "units.npu.macs_per_cycle.int8",
        "units.0.count",
        "dvfs.default_freq_mhz",
        "power.static_power_mw",
        "memories.9.size_bytes",
        "id",
        "placement.activations",
        "thermal.ambient_c",
        "units",
        "energy.mac_energy_pj.int8",
        "nope.deeper",
    ]
)


@SETTINGS
@given(key=KEYS, value=VALUES, axis=AXES, axis_values=st.lists(VALUES, max_size=3))
def test_mutated_spec_fails_cleanly(
    key: str, value: Any, axis: str, axis_values: list[Any], tmp_path: Path
) -> None:
    spec = copy.deepcopy(BASE)
    spec[key] = value
    if isinstance(spec.get("axes"), dict):
        spec["axes"][axis] = axis_values
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    loaded = clean(lambda: load_sweep_spec(path), seconds=30)
    if loaded is not None:
        assert len({p.key for p in loaded.points}) == len(loaded.points)


@SETTINGS
@given(text=st.text(max_size=300))
def test_garbage_spec_fails_cleanly(text: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    clean(lambda: load_sweep_spec(path), seconds=30)


def test_non_utf8_spec_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"name: \x80\xff\n")
    clean(lambda: load_sweep_spec(path), seconds=30)


@SETTINGS
@given(overrides=st.lists(st.tuples(AXES, VALUES), max_size=3))
def test_axis_overrides_validate_or_fail_cleanly(overrides: list[tuple[str, Any]]) -> None:
    base = load_profile("ethos-u55-128")
    prof = clean(lambda: apply_overrides(base, overrides, "fuzz.yaml"))
    if prof is not None:
        assert 0 < prof.clock_mhz < float("inf")
