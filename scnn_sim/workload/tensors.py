"""A layer together with the tensors the simulator consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scnn_sim.workload.shapes import Layer


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

    def __post_init__(self) -> None:
        validate_tensors(self, where=getattr(self.layer, "name", "<layer>"))
        for name in ("weights", "activations"):
            arr = getattr(self, name)
            if arr.dtype != np.float32 or not arr.flags.c_contiguous:
                object.__setattr__(self, name, np.ascontiguousarray(arr, dtype=np.float32))


def validate_tensors(lt: LayerTensors, where: str) -> None:
    """Check a layer's tensors before any compiled code sees them.

    Parameters
    ----------
    lt
        The layer and its weights / activations.
    where
        Prefix of the message (e.g. ``"model.h5:conv2"``).

    Raises
    ------
    WorkloadError
        One line ``where: problem``: not a conv layer, not arrays, not real floating point
        (float16/32/64), wrong rank or shape for the layer (weights ``[K, C // groups, R, S]``,
        activations ``[C, H, W]``), channels not divisible by groups, NaN or Inf.
    """
    from scnn_sim.errors import WorkloadError

    layer = lt.layer
    if not isinstance(layer, Layer):
        raise WorkloadError(f"{where}: layer must be a scnn_sim.workload.shapes.Layer, got "
                            f"{type(layer).__name__}")
    if layer.kind != "conv":
        raise WorkloadError(f"{where}: only conv layers are simulated, got kind {layer.kind!r}")
    from scnn_sim.workload.shapes import validate_layer

    validate_layer(layer, where)
    if layer.P < 1 or layer.Q < 1:
        raise WorkloadError(f"{where}: no output: output size {layer.P}x{layer.Q}")
    g = layer.groups
    if not isinstance(g, (int, np.integer)) or g < 1 or layer.C % g or layer.K % g:
        raise WorkloadError(f"{where}: C={layer.C} and K={layer.K} must be divisible by "
                            f"groups={g}")
    want = {"weights": tuple(layer.weight_shape), "activations": (layer.C, layer.H, layer.W)}
    what = {"weights": "[K, C // groups, R, S]", "activations": "[C, H, W]"}
    for name in ("weights", "activations"):
        arr = getattr(lt, name)
        if not isinstance(arr, np.ndarray):
            raise WorkloadError(f"{where}: {name} must be a numpy array, got "
                                f"{type(arr).__name__}")
        if arr.dtype.kind != "f":
            raise WorkloadError(f"{where}: {name} must be real floating point, got dtype "
                                f"{arr.dtype}")
        if arr.shape != want[name]:
            raise WorkloadError(f"{where}: {name} shape {arr.shape} does not match the layer: "
                                f"expected {what[name]} = {want[name]}")
        with np.errstate(over="ignore"):
            finite = bool(np.isfinite(arr).all()) and (
                arr.dtype == np.float32 or bool(np.isfinite(arr.astype(np.float32)).all()))
        if not finite:
            raise WorkloadError(f"{where}: {name} contain NaN or Inf (or values beyond "
                                f"float32)")
