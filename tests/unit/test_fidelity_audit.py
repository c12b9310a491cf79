"""The fidelity audit (issue #18): each audited implied MACs/cycle against its cited figure, the published
end-to-end latencies of a chip without MLPerf rows, and docs/fidelity.md being the generated report."""

from __future__ import annotations

import pytest

from edgesim.validate import fidelity_audit as fa

PINNED = [e for e in (*fa.ENTRIES, *fa.OTHER_ENTRIES) if e.relation != "recommend"]


@pytest.mark.parametrize("entry", PINNED, ids=[f"{e.profile}.{e.unit}:{e.runtime}:{e.op}" for e in PINNED])
def test_implied_macs_per_cycle_matches_the_cited_figure(entry: fa.AuditEntry) -> None:
    implied = fa.implied_macs_per_cycle(entry)
    assert fa.holds(entry, implied), (entry.family, implied, entry.relation, entry.cited)


def test_recommendations_still_differ() -> None:
    # A "recommend" row is a finding for another helper's profile: once adopted it becomes a pinned "equal" row.
    for e in fa.OTHER_ENTRIES:
        if e.relation == "recommend":
            assert fa.implied_macs_per_cycle(e) != pytest.approx(e.cited), e.family


def test_gap9_cluster_cores_do_not_take_the_ne16_efficiency() -> None:
    cores = next(e for e in fa.ENTRIES if e.profile == "gap9" and e.unit == "cpu" and e.runtime)
    ne16 = next(e for e in fa.ENTRIES if e.unit == "ne16")
    assert fa.implied_macs_per_cycle(cores) < 0.6 * 32 < fa.implied_macs_per_cycle(ne16)


@pytest.mark.parametrize("ratio", fa.RATIOS, ids=[r.family for r in fa.RATIOS])
def test_published_speedups(ratio: fa.RatioEntry) -> None:
    r = fa.implied_macs_per_cycle(ratio.a) / fa.implied_macs_per_cycle(ratio.b)
    assert ratio.cited_lo - 1e-9 <= r <= ratio.cited_hi, (ratio.family, r)


@pytest.mark.parametrize("ts", fa.THREADS, ids=[f"{s.runtime}:{s.threads}" for s in fa.THREADS])
def test_thread_scaling_within_the_published_speedups(ts: fa.ThreadScaling) -> None:
    assert min(ts.speedups) <= ts.implied() <= max(ts.speedups), (ts.runtime, ts.implied(), ts.speedups)


def test_a55_peak_is_the_sdot_rate_and_xnnpack_stays_under_its_kernels() -> None:
    # The A55 row was a "recommend" finding (8 MACs/cycle/core); adopted as the SWOG's 16, it is pinned now.
    a55 = [e for e in fa.ARM_A_ENTRIES if "Cortex-A55" in e.family and e.runtime is None]
    assert a55 and all(e.relation == "equal" for e in a55)
    xnn = [e for e in fa.ARM_A_ENTRIES if e.runtime]
    assert {e.profile for e in xnn} >= {"imx8mp", "rk3566", "rpi5", "rpi4", "snapdragon-8-gen3"}


@pytest.mark.parametrize("pub", fa.PUBLISHED, ids=[f"{p.runtime}:{p.profile}:{p.model}" for p in fa.PUBLISHED])
def test_published_latency_on_a_chip_without_mlperf_rows(pub: fa.PublishedLatency) -> None:
    pred = fa.published_prediction_ms(pub)
    assert abs(pred / pub.measured_ms - 1) <= pub.tolerance, (pub.runtime, pred, pub.measured_ms)


def test_doc_is_the_generated_report() -> None:
    text = fa.DOC.read_text(encoding="utf-8")
    block = text.split(fa.BEGIN, 1)[1].split(fa.END, 1)[0].strip("\n")
    assert block == fa.report()
