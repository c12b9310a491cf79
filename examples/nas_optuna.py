"""Latency-constrained NAS over the once-for-all MobileNetV3 space with Optuna and edgesim's fast cost model.

Maximises a capacity proxy (log of the parameter count of the chosen blocks) subject to a latency budget on a
hardware profile; every trial is costed by a table lookup (``FastCostModel``), so thousands of trials are cheap.
The best architecture is then checked against the whole-network estimate.

    python examples/nas_optuna.py --hw ethos-u55-128 --quant int8 --budget-ms 20 --trials 400
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def params_proxy(arch: dict[str, Any], space: Any) -> float:
    """Weights of the present inverted-residual blocks: expand 1x1 + depthwise kxk + project 1x1."""
    total = 0.0
    cin = 16  # the OFA MobileNetV3 stem's first block outputs 16 channels
    for s, stage in enumerate(space.stages):
        for b in range(int(arch["depths"][s])):
            i = s * space.blocks_per_stage + b
            k, e = int(arch["kernel_sizes"][i]), int(arch["expand_ratios"][i])
            mid = cin * e
            total += cin * mid + k * k * mid + mid * stage.width
            cin = stage.width
    return total


def run(hw: str, budget_ms: float | None, trials: int, resolution: int, seed: int,
        runtime: str | None = None, quant: str | None = "int8") -> dict[str, Any]:
    import numpy as np
    import optuna

    from edgesim.explore.nas import FastCostModel

    t0 = time.perf_counter()
    model = FastCostModel(hw, runtime=runtime, resolution=resolution, quant=quant)
    space = model.space
    build_s = time.perf_counter() - t0
    if budget_ms is None:
        # Default budget: the median latency of random architectures, so the constraint binds.
        rng = np.random.default_rng(seed)
        lat, _ = model.estimate_batch([space.sample(rng) for _ in range(500)])
        budget_ms = float(np.median(lat)) * 1e3
    budget_s = budget_ms * 1e-3
    n_blocks = len(space.stages) * space.blocks_per_stage

    def objective(trial: optuna.Trial) -> float:
        arch = {
            "kernel_sizes": [trial.suggest_categorical(f"k{i}", list(model.kernels)) for i in range(n_blocks)],
            "expand_ratios": [trial.suggest_categorical(f"e{i}", list(model.expands)) for i in range(n_blocks)],
            "depths": [trial.suggest_categorical(f"d{s}", list(model.depth_values)) for s in range(model.n_stages)],
        }
        latency_s, energy_j = model.estimate(arch)
        trial.set_user_attr("latency_s", latency_s)
        trial.set_user_attr("energy_j", energy_j)
        trial.set_user_attr("arch", arch)
        score = math.log(params_proxy(arch, space))
        # Over budget: penalise in proportion to the overshoot so the sampler learns where the boundary is.
        return score if latency_s <= budget_s else score - 10.0 * (latency_s / budget_s - 1.0) - 1.0

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    t1 = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    search_s = time.perf_counter() - t1
    feasible = [t for t in study.trials if t.user_attrs["latency_s"] <= budget_s]
    best = max(feasible, key=lambda t: t.value or -math.inf) if feasible else None
    result: dict[str, Any] = {"hw": model.profile.id, "quant": quant, "budget_ms": budget_ms, "trials": trials,
                              "feasible_trials": len(feasible), "table_build_s": build_s, "search_s": search_s,
                              "best": None}
    if best is not None:
        arch = best.user_attrs["arch"]
        full_lat, full_en = model.full_estimate(arch)
        result["best"] = {"arch": arch, "params_proxy": params_proxy(arch, space),
                          "latency_ms": best.user_attrs["latency_s"] * 1e3,
                          "energy_mj": best.user_attrs["energy_j"] * 1e3,
                          "full_latency_ms": full_lat * 1e3, "full_energy_mj": full_en * 1e3}
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hw", default="ethos-u55-128", help="hardware profile id or YAML path")
    ap.add_argument("--runtime", help="runtime id[@version] (default: the profile's)")
    ap.add_argument("--quant", default="int8", help="quantization preset costed (int8, w4a8, ...; 'none' = float)")
    ap.add_argument("--budget-ms", type=float, help="latency budget (default: median of random archs)")
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    quant = None if args.quant == "none" else args.quant
    res = run(args.hw, args.budget_ms, args.trials, args.resolution, args.seed, args.runtime, quant)
    print(f"{res['hw']} ({res['quant'] or 'float32'}): budget {res['budget_ms']:.3f} ms, {res['trials']} trials "
          f"({res['feasible_trials']} within budget); table {res['table_build_s']:.1f} s, "
          f"search {res['search_s']:.1f} s")
    best = res["best"]
    if best is None:
        print("no architecture met the budget")
    else:
        a = best["arch"]
        print(f"best: params proxy {best['params_proxy']:.3g}, latency {best['latency_ms']:.3f} ms "
              f"(whole-network estimate {best['full_latency_ms']:.3f} ms), energy {best['energy_mj']:.4g} mJ")
        print(f"  depths {a['depths']}\n  kernels {a['kernel_sizes']}\n  expands {a['expand_ratios']}")
    return res


if __name__ == "__main__":
    main()
