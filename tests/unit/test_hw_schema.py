"""Schema rules of hardware/runtime profiles: every invalid case must be rejected with a precise message."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from edgesim.hw.loader import profiles_dir, runtimes_dir
from edgesim.hw.schema import (
    ComputeUnit,
    HardwareProfile,
    MemoryKind,
    Precision,
    RuntimeProfile,
    UnitKind,
)


def _base() -> dict[str, Any]:
    data = yaml.safe_load((profiles_dir() / "stm32l4r5.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _runtime_base() -> dict[str, Any]:
    data = yaml.safe_load((runtimes_dir() / "x-cube-ai.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _reject(data: dict[str, Any], fragment: str, model: type[BaseModel] = HardwareProfile) -> ValidationError:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    assert fragment in str(exc.value), str(exc.value)
    return exc.value


def test_valid_profile_and_methods() -> None:
    p = HardwareProfile.model_validate(_base())
    assert p.unit("cpu").kind is UnitKind.CPU
    assert p.memory("flash").kind is MemoryKind.FLASH
    assert p.unit("cpu").macs_per_cycle[Precision.INT8] == 2.0
    assert p.unit("cpu").supports("CONV2D")
    assert p.unit("cpu").effective_clock_mhz(p.clock_mhz) == 120.0
    # SRAM follows the core clock: 4 B/cycle at 120 MHz.
    assert p.memory("sram").read_bw_bytes_per_s(p.clock_mhz) == pytest.approx(480e6)
    assert p.memory("flash").write_bw_bytes_per_s(p.clock_mhz) == 0.0
    slow = p.with_clock(80.0)
    assert slow.clock_mhz == 80.0 and p.clock_mhz == 120.0
    assert slow.memory("sram").read_bw_bytes_per_s(slow.clock_mhz) == pytest.approx(320e6)
    with pytest.raises(KeyError, match="no unit 'npu'"):
        p.unit("npu")
    with pytest.raises(KeyError, match="no memory"):
        p.memory("dram")


def test_profile_is_frozen() -> None:
    p = HardwareProfile.model_validate(_base())
    with pytest.raises(ValidationError):
        p.clock_mhz = 1.0  # type: ignore[misc]


def test_missing_field() -> None:
    d = _base()
    del d["clock_mhz"]
    _reject(d, "clock_mhz")
    d = _base()
    del d["memories"][0]["read_energy_pj_per_byte"]
    _reject(d, "read_energy_pj_per_byte")


def test_extra_field() -> None:
    d = _base()
    d["units"][0]["mac_per_cycle"] = {"int8": 2}
    _reject(d, "Extra inputs are not permitted")


def test_negative_size_and_bandwidth() -> None:
    d = _base()
    d["memories"][0]["size_bytes"] = -1
    _reject(d, "size_bytes")
    d = _base()
    d["memories"][0]["read_bw_bytes_per_cycle"] = 0
    _reject(d, "read_bw_bytes_per_cycle")


def test_unknown_memory_in_placement_and_unit() -> None:
    d = _base()
    d["placement"]["weights"] = "dram"
    _reject(d, "placement.weights 'dram' is not a memory")
    d = _base()
    d["units"][0]["memories"] = ["sram", "l2"]
    _reject(d, "unknown memories ['l2']")


def test_read_only_activation_memory_rejected() -> None:
    d = _base()
    d["placement"]["activations"] = "flash"
    _reject(d, "read-only")


def test_unknown_host_unit_and_duplicate_names() -> None:
    d = _base()
    d["host_unit"] = "npu"
    _reject(d, "host_unit 'npu' is not a unit")
    d = _base()
    d["units"].append(copy.deepcopy(d["units"][0]))
    _reject(d, "unit names must be unique")
    d = _base()
    d["memories"].append(copy.deepcopy(d["memories"][0]))
    _reject(d, "memory names must be unique")


def test_unknown_op_and_precision() -> None:
    d = _base()
    d["units"][0]["supported_ops"] = ["CONV2D", "CONV3D"]
    _reject(d, "unknown op kinds ['CONV3D']")
    d = _base()
    d["units"][0]["macs_per_cycle"] = {"int7": 2.0}
    _reject(d, "int7")
    d = _base()
    d["units"][0]["macs_per_cycle"] = {}
    _reject(d, "macs_per_cycle")


def test_systolic_unit_needs_spec() -> None:
    unit = dict(
        name="tpu", kind="systolic", description="x", count=1, macs_per_cycle={"int8": 64.0},
        elementwise_ops_per_cycle={}, supported_ops=["CONV2D"], memories=["sram"],
    )
    with pytest.raises(ValidationError, match="no 'systolic' spec"):
        ComputeUnit.model_validate(unit)
    ok = ComputeUnit.model_validate({**unit, "systolic": {"rows": 8, "cols": 8, "dataflow": "ws"}})
    assert ok.systolic is not None and ok.systolic.rows == 8
    assert not ok.supports("ADD")
    with pytest.raises(ValidationError, match="but kind cpu"):
        ComputeUnit.model_validate({**unit, "kind": "cpu", "systolic": {"rows": 8, "cols": 8, "dataflow": "ws"}})
    with pytest.raises(ValidationError, match="rows"):
        ComputeUnit.model_validate({**unit, "systolic": {"rows": 0, "cols": 8, "dataflow": "ws"}})


def test_dvfs_points_sorted_and_default_known() -> None:
    d = _base()
    d["dvfs"]["operating_points"] = list(reversed(d["dvfs"]["operating_points"]))
    _reject(d, "strictly ascending")
    d = _base()
    d["dvfs"]["default_freq_mhz"] = 99.0
    _reject(d, "default_freq_mhz 99.0")


def test_thermal_network_rules() -> None:
    d = _base()
    d["thermal"]["links"] = [{"a": "die", "b": "heatsink", "resistance_k_per_w": 5.0}]
    _reject(d, "unknown node 'heatsink'")
    d = _base()
    d["thermal"]["nodes"].append({"name": "island", "capacitance_j_per_k": 1.0})
    _reject(d, "['island'] have no path to ambient")
    d = _base()
    d["thermal"]["sensor_node"] = "skin"
    _reject(d, "sensor_node 'skin'")
    d = _base()
    d["thermal"]["links"][0]["resistance_k_per_w"] = 0.0
    _reject(d, "resistance_k_per_w")
    d = _base()
    d["thermal"]["fan_curve"] = [{"temp_c": 50.0, "speed_pct": 30.0, "resistance_scale": 0.5}]
    _reject(d, "fan_curve needs fan_link")


def test_runtime_rules() -> None:
    r = RuntimeProfile.model_validate(_runtime_base())
    assert r.version("7.1.0").efficiency_scale < 1.0
    assert "cpu" in r.applies_to
    d = _runtime_base()
    del d["kernel_efficiency"]["default"]
    _reject(d, "needs a 'default' entry", RuntimeProfile)
    d = _runtime_base()
    d["kernel_efficiency"]["CONV2D"] = 1.5
    _reject(d, "must be in (0, 1]", RuntimeProfile)
    d = _runtime_base()
    d["kernel_efficiency"]["CONV9D"] = 0.5
    _reject(d, "'CONV9D' is not an op kind", RuntimeProfile)
    d = _runtime_base()
    d["default_version"] = "99.0"
    _reject(d, "default_version '99.0'", RuntimeProfile)
    d = _runtime_base()
    d["weights_in"] = "tape"
    _reject(d, "weights_in", RuntimeProfile)
