"""Issue #18's new-device latency figure: leave-one-device-out MAPE per device, pinned, and quoted by
docs/validation.md exactly as `edgesim validate --lodo` prints it."""

from __future__ import annotations

import pytest

from tests.golden.conftest import REF, SHARED


@pytest.fixture(scope="module")
def lodo():  # type: ignore[no-untyped-def]
    if not REF.is_file() or not (SHARED / "models").is_dir():
        pytest.skip("bundled reference data (edgesim/data) not present")
    from edgesim.validate.calibrate import leave_one_device_out

    return leave_one_device_out(REF)


def test_every_device_within_the_new_device_target(lodo) -> None:  # type: ignore[no-untyped-def]
    by_device: dict[str, list[float]] = {}
    for r in lodo.rows:
        by_device.setdefault(r.device, []).append(abs(r.latency_error))
    mapes = {d: sum(v) / len(v) for d, v in by_device.items()}
    assert len(mapes) == 7
    for device, mape in mapes.items():
        # efr32mg24 29.7%: two submissions of the same benchmarks 1.6-2x apart; the others 7.7-18.9% (2026-12-06)
        assert mape <= (0.33 if device == "efr32mg24" else 0.20), (device, mape)
    assert sum(mapes.values()) / len(mapes) <= 0.17  # 15.1%


def test_validation_doc_quotes_the_device_table(lodo) -> None:  # type: ignore[no-untyped-def]
    from edgesim.validate.devices import device_table
    from tests.conftest import REPO

    text = (REPO / "docs" / "validation.md").read_text(encoding="utf-8")
    block = text.split("<!-- lodo-devices:begin -->", 1)[1].split("<!-- lodo-devices:end -->", 1)[0]
    assert block.strip() == f"```text\n{device_table(lodo)}\n```"
