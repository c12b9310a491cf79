"""Small records of a runtime profile (edgesim.hw.schema.RuntimeProfile): how its int8 kernels scale with a CPU
core's dot-product instructions, what it moves over a USB host link every inference, and what its compiler
converts a float model to, and the costs it is known to have that the model leaves out."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from edgesim.hw.cpu_isa import CoreInt8, CpuIsa, Int8Path
from edgesim.hw.schema_base import Frozen as _Frozen
from edgesim.hw.schema_base import Precision
from edgesim.hw.schema_version import KERNEL_KEYS

# The precisions a float model's ops can be converted to by the transformations (--quant fp16 is the one float
# conversion there is): a runtime declaring another could not be applied.
FLOAT_CONVERSIONS = (Precision.FP16, Precision.INT8)


class FloatConversion(_Frozen):
    """What the runtime's compiler does with a float model when the user asks for no quantization: it converts the
    ops to ``precision`` for its accelerator (rknn.build(do_quantization=False) builds an fp16 model; Hailo's
    Dataflow Compiler, ESP-PPQ and nncase's PTQ quantize every model to int8), so they neither run in fp32 nor fall
    back to the host CPU. ``source`` names the vendor tool and option (quoted in the run's
    notice); the YAML comment above the field gives the document."""

    precision: Precision
    source: str = Field(min_length=1)

    @field_validator("precision")
    @classmethod
    def _convertible(cls, v: Precision) -> Precision:
        if v not in FLOAT_CONVERSIONS:
            raise ValueError(f"a float model can be converted to {', '.join(FLOAT_CONVERSIONS)} only, got {v}")
        return v


class CpuIsaSupport(_Frozen):
    """CPU instruction sets a runtime's kernels are built for (RuntimeProfile.cpu_isas), with the public source
    that says so (a vendor's supported-targets page, the build targets in the runtime's repository)."""

    isas: list[CpuIsa] = Field(min_length=1)
    source: str = Field(min_length=1)


class Int8IsaScale(_Frozen):
    """Int8 MAC-op speed of a CPU runtime's kernels on a core, relative to the core the kernel efficiencies were
    set on, by the core's int8 path and issue style (edgesim.hw.cpu_isa): path factor x out_of_order where the core
    issues out of order. A core the description does not name gets 1.0."""

    neon: float = Field(default=1.0, gt=0)
    dotprod: float = Field(default=1.0, gt=0)
    i8mm: float = Field(default=1.0, gt=0)
    out_of_order: float = Field(default=1.0, gt=0)
    source: str

    def factor(self, core: CoreInt8 | None) -> float:
        if core is None:
            return 1.0
        path = {Int8Path.NEON: self.neon, Int8Path.DOTPROD: self.dotprod, Int8Path.I8MM: self.i8mm}[core.path]
        return path * (1.0 if core.in_order else self.out_of_order)


class HostIO(_Frozen):
    """What a runtime moves over the host link every inference when the profile places the network's inputs and
    outputs on a host_link memory (a USB accelerator): the tensors at the element size the host sends (OpenVINO's
    Inference Engine feeds an IR input as FP32 unless the application sets another precision, and the MYRIAD
    plugin converts it to FP16 on the device) and one link round trip per synchronous transfer."""

    input_element_bytes: float = Field(gt=0)
    output_element_bytes: float = Field(gt=0)
    transfers: int = Field(default=2, ge=0)  # synchronous link round trips per inference (input, output)
    source: str


class FrameRoundTrip(_Frozen):
    """A synchronous host round trip every inference that queued frames cannot overlap, on the chips named: a
    floor under both a frame's latency and a stream's period (HailoRT on the Hailo-10H sends each inference as an
    RPC to hailort_server on the module and waits for its reply; edgesim.mapping.plan.Schedule.frame_floor_s)."""

    # hardware profile ids (fnmatch patterns, as UnmodelledCost.chips); at least one
    chips: list[str] = Field(min_length=1)
    round_trip_us: float = Field(gt=0)
    source: str = Field(min_length=1)


class WeightResweep(_Frozen):
    """Kernels that re-read every weight byte for each output pixel (RuntimeProfile.weight_resweep)."""

    ops: list[str] = Field(min_length=1)  # kernel keys (CONV2D, CONV2D_1X1, ...) whose loops re-read the weights
    cached: str = Field(min_length=1)  # kernel_efficiency key of the rate with the weights in the cache
    streamed: str = Field(min_length=1)  # kernel_efficiency key of the rate with the weights streamed per pixel


class GapDirection(StrEnum):
    """Which way a known unmodelled cost moves the truth from the prediction: optimistic = the real latency is
    longer (the cost is missing from it), pessimistic = shorter."""

    OPTIMISTIC = "optimistic"
    PESSIMISTIC = "pessimistic"


class GapScope(StrEnum):
    """What the missing cost adds to: every inference's time (so its latency, its energy and a stream's period), or
    only the period of a stream of frames (a per-frame floor that one inference's latency already pays)."""

    INFERENCE = "inference"
    STREAM = "stream"


class GapBasis(StrEnum):
    """What the declaration rests on: a mechanism a public source documents whose cost cannot be derived, or a
    public measurement the model misses with no mechanism found."""

    MECHANISM = "mechanism"
    MEASUREMENT = "measurement"


class OpsPresent(_Frozen):
    """Trigger: at least one of ``ops`` (IR op kinds or kernel keys: CONV2D_1X1, REGION_YOLO) is in the graph as
    costed."""

    ops: list[str] = Field(min_length=1)

    @field_validator("ops")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [op for op in v if op not in KERNEL_KEYS]
        if unknown:
            raise ValueError(f"unknown op kinds {unknown}; known: {sorted(KERNEL_KEYS)}")
        return v


class UnmodelledCost(_Frozen):
    """A cost a public source documents (or a public measurement shows) on this runtime that the model leaves out,
    because no number for it is published: every run it applies to says so, and its interval does not claim to
    bound that side (edgesim.pipeline.gaps, edgesim.pipeline.intervals.open_sides). No magnitude is fitted to
    any row; ``magnitude`` quotes a source's own figure, when one gives it."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    what: str = Field(min_length=1)  # one sentence: what is left out, and where it runs
    # hardware profile ids (fnmatch patterns, as RuntimeVersion.chips); empty = every chip the runtime targets
    chips: list[str] = Field(default_factory=list)
    # runtime releases (RuntimeVersion.version names) it applies to; empty = all
    versions: list[str] = Field(default_factory=list)
    # "always"; "multi_thread": the run uses more than one host CPU thread; or op kinds present in the costed graph
    trigger: Literal["always", "multi_thread"] | OpsPresent
    direction: GapDirection
    scope: GapScope = GapScope.INFERENCE
    basis: GapBasis = GapBasis.MECHANISM
    magnitude: str | None = Field(default=None, min_length=1)  # a source's own figure, quoted; None = none given
    source: str = Field(min_length=1)


def check_unmodelled(costs: list[UnmodelledCost], version_names: list[str]) -> None:
    """Ids unique and every named release one of the runtime's (RuntimeProfile's validator)."""
    ids = [c.id for c in costs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"unmodelled ids must be unique, got {ids}")
    for c in costs:
        bad = [v for v in c.versions if v not in version_names]
        if bad:
            raise ValueError(f"unmodelled '{c.id}' names releases {bad} the runtime does not list {version_names}")


def check_efficiency_table(v: dict[str, float]) -> dict[str, float]:
    """A kernel-efficiency table (RuntimeProfile.kernel_efficiency and the per-unit/per-GPU ones): a 'default', op
    kinds or kernel variants as keys, fractions of peak in (0, 1]."""
    if "default" not in v:
        raise ValueError("needs a 'default' entry")
    for k, eff in v.items():
        if k != "default" and k not in KERNEL_KEYS:
            raise ValueError(f"'{k}' is not an op kind; known: {sorted(KERNEL_KEYS)}")
        if not 0 < eff <= 1:
            raise ValueError(f"'{k}' efficiency must be in (0, 1], got {eff}")
    return v
