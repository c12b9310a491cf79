"""Small self-contained hardware profiles for the tiling and event-engine tests (no tests in this module).

They are built here rather than read from hw_profiles/ so the tests pin the exact sizes and bandwidths they
reason about, whatever the bundled profiles are tuned to.
"""

from __future__ import annotations

from typing import Any

from edgesim.hw.schema import HardwareProfile

NPU_OPS = ["CONV2D", "DEPTHWISE_CONV2D", "FULLY_CONNECTED", "MATMUL", "ADD", "RELU", "CLIP", "MAX_POOL2D",
           "AVG_POOL2D", "MEAN", "RESHAPE", "BATCH_NORM"]


def _mem(name: str, kind: str, size: int, rd: float, wr: float, latency: float = 1.0,
         rd_pj: float = 1.0) -> dict[str, Any]:
    return {"name": name, "kind": kind, "size_bytes": size, "read_bw_bytes_per_cycle": rd,
            "write_bw_bytes_per_cycle": wr, "clock_mhz": None, "latency_cycles": latency,
            "read_energy_pj_per_byte": rd_pj, "write_energy_pj_per_byte": rd_pj}


def _cpu(memories: list[str]) -> dict[str, Any]:
    return {"name": "cpu", "kind": "cpu", "description": "host", "count": 1,
            "macs_per_cycle": {"int8": 2.0, "fp32": 1.0}, "elementwise_ops_per_cycle": {"int8": 1.0, "fp32": 1.0},
            "supported_ops": "all", "memories": memories}


def make_profile(units: list[dict[str, Any]], memories: list[dict[str, Any]], weights: str, activations: str,
                 clock_mhz: float = 100.0) -> HardwareProfile:
    return HardwareProfile.model_validate({
        "id": "test", "description": "test profile", "kind": "mcu", "clock_mhz": clock_mhz,
        "units": units, "memories": memories,
        "placement": {"weights": weights, "activations": activations},
        "host_unit": "cpu",
        "energy": {"mac_energy_pj": {"int8": 1.0, "fp32": 4.0},
                   "elementwise_energy_pj_per_op": {"int8": 1.0, "fp32": 2.0}, "dma_energy_pj_per_byte": 1.0},
        "power": {"static_power_mw": 10.0, "idle_power_mw": 5.0, "sleep_power_mw": 0.1},
        "dvfs": {"nominal_voltage_v": 1.0, "operating_points": [{"freq_mhz": clock_mhz, "voltage_v": 1.0}],
                 "default_freq_mhz": clock_mhz},
        "thermal": {"ambient_c": 25.0, "nodes": [{"name": "die", "capacitance_j_per_k": 1.0}],
                    "links": [{"a": "die", "b": "ambient", "resistance_k_per_w": 30.0}],
                    "power_node": "die", "sensor_node": "die"},
        "sources": ["test"],
    })


def npu_profile(sram_bytes: int = 512 * 1024, flash_bw: float = 4.0, macs: float = 128.0,
                npu_ops: list[str] | None = None, fp32: bool = True) -> HardwareProfile:
    """A Cortex-M host plus an Ethos-U-like MAC array; weights in flash, activations in SRAM."""
    rates = {"int8": macs, "fp32": macs} if fp32 else {"int8": macs}
    npu = {"name": "npu", "kind": "mac_array", "description": "npu", "count": 1, "macs_per_cycle": rates,
           "elementwise_ops_per_cycle": {"int8": 8.0, "fp32": 8.0} if fp32 else {"int8": 8.0},
           "supported_ops": npu_ops if npu_ops is not None else NPU_OPS, "memories": ["sram", "flash"]}
    mems = [_mem("sram", "sram", sram_bytes, 8.0, 8.0), _mem("flash", "flash", 8 * 2**20, flash_bw, 0.0, 8.0, 10.0)]
    return make_profile([_cpu(["sram", "flash"]), npu], mems, "flash", "sram")


def systolic_profile(rows: int = 32, cols: int = 32, spad_bytes: int = 1024 * 1024,
                     dram_bw: float = 32.0) -> HardwareProfile:
    """A TPU-like systolic array with an on-chip scratchpad; weights and activations in DRAM."""
    tpu = {"name": "tpu", "kind": "systolic", "description": "array", "count": 1,
           "macs_per_cycle": {"int8": float(rows * cols), "fp32": float(rows * cols)},
           "elementwise_ops_per_cycle": {"int8": float(cols), "fp32": float(cols)},
           "supported_ops": NPU_OPS, "memories": ["spad", "dram"],
           "systolic": {"rows": rows, "cols": cols, "dataflow": "os"}}
    mems = [_mem("spad", "sram", spad_bytes, 64.0, 64.0), _mem("dram", "dram", 2**30, dram_bw, dram_bw, 100.0, 20.0)]
    return make_profile([_cpu(["dram", "spad"]), tpu], mems, "dram", "dram", clock_mhz=500.0)
