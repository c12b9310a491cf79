"""Shared fixtures of the golden tests: one uncalibrated validation run of mlperf_tiny.csv per session."""

from __future__ import annotations

import pytest

from tests.conftest import DATA

SHARED = DATA
REF = SHARED / "reference" / "mlperf_tiny.csv"


@pytest.fixture(scope="session")
def plain():  # type: ignore[no-untyped-def]
    """``edgesim validate`` of the shared MLPerf Tiny reference with the profiles as shipped."""
    if not REF.is_file() or not (SHARED / "models").is_dir():
        pytest.skip("bundled reference data (edgesim/data) not present")
    from edgesim.validate import validate

    return validate(REF)
