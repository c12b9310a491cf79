"""One throughput for a stream of frames, whichever door asks (edgesim.pipeline.stream.steady_period_s).

`edgesim run --frames N` printed N frames' wall time (fill and drain included, the P-cores only) while `edgesim
validate` scored the steady-state period with OpenVINO's E-core streams and Hailo's batch: MobileNet-V2 int8 on a
Core Ultra 9 288V's CPU was 803 inferences/s at one door and 1590 at the other (the vendor's 1650 FPS).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesim.passes.choices import QuantPreset
from edgesim.pipeline import Engine, RunSpec, TransformOptions, run
from edgesim.validate.npu_vendor import VendorRow, predict_row
from tests.conftest import run_cli


def _row(device: str, runtime: str, network: str, batch: int) -> VendorRow:
    return VendorRow(line=2, device=device, runtime=runtime, network=network, precision="int8",
                     metric="throughput", measured_ms=1.0, input_shape="1x3x224x224", threads=None, batch=batch,
                     hw=device, precision_stated=True)


@pytest.mark.parametrize("device, runtime, network, batch", [
    ("core-ultra-9-288v", "openvino-cpu@2024.6", "mobilenet_v2", 1),  # E-core streams (THROUGHPUT hint)
    ("hailo-10h", "hailort@5.2", "resnet50", 8),                       # contexts switched once per batch
])
def test_run_frames_gives_the_throughput_validate_scores(device: str, runtime: str, network: str, batch: int,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    validated_ms = predict_row(_row(device, runtime, network, batch))
    out = tmp_path / "r.json"
    args = ["run", network, "--hw", device, "--runtime", runtime, "--quant", "int8", "--input-shape",
            "1x3x224x224", "--frames", "8", "--json", str(out)]
    code, stdout, stderr = run_cli([*args, "--batch", str(batch)] if batch > 1 else args, capsys)
    assert code == 0, stderr
    report = json.loads(out.read_text())
    # device_calibration off in validate, and neither board has table rows: the same model, the same stream
    assert 1e3 / report["throughput_inf_per_s"] == pytest.approx(validated_ms, rel=1e-9)
    assert "steady state" in stdout
    assert report["throughput_queued_frames_inf_per_s"] > 0


def test_the_api_result_carries_the_same_steady_stream() -> None:
    spec = RunSpec("mobilenet_v2", "core-ultra-9-288v", "openvino-cpu@2024.6", input_shape=(1, 3, 224, 224),
                   transform=TransformOptions(quant=QuantPreset.INT8), engine=Engine.EVENT, frames=8)
    result = run(spec)
    assert result.stream_period_s is not None and result.sim is not None
    assert result.throughput_inf_per_s == pytest.approx(1.0 / result.stream_period_s)
    # the E-core streams add frames the queued P-core run alone does not count
    assert result.throughput_inf_per_s > 1.3 * result.sim.throughput_inf_per_s
    one = run(RunSpec("mobilenet_v2", "core-ultra-9-288v", "openvino-cpu@2024.6", input_shape=(1, 3, 224, 224),
                      transform=TransformOptions(quant=QuantPreset.INT8), engine=Engine.EVENT))
    assert one.stream_period_s is None  # one frame: 1 / latency, no stream


@pytest.mark.parametrize("flags, words", [
    (["--batch", "8"], "--batch needs --frames"),
    (["--frames", "8", "--batch", "0"], "batch must be 1.."),
])
def test_a_batch_without_a_stream_is_one_error_line(flags: list[str], words: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_cli(["run", "resnet8", "--hw", "hailo-8", "--quant", "int8", *flags], capsys)
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], stderr


@pytest.mark.parametrize("device, runtime, network", [
    ("hailo-8", "hailort", "mobilenet_v1"),  # an edge_latency.csv model-zoo FPS row: layer-pipelined, 8 -> 16 frames
    ("core-ultra-9-288v", "openvino-cpu@2024.6", "mobilenet_v2"),  # the E-core streams as a second server
])
def test_the_edge_validator_scores_the_throughput_run_frames_reports(
        device: str, runtime: str, network: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The edge-board table's throughput rows used their own stream formula (8 -> 32 frames, no little-core
    streams, no device multiplier); they now go through the one every other door uses."""
    from edgesim.validate import validate

    name, _, version = runtime.partition("@")
    ref = tmp_path / "ref.csv"
    ref.write_text("device,runtime,runtime_version,clock_mhz,benchmark,model_file,latency_ms,metric,precision\n"
                   f"{device},{name},{version},,{network},{network},1.0,throughput,int8\n", encoding="utf-8")
    (row,) = validate(ref, strict=True).rows
    out = tmp_path / "r.json"
    code, _, stderr = run_cli(["run", network, "--hw", device, "--runtime", runtime, "--quant", "int8",
                               "--frames", "8", "--json", str(out)], capsys)
    assert code == 0, stderr
    report = json.loads(out.read_text())
    assert row.metric == "throughput"
    assert 1e3 / report["throughput_inf_per_s"] == pytest.approx(row.predicted_latency_ms, rel=1e-9)
