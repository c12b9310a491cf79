"""The base of every hardware/runtime profile model (frozen, no unknown keys, no inf/nan; pydantic v2) and the
named choices profiles use (precisions, unit, device, memory and chip kinds)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, PrivateAttr


class Frozen(BaseModel):
    # inf/nan would pass gt=0 checks and poison every latency downstream: refuse them at load time.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    # The YAML's uncertain numbers (edgesim.hw.uncertain): beside the nominal values, never read by the cost model.
    _uncertain: tuple[object, ...] = PrivateAttr(default=())


class Precision(StrEnum):
    INT4 = "int4"
    INT8 = "int8"
    INT16 = "int16"
    FP16 = "fp16"
    FP32 = "fp32"


class UnitKind(StrEnum):
    CPU = "cpu"
    MAC_ARRAY = "mac_array"
    SYSTOLIC = "systolic"
    VECTOR = "vector"


class DeviceClass(StrEnum):
    """What a unit is to a runtime: OpenVINO's CPU, GPU and NPU plugins (and QNN's CPU/GPU/HTP backends) each
    drive one class, whatever the unit's datapath kind (an iGPU and an NPU are both MAC arrays here)."""

    CPU = "cpu"
    GPU = "gpu"
    NPU = "npu"
    DSP = "dsp"


class Dataflow(StrEnum):
    OS = "os"
    WS = "ws"
    IS = "is"


class SparsitySupport(StrEnum):
    WEIGHT_ZERO_SKIP = "weight_zero_skip"
    ACTIVATION_ZERO_SKIP = "activation_zero_skip"
    NM_2_4 = "nm_2_4"


class MemoryKind(StrEnum):
    SRAM = "sram"
    TCM = "tcm"
    CACHE = "cache"
    DRAM = "dram"
    FLASH = "flash"
    HOST_LINK = "host_link"


class ChipKind(StrEnum):
    MCU = "mcu"
    NPU = "npu"
    SOC = "soc"
