"""Hardware and runtime profiles: typed schema and the YAML loader."""

from edgesim.hw.loader import list_profiles, list_runtimes, load_profile, load_runtime
from edgesim.hw.schema import (
    ComputeUnit,
    HardwareProfile,
    MemoryKind,
    MemoryLevel,
    Precision,
    RuntimeProfile,
    RuntimeVersion,
    UnitKind,
)

__all__ = [
    "ComputeUnit",
    "HardwareProfile",
    "MemoryKind",
    "MemoryLevel",
    "Precision",
    "RuntimeProfile",
    "RuntimeVersion",
    "UnitKind",
    "list_profiles",
    "list_runtimes",
    "load_profile",
    "load_runtime",
]
