"""Exported-layer HDF5 files: the tensors of a real (possibly pruned) network, layer by layer.

A user exports a PyTorch model with :func:`scnn_sim.workload.export.from_torch` (or writes one with
:func:`write_layers`), optionally prunes it with ``scnn-sim prune``, and simulates it. This module
reads, writes and validates that file. The full description, for users, is
``docs/h5-format.md``; this docstring is the normative summary.

Format ``scnn-sim-layers``, version 1
-------------------------------------
Root attributes:

==================== ===== ==========================================================
``format``           str   ``"scnn-sim-layers"`` (required)
``format_version``   int   ``1`` (required)
``source_model``     str   name of the model the layers come from
``framework``        str   e.g. ``"torch 2.13.0"``; empty if unknown
``scnn_sim_version`` str   version of scnn-sim that wrote the file
``created_by``       str   the writer, e.g. ``"scnn_sim.workload.export.from_torch"``
==================== ===== ==========================================================

Writers may add further root attributes (``scnn-sim prune`` adds ``input_file``,
``input_sha256`` ...); readers ignore the ones they do not know and :func:`read_attrs` returns
them all.

One group per conv layer, ``/layers/<name>``. A ``/`` in a layer name is stored as ``|``
(HDF5 reserves ``/``); layer names containing ``|``, empty names and ``.`` cannot be stored.
Group attributes:

=============== ===== =================================================================
``order``       int   position of the layer in the network (required, unique)
``stride``      int   >= 1 (required)
``padding``     int   >= 0, symmetric zero padding (required)
``groups``      int   >= 1 (required)
``kind``        str   ``"conv"`` (required)
``granularity`` str   pruning granularity, or ``"dense"`` (optional, default ``"dense"``)
``density``     float target weight density in [0, 1], ``NaN`` if unknown (optional)
=============== ===== =================================================================

Group datasets (all chunked, ``gzip`` + ``shuffle`` + ``fletcher32`` checksum):

=============== ======= ==============================================================
``weights``     float32 ``[K, C/groups, R, S]``: the effective (already masked) weights
``activations`` float32 ``[C, H, W]``, or ``[N, C, H, W]`` for a batch of N inputs
``mask``        bool    optional, same shape as ``weights``: ``False`` = pruned
=============== ======= ==============================================================

Readers accept any floating dtype for ``weights``/``activations`` and convert to float32, and
accept text attributes stored as fixed- or variable-length strings.

Integrity: files are written with HDF5 >= 1.10 object formats (``libver="v110"``), whose
metadata carries checksums; every dataset has a ``fletcher32`` checksum; text attributes are
fixed-length UTF-8 strings stored inside the checksummed object headers (variable-length strings
would live in the unchecksummed global heap, whose corruption can make HDF5 loop). A damaged
file is therefore refused, or (damage to unused bytes) reads back unchanged.

Validation
----------
Every problem raises :class:`~scnn_sim.errors.FormatError` with one line
``"{path}: {problem}"`` or ``"{path}:{layer}: {problem}"``; no h5py, numpy or key error ever
escapes. Each layer is checked on its own (weights and activations ranks, float dtypes, finite
values, ``C == weights.shape[1] * groups``, ``K % groups == 0``, positive output size, mask shape,
dtype, and weights zero wherever the mask is ``False``); ``order`` values must be unique.
Consecutive layers are *not* required to chain (layer i+1's C may differ from layer i's K):
networks with branches are valid. Of a batch ``[N, C, H, W]`` only the sample read is checked
for NaN/Inf (``read_stored(..., full_batch=True)`` checks them all).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import h5py
import numpy as np

from scnn_sim import __version__
from scnn_sim.errors import FormatError, ScnnSimError, WorkloadError
from scnn_sim.inputs.readers import as_path
from scnn_sim.workload.h5write import (
    FORMAT,
    FORMAT_VERSION,
    escape_name,
    unescape_name,
    write_layers,
)
from scnn_sim.workload.shapes import Layer, Workload, validate_layer
from scnn_sim.workload.tensors import LayerTensors

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "StoredLayer",
    "escape_name",
    "unescape_name",
    "read_attrs",
    "read_layers",
    "read_stored",
    "write_layers",
]

# Anything h5py / numpy may raise on a damaged file. ScnnSimError is not among them.
_LOW_LEVEL_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    KeyError,
    ValueError,
    TypeError,
    RuntimeError,
    IndexError,
    OverflowError,
    AttributeError,
    LookupError,
    UnicodeError,
    SystemError,
    MemoryError,
)


@dataclass(frozen=True)
class StoredLayer:
    """Everything the file holds about one layer.

    Attributes
    ----------
    tensors : LayerTensors
        The layer (measured densities) with weights and the activations of one sample.
    batch : np.ndarray
        float32 ``[N, C, H, W]``: all stored input activations (``N == 1`` for a file that
        stores ``[C, H, W]``). Only filled by :func:`read_stored` with ``full_batch=True``;
        otherwise it holds just the selected sample, ``[1, C, H, W]``.
    mask : np.ndarray or None
        bool, same shape as the weights, or None if the file has no mask.
    granularity : str
        Pruning granularity attribute (``"dense"`` if not pruned).
    density : float
        Target weight density attribute, NaN if unknown.
    order : int
        The layer's ``order`` attribute.
    """

    tensors: LayerTensors
    batch: np.ndarray
    mask: np.ndarray | None
    granularity: str
    density: float
    order: int


# --------------------------------------------------------------------------- reading


class _Reader:
    """Opens a file and turns every low-level failure into a one-line FormatError."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = as_path(path, "exported-layer file", FormatError)
        self.shown = str(path)
        self.where = self.shown

    def fail(self, problem: str) -> NoReturn:
        raise FormatError(f"{self.where}: {problem}")

    @contextmanager
    def open(self) -> Iterator[h5py.File]:
        if not self.path.exists():
            raise FormatError(f"{self.shown}: no such file")
        if not self.path.is_file():
            raise FormatError(f"{self.shown}: not a file")
        try:
            f = h5py.File(self.path, "r")
        except _LOW_LEVEL_ERRORS as exc:
            raise FormatError(
                f"{self.shown}: not a readable HDF5 file (damaged or truncated?): "
                f"{_one_line(exc)}"
            ) from None
        try:
            with f:
                yield f
        except ScnnSimError:
            raise
        except _LOW_LEVEL_ERRORS as exc:
            raise FormatError(
                f"{self.where}: unreadable (damaged file?): {type(exc).__name__}: "
                f"{_one_line(exc)}"
            ) from None

    # -- attributes

    def text_attr(self, obj: h5py.HLObject, key: str, default: str | None = None) -> str:
        if key not in obj.attrs:
            if default is None:
                self.fail(f"missing attribute {key!r}")
            return default
        v = _plain(obj.attrs[key])
        if isinstance(v, bytes):
            try:
                v = v.decode("utf-8")
            except UnicodeDecodeError:
                self.fail(f"attribute {key!r} is not UTF-8 text")
        if not isinstance(v, str):
            self.fail(f"attribute {key!r} must be text, got {v!r}")
        return v

    def int_attr(self, obj: h5py.HLObject, key: str, minimum: int | None) -> int:
        if key not in obj.attrs:
            self.fail(f"missing attribute {key!r}")
        v = _plain(obj.attrs[key])
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            self.fail(f"attribute {key!r} must be an integer, got {v!r}")
        if minimum is not None and v < minimum:
            kind = "positive" if minimum == 1 else f">= {minimum}"
            self.fail(f"attribute {key!r} must be a {kind} integer, got {v}")
        return int(v)

    def check_root(self, f: h5py.File) -> None:
        if "format" not in f.attrs:
            self.fail(f"not an scnn-sim layer file (no 'format' attribute; expected {FORMAT!r})")
        fmt = self.text_attr(f, "format")
        if fmt != FORMAT:
            self.fail(f"format is {fmt!r}, expected {FORMAT!r}")
        if "format_version" not in f.attrs:
            self.fail("missing attribute 'format_version'")
        version = _plain(f.attrs["format_version"])
        if not isinstance(version, numbers.Integral) or isinstance(version, bool):
            self.fail(f"format_version must be an integer, got {version!r}")
        if version != FORMAT_VERSION:
            self.fail(
                f"format_version {version} is not supported (this scnn-sim {__version__} "
                f"reads version {FORMAT_VERSION})"
            )
        for key in ("source_model", "framework", "scnn_sim_version", "created_by"):
            self.text_attr(f, key, default="")

    def layer_groups(self, f: h5py.File) -> list[tuple[int, str, h5py.Group]]:
        """Return ``(order, name, group)`` for every layer, sorted by order."""
        if "layers" not in f:
            self.fail("no layers (missing group /layers)")
        root = f["layers"]
        if not isinstance(root, h5py.Group):
            self.fail("/layers is not a group")
        entries = []
        seen: dict[int, str] = {}
        for gname in root:
            name = unescape_name(gname)
            self.where = f"{self.shown}:{name}"
            g = root[gname]
            if not isinstance(g, h5py.Group):
                self.fail("is not a group")
            order = self.int_attr(g, "order", None)
            if order in seen:
                self.fail(f"duplicate order {order} (also layer {seen[order]!r})")
            seen[order] = name
            entries.append((order, name, g))
        self.where = self.shown
        if not entries:
            self.fail("no layers (/layers is empty)")
        entries.sort(key=lambda e: e[0])
        return entries

    # -- one layer

    def dataset(self, g: h5py.Group, key: str, ndims: tuple[int, ...]) -> h5py.Dataset:
        if key not in g:
            self.fail(f"missing dataset {key!r}")
        ds = g[key]
        if not isinstance(ds, h5py.Dataset):
            self.fail(f"{key!r} is not a dataset")
        if ds.ndim not in ndims:
            want = " or ".join(str(n) for n in ndims)
            self.fail(f"{key} must have rank {want}, got shape {ds.shape}")
        if any(n < 1 for n in ds.shape):
            self.fail(f"{key} has an empty dimension: shape {ds.shape}")
        return ds

    def float_data(self, key: str, ds: h5py.Dataset, sel: Any = ()) -> np.ndarray:
        if ds.dtype.kind != "f":
            self.fail(f"{key} must be floating point, got dtype {ds.dtype}")
        arr = np.asarray(ds[sel])
        if arr.dtype.kind != "f":
            self.fail(f"{key} must be floating point, got dtype {arr.dtype}")
        with np.errstate(over="ignore"):
            arr = arr.astype(np.float32, copy=False)
        if not np.isfinite(arr).all():
            self.fail(f"{key} contain NaN or Inf")
        return np.ascontiguousarray(arr)

    def density_attr(self, g: h5py.Group) -> float:
        """The layer's optional ``density`` attribute: a number in [0, 1], or NaN."""
        density = float("nan")
        if "density" in g.attrs:
            d = _plain(g.attrs["density"])
            if not isinstance(d, numbers.Real) or isinstance(d, bool):
                self.fail(f"attribute 'density' must be a number, got {d!r}")
            density = float(d)
            if not math.isnan(density) and not 0.0 <= density <= 1.0:
                self.fail(f"attribute 'density' must be in [0, 1] or NaN, got {density}")
        return density

    def read_mask(self, g: h5py.Group, wds: h5py.Dataset, weights: np.ndarray) -> np.ndarray:
        """The layer's ``mask`` dataset, checked against the weights."""
        mds = self.dataset(g, "mask", (4,))
        if mds.shape != wds.shape:
            self.fail(f"mask shape {mds.shape} does not match weights shape {wds.shape}")
        if mds.dtype != np.bool_:
            self.fail(f"mask must be bool, got dtype {mds.dtype}")
        mask = np.asarray(mds[()])
        if mask.dtype != np.bool_ or mask.shape != weights.shape:
            self.fail(f"mask must be bool shaped {weights.shape}")
        if np.any(weights[~mask] != 0):
            self.fail("weights are non-zero where the mask is False")
        return mask

    def read_layer(
        self, order: int, name: str, g: h5py.Group, sample: int, full_batch: bool
    ) -> StoredLayer:
        self.where = f"{self.shown}:{name}"
        kind = self.text_attr(g, "kind")
        if kind != "conv":
            self.fail(f"kind must be 'conv', got {kind!r}")
        stride = self.int_attr(g, "stride", 1)
        padding = self.int_attr(g, "padding", 0)
        groups = self.int_attr(g, "groups", 1)
        granularity = self.text_attr(g, "granularity", default="dense")
        density = self.density_attr(g)

        wds = self.dataset(g, "weights", (4,))
        ads = self.dataset(g, "activations", (3, 4))
        K, Cg, R, S = (int(n) for n in wds.shape)
        if ads.ndim == 4:
            N, C, H, W = (int(n) for n in ads.shape)
        else:
            N = 1
            C, H, W = (int(n) for n in ads.shape)
        if C != Cg * groups:
            self.fail(
                f"weights shape {wds.shape} with groups={groups} expects {Cg * groups} input "
                f"channels, but activations shape {ads.shape} has C={C}"
            )
        if K % groups:
            self.fail(f"K={K} output channels are not divisible by groups={groups}")
        layer = Layer(name=name, C=C, K=K, R=R, S=S, H=H, W=W,
                      stride=stride, padding=padding, groups=groups, kind="conv")
        try:
            validate_layer(layer, self.where)
        except WorkloadError as exc:
            raise FormatError(str(exc)) from None
        if layer.P < 1 or layer.Q < 1:
            self.fail(f"no output: output size {layer.P}x{layer.Q}")
        if not 0 <= sample < N:
            self.fail(f"sample {sample} out of range: the file stores {N} input(s)")
        # Declared sizes against the memory limit, before a byte of the datasets is read.
        from scnn_sim.inputs.limits import check_layer_memory

        check_layer_memory(layer, self.where, batch=N if full_batch else 1)

        weights = self.float_data("weights", wds)
        if ads.ndim == 4:
            if full_batch:
                batch = self.float_data("activations", ads)
            else:
                batch = self.float_data("activations", ads, np.s_[sample : sample + 1])
            acts = batch[sample if full_batch else 0]
        else:
            acts = self.float_data("activations", ads)
            batch = acts[None]
        mask = self.read_mask(g, wds, weights) if "mask" in g else None

        wd = float(np.count_nonzero(weights)) / weights.size
        ad = float(np.count_nonzero(acts)) / acts.size
        measured = layer.with_densities(wd, ad, "measured")
        self.where = self.shown
        return StoredLayer(
            tensors=LayerTensors(layer=measured, weights=weights, activations=acts),
            batch=batch,
            mask=mask,
            granularity=granularity,
            density=density,
            order=order,
        )


def _plain(v: Any) -> Any:
    """numpy scalars to Python scalars; 0-d/1-element arrays stay arrays (refused by callers)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


def read_stored(
    path: str | os.PathLike, *, sample: int = 0, full_batch: bool = False
) -> tuple[dict[str, Any], list[StoredLayer]]:
    """Read and validate every layer of a file, with masks and pruning attributes.

    Parameters
    ----------
    path : str or os.PathLike
        The exported-layer file.
    sample : int
        Which input of a batch to return as each layer's ``[C, H, W]`` activations.
    full_batch : bool
        Read (and validate) every stored input into ``StoredLayer.batch``; otherwise only
        the selected sample is read and checked.

    Returns
    -------
    attrs : dict
        The root attributes (Python scalars and str).
    layers : list of StoredLayer
        In ``order``.

    Raises
    ------
    FormatError
        On any problem with the file; one line ``path: problem`` or ``path:layer: problem``.
    """
    if not isinstance(sample, numbers.Integral) or isinstance(sample, bool) or sample < 0:
        raise FormatError(f"{path}: sample must be a non-negative integer, got {sample!r}")
    reader = _Reader(path)
    with reader.open() as f:
        reader.check_root(f)
        attrs = {str(k): _attr_value(v) for k, v in f.attrs.items()}
        entries = reader.layer_groups(f)
        stored = [
            reader.read_layer(order, name, g, int(sample), full_batch)
            for order, name, g in entries
        ]
    return attrs, stored


def read_layers(
    path: str | os.PathLike, *, sample: int = 0
) -> tuple[Workload, list[LayerTensors]]:
    """Read an exported-layer file as a workload and the tensors of each layer.

    Parameters
    ----------
    path : str or os.PathLike
        The exported-layer file.
    sample : int
        Which input of a stored batch ``[N, C, H, W]`` to return (default the first).

    Returns
    -------
    workload : Workload
        Named after the file stem; ``source`` is the path; layers in ``order`` with the
        measured non-zero fraction of the weights and of the sample's activations as densities
        (``density_source="measured"``).
    tensors : list of LayerTensors
        One per layer, same order: float32 weights ``[K, C/groups, R, S]`` and activations
        ``[C, H, W]``.

    Raises
    ------
    FormatError
        On any problem with the file; one line ``path: problem`` or ``path:layer: problem``.
    """
    attrs, stored = read_stored(path, sample=sample)
    tensors = [s.tensors for s in stored]
    granularities = sorted({s.granularity for s in stored})
    provenance = (
        f"exported layers {path} (source model {attrs.get('source_model', '')!r}, "
        f"{attrs.get('framework', '') or 'unknown framework'}, created by "
        f"{attrs.get('created_by', '') or 'unknown'} with scnn-sim "
        f"{attrs.get('scnn_sim_version', '') or '?'}; granularity {', '.join(granularities)}; "
        f"sample {sample}); densities measured"
    )
    workload = Workload(
        name=Path(path).stem,
        layers=tuple(t.layer for t in tensors),
        source=str(path),
        provenance=provenance,
    )
    return workload, tensors


def _attr_value(v: Any) -> Any:
    v = _plain(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """Return the root and per-layer attributes of a file, for provenance.

    Only the root ``format``/``format_version`` are checked; the layer data are not read.

    Parameters
    ----------
    path : str or os.PathLike
        The exported-layer file.

    Returns
    -------
    dict
        The root attributes (``format``, ``source_model`` ...) as Python values, plus key
        ``"layers"``: a dict from layer name (unescaped) to that layer's attributes, in
        ``order``.

    Raises
    ------
    FormatError
        If the file is missing, not HDF5, damaged, or not an scnn-sim layer file.
    """
    reader = _Reader(path)
    with reader.open() as f:
        reader.check_root(f)
        out: dict[str, Any] = {str(k): _attr_value(v) for k, v in f.attrs.items()}
        layers: dict[str, dict[str, Any]] = {}
        for _order, name, g in reader.layer_groups(f):
            layers[name] = {str(k): _attr_value(v) for k, v in g.attrs.items()}
        out["layers"] = layers
    return out
