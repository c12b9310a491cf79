"""The base of every hardware/runtime profile model: frozen, no unknown keys, no inf/nan (pydantic v2)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PrivateAttr


class Frozen(BaseModel):
    # inf/nan would pass gt=0 checks and poison every latency downstream: refuse them at load time.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    # The YAML's uncertain numbers (edgesim.hw.uncertain): beside the nominal values, never read by the cost model.
    _uncertain: tuple[object, ...] = PrivateAttr(default=())
