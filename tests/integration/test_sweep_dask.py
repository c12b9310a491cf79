from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgesim.explore.sweep import done_keys, read_results, run_sweep
from edgesim.explore.sweep_spec import spec_from_dict

distributed = pytest.importorskip("dask.distributed")

SPEC: dict[str, Any] = {
    "name": "dask",
    "profiles": ["stm32l4r5", "ethos-u55-128"],
    # Not a clock axis: stm32l4r5 (26-120 MHz) and ethos-u55-128 (200-500 MHz) share no clock in their DVFS tables
    "axes": {"memories.sram.size_bytes": [262144, 524288, 655360]},
    "models": ["resnet8"],
    "chunk_size": 1,
}


class _Crash(Exception):
    pass


@pytest.mark.parametrize("processes", [False, True])
def test_dask_local_cluster_interrupt_and_resume(tmp_path: Path, processes: bool) -> None:
    loaded = spec_from_dict(SPEC)
    out = tmp_path / "dask.parquet"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:

        def crash(done: int) -> None:
            if done >= 2:
                raise _Crash

        with pytest.raises(_Crash):
            run_sweep(loaded, out, client=client, progress=False, plot=False, on_chunk=crash)
        stored = done_keys(out)
        assert 2 <= len(stored) < len(loaded.points)
        res = run_sweep(loaded, out, client=client, progress=False, plot=False)
    rows = read_results(out)
    assert sorted(r["key"] for r in rows) == sorted(p.key for p in loaded.points)
    assert res.evaluated == len(loaded.points) - len(stored)
    assert all(r["error"] == "" and r["latency_s"] > 0 for r in rows)


def test_dask_matches_local(tmp_path: Path) -> None:
    loaded = spec_from_dict(SPEC)
    local = run_sweep(loaded, tmp_path / "local.parquet", workers=1, progress=False, plot=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        dask = run_sweep(loaded, tmp_path / "dask.parquet", dask_scheduler=cluster.scheduler_address,
                         progress=False, plot=False)
    a = {r["key"]: r for r in read_results(local.out)}
    b = {r["key"]: r for r in read_results(dask.out)}
    assert a == b
