"""Per-device latency errors of a validation run: the issue #18 figure for devices predicted as new
(``edgesim validate --lodo`` prints it after the per-benchmark table)."""

from __future__ import annotations

from edgesim.validate.core import ValidationResult


def device_table(result: ValidationResult) -> str:
    """Rows, latency MAPE and signed range per device (all its runtimes), then the mean of the devices' MAPEs."""
    by_device: dict[str, list[float]] = {}
    for r in result.rows:
        if r.latency_error is not None:
            by_device.setdefault(r.device, []).append(r.latency_error)
    out = [f"{'device':<18} {'rows':>4} {'lat MAPE':>9} {'range':>13}"]
    mapes: list[float] = []
    for device, errs in sorted(by_device.items()):
        mape = sum(abs(e) for e in errs) / len(errs)
        mapes.append(mape)
        out.append(f"{device:<18} {len(errs):>4} {mape:>9.1%} {min(errs):>+6.0%}..{max(errs):+.0%}")
    if mapes:
        out.append(f"{'mean of devices':<18} {len(mapes):>4} {sum(mapes) / len(mapes):>9.1%}")
    return "\n".join(out)
