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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import h5py
import numpy as np

from scnn_sim import __version__
from scnn_sim.errors import FormatError, ScnnSimError, WorkloadError
from scnn_sim.inputs.readers import as_path
from scnn_sim.outputs import atomic_output, check_interrupted
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

FORMAT = "scnn-sim-layers"
FORMAT_VERSION = 1

_DATASET_OPTS: dict[str, Any] = {"compression": "gzip", "shuffle": True, "fletcher32": True}
_LIBVER = ("v110", "v110")

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

    prepared = []
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
            for order, (gname, layer, w, acts, m) in enumerate(prepared):
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
                check_interrupted()


def _set_text(obj: h5py.HLObject, key: str, value: str) -> None:
    """Store text as a fixed-length UTF-8 string attribute.

    Fixed-length strings live inside the (checksummed) object header; variable-length ones
    would live in the global heap, which has no checksum and whose corruption can make HDF5
    loop forever.
    """
    data = value.encode("utf-8")
    dtype = h5py.string_dtype("utf-8", length=max(1, len(data)))
    obj.attrs.create(key, np.array(data, dtype=dtype))


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
        density = float("nan")
        if "density" in g.attrs:
            d = _plain(g.attrs["density"])
            if not isinstance(d, numbers.Real) or isinstance(d, bool):
                self.fail(f"attribute 'density' must be a number, got {d!r}")
            density = float(d)
            if not math.isnan(density) and not 0.0 <= density <= 1.0:
                self.fail(f"attribute 'density' must be in [0, 1] or NaN, got {density}")

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
        mask = None
        if "mask" in g:
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
