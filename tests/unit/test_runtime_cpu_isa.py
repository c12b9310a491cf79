"""A CPU runtime runs only on the instruction sets its kernels are built for (ComputeUnit.isa against
RuntimeProfile.cpu_isas, edgesim.hw.targeting): ONNC's CMSIS-NN calls on the ESP32-S3's Xtensa, TFLite Micro on a
Raspberry Pi 5, OpenVINO's CPU plugin and XNNPACK on the K230's RISC-V C908 were answered before. One line naming
device, runtime and ISA, exit 2, at every door; --force runs it as a what-if."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from edgesim.hw.cpu_isa import CpuIsa
from edgesim.hw.family import family_of, unit_isa
from edgesim.hw.loader import list_profiles, load_profile, load_runtime
from edgesim.hw.schema_base import UnitKind
from edgesim.hw.targeting import runtime_fit_problem
from tests.conftest import refused_by_cli, run_cli
from tests.unit.test_runtime_unit_family import check_fit_row

_M = "armv6-m/armv7e-m/armv8-m/armv8.1-m"
# (chip, runtime, words of the refusal; None = accepted). Every refused row was answered before this check.
_TABLE = [
    ("esp32-s3", "onnc", f"built for {_M} CPUs only; cpu is xtensa"),
    ("esp32-p4", "microtvm", "cpu is riscv32"),
    ("gap9", "plumerai", "cpu is riscv32"),
    ("esp32-s3", "bosch-hal", "cpu is xtensa"),
    ("rpi5", "tflm", f"built for {_M}/xtensa/riscv32 CPUs only; cpu is aarch64"),
    ("core-i7-1185gre", "tflm", "cpu is x86-64"),
    ("k230", "openvino-cpu", "built for x86-64/aarch64/aarch32 CPUs only; cpu is riscv64"),
    ("k230", "tflite-xnnpack", "cpu is riscv64"),
    ("core-ultra-7-155h", "leip", "cpu is x86-64"),
    # accepted: the ISAs the runtimes ship kernels for
    ("esp32-s3", "tflm", None),  # ESP-NN
    ("esp32-p4", "tflm", None),
    ("stm32g0b1", "tflm", None),  # Armv6-M
    ("ra8d1", "onnc", None),
    ("esp32-p4", "esp-dl", None),
    ("rv1126", "tflite-xnnpack", None),  # AArch32 NEON
    ("rpi5", "openvino-cpu", None),
    ("k230", "opencv-dnn", None),  # OpenCV's RVV kernels
    ("rpi4", "leip", None),
]


@pytest.mark.parametrize(("hw", "runtime", "words"), _TABLE)
def test_the_runtime_cpu_isa_table(hw: str, runtime: str, words: str | None) -> None:
    check_fit_row(hw, runtime, words)


def test_onnc_on_an_xtensa_is_one_line_exit_2_and_force_is_a_what_if(capsys: pytest.CaptureFixture[str]) -> None:
    refused_by_cli(["run", "pretrainedResnet_large_int8.tflite", "--hw", "esp32-s3", "--runtime", "onnc"], capsys,
                   "field 'runtime'", "device esp32-s3, runtime onnc", "cpu is xtensa", "--force runs it as a what-if")
    code, out, err = run_cli(["run", "resnet8", "--quant", "int8", "--fast", "--hw", "esp32-s3", "--runtime", "onnc",
                              "--force"], capsys)
    assert code == 0 and "forced what-if" in err + out and "cpu is xtensa" in err + out


def test_every_door_refuses_as_run_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.pipeline import RunSpec, run

    with pytest.raises(EdgesimError, match="cpu is riscv64") as exc:
        run(RunSpec("resnet8", "k230", "openvino-cpu"))
    assert exc.value.field == "runtime"
    refused_by_cli(["compare", "resnet8", "--hw", "k230", "--hw", "rpi5", "--runtime", "tflite-xnnpack"], capsys,
                   "device k230, runtime tflite-xnnpack", "cpu is riscv64")
    refused_by_cli(["report", "resnet8", "--hw", "rpi5", "--runtime", "tflm", "-o", str(tmp_path / "r.html")],
                   capsys, "device rpi5, runtime tflm", "cpu is aarch64")
    assert not (tmp_path / "r.html").exists()
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\nprofiles: [esp32-s3]\nmodels: [resnet8]\nruntime: onnc\n")
    code, out, _ = run_cli(["sweep", str(spec), "-o", str(tmp_path / "r.parquet"), "--workers", "0",
                            "--no-progress", "--no-plot"], capsys)
    assert code == 0 and "1 failed points" in out and "cpu is xtensa" in out  # a point the sweep could not answer
    from edgesim.validate.core import default_reference

    rows = default_reference().read_text(encoding="utf-8").splitlines()
    onnc = next(r for r in rows if r.startswith("stm32l4r5,onnc,"))
    measured = tmp_path / "m.csv"
    measured.write_text("\n".join([rows[0], onnc.replace("stm32l4r5,onnc,,120.0", "esp32-s3,onnc,,240.0")]) + "\n")
    refused_by_cli(["validate", "--reference", str(measured)], capsys, "device esp32-s3, runtime onnc",
                   "cpu is xtensa")


def test_every_cpu_unit_of_every_bundled_profile_has_an_isa() -> None:
    for pid, _ in list_profiles():
        prof = load_profile(pid)
        units = [*prof.units, *([prof.little_cluster] if prof.little_cluster is not None else [])]
        for u in units:
            if u.kind is not UnitKind.CPU:
                continue
            assert u.isa is not None, (pid, u.name)  # declared, not guessed from the description
            # where the description names a core family, the family's ISA agrees with the declared one
            named = unit_isa(prof, u.model_copy(update={"isa": None}))
            assert named is None or named is u.isa, (pid, u.name, named, u.isa)


def test_an_undeclared_isa_is_read_from_the_core_named_or_refused() -> None:
    stm = load_profile("stm32l4r5")
    rt, _ = load_runtime("onnc", quiet=True)
    host = stm.unit(stm.host_unit)
    assert family_of(host.description) == "cortex-m4"
    read = stm.model_copy(update={"units": [host.model_copy(update={"isa": None})]})
    assert unit_isa(read, read.host) is CpuIsa.ARMV7E_M and runtime_fit_problem(read, rt) is None
    unknown = host.model_copy(update={"isa": None, "description": "a proprietary core"})
    problem = runtime_fit_problem(stm.model_copy(update={"units": [unknown], "description": "a chip"}), rt)
    assert problem is not None and "cpu declares no isa and names no core edgesim knows" in problem, problem


def test_an_isa_is_for_cpu_units_only() -> None:
    from pydantic import ValidationError

    npu = next(u for u in load_profile("rk3588").units if u.kind is not UnitKind.CPU)
    with pytest.raises(ValidationError, match="isa is for cpu units"):
        type(npu).model_validate({**npu.model_dump(), "isa": "aarch64"})
