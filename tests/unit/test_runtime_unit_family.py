"""A vendor runtime drives its own vendor's accelerator IP only (ComputeUnit.unit_family against
RuntimeProfile.unit_families, edgesim.hw.targeting): Vela on a Jetson's GPU, gapflow off GreenWaves GAP, libedgetpu
on another systolic array, OpenVINO's GPU plugin on an Adreno were answered before. Every shipped default and every
(chip, runtime) pair of a measured row still runs."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from edgesim.hw.loader import list_profiles, load_profile, load_runtime
from edgesim.hw.schema_base import DeviceClass, UnitFamily, UnitKind
from edgesim.hw.targeting import runtime_fit_problem
from tests.conftest import refused_by_cli, run_cli


def _problem(hw: str, runtime: str) -> str | None:
    rt, version = load_runtime(runtime, quiet=True)
    return runtime_fit_problem(load_profile(hw), rt, version)


# (chip, runtime, words of the refusal; None = accepted). Each refused row below was answered before the family check
# except where the comment names the earlier check.
_TABLE = [
    ("jetson-orin-nano", "vela", "compiles for arm-ethos-u units only; gpu is nvidia-gpu"),
    ("rk3588", "vela", "npu is rockchip-rknpu"),
    ("hailo-8", "vela", "npu is hailo"),
    ("core-ultra-7-155h", "vela", "npu is intel-npu"),
    ("max78000", "vela", "cnn is adi-cnn"),
    ("gap9", "vela", "ne16 is greenwaves-ne16"),
    ("stm32l4r5", "gapflow", "compiles for greenwaves-ne16 units; this chip has none"),
    ("max78000", "gapflow", "cnn is adi-cnn"),
    ("rpi5", "gapflow", "this chip has none"),
    ("qcs6490", "openvino-gpu", "compiles for intel-gpu units only; gpu is qualcomm-adreno"),
    ("snapdragon-x-elite", "openvino-gpu", "gpu is qualcomm-adreno"),
    ("core-ultra-7-155h", "tflm", "compiles for silabs-mvp units only; shave is intel-npu"),
    ("rk3588", "edgetpu", "no npu unit on this chip of a kind it drives"),  # the unit-kind check (no systolic unit)
    ("jetson-orin-nano", "rknn", "targets only rk3588"),  # the chips list
    # accepted: the vendor's own chips, and CPU runtimes on any chip of their kind
    ("jetson-orin-nano", "tensorrt", None),
    ("jetson-nano", "opencv-dnn-cuda", None),
    ("imx93", "vela", None),
    ("ethos-u65-256", "vela", None),
    ("imx93", "tflite-ethosu", None),
    ("gap9", "gapflow", None),
    ("coral-edgetpu-usb", "edgetpu", None),
    ("core-i7-1185gre", "openvino-gpu", None),
    ("core-ultra-9-288v", "openvino-npu", None),
    ("ncs2-usb2", "openvino-myriad", None),
    ("vs640", "tflite-vx", None),
    ("imx8mp", "tflite-vx", None),
    ("efr32mg24", "tflm", None),  # the Silicon Labs MVP
    ("stm32l4r5", "tflm", None),  # no accelerator: TFLM on the CPU alone
    ("core-i7-1185gre", "tflm", "built for armv6-m/armv7e-m/armv8-m/armv8.1-m/xtensa/riscv32 CPUs only; cpu is x86-64"),
    ("rk3588", "tflite-xnnpack", None),
]


def check_fit_row(hw: str, runtime: str, words: str | None) -> None:
    """One row of a (chip, runtime, refusal words or None) table: refused naming both and saying ``words``, or
    accepted."""
    problem = _problem(hw, runtime)
    if words is None:
        assert problem is None, problem
    else:
        assert problem is not None and words in problem and f"device {hw}, runtime {runtime}" in problem, problem


@pytest.mark.parametrize(("hw", "runtime", "words"), _TABLE)
def test_the_runtime_unit_family_table(hw: str, runtime: str, words: str | None) -> None:
    check_fit_row(hw, runtime, words)


def test_vela_on_a_jetson_is_one_line_exit_2_and_force_is_a_what_if(capsys: pytest.CaptureFixture[str]) -> None:
    # was answered: Vela's Ethos-U command stream costed on the Jetson's Ampere GPU
    refused_by_cli(["run", "pretrainedResnet_quant.tflite", "--hw", "jetson-orin-nano", "--runtime", "vela"], capsys,
                   "field 'runtime'", "arm-ethos-u", "--force runs it as a what-if")
    code, out, err = run_cli(["run", "resnet8", "--quant", "int8", "--fast", "--hw", "jetson-orin-nano",
                              "--runtime", "vela", "--force"], capsys)
    assert code == 0 and "forced what-if" in err + out


def test_the_api_refuses_as_the_cli_does() -> None:
    from edgesim.pipeline import RunSpec, run

    with pytest.raises(EdgesimError, match="compiles for silabs-mvp units only") as exc:
        run(RunSpec("vit_tiny", "core-ultra-7-155h", "tflm@2.11.0"))  # ops were placed on the NPU's SHAVEs
    assert exc.value.field == "runtime"


def test_an_accelerator_of_undeclared_or_other_family_is_refused() -> None:
    coral = load_profile("coral-edgetpu")
    rt, _ = load_runtime("edgetpu", quiet=True)
    for family, words in [(None, "tpu is of no declared unit_family"), (UnitFamily.HAILO, "tpu is hailo")]:
        units = [u.model_copy(update={"unit_family": family}) if u.name == "tpu" else u for u in coral.units]
        problem = runtime_fit_problem(coral.model_copy(update={"units": units}), rt)
        assert problem is not None and words in problem, problem
    assert runtime_fit_problem(coral, rt) is None


def test_a_scalesim_array_is_no_edge_tpu(capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.files import data_path

    cfg = data_path("reference", "scalesim", "tiny8x8_os.cfg")
    refused_by_cli(["run", "resnet8", "--quant", "int8", "--fast", "--hw", str(cfg), "--runtime", "edgetpu"], capsys,
                   "compiles for google-edgetpu units")


def test_every_bundled_accelerator_unit_declares_its_family() -> None:
    for pid, _ in list_profiles():
        prof = load_profile(pid)
        for u in prof.units:
            accelerator = u.name != prof.host_unit and (u.kind is not UnitKind.CPU or u.device is not DeviceClass.CPU)
            assert not accelerator or u.unit_family is not None, (pid, u.name)


def _measured_pairs() -> set[tuple[str, str]]:
    """(chip, runtime[@version]) of every row of the shipped reference CSVs that maps to a bundled profile."""
    from edgesim.files import data_path
    from edgesim.validate.edge import convert_edge_latency

    ref = data_path("reference")
    pairs = set()
    with tempfile.TemporaryDirectory() as tmp:
        edge = Path(tmp) / "edge.csv"
        convert_edge_latency(ref / "edge_latency.csv", edge)
        for path in (ref / "mlperf_tiny.csv", edge):
            for row in csv.DictReader(path.open(encoding="utf-8")):
                version = row.get("runtime_version") or ""
                pairs.add((row["device"], row["runtime"] + (f"@{version}" if version else "")))
    for path in (ref / "npu_vendor.csv", *sorted((ref / "npu_external").glob("*.csv"))):
        for row in csv.DictReader(path.open(encoding="utf-8")):
            if row["hw_profile"] and row["runtime_id"]:
                pairs.add((row["hw_profile"], row["runtime_id"]))
    return pairs


def test_every_shipped_default_and_measured_pair_still_runs() -> None:
    known = {pid for pid, _ in list_profiles()}
    pairs = {(pid, load_profile(pid).default_runtime) for pid in known}
    pairs = {(hw, rt) for hw, rt in pairs if rt is not None} | _measured_pairs()
    assert len(pairs) > 70
    for hw, spec in sorted(pairs):
        if hw not in known:
            continue  # a row of a chip without a profile (max78002) is not predicted
        prof = load_profile(hw)
        rt, version = load_runtime(spec, quiet=True, profile_default=prof.default_runtime)
        assert runtime_fit_problem(prof, rt, version) is None, (hw, spec)
