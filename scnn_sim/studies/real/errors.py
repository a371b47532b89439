"""The study's error class, and the lazy imports of its optional dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scnn_sim.errors import ScnnSimError

_TORCH_HINT = "pip install 'scnn-sim[torch]'"


class RealStudyError(ScnnSimError):
    """Bad arguments or missing inputs of the real-data study (one line for the CLI)."""


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise RealStudyError(
            f"the real-data study needs PyTorch: {_TORCH_HINT} (torch==2.13.0)"
        ) from None
    return torch


def _import_sklearn_digits() -> Callable[..., Any]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise RealStudyError(
            f"the digits dataset needs scikit-learn: {_TORCH_HINT}"
        ) from None
    return load_digits
