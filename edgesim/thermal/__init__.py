"""Sustained runs: DVFS governors, thermal throttling, fans, and battery life over seconds to hours."""
