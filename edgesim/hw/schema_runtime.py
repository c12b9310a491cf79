"""Small records of a runtime profile (edgesim.hw.schema.RuntimeProfile): how its int8 kernels scale with a CPU
core's dot-product instructions, what it moves over a USB host link every inference, and what its compiler
converts a float model to."""

from __future__ import annotations

from pydantic import Field, field_validator

from edgesim.hw.cpu_isa import CoreInt8, Int8Path
from edgesim.hw.schema_base import Frozen as _Frozen
from edgesim.hw.schema_base import Precision

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


class WeightResweep(_Frozen):
    """Kernels that re-read every weight byte for each output pixel (RuntimeProfile.weight_resweep)."""

    ops: list[str] = Field(min_length=1)  # kernel keys (CONV2D, CONV2D_1X1, ...) whose loops re-read the weights
    cached: str = Field(min_length=1)  # kernel_efficiency key of the rate with the weights in the cache
    streamed: str = Field(min_length=1)  # kernel_efficiency key of the rate with the weights streamed per pixel
