"""Doors that answered questions that make no sense (audit14): each now reaches the one check the driver or the
model loader makes, so the CLI, compare, sweep and the API say the same thing."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesim.errors import EdgesimError
from tests.conftest import refused_by_cli


def test_a_language_model_name_is_sent_to_llm_by_the_loader_at_every_door(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.api import RunSpec, run

    # the API and a sweep spec said 'unknown model' (only the CLI's run/compare knew, by a check of their own)
    with pytest.raises(EdgesimError, match="'llama-3.2-1b' is a language model: ask `edgesim llm"):
        run(RunSpec("llama-3.2-1b", "rpi5"))
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\nprofiles: [rpi5]\nmodels: [qwen2.5-0.5b]\n")
    refused_by_cli(["sweep", str(spec), "-o", str(tmp_path / "r.parquet"), "--workers", "0", "--no-progress",
                    "--no-plot"], capsys, "field 'models'", "'qwen2.5-0.5b' is a language model")
    assert not (tmp_path / "r.parquet").exists()
    refused_by_cli(["compare", "resnet8", "llama-3.2-1b", "--hw", "rpi5"], capsys, "is a language model")


@pytest.mark.parametrize("runtime", ["tflm", "bosch-hal", "microtvm", "plumerai"])
def test_threads_a_single_threaded_runtime_never_uses_are_refused(runtime: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.api import RunSpec, run

    # bare-metal, one thread: --threads 2 on the dual-core ESP32-S3 halved the latency (cores the runtime never uses)
    refused_by_cli(["run", "kws_ref_model.tflite", "--hw", "esp32-s3", "--runtime", runtime, "--threads", "2",
                    "--fast"], capsys, "field 'threads'", f"runtime {runtime} runs a model on at most 1 thread")
    with pytest.raises(EdgesimError, match="at most 1 thread") as exc:
        run(RunSpec("kws_ref_model.tflite", "esp32-s3", runtime, threads=2))
    assert exc.value.field == "threads"
    # the thread check comes first; one thread is answered (a what-if for the Cortex-M-only runtimes on the Xtensa)
    spec = RunSpec("kws_ref_model.tflite", "esp32-s3", runtime, threads=1, force=runtime != "tflm")
    assert run(spec).latency_s > 0


def test_esp_dl_still_splits_its_ops_over_both_cores() -> None:
    from edgesim.api import RunSpec, run

    one = run(RunSpec("kws_ref_model.tflite", "esp32-s3", "esp-dl", threads=1)).latency_s
    assert run(RunSpec("kws_ref_model.tflite", "esp32-s3", "esp-dl", threads=2)).latency_s < one


@pytest.mark.parametrize(("runtime", "hw"), [("mlc", "jetson-orin-nano"), ("rkllm", "rk3588")])
def test_llm_threads_on_a_gpu_or_npu_placement_are_refused(runtime: str, hw: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from edgesim.llm.predict import predict

    # were silently unused, and written to the JSON's 'threads' as if they had counted
    refused_by_cli(["llm", "llama-3.2-1b", "--hw", hw, "--runtime", runtime, "--threads", "4"], capsys,
                   "field 'threads'", "CPU threads do not apply")
    with pytest.raises(EdgesimError, match="CPU threads do not apply"):
        predict("llama-3.2-1b", hw, runtime, threads=4)
    assert predict("llama-3.2-1b", "rpi5", "llama.cpp", threads=2, prompt=16, gen=8).threads == 2
