from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("optuna")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nas_optuna.py"


def test_nas_optuna_example_runs_and_respects_budget(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("nas_optuna", EXAMPLE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.main(["--hw", "rpi5", "--trials", "25", "--resolution", "128", "--seed", "1", "--quant", "none"])
    assert res["trials"] == 25 and res["feasible_trials"] > 0
    best = res["best"]
    assert best is not None
    assert best["latency_ms"] <= res["budget_ms"] + 1e-9
    assert best["full_latency_ms"] == pytest.approx(best["latency_ms"], rel=0.05)
    assert "best:" in capsys.readouterr().out
