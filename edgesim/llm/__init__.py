"""Language models on edge boards: prefill/decode tokens/s, KV cache, weight-only quantization, memory fit.

``edgesim.llm.predict(model, hw, ...)`` is the entry point (also reachable as ``edgesim.llm(...)`` lazily from the
top-level package); ``decode_curve`` gives per-token latency against context length; ``chat.chat_session`` runs a
chat workload on the thermal model; ``validate.validate`` checks against llm_edge.csv.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from edgesim.llm.predict import LlmEstimate, decode_curve, predict


class _CallableModule(types.ModuleType):
    # edgesim.llm(...) == edgesim.llm.predict(...): once the subpackage is imported, the attribute edgesim.llm is
    # this module, so the module itself must be callable for the one-name API to keep working.
    def __call__(self, *args: Any, **kwargs: Any) -> LlmEstimate:
        return predict(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["LlmEstimate", "decode_curve", "predict"]
