"""Sparsity: pruning at each granularity, compressed formats and their encoders.

``scnn_sim.sparsity`` was one module before the stage folders; its names still resolve here
(lazily, from :mod:`scnn_sim.sparsity.pruning`), so ``from scnn_sim.sparsity import X`` keeps
working.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib

    try:
        return getattr(importlib.import_module("scnn_sim.sparsity.pruning"), name)
    except AttributeError:
        raise AttributeError(f"module 'scnn_sim.sparsity' has no attribute {name!r}") from None
