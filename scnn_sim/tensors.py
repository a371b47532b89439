"""A layer together with the tensors the simulator consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scnn_sim.workload import Layer


@dataclass(frozen=True)
class LayerTensors:
    """One conv layer's shape and its (already pruned) weights and input activations.

    Attributes
    ----------
    layer : Layer
        The layer's shape (C, K, R, S, H, W, stride, padding, groups).
    weights : np.ndarray
        float32 ``[K, C // groups, R, S]``.
    activations : np.ndarray
        float32 ``[C, H, W]``: the input activations of one image.
    """

    layer: Layer
    weights: np.ndarray
    activations: np.ndarray
