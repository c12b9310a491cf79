"""Fuzz the model importers (TFLite, ONNX) and the SCALE-Sim readers with truncated, bit-flipped and random
files: each either imports into a verified graph or raises a one-line EdgesimError; never another exception or
a hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesim.api import load_model
from edgesim.frontends.scalesim import read_config, read_topology, topology_to_graph
from edgesim.ir.verify import verify_graph
from tests.fuzz._util import SHARED, budget, clean, shared_model

SETTINGS = settings(
    max_examples=budget(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Small real models keep each example fast; the larger ones are covered by the golden tests.
SMALL_TFLITE = ["ad01_int8.tflite", "kws_ref_model.tflite", "pretrainedResnet_quant.tflite"]


def _corrupt(raw: bytes, cut: float, flips: list[int], junk: bytes) -> bytes:
    out = bytearray(raw[: max(0, int(len(raw) * cut))]) + junk
    for f in flips:
        if out:
            out[f % len(out)] ^= 1 << (f % 8)
    return bytes(out)


CORRUPTION = dict(
    cut=st.one_of(st.just(1.0), st.floats(0.0, 1.0)),
    flips=st.lists(st.integers(0, 2**31), max_size=12),
    junk=st.binary(max_size=32),
)


def _import_checked(path: Path) -> None:
    graph = load_model(path)
    verify_graph(graph)  # whatever was accepted must be a consistent graph


@SETTINGS
@given(name=st.sampled_from(SMALL_TFLITE), **CORRUPTION)
def test_corrupted_tflite_fails_cleanly(
    name: str, cut: float, flips: list[int], junk: bytes, tmp_path: Path
) -> None:
    raw = shared_model(name).read_bytes()
    path = tmp_path / "fuzzed.tflite"
    path.write_bytes(_corrupt(raw, cut, flips, junk))
    clean(lambda: _import_checked(path))


@SETTINGS
@given(name=st.sampled_from(SMALL_TFLITE), data=st.data())
def test_tflite_header_region_flips(name: str, data: st.DataObject, tmp_path: Path) -> None:
    """Flips in the first kilobyte hit the flatbuffer offsets and vtables, where readers crash most."""
    raw = bytearray(shared_model(name).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, min(1023, len(raw) - 1)))
        raw[pos] = data.draw(st.integers(0, 255))
    path = tmp_path / "fuzzed.tflite"
    path.write_bytes(bytes(raw))
    clean(lambda: _import_checked(path))


@pytest.fixture(scope="module")
def onnx_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from edgesim.frontends.onnx_export import export_onnx
    from edgesim.zoo import build

    path = tmp_path_factory.mktemp("onnx") / "resnet8.onnx"
    export_onnx(build("resnet8", resolution=16), path)
    return path.read_bytes()


@SETTINGS
@given(**CORRUPTION)
def test_corrupted_onnx_fails_cleanly(
    onnx_bytes: bytes, cut: float, flips: list[int], junk: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "fuzzed.onnx"
    path.write_bytes(_corrupt(onnx_bytes, cut, flips, junk))
    clean(lambda: _import_checked(path))


@SETTINGS
@given(data=st.data())
def test_mutated_onnx_proto_fails_cleanly(onnx_bytes: bytes, data: st.DataObject, tmp_path: Path) -> None:
    """Structurally valid protobufs with wrong contents: bad dims, dropped inputs, bogus attributes/ops."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    g = model.graph
    kind = data.draw(
        st.sampled_from(["dim", "drop_input", "attr", "op_type", "drop_init", "rename_output", "drop_node"])
    )
    if kind == "dim":
        dims = g.input[0].type.tensor_type.shape.dim
        dims[data.draw(st.integers(0, len(dims) - 1))].dim_value = data.draw(st.integers(-3, 3))
    elif kind == "drop_input":
        node = g.node[data.draw(st.integers(0, len(g.node) - 1))]
        if node.input:
            del node.input[data.draw(st.integers(0, len(node.input) - 1))]
    elif kind == "attr":
        node = g.node[data.draw(st.integers(0, len(g.node) - 1))]
        if node.attribute:
            a = node.attribute[data.draw(st.integers(0, len(node.attribute) - 1))]
            if a.ints:
                a.ints[data.draw(st.integers(0, len(a.ints) - 1))] = data.draw(st.integers(-5, 5))
            elif a.type == onnx.AttributeProto.INT:
                a.i = data.draw(st.integers(-5, 5))
            elif a.type == onnx.AttributeProto.FLOAT:
                a.f = data.draw(st.floats(allow_nan=True))
    elif kind == "op_type":
        node = g.node[data.draw(st.integers(0, len(g.node) - 1))]
        node.op_type = data.draw(
            st.sampled_from(
                ["Conv", "Relu", "Add", "Gemm", "Reshape", "NoSuchOp", "MaxPool", "Concat", "Transpose"]
            )
        )
    elif kind == "drop_init" and len(g.initializer):
        del g.initializer[data.draw(st.integers(0, len(g.initializer) - 1))]
    elif kind == "rename_output":
        g.output[0].name = data.draw(st.text(min_size=1, max_size=5))
    elif kind == "drop_node":
        del g.node[data.draw(st.integers(0, len(g.node) - 1))]
    path = tmp_path / "mutated.onnx"
    path.write_bytes(model.SerializeToString())
    clean(lambda: _import_checked(path))


@SETTINGS
@given(raw=st.binary(max_size=512), suffix=st.sampled_from([".tflite", ".onnx", ".csv"]))
def test_random_bytes_fail_cleanly(raw: bytes, suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"random{suffix}"
    path.write_bytes(raw)
    clean(lambda: _import_checked(path))


def _scalesim(name: str) -> Path:
    path = SHARED / "reference" / "scalesim" / name
    if not path.is_file():
        pytest.skip(f"shared SCALE-Sim file {name} not present")
    return path


CSV_CELLS = st.one_of(
    st.integers(-3, 300).map(str),
    st.sampled_from(["", " ", "x", "1.5", "2:4", "nan", "1e9", "Layer", "M", "N", "K"]),
    st.text(max_size=4),
)


@SETTINGS
@given(rows=st.lists(st.lists(CSV_CELLS, min_size=0, max_size=10), max_size=6), keep_header=st.booleans())
def test_random_topology_fails_cleanly(rows: list[list[str]], keep_header: bool, tmp_path: Path) -> None:
    header = _scalesim("unit_mix.csv").read_text().splitlines()[0] if keep_header else ""
    path = tmp_path / "topo.csv"
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")

    def run() -> None:
        layers = read_topology(path)
        verify_graph(topology_to_graph(layers, "fuzz"))

    clean(run, seconds=20)


@SETTINGS
@given(**CORRUPTION)
def test_corrupted_topology_fails_cleanly(cut: float, flips: list[int], junk: bytes, tmp_path: Path) -> None:
    path = tmp_path / "topo.csv"
    path.write_bytes(_corrupt(_scalesim("unit_mix.csv").read_bytes(), cut, flips, junk))
    clean(lambda: read_topology(path), seconds=20)


@SETTINGS
@given(cfg=st.sampled_from(["tiny8x8_os.cfg", "tiny8x8_ws.cfg", "tiny16x4calc_is.cfg"]), data=st.data())
def test_mutated_config_fails_cleanly(cfg: str, data: st.DataObject, tmp_path: Path) -> None:
    from edgesim.frontends.scalesim import config_to_profile

    lines = _scalesim(cfg).read_text().splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "value", "dup", "garbage"]))
        if action == "drop":
            del lines[i]
        elif action == "value" and "=" in lines[i]:
            key = lines[i].split("=")[0]
            lines[i] = f"{key}= {data.draw(CSV_CELLS)}"
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "garbage":
            lines[i] = data.draw(st.text(max_size=20))
        if not lines:
            break
    path = tmp_path / "fuzz.cfg"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    clean(lambda: config_to_profile(read_config(path)), seconds=20)
