"""edgesim: predict latency, energy, power and temperature of neural networks on edge AI hardware.

The API is imported lazily so that ``edgesim --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {"estimate", "load_model", "load_profile", "simulate", "run", "RunSpec", "interval", "sensitivity"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from edgesim import api

        return getattr(api, name)
    if name == "llm":  # edgesim.llm(...) predicts (a callable module); edgesim.llm.predict etc. also work
        import importlib

        return importlib.import_module("edgesim.llm")
    if name == "zoo":
        import importlib

        return importlib.import_module("edgesim.zoo")
    raise AttributeError(f"module 'edgesim' has no attribute '{name}'")


__all__ = ["RunSpec", "__version__", "estimate", "interval", "load_model", "load_profile", "run", "sensitivity",
           "simulate"]
