from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgesim.errors import EdgesimError
from edgesim.explore.lut import agreement, export_lut, load_lut, lut_sum
from edgesim.explore.nas import FastCostModel, simulated_full
from edgesim.zoo import search_space


@pytest.fixture(scope="module")
def model() -> FastCostModel:
    # int8 so the network runs on the NPU; the float path is exercised by test_explore_optuna.
    return FastCostModel("ethos-u55-128", resolution=128, quant="int8")


def _archs(n: int, seed: int = 3) -> list[dict[str, list[int]]]:
    rng = np.random.default_rng(seed)
    space = search_space("ofa_mobilenet_v3")
    return [space.sample(rng) for _ in range(n)]


def test_fast_matches_analytic_whole_network(model: FastCostModel) -> None:
    for arch in _archs(12):
        fast = model.estimate(arch)
        full = model.full_estimate(arch)
        assert fast[0] == pytest.approx(full[0], rel=0.02)
        assert fast[1] == pytest.approx(full[1], rel=0.02)


def test_fast_agrees_with_event_engine(model: FastCostModel) -> None:
    ag = agreement(model, n=20, seed=5, full=simulated_full, reference="event engine")
    assert ag.latency_median_rel_err < 0.05
    assert ag.energy_median_rel_err < 0.05
    assert ag.order_violations == 0


def test_batch_equals_single(model: FastCostModel) -> None:
    archs = _archs(50, seed=9)
    lat, en = model.estimate_batch(archs)
    single = np.array([model.estimate(a) for a in archs])
    np.testing.assert_allclose(lat, single[:, 0], rtol=1e-12)
    np.testing.assert_allclose(en, single[:, 1], rtol=1e-12)


def test_cost_grows_with_depth_kernel_and_expand(model: FastCostModel) -> None:
    space = search_space("ofa_mobilenet_v3")
    small = {"kernel_sizes": [3] * 20, "expand_ratios": [3] * 20, "depths": [2] * 5}
    big = {"kernel_sizes": [7] * 20, "expand_ratios": [6] * 20, "depths": [4] * 5}
    assert model.estimate(big)[0] > model.estimate(small)[0]
    assert model.estimate(big)[1] > model.estimate(small)[1]
    # Entries beyond a stage's depth do not count.
    tail_changed = dict(small, kernel_sizes=[3, 3, 7, 7] * 5)
    assert model.estimate(tail_changed) == model.estimate(small)
    assert len(space.stages) == model.n_stages


def test_bad_arch_and_resolution(model: FastCostModel) -> None:
    with pytest.raises(EdgesimError):
        model.estimate({"kernel_sizes": [4] * 20, "expand_ratios": [3] * 20, "depths": [2] * 5})
    with pytest.raises(EdgesimError, match="depths"):
        model.estimate({"kernel_sizes": [3] * 20, "expand_ratios": [3] * 20, "depths": [5] * 5})
    with pytest.raises(EdgesimError, match="resolution"):
        model.table(100)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_lut_export_roundtrip(model: FastCostModel, tmp_path: Path, suffix: str) -> None:
    path = export_lut(model, tmp_path / f"lut{suffix}")
    rows = load_lut(path)
    assert len(rows) == 1 + 5 * 4 * 3 * 3
    for arch in _archs(5, seed=11):
        lat, en = lut_sum(rows, arch, 128, model.blocks)
        assert (lat, en) == pytest.approx(model.estimate(arch), rel=1e-9)
    with pytest.raises(EdgesimError):
        export_lut(model, tmp_path / "lut.txt")


def test_int8_table_matches_calibrated_whole_network(model: FastCostModel) -> None:
    # The table is built with fixed activation ranges; it must equal the estimate of the really calibrated network.
    for arch in _archs(2, seed=21):
        fast = model.estimate(arch)
        full = model.full_estimate(arch, calibrate=True)
        # Vela's weight encoding costs the weights' entropy (edgesim.mapping.mapper._entropy_coded_ratio), and the
        # zoo's seeded weights of a block change with the blocks built before it: additive only to ~1e-4 on Ethos-U.
        assert fast == pytest.approx(full, rel=2e-3)
    with pytest.raises(EdgesimError, match="quant"):
        FastCostModel("ethos-u55-128", quant="int3")


def test_unknown_reference_path() -> None:
    with pytest.raises(EdgesimError, match="reference"):
        FastCostModel("ethos-u55-128", full="rtl")


def test_table_build_shows_progress_on_the_stream(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    calls = {"n": 0}

    def counting(spec: object) -> tuple[float, float]:
        calls["n"] += 1  # stands in for a whole-network estimate: this test is about the progress, not the costs
        return 1e-3 * calls["n"], 1e-6

    stream = io.StringIO()
    fast = FastCostModel("ethos-u55-128", resolution=128, full=counting, progress=stream)
    lines = stream.getvalue().splitlines()
    assert calls["n"] == fast.table_size() > 100
    assert lines and lines[0].startswith("cost table at resolution 128: [")
    assert f"{calls['n']}/{calls['n']} 100.0%" in lines[-1] and "estimates/s" in lines[-1]
    capsys.readouterr()
    FastCostModel("ethos-u55-128", resolution=128, full=counting, progress=False)
    assert capsys.readouterr().err == ""
    FastCostModel("ethos-u55-128", resolution=128, full=counting)  # default: stderr
    assert "cost table at resolution 128" in capsys.readouterr().err
