"""Results: typed records, the HDF5/CSV/JSON writers, compare, provenance and schemas.

``scnn_sim.results`` was one module before the stage folders; its names still resolve here
(lazily, from :mod:`scnn_sim.results.records`), so ``from scnn_sim.results import X`` keeps working.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib

    try:
        return getattr(importlib.import_module("scnn_sim.results.records"), name)
    except AttributeError:
        raise AttributeError(f"module 'scnn_sim.results' has no attribute {name!r}") from None
