"""One unit system for every printed number: SI prefixes (decimal: 1 kB = 1000 B), three significant digits.

Seconds never take the large prefixes (a 4e9 s latency is printed as such, not as "4 Gs"); power and energy
scale down to mW/uW, so an MCU's power reads "35.6 mW", not "0.0356 W"."""

from __future__ import annotations

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"))


def si(value: float, unit: str, digits: int = 3) -> str:
    """``value`` in ``unit`` with the SI prefix that puts it in [1, 1000): ``si(0.0356, 'W') == '35.6 mW'``."""
    largest = 1.0 if unit == "s" else 1e9
    # Round first: 999.6 us must pick "ms" and read "1 ms", not "1e+03 us".
    value = float(f"{value:.{digits}g}")
    for factor, prefix in _PREFIXES:
        if factor > largest:
            continue
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    if value == 0:
        return f"0 {unit}"
    return f"{value:.{digits}g} {unit}"


def plain(value: float, digits: int = 3) -> str:
    """``digits`` significant digits and never an exponent, for a number printed without a prefix: a TTFT of
    1490 s reads '1490', not '1.49e+03'."""
    return f"{value:.0f}" if abs(value) >= 10 ** digits else f"{value:.{digits}g}"


def si_bytes(n: int | float) -> str:
    """Bytes with decimal SI prefixes (kB = 1000 B), exact below 1 kB."""
    if abs(n) < 1000:
        return f"{int(n)} B"
    return si(float(n), "B")


__all__ = ["plain", "si", "si_bytes"]
