"""``edgesim infer``: run a quantized model bit-exactly with the int8/int4 kernels on given or random inputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from edgesim.ir.graph import Graph


def infer(model: str, input_path: str | None, output_path: str | None, seed: int) -> int:
    from edgesim.kernels.executor import execute
    from edgesim.passes.fusion import fuse_activations
    from edgesim.pipeline import load_source

    # A QDQ model (edgesim optimize's own export, onnxruntime's quantizer) quantizes after the activation:
    # Conv -> Relu -> QuantizeLinear leaves the conv's own output float until the ReLU is folded into it, as
    # every int8 runtime does (a clamp at the output zero point, exact). Without this the executor refused
    # `edgesim optimize --quant int8`'s output.
    graph = fuse_activations(load_source(model))
    inputs = _inputs_from_file(graph, input_path) if input_path else _random_inputs(graph, seed)
    _check_inputs(graph, inputs)
    outputs = execute(graph, inputs)
    for name, value in outputs.items():
        flat = value.reshape(-1)
        print(f"{name}: shape {value.shape} {value.dtype}, first values {flat[:10].tolist()}")
    if output_path:
        _write_outputs(outputs, output_path)
        print(f"wrote {output_path}")
    return 0


def _inputs_from_file(graph: Graph, input_path: str) -> dict[str, np.ndarray]:
    """The model's inputs from an .npy (a single-input model) or an .npz keyed by input name."""
    import zipfile

    import numpy as np

    from edgesim.errors import EdgesimError

    path = Path(input_path)
    if not path.exists():
        raise EdgesimError(f"input file '{path}' does not exist")
    # Truncated/garbage files raise EOFError or BadZipFile, not only ValueError; .npz members load lazily.
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.ndarray):
            loaded = {k: loaded[k] for k in loaded.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise EdgesimError(f"'{path}' is not a readable .npy/.npz file ({' '.join(str(e).split())})") from None
    if isinstance(loaded, np.ndarray):
        if len(graph.inputs) != 1:
            raise EdgesimError(f"model has {len(graph.inputs)} inputs {list(graph.inputs)}: pass an .npz")
        return {graph.inputs[0]: loaded}
    inputs: dict[str, np.ndarray] = loaded
    return inputs


def _random_inputs(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Seeded random inputs: uniform over an integer input's whole range, standard normal for a float one."""
    import numpy as np

    from edgesim.errors import EdgesimError

    if seed < 0:  # numpy refuses negative seeds with a bare ValueError
        raise EdgesimError(f"--seed must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    inputs: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        t = graph.tensors[name]
        info = np.iinfo(t.dtype.numpy()) if t.dtype.is_integer else None
        if info is None:
            inputs[name] = rng.standard_normal(t.shape).astype(t.dtype.numpy())
        else:
            inputs[name] = rng.integers(info.min, info.max + 1, size=t.shape).astype(t.dtype.numpy())
    return inputs


def _check_inputs(graph: Graph, inputs: dict[str, np.ndarray]) -> None:
    """Refuse a missing input or one whose shape or dtype is not the model's."""
    from edgesim.errors import EdgesimError

    for name in graph.inputs:
        if name not in inputs:
            raise EdgesimError(f"no value given for model input '{name}'")
        want = graph.tensors[name]
        if tuple(inputs[name].shape) != want.shape:
            raise EdgesimError(f"input '{name}' has shape {inputs[name].shape}, the model expects {want.shape}")
        if inputs[name].dtype != want.dtype.numpy():
            raise EdgesimError(f"input '{name}' is {inputs[name].dtype}, the model expects {want.dtype.numpy()}")


def _write_outputs(outputs: dict[str, np.ndarray], output_path: str) -> None:
    """The outputs as one .npy (a single output) or an .npz keyed by output name, written atomically."""
    import numpy as np

    from edgesim.files import atomic_write

    arrays: dict[str, Any] = dict(outputs)

    def _write(p: Path) -> None:
        with p.open("wb") as fh:
            if len(arrays) == 1:
                np.save(fh, next(iter(arrays.values())))
            else:
                np.savez(fh, **arrays)

    atomic_write(output_path, _write)
