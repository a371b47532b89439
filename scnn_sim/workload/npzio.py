"""One conv layer as a plain-numpy ``.npz`` file: the exchange format of the DNNsim cross-check.

A file holds one layer (its name is the file stem):

* arrays ``weights`` ``[K, C/groups, R, S]`` and ``activations`` ``[C, H, W]`` (any real
  dtype, finite; read as float32, which is exact for integer-valued data up to 2**24);
* integer scalars ``C, K, R, S, H, W, stride, padding, groups``.

This is what ``np.savez(path, weights=w, activations=a, C=C, ...)`` writes (e.g. the
``make_tensors.py`` of the DNNsim data). Everything is checked on read; every problem raises
:class:`~scnn_sim.errors.FormatError` with one line ``FILE.npz: field: problem``, before any
simulation. The reader policy (:mod:`scnn_sim.inputs.readers`): never unpickled, and every
member's dtype and declared size (the size gate) checked from its header before any array is
read. Densities of the layer are measured from the tensors.
"""

from __future__ import annotations

import math
import os
import zipfile
from typing import Any

import numpy as np

from scnn_sim.errors import FormatError, WorkloadError
from scnn_sim.inputs.limits import check_layer_memory
from scnn_sim.inputs.readers import as_path, npz_headers
from scnn_sim.workload.shapes import Layer, Workload, validate_layer
from scnn_sim.workload.tensors import LayerTensors

NPZ_SUFFIXES = (".npz",)
SCALARS = ("C", "K", "R", "S", "H", "W", "stride", "padding", "groups")
ARRAYS = ("weights", "activations")


def _scalar(z: np.lib.npyio.NpzFile, key: str, where: str) -> int:
    if key not in z.files:
        raise FormatError(f"{where}: {key}: missing scalar (a .npz layer needs "
                          f"{', '.join(SCALARS)})")
    v = np.asarray(z[key])
    if v.shape != () and v.size != 1:
        raise FormatError(f"{where}: {key}: expected a scalar, got an array of shape "
                          f"{list(v.shape)}")
    v = v.reshape(())
    if v.dtype.kind in "iu":
        return int(v)
    if v.dtype.kind == "f" and np.isfinite(v) and float(v).is_integer():
        return int(v)
    raise FormatError(f"{where}: {key}: expected an integer, got {v.item()!r}")


def _array(z: np.lib.npyio.NpzFile, key: str, shape: list[int], where: str) -> np.ndarray:
    if key not in z.files:
        raise FormatError(f"{where}: {key}: missing array (a .npz layer needs "
                          f"{' and '.join(ARRAYS)})")
    a = np.asarray(z[key])
    if a.dtype.kind not in "iuf":
        raise FormatError(f"{where}: {key}: expected real numbers, got dtype {a.dtype}")
    if list(a.shape) != shape:
        raise FormatError(f"{where}: {key}: expected shape {shape} got {list(a.shape)}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise FormatError(f"{where}: {key}: contains NaN or Inf")
    return np.ascontiguousarray(a, dtype=np.float32)


def read_npz_layer(path: str | os.PathLike) -> tuple[Workload, list[LayerTensors]]:
    """Read and validate a one-layer ``.npz`` file.

    Parameters
    ----------
    path
        The file (module docstring for its contents).

    Returns
    -------
    (Workload, list of LayerTensors)
        A one-layer workload named after the file stem, and its tensors.

    Raises
    ------
    FormatError
        Unreadable file, missing or malformed array or scalar, shape that does not match the
        scalars, NaN / Inf, or an impossible layer (e.g. groups not dividing C).
    """
    p = as_path(path, ".npz layer file", FormatError)
    where = str(p)
    # The reader policy: every member's declared dtype (no objects, real numbers) and size
    # (the size gate) from its header, before any array is read.
    headers = npz_headers(p, FormatError)
    for key in ARRAYS:
        if key not in headers:
            raise FormatError(f"{where}: {key}: missing array (a .npz layer needs "
                              f"{' and '.join(ARRAYS)})")
    for key in SCALARS:
        if key in headers and math.prod(headers[key][0]) != 1:
            raise FormatError(f"{where}: {key}: expected a scalar, got an array of shape "
                              f"{list(headers[key][0])}")
    try:
        z = np.load(p, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise FormatError(f"{where}: cannot read as .npz ({exc})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise FormatError(f"{where}: not a .npz archive (a single .npy array?)")
    with z:
        dims: dict[str, Any] = {k: _scalar(z, k, where) for k in SCALARS}
        layer = Layer(name=p.stem, **dims)
        try:
            validate_layer(layer, where)
        except WorkloadError as exc:
            raise FormatError(str(exc).replace(f"{where}:", f"{where}: ", 1)) from None
        check_layer_memory(layer, where)  # the size gate, on the declared dimensions
        C, K, R, S, H, W, g = (dims[k] for k in ("C", "K", "R", "S", "H", "W", "groups"))
        for key, shape in (("weights", [K, C // g, R, S]), ("activations", [C, H, W])):
            if list(headers[key][0]) != shape:
                raise FormatError(f"{where}: {key}: expected shape {shape} got "
                                  f"{list(headers[key][0])}")
        try:
            w = _array(z, "weights", [K, C // g, R, S], where)
            a = _array(z, "activations", [C, H, W], where)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise FormatError(f"{where}: cannot read its arrays ({exc})") from None
    layer = Layer(name=p.stem, **dims, weight_density=float(np.count_nonzero(w)) / w.size,
                  act_density=float(np.count_nonzero(a)) / a.size)
    wl = Workload(name=p.stem, layers=(layer,), source=where,
                  provenance=f"tensors from {p.name}")
    return wl, [LayerTensors(layer, w, a)]


__all__ = ["read_npz_layer", "NPZ_SUFFIXES"]
