"""Weight storage and index saving of each pruning granularity (Mao et al. 2017, Sec. 4).

Every conv layer of a workload gets synthetic Gaussian weights (one
``np.random.default_rng(seed)`` stream over the layers in order, so every granularity prunes
the *same* weights), is magnitude-pruned to the same density at each granularity, and is
sized in a compressed format:

* ``fine``: SCNN's per-weight zero-run format (:func:`scnn_sim.sparsity.formats.size_scnn_rle`;
blocks
  of ``kc`` output channels x one input channel; placeholders store an explicit zero value).
* ``vector`` / ``kernel`` / ``filter`` / ``channel`` / ``block:...``: the group-index format
  (:func:`scnn_sim.sparsity.formats.size_group_index`; one run per kept group, values dense within a
  kept group, index-only placeholders).
* ``nm:N:M``: each kept weight with its ``ceil(log2 M)``-bit position
  (:func:`scnn_sim.sparsity.formats.size_nm`); the density argument does not apply (implied N/M).

For comparison every row also gives the *index* bits the same pruned tensor would need in
SCNN's per-weight format (``index_bits_scnn_rle``), as a bitmask (``bitmask_bits``: one bit
per dense weight) and in CSR (``csr_bits``: column indices + row pointers); these three are
index bits only -- their value bits would be those of the non-zeros.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scnn_sim import __version__
from scnn_sim.errors import ScnnSimError, SparsityError
from scnn_sim.sparsity.formats import (
    FormatSize,
    size_bitmask,
    size_csr,
    size_group_index,
    size_nm,
    size_scnn_rle,
)
from scnn_sim.sparsity.pruning import Granularity, parse_granularity, prune, synthetic_weights
from scnn_sim.workload.shapes import Layer, Workload, load_workload

if TYPE_CHECKING:
    from scnn_sim.workload.tensors import LayerTensors

__all__ = [
    "ROW_KEYS",
    "VALUE_BITS_CHOICES",
    "dense_bits",
    "layer_storage",
    "ratio_text",
    "storage_report",
]

#: Bits per stored weight value the report accepts.
VALUE_BITS_CHOICES = (16, 8, 4)

#: Keys of every granularity row (per-layer rows have ``"layer"`` first as well).
ROW_KEYS = (
    "granularity",
    "kept_weights",
    "stored_values",
    "total_weights",
    "achieved_density",
    "value_bits",
    "index_bits",
    "placeholders",
    "total_bits",
    "compression_ratio",
    "index_bits_scnn_rle",
    "bitmask_bits",
    "csr_bits",
)

_SUM_KEYS = (
    "kept_weights",
    "stored_values",
    "total_weights",
    "value_bits",
    "index_bits",
    "placeholders",
    "total_bits",
    "index_bits_scnn_rle",
    "bitmask_bits",
    "csr_bits",
)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _finish_row(row: dict[str, Any], value_bits: int) -> dict[str, Any]:
    """Fill the derived ratios of a row holding the summed counts."""
    total = row["total_weights"]
    row["achieved_density"] = row["kept_weights"] / total if total else 0.0
    # Everything pruned away stores nothing: the ratio is undefined (JSON null).
    row["compression_ratio"] = (
        total * value_bits / row["total_bits"] if row["total_bits"] else None
    )
    return {k: row[k] for k in ROW_KEYS}


def layer_storage(
    weights: np.ndarray,
    density: float | None,
    granularity: str | Granularity,
    value_bits: int = 16,
    index_bits: int = 4,
    norm: str = "l1",
    pointwise_group: int = 1,
    kc: int = 8,
) -> dict[str, Any]:
    """Prune one layer's weights at one granularity and size the result.

    Parameters
    ----------
    weights : np.ndarray
        Dense ``[K, C, R, S]`` weights.
    density : float or None
        Target fraction of weights kept (ignored for ``nm:N:M``); ``None``: no pruning, size
        the weights as they are (their zeros are the pruned weights, kept groups are the
        groups with a non-zero).
    granularity : str or Granularity
        Pruning granularity (see :func:`scnn_sim.sparsity.pruning.parse_granularity`).
    value_bits, index_bits : int
        Bits per stored value and per run-length index.
    norm, pointwise_group : str, int
        Passed to :func:`scnn_sim.sparsity.pruning.prune`.
    kc : int
        Output channels per SCNN weight block (for the per-weight zero-run format).

    Returns
    -------
    dict
        One row with the keys of :data:`ROW_KEYS`.
    """
    g = parse_granularity(granularity)
    if density is None and g.kind != "nm":
        pruned, mask = weights, weights != 0
    else:
        pruned, mask = prune(weights, density, g, norm=norm, pointwise_group=pointwise_group)
    rle = size_scnn_rle(pruned, value_bits, index_bits, kc=kc)
    main: FormatSize
    if g.kind == "fine":
        main = rle
    elif g.kind == "nm":
        main = size_nm(pruned, g, mask, value_bits)
    else:
        main = size_group_index(pruned, g, mask, value_bits, index_bits, pointwise_group)
    row = {
        "granularity": g.spec,
        # Two counts not to confuse: the non-zero weights kept, and the value slots the
        # format stores (a coarse group stores all its values, zeros inside it included; a
        # fine placeholder stores a zero value), which the value bits count.
        "kept_weights": int(np.count_nonzero(pruned)),
        "stored_values": int(main.value_bits // value_bits),
        "total_weights": int(mask.size),
        "value_bits": main.value_bits,
        "index_bits": main.index_bits,
        "placeholders": main.placeholders,
        "total_bits": main.total_bits,
        "index_bits_scnn_rle": rle.index_bits,
        "bitmask_bits": size_bitmask(pruned, value_bits).index_bits,
        "csr_bits": size_csr(pruned, value_bits).index_bits,
    }
    return _finish_row(row, value_bits)


def _check_args(
    density: Any, value_bits: Any, index_bits: Any, seed: Any, pointwise_group: Any, kc: Any
) -> float:
    try:
        d = float(density)
    except (TypeError, ValueError):
        raise SparsityError(f"density must be a number in [0, 1], got {density!r}") from None
    if isinstance(density, bool) or not 0.0 <= d <= 1.0:
        raise SparsityError(f"density must be in [0, 1], got {density!r}")
    if not _is_int(value_bits) or value_bits not in VALUE_BITS_CHOICES:
        raise SparsityError(
            f"value bits must be one of {', '.join(map(str, VALUE_BITS_CHOICES))}, "
            f"got {value_bits!r}"
        )
    if not _is_int(index_bits) or not 1 <= index_bits <= 16:
        raise SparsityError(f"index bits must be an integer in 1..16, got {index_bits!r}")
    if not _is_int(seed) or seed < 0:
        raise SparsityError(f"seed must be a non-negative integer, got {seed!r}")
    if not _is_int(pointwise_group) or pointwise_group < 1:
        raise SparsityError(f"pointwise_group must be an integer >= 1, got {pointwise_group!r}")
    if not _is_int(kc) or kc < 1:
        raise SparsityError(f"kc must be an integer >= 1, got {kc!r}")
    return d


def _parse_granularities(granularities: Any) -> list[Granularity]:
    if isinstance(granularities, str):
        granularities = [s for s in granularities.split(",") if s.strip()]
    try:
        specs = list(granularities)
    except TypeError:
        raise SparsityError(f"granularities must be a list, got {granularities!r}") from None
    if not specs:
        raise SparsityError("no granularity given")
    parsed = [parse_granularity(s) for s in specs]
    seen: set[str] = set()
    for g in parsed:
        if g.spec in seen:
            raise SparsityError(f"granularity {g.spec} given twice")
        seen.add(g.spec)
    return parsed


def _resolve_input(
    workload: Workload | str | os.PathLike, density: float | None
) -> tuple[Workload | str | os.PathLike, list[LayerTensors] | None]:
    """A name or path resolved to its shapes and its stored layers (``None``: shapes only);
    a ``None`` density needs stored layers."""
    from scnn_sim.simulation import resolve_workload

    real = None
    if isinstance(workload, (str, os.PathLike)):
        _, shapes, real = resolve_workload(workload)
        assert shapes is not None or real is not None  # resolve_workload gives one or both
        workload = shapes if shapes is not None else workload
    if density is None and real is None:
        raise SparsityError("density: required for a workload of shapes (only an exported "
                            ".h5/.npz file has weights to size as they are)")
    return workload, real


def _conv_layers(workload: Any) -> tuple[Workload, tuple[Layer, ...]]:
    """The workload (loaded if a name or path) and its conv layers, of which there must be some."""
    if not isinstance(workload, Workload):
        if not isinstance(workload, (str, os.PathLike)):
            raise ScnnSimError(f"workload must be a name, a path or a Workload, got {workload!r}")
        workload = load_workload(workload)
    layers: tuple[Layer, ...] = workload.conv_layers
    if not layers:
        raise SparsityError(f"workload {workload.name!r} has no conv layers")
    return workload, layers


def _size_layers(
    layers: tuple[Layer, ...],
    real: list[LayerTensors] | None,
    grans: list[Granularity],
    d: float | None,
    value_bits: int,
    index_bits: int,
    seed: int,
    norm: str,
    pointwise_group: int,
    kc: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The per-granularity totals and the per-(layer, granularity) rows of the report."""
    rng = np.random.default_rng(seed)
    totals = {g.spec: dict.fromkeys(_SUM_KEYS, 0) for g in grans}
    layer_rows: list[dict[str, Any]] = []
    stored = {t.layer.name: t.weights for t in real} if real is not None else {}
    for layer in layers:
        # One draw per layer, shared by every granularity (or the file's real weights).
        w = stored.get(layer.name)
        if w is None:
            w = synthetic_weights(layer.weight_shape, rng)
        for g in grans:
            row = layer_storage(
                w, d, g, value_bits, index_bits, norm=norm, pointwise_group=pointwise_group,
                kc=kc,
            )
            layer_rows.append({"layer": layer.name, **row})
            for k in _SUM_KEYS:
                totals[g.spec][k] += row[k]
    gran_rows = [_finish_row({"granularity": g.spec, **totals[g.spec]}, value_bits) for g in grans]
    return gran_rows, layer_rows


def storage_report(
    workload: Workload | str | os.PathLike,
    density: float | None,
    value_bits: int = 16,
    index_bits: int = 4,
    granularities: Sequence[str | Granularity] | str = ("fine", "vector", "kernel", "filter"),
    seed: int = 0,
    norm: str = "l1",
    pointwise_group: int = 1,
    kc: int = 8,
) -> dict[str, Any]:
    """Storage of every conv layer of a workload pruned to one density at each granularity.

    Parameters
    ----------
    workload : Workload or str or path
        A loaded workload, a built-in workload name, a YAML path, or an exported-layer
        ``.h5`` / one-layer ``.npz`` file: then its real weights are used instead of
        synthetic ones.
    density : float or None
        Target weight density in [0, 1], the same for every layer and granularity. ``None``
        (files only): no pruning; every granularity sizes the stored weights as they are.
    value_bits : {16, 8, 4}
        Bits per stored weight value.
    index_bits : int
        Bits per run-length index, 1..16.
    granularities : sequence of str, or a comma-separated str
        Granularity specs, distinct.
    seed : int
        Seed of the synthetic weights (``np.random.default_rng(seed)``).
    norm : {"l1", "l2"}
        Group saliency of the pruning.
    pointwise_group : int
        ``vector``/``kernel`` group size on 1x1 layers (see :mod:`scnn_sim.sparsity.pruning`).
    kc : int
        Output channels per SCNN weight block (modelling assumption: 8).

    Returns
    -------
    dict
        ``{"workload", "density", "value_bits", "index_bits_per_index", "seed",
        "scnn_sim_version", "granularities": [...], "layers": [...]}``. Each granularity row
        has the keys of :data:`ROW_KEYS` summed over the conv layers (``achieved_density`` and
        ``compression_ratio`` recomputed from the sums; ``compression_ratio`` = dense bits /
        ``total_bits``, ``None`` if nothing is stored); ``layers`` has one row per (layer,
        granularity), layer-major, with ``"layer"`` first.

    Raises
    ------
    ScnnSimError
        :class:`SparsityError` on a bad density, value/index width, seed, granularity or a
        workload without conv layers; :class:`WorkloadError` from loading the workload.
    """
    workload, real = _resolve_input(workload, density)
    checked = _check_args(0.5 if density is None else density, value_bits, index_bits, seed,
                          pointwise_group, kc)
    d: float | None = None if density is None else checked
    if norm not in ("l1", "l2"):
        raise SparsityError(f"unknown norm {norm!r}: expected 'l1' or 'l2'")
    grans = _parse_granularities(granularities)
    workload, layers = _conv_layers(workload)

    gran_rows, layer_rows = _size_layers(layers, real, grans, d, value_bits, index_bits, seed,
                                         norm, pointwise_group, kc)
    return {
        "workload": workload.name,
        "density": d,
        "weights": "synthetic" if real is None else "stored",
        "value_bits": int(value_bits),
        "index_bits_per_index": int(index_bits),
        "seed": int(seed),
        "scnn_sim_version": __version__,
        "granularities": gran_rows,
        "layers": layer_rows,
    }


def dense_bits(report: dict[str, Any]) -> int:
    """Bits of the dense weights of a report (``total_weights * value_bits``)."""
    rows = report["granularities"]
    return int(rows[0]["total_weights"]) * int(report["value_bits"]) if rows else 0


def ratio_text(x: float | None) -> str:
    """A compression ratio for display (``-`` when undefined)."""
    return "-" if x is None or not math.isfinite(x) else f"{x:.2f}"
