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
