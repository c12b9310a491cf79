"""Load a model from a file (.tflite, .onnx, SCALE-Sim topology .csv) or a zoo name, into the graph IR.

The graph comes back verified but not canonicalized: the pipeline driver (``edgesim.pipeline``) runs the passes."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

from edgesim.errors import EdgesimError, ModelError
from edgesim.files import data_path
from edgesim.ir.graph import Graph
from edgesim.ir.verify import verify_graph


def parse_shape(text: str) -> tuple[int, ...]:
    """'1x3x299x299' (or '1,3,299,299') -> (1, 3, 299, 299)."""
    parts = text.replace(",", "x").lower().split("x")
    try:
        if not text.strip() or any(not p.strip() for p in parts):
            raise ValueError(text)  # '1xx224', '1x3x224x': an empty dimension is a typo, not a missing one
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise EdgesimError(f"--input-shape '{text}' is not of the form 1x3x224x224") from None
    if not dims or any(d <= 0 for d in dims):
        raise EdgesimError(f"--input-shape '{text}' must list positive dimensions")
    return dims


def _shape_tuple(shape: object) -> tuple[int, ...] | None:
    """A library caller's input shape as the tuple the importers take: a list or numpy integers are fine; text
    ('1x3x8x8' was read as the rank-7 shape of its characters) and fractions are a field error."""
    if shape is None:
        return None
    if isinstance(shape, str | bytes) or not hasattr(shape, "__iter__"):
        raise EdgesimError(f"must be a tuple of integers such as (1, 3, 224, 224), got {shape!r}",
                           field="input_shape")
    dims = tuple(shape)
    if not all(isinstance(d, numbers.Real) and not isinstance(d, bool) and float(d).is_integer() for d in dims):
        raise EdgesimError(f"must be a tuple of integers such as (1, 3, 224, 224), got {shape!r}",
                           field="input_shape")
    return tuple(int(d) for d in dims)


def is_zoo_name(path_or_name: str | Path) -> bool:
    """True when ``load_model`` builds this from the zoo (seeded random weights) rather than reading a file."""
    text = str(path_or_name)
    path = Path(text)
    if path.suffix.lower() in (".tflite", ".onnx", ".csv") or path.exists():
        return False
    return not (path.parent == Path(".") and data_path("models", path.name).is_file())


def load_model(path_or_name: str | Path, input_shape: tuple[int, ...] | None = None,
               zoo_choices: dict[str, Any] | None = None) -> Graph:
    """Import a model file or build a zoo model (with ``zoo_choices``: resolution, width, OFA choices...), verify
    it, and return the graph."""
    text = str(path_or_name)
    path = Path(text)
    suffix = path.suffix.lower()
    input_shape = _shape_tuple(input_shape)
    if not path.exists() and path.parent == Path(".") and data_path("models", path.name).is_file():
        path = data_path("models", path.name)  # a bundled model by file name (``edgesim models`` lists them)
    if suffix in (".tflite", ".onnx", ".csv") or path.exists():
        if zoo_choices:
            raise EdgesimError(f"'{text}' is a model file; zoo options ({', '.join(zoo_choices)}) do not apply")
        if not path.exists():
            raise ModelError(f"model file '{path}' does not exist")
        if path.is_dir():
            raise ModelError(f"model path '{path}' is a directory, not a model file")
        if suffix == ".tflite":
            from edgesim.frontends.tflite_import import import_tflite

            graph = import_tflite(path, input_shape=input_shape)
        elif suffix == ".onnx":
            from edgesim.frontends.onnx_import import import_onnx

            graph = import_onnx(path, input_shape=input_shape)
        elif suffix == ".csv":
            from edgesim.frontends.scalesim import read_topology, topology_to_graph

            if input_shape is not None:
                raise EdgesimError("--input-shape does not apply to a SCALE-Sim topology (shapes are per layer)")
            graph = topology_to_graph(read_topology(path), path.stem)
        elif suffix == ".gguf":  # every door that loads a model (the API too) sends a language model to its own
            from edgesim.zoo import language_model_error

            raise language_model_error(str(path))
        else:
            raise ModelError(f"'{path}': unknown model format '{suffix}' (expected .tflite, .onnx or a SCALE-Sim .csv)")
    else:
        from edgesim import zoo

        choices = dict(zoo_choices or {})
        if input_shape is not None:
            choices["input_shape"] = input_shape
        graph = zoo.build(text, **choices)
    return verify_graph(graph)
