"""Pruning masks that only shrink, and the no-loss density of a pruning curve."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scnn_sim.sparsity.pruning import block_shape_for, prune
from scnn_sim.studies.real.errors import RealStudyError

#: Accuracy loss (fraction, 0.005 = 0.5 points) still counted as "no loss".
NO_LOSS_TOLERANCE = 0.005


def cumulative_mask(
    weights: np.ndarray, kept: np.ndarray, density: float, granularity: str
) -> np.ndarray:
    """Prune further: the mask of ``density`` at ``granularity`` that keeps a subset of ``kept``.

    Parameters
    ----------
    weights : np.ndarray
        Current effective weights ``[K, C, R, S]`` (zero where ``kept`` is False).
    kept : np.ndarray
        bool, same shape: the current mask (all True before the first pruning step).
    density : float
        Target fraction of the layer's weights to keep, at most the current density.
    granularity : str
        A granularity spec with rectangular groups.

    Returns
    -------
    np.ndarray
        bool mask, every group all True or all False, ``new <= kept`` element-wise.

    Raises
    ------
    RealStudyError
        If the new mask would re-grow a pruned weight (see :mod:`scnn_sim.studies.real`: cannot
        happen for equal-sized groups and a decreasing schedule).
    """
    w = np.abs(np.asarray(weights, dtype=np.float64))
    tiny = float(np.finfo(np.float32).tiny)
    saliency = np.where(kept, np.maximum(w, tiny), 0.0)
    _, new = prune(saliency, density, granularity)
    if np.any(new & ~kept):
        raise RealStudyError(
            f"{granularity} pruning to density {density:g} would re-grow pruned weights "
            f"(is the schedule decreasing?)"
        )
    return new & kept


def _group_size(shape: tuple[int, ...], granularity: str) -> int:
    return math.prod(block_shape_for(shape, granularity))


def no_loss_density(
    points: Sequence[dict[str, Any]], dense_accuracy: float,
    tolerance: float = NO_LOSS_TOLERANCE, references: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The sparsest schedule point whose accuracy is within ``tolerance`` of the dense model.

    Parameters
    ----------
    points : sequence of dict
        Schedule points with ``target``, ``density`` (achieved) and ``accuracy``.
    dense_accuracy : float
        Test accuracy of the dense model.
    tolerance : float
        Largest accuracy loss (fraction; 0.005 = 0.5 points) still counted as no loss.
    references : sequence of float, optional
        One reference accuracy per point (e.g. the dense model trained for as many epochs as
        the pruned model had at that point); default ``dense_accuracy`` for every point.

    Returns
    -------
    dict
        ``target``, ``density``, ``accuracy`` and ``loss_points`` (vs the point's reference)
        of that point; the dense point (density 1.0) when no pruned point qualifies.
    """
    refs = [dense_accuracy] * len(points) if references is None else list(references)
    if len(refs) != len(points):
        raise RealStudyError(f"no-loss density: {len(refs)} references for {len(points)} "
                             f"points")
    ok = [(p, r) for p, r in zip(points, refs, strict=True)
          if p["accuracy"] >= r - tolerance - 1e-12]
    if ok:
        best, ref = min(ok, key=lambda pr: pr[0]["density"])
    else:
        best, ref = {"target": 1.0, "density": 1.0, "accuracy": dense_accuracy}, dense_accuracy
    return {"target": best["target"], "density": best["density"],
            "accuracy": best["accuracy"], "loss_points": 100.0 * (ref - best["accuracy"])}
