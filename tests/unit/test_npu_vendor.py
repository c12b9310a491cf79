"""edgesim.validate.npu_vendor: reading the vendor table, predicting a few rows, the per-runtime fit and the
leave-one-device-out figures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from edgesim.validate.npu_vendor import (
    VendorResult,
    VendorRow,
    bundled_reference,
    deploy_precision,
    fit_runtime_scales,
    is_vendor_table,
    leave_one_device_out,
    network_rank_rho,
    predict_all,
    read_vendor,
    shape_from_input_size,
    validate_vendor,
)

HEADER = ["device", "hw_profile", "threads", "runtime_id", "runtime_version", "zoo_model", "input_shape",
          "precision", "batch", "metric", "value", "unit"]


def _table(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def test_bundled_copy_is_the_shared_table() -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "reference" / "npu_vendor.csv"
    assert bundled_reference().is_file() and is_vendor_table(bundled_reference())
    if shared.is_file():
        assert bundled_reference().read_bytes() == shared.read_bytes()
    rows, skipped = read_vendor("npu_vendor")
    assert len(rows) + len(skipped) == 731


def test_precisions_map_to_deployments() -> None:
    assert deploy_precision("W8A16", "qnn") == "int16"
    assert deploy_precision("INT8 (Hailo quantized; some layers 16-bit)", "hailort") == "int8"
    assert deploy_precision('float (AI Hub "float" precision)', "qnn") == "fp16"
    assert deploy_precision("FP32", "openvino-cpu") == "fp32"
    assert deploy_precision("FP32", "openvino-npu") == "fp16"
    with pytest.raises(EdgesimError, match="precision"):
        deploy_precision("bf12", "qnn")


def test_runtime_version_text_picks_the_runtime_release() -> None:
    from edgesim.validate.npu_vendor import _runtime_spec

    assert _runtime_spec("hailort", "Hailo Model Zoo v5.2.0 / Dataflow Compiler v5.2.0") == "hailort@5.2"
    assert _runtime_spec("hailort", "Hailo Model Zoo v2.17") == "hailort@4.23"
    assert _runtime_spec("hailort", "") == "hailort"


def test_read_converts_fps_to_a_period_and_skips_unmapped(tmp_path: Path) -> None:
    p = _table(tmp_path / "t.csv", [
        ["a", "rk3566", "", "rknn", "rknn_model_zoo (RKNPU1 SDK)", "resnet8", "1x3x32x32", "INT8", "1",
         "throughput_fps", "250", "FPS"],
        ["b", "imx8mp", "4", "tflite-xnnpack", "", "resnet8", "1x3x32x32", "INT8", "1", "latency_ms", "1.5", "ms"],
        ["c", "imx8mp", "", "tflite-vx", "", "", "", "INT8", "1", "latency_ms", "3", "ms"],
    ])
    rows, skipped = read_vendor(p)
    assert [r.line for r in rows] == [2, 3] and skipped[0].error == "no zoo_model mapping in the table"
    assert rows[0].metric == "throughput" and rows[0].measured_ms == pytest.approx(4.0)
    assert rows[0].runtime == "rknn@1.7.5" and rows[1].threads == 4


def test_empty_input_shape_falls_back_to_an_image_input_size(tmp_path: Path) -> None:
    """ESP-DL's rows give the size only as input_size ('320*320*3'): the row runs at that size, not the zoo
    default; text that is not an unambiguous image size leaves the shape empty (zoo default)."""
    assert shape_from_input_size("320*320*3") == "1x3x320x320"
    assert shape_from_input_size("640×640×3") == "1x3x640x640"
    assert shape_from_input_size("[1,3,224,224]") == "1x3x224x224"
    for text in ("", "128 tokens", "(1, 640)", "[1, 513, 513, 1]", "1280x720 (HD)", "3x32x32"):
        assert shape_from_input_size(text) == ""
    header = [*HEADER, "input_size"]
    p = tmp_path / "t.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerow(["e", "esp32-s3", "", "esp-dl", "", "yolo11n", "", "INT8", "1", "latency_ms", "6161.8", "ms",
                    "320*320*3"])
        w.writerow(["f", "esp32-s3", "", "esp-dl", "", "yolo11n", "1x3x640x640", "INT8", "1", "latency_ms", "9",
                    "ms", "320*320*3"])
    rows, _ = read_vendor(p)
    assert [r.input_shape for r in rows] == ["1x3x320x320", "1x3x640x640"]


def test_bad_value_is_one_line_error(tmp_path: Path) -> None:
    p = _table(tmp_path / "t.csv", [["a", "imx8mp", "", "tflite-vx", "", "resnet8", "", "INT8", "1",
                                     "latency_ms", "fast", "ms"]])
    with pytest.raises(EdgesimError, match="line 2: value must be a positive number"):
        read_vendor(p)


def test_real_rows_predict_and_throughput_is_a_stream_period(tmp_path: Path) -> None:
    rows = [VendorRow(2, "rk3566", "rknn", "resnet8", "1x3x32x32", None, "int8", "latency", 1.0),
            VendorRow(3, "rk3566", "rknn", "resnet8", "1x3x32x32", None, "int8", "throughput", 1.0),
            VendorRow(4, "imx8mp", "tflite-vx", "no_such_net", "", None, "int8", "latency", 1.0)]
    lat, period, missing = predict_all(rows)
    assert lat.predicted_ms and period.predicted_ms
    # frames overlap the per-inference host overhead: the period between frames is shorter than one latency
    assert period.predicted_ms < lat.predicted_ms
    assert missing.predicted_ms is None and "no_such_net" in (missing.error or "")


def _res(line: int, device: str, runtime: str, net: str, meas: float, pred: float) -> VendorResult:
    return VendorResult(line, device, runtime, net, "int8", "latency", meas, pred)


def test_fit_and_leave_one_device_out_never_see_the_held_out_device() -> None:
    results = [_res(2, "a", "rknn", "n1", 2.0, 1.0), _res(3, "b", "rknn", "n1", 4.0, 1.0),
               _res(4, "c", "qnn", "n1", 3.0, 1.0)]
    assert fit_runtime_scales(results, lambda r: True)["rknn"] == pytest.approx(2.0 ** 1.5)
    lodo = {r.device: r for r in leave_one_device_out(results)}
    assert lodo["a"].predicted_ms == pytest.approx(4.0)  # fitted on b only
    assert lodo["b"].predicted_ms == pytest.approx(2.0)  # fitted on a only
    assert lodo["c"].predicted_ms == pytest.approx(1.0)  # qnn seen on no other device: unfitted


def test_network_rank_per_device() -> None:
    good = [_res(i, "a", "rknn", f"n{i}", float(i), float(i) * 3) for i in range(2, 6)]
    assert network_rank_rho(good) == [pytest.approx(1.0)]
    bad = [_res(i, "a", "rknn", f"n{i}", float(i), 10.0 - i) for i in range(2, 6)]
    assert network_rank_rho(bad) == [pytest.approx(-1.0)]


def test_validate_reports_skips_and_figures(tmp_path: Path) -> None:
    p = _table(tmp_path / "t.csv", [
        ["a", "rk3566", "", "rknn", "", "net", "", "INT8", "1", "latency_ms", "2", "ms"],
        ["b", "rk3562", "", "rknn", "", "net", "", "INT8", "1", "latency_ms", "4", "ms"],
        ["c", "rk3562", "", "", "", "net", "", "INT8", "1", "latency_ms", "4", "ms"],
    ])
    v = validate_vendor(p, predictor=lambda r: 1.0)
    assert len(v.raw) == 2 and len(v.skipped) == 1
    assert dict(v.scales) == {"rknn": pytest.approx(2.0)}  # fitted on line 2 only (even lines)
    assert [r.line for r in v.held_out] == [3] and v.held_out[0].predicted_ms == pytest.approx(2.0)
    text = v.table()
    assert "rk3566" in text and "leave-one-device-out" in text and "no runtime_id mapping" in text


def test_lodo_divides_out_a_baked_fit_for_single_device_runtimes() -> None:
    results = [_res(2, "a", "esp-dl", "n1", 10.0, 10.0), _res(3, "b", "qnn", "n1", 2.0, 1.0),
               _res(4, "c", "qnn", "n1", 2.0, 1.0)]
    lodo = {r.device: r for r in leave_one_device_out(results, baked=lambda spec: 5.0 if spec == "esp-dl" else 1.0)}
    assert lodo["a"].predicted_ms == pytest.approx(2.0)  # esp-dl on no other device: its x5 fit undone
    assert lodo["b"].predicted_ms == pytest.approx(2.0)  # refit on c replaces anything baked


def test_sequence_models_take_token_shapes() -> None:
    from edgesim.validate.npu_vendor import row_spec

    def shape(network: str, text: str) -> tuple[int, ...] | None:
        return row_spec(VendorRow(2, "rk3588", "rknn", network, text, None, "int8", "latency", 1.0)).input_shape

    assert shape("bert_base", "1x3x1x384") == (1, 384)
    assert shape("yolov8n", "1x3x640x640") == (1, 3, 640, 640)


def test_cli_validate_vendor_table_writes_table_json_and_plot(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.cli import main

    p = _table(tmp_path / "t.csv", [
        ["a", "rk3566", "", "rknn", "", "resnet8", "1x3x32x32", "INT8", "1", "throughput_fps", "900", "FPS"],
        ["b", "rk3562", "", "rknn", "", "resnet8", "1x3x32x32", "INT8", "1", "throughput_fps", "1000", "FPS"],
        ["c", "imx8mp", "1", "tflite-xnnpack", "", "resnet8", "1x3x32x32", "INT8", "1", "latency_ms", "3.8", "ms"],
    ])
    rc = main(["validate", "--reference", str(p), "--json", str(tmp_path / "v.json"),
               "--plot", str(tmp_path / "v.png")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "rk3566" in out and "tflite-xnnpack" in out and "leave-one-device-out" in out
    assert (tmp_path / "v.json").stat().st_size > 0 and (tmp_path / "v.png").stat().st_size > 0


def test_unstated_precision_is_int8_unless_the_accelerator_has_no_int8_datapath(tmp_path: Path) -> None:
    """A row that does not state its precision runs int8 where the accelerator has int8 MACs (rk3588's NPU) and
    fp16 on a GPU without an int8 datapath (the Jetson Nano's Maxwell), as TensorRT builds it; both predict."""
    from edgesim.validate.npu_vendor import _unstated_precision, row_spec

    p = _table(tmp_path / "t.csv", [
        ["a", "jetson-nano", "", "tensorrt", "", "resnet8", "1x3x32x32", "not stated", "1", "latency_ms", "5", "ms"],
        ["b", "rk3588", "", "rknn", "", "resnet8", "1x3x32x32", "not stated", "1", "latency_ms", "1", "ms"],
        ["c", "jetson-nano", "", "tensorrt", "", "resnet8", "1x3x32x32", "FP16", "1", "latency_ms", "5", "ms"],
    ])
    rows, _ = read_vendor(p)
    assert [r.precision_stated for r in rows] == [False, False, True]
    assert [_unstated_precision(r) for r in rows[:2]] == ["fp16", "int8"]
    quant = row_spec(rows[0]).transform.quant
    assert quant is not None and quant.value == "fp16"
    results = predict_all(rows)
    assert all(r.predicted_ms is not None and r.predicted_ms > 0 for r in results), [r.error for r in results]
    # the unstated Nano row is the fp16 deployment, not a CPU fallback of int8 ops
    assert results[0].predicted_ms == pytest.approx(results[2].predicted_ms)
