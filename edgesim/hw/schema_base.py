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


class UnitFamily(StrEnum):
    """Whose IP an accelerator unit is: what a vendor compiler can target (Vela emits Ethos-U command streams
    only, libedgetpu drives an Edge TPU, RKNN a Rockchip RKNPU). ComputeUnit.unit_family, checked against
    RuntimeProfile.unit_families by edgesim.hw.targeting."""

    ARM_ETHOS_U = "arm-ethos-u"
    GOOGLE_EDGETPU = "google-edgetpu"
    HAILO = "hailo"
    ROCKCHIP_RKNPU = "rockchip-rknpu"
    VERISILICON_VIP = "verisilicon-vip"
    NVIDIA_GPU = "nvidia-gpu"
    INTEL_NPU = "intel-npu"
    INTEL_GPU = "intel-gpu"
    INTEL_MOVIDIUS = "intel-movidius"
    QUALCOMM_HEXAGON = "qualcomm-hexagon"
    QUALCOMM_ADRENO = "qualcomm-adreno"
    KENDRYTE_KPU = "kendryte-kpu"
    ADI_CNN = "adi-cnn"
    GREENWAVES_NE16 = "greenwaves-ne16"
    SILABS_MVP = "silabs-mvp"


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


class RunCurrentBasis(StrEnum):
    """What an MCU profile's datasheet run current (i_run of the MCU board-power rule, docs/validation.md) is. The
    board-power factor fitted on measured rows absorbs the gap between that figure and the board under ML load, so
    factors of different bases are not the same quantity (``edgesim.validate.board_power`` reports them apart)."""

    # the typical Run-mode current of the datasheet's table at the benchmark clock and voltage range, code from
    # flash, in the supply mode the board uses
    TABLE = "table"
    # the front-page uA/MHz figure (quoted at the part's most efficient point: lowest voltage range, low clock, a
    # tight loop), or a figure whose clock and range the datasheet excerpt does not state: a lower bound
    HEADLINE = "headline"
    # a maximum with all peripherals on: an upper bound, so no board-power factor is applied (factor 1, derived)
    MAXIMUM = "maximum"
    # an estimate of the table value when the part's own table is not available: a headline x a ratio documented
    # across sister parts' datasheets (the profile's comment gives the ratios and their range; the number stays
    # plain, since the board's fitted factor absorbs its error and the intervals count that once). It
    # stands for a table value, so it is grouped with TABLE wherever kinds are compared (``estimates``)
    DERIVED = "derived"

    @property
    def estimates(self) -> RunCurrentBasis:
        """The kind of figure this basis stands for: TABLE for a derived table estimate, else itself."""
        return RunCurrentBasis.TABLE if self is RunCurrentBasis.DERIVED else self
