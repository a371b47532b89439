"""Writing exported-layer HDF5 files, and the format's names shared with the reader.

The format itself is described in :mod:`scnn_sim.workload.h5io` (which re-exports
:func:`write_layers`) and ``docs/h5-format.md``.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np

from scnn_sim import __version__
from scnn_sim.errors import FormatError, WorkloadError
from scnn_sim.outputs import atomic_output, check_interrupted
from scnn_sim.workload.shapes import Layer, validate_layer
from scnn_sim.workload.tensors import LayerTensors

__all__ = ["FORMAT", "FORMAT_VERSION", "escape_name", "unescape_name", "write_layers"]

FORMAT = "scnn-sim-layers"
FORMAT_VERSION = 1

_DATASET_OPTS: dict[str, Any] = {"compression": "gzip", "shuffle": True, "fletcher32": True}
_LIBVER = ("v110", "v110")


# --------------------------------------------------------------------------- names


def escape_name(name: str) -> str:
    """Return the HDF5 group name of a layer name (``/`` becomes ``|``).

    Parameters
    ----------
    name : str
        Layer name, e.g. ``"features.0"`` or ``"block/conv"``.

    Returns
    -------
    str
        The group name under ``/layers``.

    Raises
    ------
    FormatError
        If the name is empty, only whitespace, ``"."`` or contains ``|``, which would not
        read back as the same name.
    """
    if not isinstance(name, str) or not name.strip() or name == ".":
        raise FormatError(f"layer name {name!r} cannot be stored: must be a non-empty string")
    if "|" in name:
        raise FormatError(
            f"layer name {name!r} cannot be stored: '|' is reserved (it encodes '/')"
        )
    return name.replace("/", "|")


def unescape_name(group_name: str) -> str:
    """Return the layer name of an HDF5 group name (``|`` becomes ``/``)."""
    return group_name.replace("|", "/")


# --------------------------------------------------------------------------- writing


def _check_tensors(shown: str, lt: LayerTensors) -> tuple[np.ndarray, np.ndarray]:
    """Validate one LayerTensors before writing; return float32 weights and activations."""
    layer = lt.layer
    where = f"{shown}:{layer.name}"
    if layer.kind != "conv":
        raise FormatError(f"{where}: only conv layers can be stored, got kind {layer.kind!r}")
    try:
        validate_layer(layer.with_densities(1.0, 1.0, "default"), where)
    except WorkloadError as exc:
        raise FormatError(str(exc)) from None
    w = np.asarray(lt.weights)
    a = np.asarray(lt.activations)
    for label, arr in (("weights", w), ("activations", a)):
        if arr.dtype.kind != "f":
            raise FormatError(f"{where}: {label} must be floating point, got dtype {arr.dtype}")
    w = w.astype(np.float32, copy=False)
    a = a.astype(np.float32, copy=False)
    if w.shape != layer.weight_shape:
        raise FormatError(
            f"{where}: weights shape {w.shape} does not match the layer's {layer.weight_shape}"
        )
    if a.shape != (layer.C, layer.H, layer.W):
        raise FormatError(
            f"{where}: activations shape {a.shape} does not match the layer's "
            f"{(layer.C, layer.H, layer.W)}"
        )
    for label, arr in (("weights", w), ("activations", a)):
        if not np.isfinite(arr).all():
            raise FormatError(f"{where}: {label} contain NaN or Inf")
    return w, a


def _check_mask(where: str, mask: Any, weights: np.ndarray) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise FormatError(f"{where}: mask must be bool, got dtype {m.dtype}")
    if m.shape != weights.shape:
        raise FormatError(
            f"{where}: mask shape {m.shape} does not match weights shape {weights.shape}"
        )
    if np.any(weights[~m] != 0):
        raise FormatError(f"{where}: weights are non-zero where the mask is False")
    return m


def _check_batch(where: str, batch: Any, activations: np.ndarray) -> np.ndarray:
    b = np.asarray(batch)
    if b.dtype.kind != "f":
        raise FormatError(f"{where}: batch activations must be floating point, got {b.dtype}")
    b = b.astype(np.float32, copy=False)
    if b.ndim != 4 or b.shape[0] < 1 or b.shape[1:] != activations.shape:
        raise FormatError(
            f"{where}: batch activations shape {b.shape} must be [N, C, H, W] with "
            f"[C, H, W] = {activations.shape}"
        )
    if not np.isfinite(b).all():
        raise FormatError(f"{where}: batch activations contain NaN or Inf")
    return b


def write_layers(
    path: str | os.PathLike,
    layers: Sequence[LayerTensors],
    *,
    source_model: str,
    framework: str = "",
    granularity: str = "dense",
    density: float | None = None,
    masks: Sequence[np.ndarray | None] | None = None,
    batch: Sequence[np.ndarray] | None = None,
    created_by: str = "scnn_sim.workload.h5io.write_layers",
    extra_attrs: Mapping[str, str | int | float] | None = None,
) -> None:
    """Write conv layers to an exported-layer HDF5 file, atomically.

    The file is written to a temporary file in the same directory and renamed over ``path``,
    so ``path`` is never left half-written.

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    layers : sequence of LayerTensors
        Conv layers in network order (stored as ``order`` 0, 1, ...); only their shapes and
        tensors are stored, densities are measured again on reading.
    source_model : str
        Name of the model the layers come from.
    framework : str
        Framework and version that produced the tensors, e.g. ``"torch 2.13.0"``.
    granularity : str
        Pruning granularity of the weights, ``"dense"`` if not pruned.
    density : float or None
        Target weight density of the pruning; None (stored as NaN) if unknown.
    masks : sequence of (np.ndarray or None), optional
        One bool mask per layer (or None for a layer without mask), shaped like the weights.
    batch : sequence of np.ndarray, optional
        One float ``[N, C, H, W]`` array per layer; stored instead of the layer's ``[C, H, W]``
        activations (which should equal ``batch[i][0]``).
    created_by : str
        Value of the ``created_by`` root attribute.
    extra_attrs : mapping, optional
        Further root attributes (provenance), str/int/float values.

    Raises
    ------
    FormatError
        If a layer's tensors are inconsistent with its shape, not finite, a mask or batch does
        not fit, names collide or cannot be stored, or the file cannot be written.
    """
    shown = str(path)
    layers = list(layers)
    extra = _check_arguments(shown, layers, density, masks, batch, extra_attrs)
    prepared = _prepare_layers(shown, layers, masks, batch)

    # The output gate: temporary file beside the target, fsync, rename; removed on a
    # signal or error; a symbolic link at ``path`` has its target replaced.
    with atomic_output(path, "output") as tmp:
        with h5py.File(tmp, "w", libver=_LIBVER) as f:
            _set_text(f, "format", FORMAT)
            f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            _set_text(f, "source_model", str(source_model))
            _set_text(f, "framework", str(framework))
            _set_text(f, "scnn_sim_version", __version__)
            _set_text(f, "created_by", str(created_by))
            for key, value in extra.items():
                if isinstance(value, str):
                    _set_text(f, key, value)
                elif isinstance(value, int):
                    f.attrs[key] = np.int64(value)
                else:
                    f.attrs[key] = float(value)
            root = f.create_group("layers")
            for order, item in enumerate(prepared):
                _write_group(root, order, item, granularity, density)
                check_interrupted()


def _check_arguments(
    shown: str,
    layers: list[LayerTensors],
    density: float | None,
    masks: Sequence[np.ndarray | None] | None,
    batch: Sequence[np.ndarray] | None,
    extra_attrs: Mapping[str, str | int | float] | None,
) -> dict[str, str | int | float]:
    """Check write_layers' arguments other than the layers' tensors; return the extra attrs."""
    if not layers:
        raise FormatError(f"{shown}: no layers to write")
    if masks is not None and len(masks) != len(layers):
        raise FormatError(f"{shown}: {len(masks)} masks given for {len(layers)} layers")
    if batch is not None and len(batch) != len(layers):
        raise FormatError(f"{shown}: {len(batch)} batch arrays given for {len(layers)} layers")
    if density is not None and (
        not isinstance(density, numbers.Real)
        or isinstance(density, bool)
        or not 0.0 <= float(density) <= 1.0
    ):
        raise FormatError(f"{shown}: density must be in [0, 1] or None, got {density!r}")
    reserved = {"format", "format_version", "source_model", "framework",
                "scnn_sim_version", "created_by"}
    extra = dict(extra_attrs or {})
    for key, value in extra.items():
        if key in reserved:
            raise FormatError(f"{shown}: extra attribute {key!r} would overwrite a format field")
        if not isinstance(value, (str, int, float)):
            raise FormatError(f"{shown}: extra attribute {key!r} must be str, int or float")
    return extra


_Prepared = tuple[str, Layer, np.ndarray, np.ndarray, "np.ndarray | None"]


def _prepare_layers(
    shown: str,
    layers: list[LayerTensors],
    masks: Sequence[np.ndarray | None] | None,
    batch: Sequence[np.ndarray] | None,
) -> list[_Prepared]:
    """Check every layer's name, tensors, mask and batch; return what is to be stored."""
    prepared: list[_Prepared] = []
    groups_seen: dict[str, str] = {}
    for i, lt in enumerate(layers):
        if not isinstance(lt, LayerTensors):
            raise FormatError(f"{shown}: layers[{i}] is not a LayerTensors")
        name = lt.layer.name
        try:
            gname = escape_name(name)
        except FormatError as exc:
            raise FormatError(f"{shown}:{name!r}: {exc}") from None
        if gname in groups_seen:
            raise FormatError(
                f"{shown}:{name}: duplicate layer name (clashes with {groups_seen[gname]!r})"
            )
        groups_seen[gname] = name
        w, a = _check_tensors(shown, lt)
        where = f"{shown}:{name}"
        m = None
        if masks is not None and masks[i] is not None:
            m = _check_mask(where, masks[i], w)
        acts = a if batch is None else _check_batch(where, batch[i], a)
        prepared.append((gname, lt.layer, w, acts, m))
    return prepared



def _write_group(
    root: h5py.Group, order: int, item: _Prepared, granularity: str, density: float | None
) -> None:
    """Store one prepared layer as the group ``/layers/<name>``."""
    gname, layer, w, acts, m = item
    g = root.create_group(gname)
    g.attrs["order"] = np.int64(order)
    g.attrs["stride"] = np.int64(layer.stride)
    g.attrs["padding"] = np.int64(layer.padding)
    g.attrs["groups"] = np.int64(layer.groups)
    _set_text(g, "kind", "conv")
    _set_text(g, "granularity", str(granularity))
    g.attrs["density"] = float("nan") if density is None else float(density)
    g.create_dataset("weights", data=w, **_DATASET_OPTS)
    chunks = (1, *acts.shape[1:]) if acts.ndim == 4 else None
    g.create_dataset("activations", data=acts, chunks=chunks, **_DATASET_OPTS)
    if m is not None:
        g.create_dataset("mask", data=m, **_DATASET_OPTS)


def _set_text(obj: h5py.HLObject, key: str, value: str) -> None:
    """Store text as a fixed-length UTF-8 string attribute.

    Fixed-length strings live inside the (checksummed) object header; variable-length ones
    would live in the global heap, which has no checksum and whose corruption can make HDF5
    loop forever.
    """
    data = value.encode("utf-8")
    dtype = h5py.string_dtype("utf-8", length=max(1, len(data)))
    obj.attrs.create(key, np.array(data, dtype=dtype))
