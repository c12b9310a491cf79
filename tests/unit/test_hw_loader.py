"""Loading bundled and user profiles: ids, files, extends, version resolution and one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edgesim.errors import ProfileError
from edgesim.hw.loader import (
    deep_merge,
    list_profiles,
    list_runtimes,
    load_profile,
    load_runtime,
    profiles_dir,
)
from edgesim.hw.schema import HardwareProfile, Precision, RuntimeProfile, UnitKind

BUNDLED = ["stm32l4r5", "ethos-u55-128", "coral-edgetpu", "rpi5", "rpi5-cooler"]
RUNTIMES = ["tflm", "x-cube-ai", "vela", "edgetpu", "tflite-xnnpack"]


def _write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _stm32() -> dict[str, Any]:
    data = yaml.safe_load((profiles_dir() / "stm32l4r5.yaml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("pid", BUNDLED)
def test_bundled_profiles_load(pid: str) -> None:
    p = load_profile(pid)
    assert isinstance(p, HardwareProfile) and p.id == pid
    assert p.host.kind is UnitKind.CPU
    assert p.sources
    if p.default_runtime:
        rt, _ = load_runtime(p.default_runtime)
        # The default runtime must drive some unit of the chip.
        assert any(u.kind in rt.applies_to for u in p.units)


def test_bundled_lists_and_spot_values() -> None:
    ids = [i for i, _ in list_profiles()]
    assert set(BUNDLED) <= set(ids)
    assert all(desc and "\n" not in desc for _, desc in list_profiles())
    assert set(RUNTIMES) <= {i for i, _ in list_runtimes()}
    u55 = load_profile("ethos-u55-128")
    assert u55.unit("npu").macs_per_cycle[Precision.INT8] == 128
    assert u55.memory("sram").read_bw_bytes_per_s(u55.clock_mhz) == pytest.approx(4.0e9)  # Vela High_End_Embedded
    assert u55.memory("flash").read_bw_bytes_per_s(u55.clock_mhz) == pytest.approx(0.5e9)
    assert not u55.unit("npu").supports("GATHER") and u55.unit("cpu").supports("GATHER")
    tpu = load_profile("coral-edgetpu").unit("tpu")
    assert tpu.systolic is not None and tpu.systolic.rows * tpu.systolic.cols == 4096
    # Peak ~4 TOPS = 2 ops per MAC.
    assert 2 * tpu.macs_per_cycle[Precision.INT8] * 500e6 == pytest.approx(4.1e12, rel=0.05)
    rpi = load_profile("rpi5")
    # DRAM bandwidth has its own clock: DVFS of the cores must not change it.
    assert rpi.with_clock(1500).memory("dram").read_bw_bytes_per_s(1500) == pytest.approx(17e9)
    assert [t.temp_c for t in rpi.thermal.trip_points] == [80.0, 85.0]


@pytest.mark.parametrize("rid", RUNTIMES)
def test_bundled_runtimes_load(rid: str) -> None:
    rt, ver = load_runtime(rid)
    assert isinstance(rt, RuntimeProfile) and ver.version == rt.default_version
    assert "default" in rt.kernel_efficiency


def test_xcube_versions_speed_up() -> None:
    rt, old = load_runtime("x-cube-ai@7.1.0")
    _, new = load_runtime("x-cube-ai@10.2.0")
    assert 1.3 < new.efficiency_scale / old.efficiency_scale < 1.7  # ~1.5x on ResNet-8 per MLPerf Tiny
    assert rt.id == "x-cube-ai"


def test_clock_override() -> None:
    p = load_profile("stm32l4r5", clock_mhz=80)
    assert p.clock_mhz == 80.0
    assert load_profile("stm32l4r5").clock_mhz == 120.0
    with pytest.raises(ProfileError, match="clock must be positive"):
        load_profile("stm32l4r5", clock_mhz=0)


def test_extends_child_overrides_parent_untouched() -> None:
    parent = load_profile("rpi5")
    child = load_profile("rpi5-cooler")
    assert child.id == "rpi5-cooler"
    assert parent.thermal.fan_curve == [] and parent.thermal.fan_link is None
    assert [s.speed_pct for s in child.thermal.fan_curve] == [30.0, 50.0, 70.0, 100.0]
    assert [s.temp_c for s in child.thermal.fan_curve] == [50.0, 60.0, 67.5, 75.0]
    assert child.thermal.fan_hysteresis_c == 5.0 and child.thermal.fan_link == "sink-ambient"
    # Mappings merge: untouched fields come from the parent; lists replace.
    assert child.thermal.trip_points == parent.thermal.trip_points
    assert child.units == parent.units and child.clock_mhz == parent.clock_mhz
    assert [n.name for n in child.thermal.nodes] == ["die", "sink"]


def test_extends_by_relative_path(tmp_path: Path) -> None:
    _write(tmp_path / "base.yaml", _stm32())
    _write(tmp_path / "fast.yaml", {"extends": "base.yaml", "id": "fast", "clock_mhz": 80.0,
                                    "dvfs": {"default_freq_mhz": 80.0}})
    p = load_profile(tmp_path / "fast.yaml")
    assert p.id == "fast" and p.clock_mhz == 80.0 and p.dvfs.default_freq_mhz == 80.0
    assert len(p.dvfs.operating_points) == 3  # merged from the parent
    assert load_profile(tmp_path / "base.yaml").clock_mhz == 120.0
    # A bundled id also works as a parent from a user file.
    _write(tmp_path / "mine.yaml", {"extends": "stm32l4r5", "id": "mine"})
    assert load_profile(str(tmp_path / "mine.yaml")).memory("sram").size_bytes == 655360


def test_extends_cycle(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", {"extends": "b.yaml", "id": "a"})
    _write(tmp_path / "b.yaml", {"extends": "a.yaml", "id": "b"})
    with pytest.raises(ProfileError, match="cycle") as exc:
        load_profile(tmp_path / "a.yaml")
    assert exc.value.field == "extends"


def test_deep_merge() -> None:
    parent = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    child = {"a": {"y": [3]}, "c": 2}
    assert deep_merge(parent, child) == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert parent == {"a": {"x": 1, "y": [1, 2]}, "b": 1}


def _error(path: Path) -> ProfileError:
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path) in msg and exc.value.file == str(path)
    return exc.value


def test_error_missing_field_names_file_and_field(tmp_path: Path) -> None:
    d = _stm32()
    del d["units"][0]["macs_per_cycle"]
    err = _error(_write(tmp_path / "p.yaml", d))
    assert err.field == "units.0.macs_per_cycle"
    assert "field 'units.0.macs_per_cycle'" in str(err) and "Field required" in str(err)


def test_error_extra_field(tmp_path: Path) -> None:
    d = _stm32()
    d["memories"][1]["bandwidth"] = 3
    err = _error(_write(tmp_path / "p.yaml", d))
    assert err.field == "memories.1.bandwidth" and "Extra inputs are not permitted" in str(err)


def test_error_negative_size(tmp_path: Path) -> None:
    d = _stm32()
    d["memories"][0]["size_bytes"] = -640
    err = _error(_write(tmp_path / "p.yaml", d))
    assert err.field == "memories.0.size_bytes" and "greater than 0" in str(err)


def test_error_unknown_placement_and_thermal(tmp_path: Path) -> None:
    d = _stm32()
    d["placement"]["activations"] = "tcm"
    err = _error(_write(tmp_path / "p.yaml", d))
    assert "placement.activations 'tcm' is not a memory" in str(err)
    assert err.field == "placement.activations"
    d = _stm32()
    d["thermal"]["links"].append({"a": "die", "b": "case", "resistance_k_per_w": 1.0})
    err = _error(_write(tmp_path / "q.yaml", d))
    assert err.field == "thermal.links.1" and "unknown node 'case'" in str(err)


def test_error_systolic_and_dvfs(tmp_path: Path) -> None:
    d = _stm32()
    d["units"][0]["kind"] = "systolic"
    err = _error(_write(tmp_path / "p.yaml", d))
    assert err.field == "units.0" and "no 'systolic' spec" in str(err)
    d = _stm32()
    d["dvfs"]["operating_points"].reverse()
    err = _error(_write(tmp_path / "q.yaml", d))
    assert err.field == "dvfs.operating_points" and "ascending" in str(err)


def test_error_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: x\nunits: [a, b\nclock_mhz: 1\n")
    err = _error(path)
    assert "YAML syntax error at line" in str(err)
    path2 = tmp_path / "list.yaml"
    path2.write_text("- 1\n- 2\n")
    assert "must be a mapping" in str(_error(path2))


def test_error_unknown_id_lists_known() -> None:
    with pytest.raises(ProfileError) as exc:
        load_profile("stm32l9")
    msg = str(exc.value)
    assert "unknown hardware profile 'stm32l9'" in msg
    for pid in BUNDLED:
        assert pid in msg
    with pytest.raises(ProfileError, match="known: .*x-cube-ai"):
        load_runtime("no-such-engine")
    with pytest.raises(ProfileError, match="file not found"):
        load_profile("/nonexistent/chip.yaml")


def test_version_resolution(capsys: pytest.CaptureFixture[str]) -> None:
    _, v = load_runtime("x-cube-ai@8.1.0")
    assert v.version == "8.1.0"
    assert capsys.readouterr().err == ""
    _, v = load_runtime("x-cube-ai@9.1")
    assert v.version == "9.0.0"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "9.1" in err and "nearest 9.0.0" in err
    _, v = load_runtime("x-cube-ai@11")
    assert v.version == "10.2.0"
    _, v = load_runtime("x-cube-ai@6.0")
    assert v.version == "7.1.0"
    assert "nearest 7.1.0" in capsys.readouterr().err
    # beyond the known releases: the newest, whatever its minor digit (tflm@4.1.1 was 2.3.1, 2's minor 3 < 11)
    assert load_runtime("tflm@4.1.1")[1].version == "2.11.0"
    assert load_runtime("tflm@2.4")[1].version == "2.5.0"
    capsys.readouterr()
    _, v = load_runtime("x-cube-ai@9.0")  # the reference file's spelling of release 9.0.0: no notice
    assert v.version == "9.0.0"
    assert capsys.readouterr().err == ""
    with pytest.raises(ProfileError, match="no version 'latest'"):
        load_runtime("x-cube-ai@latest")


def test_missing_version_takes_the_default_and_says_so_once(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import edgesim.hw.loader as loader

    monkeypatch.setattr(loader, "_DEFAULT_VERSION_NOTED", set())
    rt, v = load_runtime("x-cube-ai")
    assert v.version == rt.default_version
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no version given" in err and rt.default_version in err
    load_runtime("x-cube-ai")
    assert capsys.readouterr().err == ""  # once per runtime and run: validate rows do not repeat it
    load_runtime("ai8x")  # one version only: nothing to choose between
    assert capsys.readouterr().err == ""


def test_missing_version_takes_the_release_the_chip_profile_names(capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import edgesim.hw.loader as loader
    from edgesim.api import resolve_runtime

    monkeypatch.setattr(loader, "_DEFAULT_VERSION_NOTED", set())
    m467 = load_profile("m467")
    assert m467.default_runtime == "tflm@2.11.0"
    _, v = resolve_runtime(m467, "tflm")
    assert v.version == "2.11.0"
    assert "using 2.11.0, the version profile m467 names" in capsys.readouterr().err
    # A chip whose default is another engine: the engine's own default release, with its notice.
    rt, v = resolve_runtime(load_profile("stm32l4r5"), "tflm")
    assert v.version == rt.default_version
    assert "no version given" in capsys.readouterr().err
    # No runtime named: the profile's default, silently.
    resolve_runtime(m467, None)
    assert capsys.readouterr().err == ""

