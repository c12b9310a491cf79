"""The x86 int8 paths of the OpenVINO CPU devices in the fidelity audit (issue #18): ISA peaks pinned, the
OpenVINO conv rate against the network average its ResNet-50 row implies, and the doc block listing them."""

from __future__ import annotations

import pytest

from edgesim.validate import fidelity_audit as fa

PINNED = [e for e in fa.X86_ENTRIES if e.relation != "recommend"]


@pytest.mark.parametrize("entry", PINNED, ids=[f"{e.profile}.{e.unit}:{e.runtime}:{e.op}" for e in PINNED])
def test_x86_implied_macs_per_cycle_matches_the_cited_figure(entry: fa.AuditEntry) -> None:
    assert fa.holds(entry, fa.implied_macs_per_cycle(entry)), entry.family


def test_x86_recommendations_still_differ() -> None:
    recs = [e for e in fa.X86_ENTRIES if e.relation == "recommend"]
    assert recs
    for e in recs:
        assert fa.implied_macs_per_cycle(e) != pytest.approx(e.cited), e.family


def test_report_lists_the_x86_block() -> None:
    text = fa.report()
    assert "Intel x86 int8 paths" in text
    for e in fa.X86_ENTRIES:
        assert e.family in text
