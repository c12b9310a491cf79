"""The optimization pipeline behind ``edgesim optimize``: fusion, pruning, quantization, weight compression.

Order matters: BN folding and activation fusion first (so quantization sees the folded weights and calibrates the
fused outputs), then pruning (on float weights), then quantization, then compression of the final integer bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from edgesim.errors import EdgesimError
from edgesim.ir.graph import Graph
from edgesim.passes.choices import Compression
from edgesim.passes.compress import (
    DEFAULT_DECODE_BITS_PER_CYCLE,
    compression_summary,
    huffman_compress,
    pack_int4_weights,
)
from edgesim.passes.fusion import fuse_operators
from edgesim.passes.pipeline import CANONICALIZE, Pass, run_pipeline
from edgesim.passes.prune import PruneSpec, parse_prune, prune_graph
from edgesim.passes.quantize import PRESETS, QuantSpec, load_calibration, load_quant_spec, quantize_graph

COMPRESSIONS = tuple(c.value for c in Compression)


@dataclass(frozen=True)
class Options:
    quant: QuantSpec | None = None
    prune: PruneSpec | None = None
    fuse: bool = True  # graph-level BN/activation fusion; residual ADDs fuse at mapping time (mapper, per runtime)
    compress: str = "int4"  # "none", "int4" (pack int4 weights), "huffman" (Huffman-code weight bytes; packs int4)
    decode_bits_per_cycle: float = DEFAULT_DECODE_BITS_PER_CYCLE

    def __post_init__(self) -> None:
        if self.compress not in COMPRESSIONS:
            raise EdgesimError(f"unknown compression '{self.compress}'; choose {', '.join(COMPRESSIONS)}",
                               field="compress")


def optimization_pipeline(options: Options) -> list[Pass]:
    """The passes for ``options``, in order (each is Graph -> Graph; run with ``run_pipeline``)."""
    passes: list[Pass] = list(CANONICALIZE)
    if options.fuse:
        passes.append(fuse_operators)
    if options.prune is not None:
        passes.append(partial(prune_graph, spec=options.prune))
    if options.quant is not None:
        passes.append(partial(quantize_graph, spec=options.quant))
    if options.compress in ("int4", "huffman"):
        passes.append(pack_int4_weights)
    if options.compress == "huffman":
        passes.append(partial(huffman_compress, decode_bits_per_cycle=options.decode_bits_per_cycle))
    return passes


def options_from_cli(quant: str | None = None, quant_spec: str | Path | None = None, calib: str | Path | None = None,
                     prune: str | None = None, fuse: bool = True, compress: str | None = None,
                     graph: Graph | None = None, calibration: str = "minmax") -> Options:
    """Build Options from the ``edgesim optimize`` flags. ``graph`` is needed to shape ``--calib`` data."""
    spec: QuantSpec | None = None
    if quant is not None and quant not in PRESETS:
        raise EdgesimError(f"unknown preset '{quant}'; choose {', '.join(PRESETS)}", field="quant")
    calib_data: tuple[np.ndarray, ...] = ()
    if calib is not None:
        if graph is None:
            raise EdgesimError("calibration data needs the model graph", field="calib")
        calib_data = load_calibration(calib, graph)
    if quant_spec is not None:
        defaults: dict[str, object] = {"calibration_data": calib_data}
        if quant is not None:
            defaults["preset"] = quant
        spec = load_quant_spec(quant_spec, **defaults)
    elif quant is not None:
        spec = QuantSpec(preset=quant, calibration_data=calib_data, calibration=calibration)
    elif calib is not None:
        raise EdgesimError("--calib needs --quant or --quant-spec", field="calib")
    return Options(quant=spec, prune=parse_prune(prune) if prune else None, fuse=fuse,
                   compress=compress or "int4")


def optimize(graph: Graph, options: Options) -> Graph:
    """Apply the pipeline; every pass's result is verified."""
    return run_pipeline(graph, optimization_pipeline(options))


def describe(before: Graph, after: Graph) -> dict[str, int]:
    """Headline numbers for a CLI summary: node counts and stored weight bytes before and after."""
    b, a = compression_summary(before), compression_summary(after)
    return {"nodes_before": len(before.nodes), "nodes_after": len(after.nodes),
            "weight_bytes_before": b["stored_bytes"], "weight_bytes_after": a["stored_bytes"]}
