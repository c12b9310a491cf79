"""The command-line flags more than one command takes, defined once, and the run specification they make."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from edgesim.passes.choices import Compression, QuantPreset

if TYPE_CHECKING:
    from edgesim.pipeline import RunSpec, TransformOptions

QUANT_CHOICES = [p.value for p in QuantPreset]


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a capacity, a voltage, a duration): 0, negatives, nan and inf are refused."""
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (a background load, an idle gap)."""
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_model_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a .tflite or .onnx file, a SCALE-Sim topology .csv, or a zoo model name")


def add_target_arguments(p: argparse.ArgumentParser, *, cfg: bool = True) -> None:
    """--hw, --runtime, --input-shape, --clock-mhz: what the model runs on, and at which size and clock."""
    p.add_argument("--hw", required=True, help="bundled profile id, a profile YAML path"
                   + (", or a SCALE-Sim .cfg" if cfg else ""))
    p.add_argument("--runtime", help="inference engine id, optionally with @version (e.g. x-cube-ai@7.3.0)")
    add_input_shape_argument(p)
    p.add_argument("--clock-mhz", type=float, help="override the profile's clock (within its DVFS table)")
    p.add_argument("--overclock", action="store_true",
                   help="allow --clock-mhz outside the profile's DVFS table (output marked 'overclocked what-if')")
    p.add_argument("--force", action="store_true",
                   help="run a runtime on a chip it does not target (output marked 'forced what-if')")
    add_threads_argument(p)


def add_input_shape_argument(p: argparse.ArgumentParser) -> None:
    """--input-shape (run, report, compare...): the model's input at another size."""
    p.add_argument("--input-shape", help="override the input shape in the model's own layout, e.g. 1x3x299x299")


def add_threads_argument(p: argparse.ArgumentParser) -> None:
    """--threads (run, report, compare...): checked by the driver (hw.targeting.bind_runtime) as every door's."""
    p.add_argument("--threads", type=int, help="CPU threads the runtime uses (TFLite XNNPACK, OpenVINO CPU); "
                   "default: all host cores")


def input_shape_from_args(args: argparse.Namespace) -> tuple[int, ...] | None:
    """The --input-shape of a command's flags, parsed (None: the model's own)."""
    from edgesim.frontends.loader import parse_shape

    # 'is not None': an empty --input-shape '' is a malformed shape, not the model's own one
    return parse_shape(args.input_shape) if getattr(args, "input_shape", None) is not None else None


def add_quant_argument(p: argparse.ArgumentParser | argparse._ArgumentGroup, help_text: str) -> None:
    p.add_argument("--quant", choices=QUANT_CHOICES, help=help_text)


def add_transform_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model transformations (applied in order: fuse, prune, quantize, compress)")
    add_quant_argument(g, "post-training quantization preset for float models (quantized models are kept as they are)")
    g.add_argument("--quant-spec", help="YAML mixed-precision spec (per-layer presets/bits)")
    g.add_argument("--calib", help=".npy calibration inputs (default: seeded synthetic inputs)")
    g.add_argument("--prune", help="0.5 (magnitude, per layer), global:0.5, 2:4 (N:M), channels:0.3 (structured)")
    g.add_argument("--fuse", action=argparse.BooleanOptionalAction, default=True,
                   help="fold BatchNorm and activations into conv/FC, and residual ADDs into the conv where the "
                        "unit's runtime fuses them (default: on)")
    g.add_argument("--compress", choices=[c.value for c in Compression], default=Compression.INT4.value,
                   help="weight storage: int4 packs two 4-bit weights per byte (default), none keeps one per byte, "
                        "huffman entropy-codes the weight bytes (decoder throughput modelled)")
    g.add_argument("--accuracy", action=argparse.BooleanOptionalAction, default=None,
                   help="report SQNR/top-1 agreement against the untransformed model (default: on with --quant/--prune)")


def transform_from_args(args: argparse.Namespace) -> TransformOptions:
    from edgesim.pipeline import TransformOptions

    quant = getattr(args, "quant", None)
    return TransformOptions(
        quant=QuantPreset(quant) if quant else None, quant_spec=getattr(args, "quant_spec", None),
        calib=getattr(args, "calib", None), prune=getattr(args, "prune", None), fuse=getattr(args, "fuse", True),
        compress=Compression(getattr(args, "compress", None) or Compression.INT4),
        accuracy=getattr(args, "accuracy", None))


def spec_from_args(args: argparse.Namespace, *, fast: bool = True, frames: int = 1, batch: int = 1,
                   record_trace: bool = False) -> RunSpec:
    """The run specification of a command's flags (model, target, transformations)."""
    from edgesim.pipeline import Engine, RunSpec

    if getattr(args, "overclock", False) and getattr(args, "clock_mhz", None) is None:
        from edgesim.errors import EdgesimError

        # silently unused otherwise: the profile's own clock is inside its table
        raise EdgesimError("--overclock needs --clock-mhz (the clock to run beyond the DVFS table)", field="overclock")
    shape = input_shape_from_args(args)
    return RunSpec(model=args.model, hw=args.hw, runtime=getattr(args, "runtime", None), input_shape=shape,
                   clock_mhz=getattr(args, "clock_mhz", None), threads=getattr(args, "threads", None),
                   overclock=getattr(args, "overclock", False), force=getattr(args, "force", False),
                   transform=transform_from_args(args),
                   engine=Engine.ANALYTIC if fast else Engine.EVENT, frames=frames, batch=batch,
                   record_trace=record_trace)


def add_trust_arguments(p: argparse.ArgumentParser, *, sensitivity: bool = False) -> None:
    """--confidence (every predicting command) and --sensitivity (run): how sure the prediction is."""
    # Checked by the command (edgesim.pipeline.intervals.check_confidence): a one-line error, exit 2.
    p.add_argument("--confidence", type=float, default=0.8,
                   help="confidence of the reported latency/energy interval, in (0, 1) (default 0.8)")
    if sensitivity:
        p.add_argument("--sensitivity", action="store_true",
                       help="list the profile parameters latency and energy depend on most (elasticities), for "
                            "the whole network and per layer")
