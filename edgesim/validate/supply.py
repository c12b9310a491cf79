"""The supply voltage of a measurement, where it differs from the profile's energy basis on a part whose power
follows its supply.

The MCU profiles charge board energy as run current x the MLPerf board's supply (docs/validation.md, "MCU
board-power rule"). On a part with an internal linear regulator (LDO) the supply current does not depend on V_DD,
so a submission run at another supply than the profile's draws the profile's power x its supply / the profile's:
its rows are predicted at their own supply (``edgesim validate``'s energy and ``board_power``'s factor fit), and
the factor stays the board's at the profile's supply instead of a blend of two supplies. The reference CSV does
not record the supply; the submissions' system descriptions do (``SUPPLY_SETUPS``). SMPS/DC-DC parts are not
listed: their board power barely depends on V_DD.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgesim.validate.core import ReferenceRow, read_reference


@dataclass(frozen=True)
class SupplySetup:
    """MLPerf Tiny energy runs of one submission at another supply than the profile's energy basis, on a part
    whose supply current does not depend on V_DD (an internal linear regulator: the core current flows through it
    whatever the supply), so the board draws the basis power x supply_v / basis_v. Matched on the reference's
    device, submitter and mlperf_version columns."""

    device: str
    submitter: str
    mlperf_version: str
    supply_v: float
    basis_v: float
    source: str


SUPPLY_SETUPS = (
    # STM32L4R5 (not the -P part with an external SMPS) runs from its internal LDO (DS12023: I_DD does not depend
    # on V_DD). The profile's basis is 1.8 V, the supply of the ST and reference submissions; Krai's v1.1 runs
    # were at 3.0 V. Their rows' exact factors are 1.75x the ST 1.8 V rows' (3.11 vs 1.78, geometric means), the
    # supply ratio 1.67 within 5%.
    SupplySetup("stm32l4r5", "Krai", "1.1", 3.0, 1.8,
                "mlcommons/tiny_results_v1.1 closed/Krai/systems/NUCLEO-L4R5ZI_X-CUBE-AI-7.3.json and "
                "NUCLEO-L4R5ZI_X-CUBE-AI-8.0.json 'Hardware Notes': 'Operating at 3.0V / Dual Bank Mode Activated'; "
                "basis: tiny_results_v0.5-v1.2 ST/reference NUCLEO_L4R5ZI systems 'Operating at 1.8V'"),
)


_SCALES = {(s.device, s.submitter, s.mlperf_version): s.supply_v / s.basis_v for s in SUPPLY_SETUPS}


def supply_scale(row: ReferenceRow) -> float:
    """The row's supply / its profile's basis supply (SUPPLY_SETUPS; 1 elsewhere, and for a reference without
    submitter/mlperf_version columns)."""
    return _SCALES.get((row.device, row.submitter, row.mlperf_version), 1.0)


def supply_scales(reference_csv: Path) -> dict[int, float]:
    """Per reference line, ``supply_scale`` of the rows measured at another supply than their basis."""
    return {row.line: scale for row in read_reference(reference_csv) if (scale := supply_scale(row)) != 1.0}
