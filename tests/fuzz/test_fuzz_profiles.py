"""Fuzz the hardware-profile loader: mutated bundled YAML must load or fail with a one-line ProfileError."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesim.errors import ProfileError
from edgesim.hw.loader import _ids, load_profile, profiles_dir
from tests.fuzz._util import budget, clean

PROFILE_IDS = _ids(profiles_dir())
SETTINGS = settings(
    max_examples=budget(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Values of the wrong type or out of range: what a typo or a copy-paste error puts into a profile.
BAD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.sampled_from([-1, -1e-9, 0, 0.0, float("nan"), float("inf"), "nan", "1e999", [], {}]),
)


def _resolved(pid: str) -> dict[str, Any]:
    """The profile's data with 'extends' applied (so mutations hit real fields, not only the child's)."""
    profile = load_profile(pid)
    data: dict[str, Any] = profile.model_dump(mode="json")
    return data


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    data = copy.deepcopy(data)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "set":
        parent[last] = value
    elif action == "extra" and isinstance(parent, dict):
        parent[f"bogus_{last}"] = value
    elif action == "negate":
        v = parent[last]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            parent[last] = -abs(v) - 1
    return data


def _write(tmp: Path, data: Any) -> Path:
    path = tmp / "fuzzed.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("pid", PROFILE_IDS)
def test_bundled_profile_round_trips(pid: str, tmp_path: Path) -> None:
    """The unmutated dump loads back: otherwise every mutation test below would be testing nothing."""
    data = _resolved(pid)
    # The numbers, not the uncertain-number records (ranges, sources): a model dump keeps only nominal values.
    assert load_profile(_write(tmp_path, data)).model_dump() == load_profile(pid).model_dump()


@SETTINGS
@given(
    pid=st.sampled_from(PROFILE_IDS),
    data=st.data(),
    action=st.sampled_from(["delete", "set", "extra", "negate"]),
    value=BAD_VALUES,
)
def test_mutated_profile_fails_cleanly(
    pid: str, data: st.DataObject, action: str, value: Any, tmp_path: Path
) -> None:
    base = _resolved(pid)
    path = data.draw(st.sampled_from(_paths(base)))
    mutated = _mutate(base, path, action, value)
    profile = clean(lambda: load_profile(_write(tmp_path, mutated)))
    if profile is not None:
        # Accepted: then the physics-facing numbers must still be sane (finite, positive where required).
        assert profile.clock_mhz > 0 and profile.clock_mhz == profile.clock_mhz
        for m in profile.memories:
            assert m.size_bytes > 0 and m.read_bw_bytes_per_cycle > 0
            assert m.read_bw_bytes_per_cycle < float("inf")


@SETTINGS
@given(pid=st.sampled_from(PROFILE_IDS), data=st.data())
def test_extra_unknown_field_is_refused(pid: str, data: st.DataObject, tmp_path: Path) -> None:
    base = _resolved(pid)
    dict_paths = [p for p in _paths(base) if isinstance(_get(base, p), dict)] + [()]
    where = data.draw(st.sampled_from(dict_paths))
    mutated = copy.deepcopy(base)
    _get(mutated, where)["zz_unknown_field"] = 1
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, mutated))
    assert "\n" not in info.value.one_line()


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        node = node[k]
    return node


@SETTINGS
@given(
    pid=st.sampled_from(PROFILE_IDS),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.integers(0, 10**6), max_size=8),
    junk=st.binary(max_size=64),
)
def test_garbage_bytes_fail_cleanly(
    pid: str, cut: float, flips: list[int], junk: bytes, tmp_path: Path
) -> None:
    raw = bytearray((profiles_dir() / f"{pid}.yaml").read_bytes())
    raw = raw[: int(len(raw) * cut)] + junk
    for f in flips:
        if raw:
            raw[f % len(raw)] ^= 1 << (f % 8)
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(raw))
    clean(lambda: load_profile(path))


@SETTINGS
@given(text=st.text(max_size=200))
def test_random_text_fails_cleanly(text: str, tmp_path: Path) -> None:
    path = tmp_path / "random.yaml"
    path.write_text(text, encoding="utf-8")
    clean(lambda: load_profile(path))


@SETTINGS
@given(clock=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5)))
def test_clock_override_fails_cleanly(clock: float) -> None:
    profile = clean(lambda: load_profile(PROFILE_IDS[0], clock_mhz=clock))
    if profile is not None:
        assert 0 < profile.clock_mhz < float("inf")


@SETTINGS
@given(spec=st.text(max_size=30))
def test_runtime_spec_fails_cleanly(spec: str) -> None:
    from edgesim.hw.loader import load_runtime

    clean(lambda: load_runtime(spec))
