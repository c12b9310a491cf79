"""Fidelity against real silicon: predict measured reference rows (validate) and fit runtimes (calibrate)."""

from edgesim.validate.calibrate import CalibrationResult, calibrate
from edgesim.validate.core import (
    BenchmarkStats,
    RowResult,
    ValidationResult,
    read_reference,
    spearman,
    validate,
    write_json,
    write_plot,
)

__all__ = [
    "BenchmarkStats",
    "CalibrationResult",
    "RowResult",
    "ValidationResult",
    "calibrate",
    "read_reference",
    "spearman",
    "validate",
    "write_json",
    "write_plot",
]
