"""docs/profiles.md quotes the YOLOv8n compare across the issue #17 boards as the code prints it now (the block is
written by docs/npu_compare.py; a change to a profile, runtime or the interval calibration must regenerate it)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import REPO


def test_profiles_doc_quotes_the_current_npu_compare() -> None:
    script = REPO / "docs" / "npu_compare.py"
    if not script.is_file():
        pytest.skip("docs/ not present")
    spec = importlib.util.spec_from_file_location("npu_compare_doc", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    expected = module.block(module.rows())
    assert module.quoted() == expected, "docs/profiles.md is stale: run python docs/npu_compare.py"
