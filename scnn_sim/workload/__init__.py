"""Workloads: layer shapes, tensors, layer files (HDF5, .npz) and the model importers.

``scnn_sim.workload`` was one module before the stage folders; its names still resolve here
(lazily, from :mod:`scnn_sim.workload.shapes`), so ``from scnn_sim.workload import X`` keeps
working.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib

    try:
        return getattr(importlib.import_module("scnn_sim.workload.shapes"), name)
    except AttributeError:
        raise AttributeError(f"module 'scnn_sim.workload' has no attribute {name!r}") from None
