"""Sub-command ``prune``: magnitude-prune every conv layer of an exported-layer file.

``scnn-sim prune IN.h5 --granularity G --density D -o OUT.h5 [--norm l1|l2]
[--pointwise-group N]`` reads IN.h5 (see ``docs/h5-format.md``), prunes each layer's weights
with :func:`scnn_sim.sparsity.pruning.prune`, and writes OUT.h5 atomically with the pruned weights,
their masks, the ``granularity``/``density`` attributes and provenance (input file and its
SHA-256, the input's writer and scnn-sim version, norm, pointwise group). Activations (the whole
stored batch) are copied unchanged. A table of weights kept per layer is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim import __version__
from scnn_sim.errors import FormatError, SparsityError
from scnn_sim.outputs import check_output_path
from scnn_sim.results.tables import format_table
from scnn_sim.sparsity.pruning import Granularity, parse_granularity, prune
from scnn_sim.workload.h5io import StoredLayer, read_stored, write_layers
from scnn_sim.workload.tensors import LayerTensors


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return h.hexdigest()


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def prune_file(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    granularity: str,
    density: float | None,
    norm: str = "l1",
    pointwise_group: int = 1,
) -> list[tuple[str, int, int, float, float]]:
    """Prune every layer of ``src`` and write the result to ``dst``.

    Parameters
    ----------
    src, dst : str or os.PathLike
        Input and output exported-layer files; they must differ.
    granularity : str
        A granularity spec of :func:`scnn_sim.sparsity.pruning.parse_granularity`.
    density : float or None
        Target weight density in [0, 1]; may be None only for ``nm:N:M`` (density N/M).
    norm : {"l1", "l2"}
        Group saliency norm.
    pointwise_group : int
        Input channels per ``vector``/``kernel`` group of 1x1 layers.

    Returns
    -------
    list of tuple
        Per layer: ``(name, weights, kept, density, nonzero_density)`` where ``kept`` counts
        True mask entries, ``density = kept / weights`` and ``nonzero_density`` is the
        fraction of non-zero pruned weights (lower if the input already had zero weights).

    Raises
    ------
    FormatError
        Unreadable input, ``dst`` is ``src``, or the output cannot be written.
    SparsityError
        Bad granularity, density, norm or pointwise group, or a block larger than a layer.
    """
    src_p, dst_p = Path(src), Path(dst)
    if _same_file(src_p, dst_p):
        raise FormatError(f"{dst}: output is the input file; choose another -o path")
    g, target = _check_prune_args(granularity, density, pointwise_group)
    attrs, stored = read_stored(src_p, full_batch=True)
    digest = _sha256(src_p)
    out_tensors, masks, batches, rows = _prune_layers(src, stored, density, g, norm,
                                                      pointwise_group)
    _write_pruned(dst_p, src_p, digest, attrs, out_tensors, masks, batches, g.spec, target,
                  norm, pointwise_group)
    return rows


def _check_prune_args(
    granularity: str, density: float | None, pointwise_group: int
) -> tuple[Granularity, float]:
    """The parsed granularity and the target density, after checking the arguments."""
    g = parse_granularity(granularity)
    if density is None:
        if g.implied_density is None:
            raise SparsityError(f"--density is required for granularity {g.spec}")
        target = g.implied_density
    else:
        if isinstance(density, bool) or not isinstance(density, (int, float)) or not (
            0.0 <= float(density) <= 1.0
        ):
            raise SparsityError(f"density must be in [0, 1], got {density!r}")
        target = g.implied_density if g.implied_density is not None else float(density)
    if isinstance(pointwise_group, bool) or not isinstance(pointwise_group, int) or (
        pointwise_group < 1
    ):
        raise SparsityError(f"pointwise group must be a positive integer, got {pointwise_group!r}")
    return g, target


def _prune_layers(
    src: str | os.PathLike,
    stored: list[StoredLayer],
    density: float | None,
    g: Granularity,
    norm: str,
    pointwise_group: int,
) -> tuple[list[LayerTensors], list[np.ndarray], list[np.ndarray],
           list[tuple[str, int, int, float, float]]]:
    """Prune each stored layer: its pruned tensors, masks, batches and table row."""
    out_tensors: list[LayerTensors] = []
    masks: list[np.ndarray] = []
    batches: list[np.ndarray] = []
    rows: list[tuple[str, int, int, float, float]] = []
    for s in stored:
        lt = s.tensors
        try:
            pruned, mask = prune(lt.weights, density, g, norm=norm,
                                 pointwise_group=pointwise_group)
        except SparsityError as exc:
            raise SparsityError(f"{src}:{lt.layer.name}: {exc}") from None
        pruned = pruned.astype(np.float32, copy=False)
        out_tensors.append(LayerTensors(layer=lt.layer, weights=pruned,
                                        activations=lt.activations))
        masks.append(mask)
        batches.append(s.batch)
        kept = int(np.count_nonzero(mask))
        rows.append((lt.layer.name, int(mask.size), kept, kept / mask.size,
                     int(np.count_nonzero(pruned)) / mask.size))
    return out_tensors, masks, batches, rows


def _write_pruned(
    dst_p: Path,
    src_p: Path,
    digest: str,
    attrs: dict[str, Any],
    out_tensors: list[LayerTensors],
    masks: list[np.ndarray],
    batches: list[np.ndarray],
    spec: str,
    target: float,
    norm: str,
    pointwise_group: int,
) -> None:
    """Write the pruned layers with the input's provenance attributes."""
    write_layers(
        dst_p,
        out_tensors,
        source_model=str(attrs.get("source_model", "")),
        framework=str(attrs.get("framework", "")),
        granularity=spec,
        density=target,
        masks=masks,
        batch=batches,
        created_by="scnn-sim prune",
        extra_attrs={
            "input_file": str(src_p.resolve()),
            "input_sha256": digest,
            "input_created_by": str(attrs.get("created_by", "")),
            "input_scnn_sim_version": str(attrs.get("scnn_sim_version", "")),
            "prune_norm": norm,
            "prune_pointwise_group": int(pointwise_group),
            "prune_scnn_sim_version": __version__,
        },
    )


def run_prune(args: argparse.Namespace) -> int:
    """Run ``scnn-sim prune``; print the per-layer table and return the exit status."""
    rows = prune_file(
        args.input,
        check_output_path(args.output, "-o"),
        args.granularity,
        args.density,
        norm=args.norm,
        pointwise_group=args.pointwise_group,
    )
    total = sum(r[1] for r in rows)
    kept = sum(r[2] for r in rows)
    nonzero = sum(r[4] * r[1] for r in rows)
    table_rows: list[list[object]] = [list(r) for r in rows]
    table_rows.append(["total", total, kept, kept / total, nonzero / total])
    print(format_table(["layer", "weights", "kept", "density", "nonzero density"], table_rows))
    print(f"wrote {args.output} (granularity {parse_granularity(args.granularity).spec})")
    return 0


def _density_arg(text: str) -> float:
    try:
        d = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if math.isnan(d) or not 0.0 <= d <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return d


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prune`` sub-command to the top-level parser."""
    p = subparsers.add_parser(
        "prune",
        help="prune the weights of an exported-layer HDF5 file",
        description="Magnitude-prune every conv layer of an exported-layer file (see "
        "docs/h5-format.md) at a granularity and density, and write a new file with the "
        "pruned weights, masks and provenance. Prints weights kept per layer.",
    )
    p.add_argument("input", metavar="IN.h5", help="exported-layer file to prune")
    p.add_argument(
        "--granularity",
        "-g",
        required=True,
        metavar="G",
        help="fine, vector, kernel, filter, channel, block:AxBxCxD or nm:N:M",
    )
    p.add_argument(
        "--density",
        "-d",
        type=_density_arg,
        default=None,
        metavar="D",
        help="target fraction of weights kept, in [0, 1] (required except for nm:N:M, "
        "whose density is N/M)",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT.h5",
                   help="output file (must differ from IN.h5)")
    p.add_argument("--norm", choices=("l1", "l2"), default="l1",
                   help="group saliency: L1 (default) or L2 norm")
    p.add_argument("--pointwise-group", type=_positive_int, default=1, metavar="N",
                   help="input channels per vector/kernel group on 1x1 layers (default 1)")
    p.set_defaults(func=run_prune)
