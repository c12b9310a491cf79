"""docs/profiles.md quotes the YOLOv8n compare across the issue #17 boards and the device table as the code prints
them now (the blocks are written by docs/npu_compare.py and docs/npu_devices.py; a change to a profile, runtime or
the interval calibration must regenerate them)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from tests.conftest import REPO


def _script(name: str) -> ModuleType:
    script = REPO / "docs" / f"{name}.py"
    if not script.is_file():
        pytest.skip("docs/ not present")
    spec = importlib.util.spec_from_file_location(f"{name}_doc", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_profiles_doc_quotes_the_current_npu_compare() -> None:
    module = _script("npu_compare")
    expected = module.block(module.rows())
    assert module.quoted() == expected, "docs/profiles.md is stale: run python docs/npu_compare.py"


def test_profiles_doc_quotes_the_current_device_table() -> None:
    module = _script("npu_devices")
    text = (REPO / "docs" / "profiles.md").read_text(encoding="utf-8")
    quoted = text.partition(module.BEGIN)[2].partition(module.END)[0].strip("\n")
    assert quoted == module.table(), "docs/profiles.md is stale: run python docs/npu_devices.py"
