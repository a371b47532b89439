"""Synthetic weight / activation tensors and magnitude pruning at a chosen granularity.

Pruning granularities (Mao et al. 2017, "Exploring the Regularity of Sparse Structure in CNNs")
are given as spec strings and parsed by :func:`parse_granularity`. Weights are ``[K, C, R, S]``
(output channels, input channels per group, kernel rows, kernel columns). Every granularity
except ``nm`` partitions the tensor into rectangular *groups* (blocks) that are kept or zeroed
as a whole:

=====================  ==========================  ========================================
spec                   group                       block shape (K x C x R x S)
=====================  ==========================  ========================================
``fine``               one weight                  1 x 1 x 1 x 1
``vector``             a kernel row W[k,c,r,:]     1 x 1 x 1 x S
``kernel``             a kernel W[k,c,:,:]         1 x 1 x R x S
``filter``             a filter W[k,:,:,:]         1 x C x R x S
``channel``            an input channel W[:,c,:,:] K x 1 x R x S
``block:AxBxCxD``      an explicit block           A x B x C x D
``nm:N:M``             N of every M consecutive input channels kept at each (k, r, s)
=====================  ==========================  ========================================

Groups are enumerated in the row-major order of the block grid (the group index of block
``(i, j, u, v)`` is ``((i * nC + j) * nR + u) * nS + v``); within a group, weights are in
row-major ``(k, c, r, s)`` order. :mod:`scnn_sim.sparsity.formats` uses the same orders.

1x1 (pointwise) layers
----------------------
When ``R == S == 1`` a kernel row and a kernel are single weights, so ``vector`` and ``kernel``
would silently collapse to ``fine``. The ``pointwise_group`` argument makes this explicit: with
the default ``pointwise_group=1`` they *do* collapse to single weights; with
``pointwise_group=G > 1`` the ``vector`` and ``kernel`` groups of a 1x1 layer are blocks of ``G``
consecutive input channels (block ``1 x G x 1 x 1``; ``G`` is clipped to ``C``, and the last
block along C is smaller when ``C % G != 0``). Other granularities ignore ``pointwise_group``.

Selection rule
--------------
Group saliency is the L1 norm (sum of ``|w|``, default) or the L2 norm of the group's weights.
Groups are ranked by decreasing saliency, ties broken by increasing group index (so pruning is
deterministic). The number of kept groups is the prefix of that ranking whose weight count is
closest to ``density * total`` (a tie between two prefixes keeps the larger one); the achieved
density is therefore within half a group (all groups equal) or one group (unequal edge groups)
of the target. Partial blocks at tensor edges are smaller groups; they compete with their
(un-normalised) norm, which slightly favours pruning them -- the same as a norm-based pruner
applied to a padded tensor.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from scnn_sim.errors import SparsityError

__all__ = [
    "GRANULARITY_NAMES",
    "Granularity",
    "achieved_density",
    "block_shape_for",
    "blockify",
    "parse_granularity",
    "prune",
    "synthetic_activations",
    "synthetic_weights",
    "unblockify",
]

#: The named (non-parametric) granularities.
GRANULARITY_NAMES = ("fine", "vector", "kernel", "filter", "channel")

_BLOCK_RE = re.compile(r"^block:(\d+)x(\d+)x(\d+)x(\d+)$")
_NM_RE = re.compile(r"^nm:(\d+):(\d+)$")


@dataclass(frozen=True)
class Granularity:
    """A parsed pruning granularity.

    Attributes
    ----------
    kind : str
        One of ``fine``, ``vector``, ``kernel``, ``filter``, ``channel``, ``block``, ``nm``.
    spec : str
        The canonical spec string (``"block:1x4x1x1"``, ``"nm:2:4"``, ``"kernel"``...).
    block : tuple of int or None
        For ``block``: the block shape along K, C, R, S.
    n, m : int
        For ``nm``: keep ``n`` of every ``m`` consecutive input channels.
    """

    kind: str
    spec: str
    block: tuple[int, int, int, int] | None = None
    n: int = 0
    m: int = 0

    @property
    def implied_density(self) -> float | None:
        """``n / m`` for ``nm`` granularities, else ``None`` (the density is a free choice)."""
        return self.n / self.m if self.kind == "nm" else None

    def __str__(self) -> str:
        return self.spec


def parse_granularity(spec: str | Granularity) -> Granularity:
    """Parse a granularity spec string.

    Parameters
    ----------
    spec : str or Granularity
        ``fine``, ``vector``, ``kernel``, ``filter``, ``channel``, ``block:AxBxCxD`` (positive
        block sizes along K x C x R x S) or ``nm:N:M`` (``1 <= N <= M``). Case and surrounding
        white space are ignored. A :class:`Granularity` is returned unchanged.

    Returns
    -------
    Granularity

    Raises
    ------
    SparsityError
        On an unknown spec, a malformed or zero block, or ``nm`` with ``N > M`` or ``N < 1``.
    """
    if isinstance(spec, Granularity):
        return spec
    if not isinstance(spec, str):
        raise SparsityError(f"granularity must be a string, got {spec!r}")
    s = spec.strip().lower()
    if s in GRANULARITY_NAMES:
        return Granularity(kind=s, spec=s)
    if s.startswith("block"):
        m = _BLOCK_RE.match(s)
        if not m:
            raise SparsityError(
                f"malformed block granularity {spec!r}: expected block:AxBxCxD (K x C x R x S)"
            )
        a, b, c, d = (int(g) for g in m.groups())
        block = (a, b, c, d)
        if min(block) < 1:
            raise SparsityError(f"block granularity {spec!r}: every block size must be >= 1")
        return Granularity(kind="block", spec="block:" + "x".join(map(str, block)), block=block)
    if s.startswith("nm"):
        m = _NM_RE.match(s)
        if not m:
            raise SparsityError(f"malformed N:M granularity {spec!r}: expected nm:N:M")
        n, mm = int(m.group(1)), int(m.group(2))
        if mm < 1 or n < 1:
            raise SparsityError(f"N:M granularity {spec!r}: N and M must be >= 1")
        if n > mm:
            raise SparsityError(f"N:M granularity {spec!r}: N ({n}) must not exceed M ({mm})")
        return Granularity(kind="nm", spec=f"nm:{n}:{mm}", n=n, m=mm)
    raise SparsityError(
        f"unknown granularity {spec!r}: expected one of {', '.join(GRANULARITY_NAMES)}, "
        "block:AxBxCxD or nm:N:M"
    )


def _check_shape4(shape: tuple[int, ...], what: str = "weights") -> tuple[int, int, int, int]:
    if len(shape) != 4:
        raise SparsityError(f"{what} must have rank 4 [K, C, R, S], got shape {tuple(shape)}")
    if min(shape) < 1:
        raise SparsityError(f"{what} shape {tuple(shape)} has an empty dimension")
    return (int(shape[0]), int(shape[1]), int(shape[2]), int(shape[3]))


def block_shape_for(
    shape: tuple[int, ...], granularity: str | Granularity, pointwise_group: int = 1
) -> tuple[int, int, int, int]:
    """The group block shape (K x C x R x S) of a granularity on a weight tensor of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        ``(K, C, R, S)``.
    granularity : str or Granularity
        Any granularity except ``nm`` (which has no rectangular groups).
    pointwise_group : int
        Input channels per ``vector``/``kernel`` group on 1x1 layers (see the module docstring).

    Returns
    -------
    tuple of int
        The block shape; named granularities are clipped to the tensor, explicit blocks are not.

    Raises
    ------
    SparsityError
        For ``nm``, a bad ``pointwise_group``, or an explicit block larger than the tensor.
    """
    g = parse_granularity(granularity)
    K, C, R, S = _check_shape4(tuple(shape))
    if isinstance(pointwise_group, bool) or not isinstance(pointwise_group, (int, np.integer)):
        raise SparsityError(f"pointwise_group must be an integer, got {pointwise_group!r}")
    if pointwise_group < 1:
        raise SparsityError(f"pointwise_group must be >= 1, got {pointwise_group}")
    if g.kind == "fine":
        return (1, 1, 1, 1)
    if g.kind in ("vector", "kernel"):
        if R == 1 and S == 1:
            # Modelling choice: on 1x1 layers a kernel row / kernel is a single weight; group
            # pointwise_group consecutive input channels instead (1 = collapse to fine).
            return (1, min(int(pointwise_group), C), 1, 1)
        return (1, 1, 1, S) if g.kind == "vector" else (1, 1, R, S)
    if g.kind == "filter":
        return (1, C, R, S)
    if g.kind == "channel":
        return (K, 1, R, S)
    if g.kind == "block":
        assert g.block is not None
        for axis, b, d in zip("KCRS", g.block, (K, C, R, S), strict=True):
            if b > d:
                raise SparsityError(
                    f"granularity {g.spec}: block size {b} along {axis} exceeds the tensor "
                    f"dimension {d} (weights {tuple(shape)})"
                )
        return g.block
    raise SparsityError(f"granularity {g.spec} has no rectangular groups")


def blockify(
    arr: np.ndarray, block: tuple[int, int, int, int], fill: float | bool = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Rearrange a ``[K, C, R, S]`` array into one row per group.

    Parameters
    ----------
    arr : np.ndarray
        Rank-4 array.
    block : tuple of int
        Block shape along K, C, R, S.
    fill : scalar
        Value of the padding added where a tensor dimension is not a multiple of the block.

    Returns
    -------
    rows : np.ndarray
        ``[n_groups, prod(block)]``; groups in row-major block-grid order, elements of a
        group in row-major ``(k, c, r, s)`` order (padding included).
    valid : np.ndarray
        bool, same shape: ``False`` on padding positions (partial edge blocks).
    """
    shape = arr.shape
    grid = tuple(-(-d // b) for d, b in zip(shape, block, strict=True))
    padded_shape = tuple(n * b for n, b in zip(grid, block, strict=True))
    if padded_shape != shape:
        pad = [(0, p - d) for p, d in zip(padded_shape, shape, strict=True)]
        src = np.pad(arr, pad, constant_values=fill)
        valid = np.pad(np.ones(shape, dtype=bool), pad, constant_values=False)
    else:
        src = arr
        valid = None
    split = (grid[0], block[0], grid[1], block[1], grid[2], block[2], grid[3], block[3])
    perm = (0, 2, 4, 6, 1, 3, 5, 7)
    n_groups = math.prod(grid)
    size = math.prod(block)
    rows = src.reshape(split).transpose(perm).reshape(n_groups, size)
    if valid is None:
        vrows = np.ones((n_groups, size), dtype=bool)
    else:
        vrows = valid.reshape(split).transpose(perm).reshape(n_groups, size)
    return rows, vrows


def unblockify(
    rows: np.ndarray, shape: tuple[int, int, int, int], block: tuple[int, int, int, int]
) -> np.ndarray:
    """Inverse of :func:`blockify`: ``[n_groups, prod(block)]`` back to a ``shape`` array."""
    grid = tuple(-(-d // b) for d, b in zip(shape, block, strict=True))
    full = rows.reshape(*grid, *block).transpose(0, 4, 1, 5, 2, 6, 3, 7)
    full = full.reshape(tuple(n * b for n, b in zip(grid, block, strict=True)))
    return np.ascontiguousarray(full[: shape[0], : shape[1], : shape[2], : shape[3]])


def _check_density(density: float) -> float:
    try:
        d = float(density)
    except (TypeError, ValueError):
        raise SparsityError(f"density must be a number in [0, 1], got {density!r}") from None
    if not (0.0 <= d <= 1.0):  # also rejects NaN
        raise SparsityError(f"density must be in [0, 1], got {density!r}")
    return d


def _top_groups(saliency: np.ndarray, n_keep: int) -> np.ndarray:
    """Bool mask of the ``n_keep`` highest-saliency groups; ties -> lower group index wins."""
    n = saliency.size
    keep = np.zeros(n, dtype=bool)
    if n_keep <= 0:
        return keep
    if n_keep >= n:
        keep[:] = True
        return keep
    # O(n) selection: the n_keep-th largest value is the threshold; everything strictly above
    # is kept, and the remaining slots go to the lowest-index groups equal to the threshold.
    thr = np.partition(saliency, n - n_keep)[n - n_keep]
    above = saliency > thr
    keep |= above
    remaining = n_keep - int(np.count_nonzero(above))
    if remaining > 0:
        eq = np.flatnonzero(saliency == thr)
        keep[eq[:remaining]] = True
    return keep


def _select_groups(saliency: np.ndarray, sizes: np.ndarray | int, density: float) -> np.ndarray:
    """Choose groups so the kept weight count is closest to ``density * sum(sizes)``.

    ``sizes`` is the weight count of every group, or one int when all groups are equal.
    """
    n = saliency.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    if not isinstance(sizes, (int, np.integer)):
        s = np.asarray(sizes)
        if np.all(s == s[0]):
            sizes = int(s[0])
    if isinstance(sizes, (int, np.integer)):
        s0 = int(sizes)
        target = density * (s0 * n)
        # Equal groups: n_keep = round-half-up(target / size) is the closest prefix.
        n_keep = min(n, int(math.floor(target / s0 + 0.5)))
        return _top_groups(saliency, n_keep)
    target = density * int(sizes.sum())
    # Unequal (edge) groups: walk the ranking and take the prefix closest to the target.
    order = np.lexsort((np.arange(n), -saliency))
    cum = np.concatenate(([0], np.cumsum(sizes[order])))
    i = int(np.searchsorted(cum, target, side="left"))  # cum[i-1] < target <= cum[i]
    if i > n:
        i = n
    if i > 0 and (target - cum[i - 1]) < (cum[i] - target):
        i -= 1
    keep = np.zeros(n, dtype=bool)
    keep[order[:i]] = True
    return keep


def _prune_nm(w: np.ndarray, g: Granularity) -> np.ndarray:
    """Mask keeping the ``n`` largest-|w| of every ``m`` consecutive input channels."""
    K, C, R, S = w.shape
    n, m = g.n, g.m
    n_chunks = -(-C // m)
    key = -np.abs(w.astype(np.float64)).transpose(0, 2, 3, 1)  # [K, R, S, C]
    if n_chunks * m != C:
        # Padding channels sort last (+inf key), so a partial chunk keeps min(n, size).
        key = np.concatenate([key, np.full((K, R, S, n_chunks * m - C), np.inf)], axis=3)
    key = key.reshape(K, R, S, n_chunks, m)
    order = np.argsort(key, axis=-1, kind="stable")  # ties -> lower channel index
    sel = np.zeros(key.shape, dtype=bool)
    np.put_along_axis(sel, order[..., :n], True, axis=-1)
    sel = sel.reshape(K, R, S, n_chunks * m)[..., :C]
    return np.ascontiguousarray(sel.transpose(0, 3, 1, 2))


def prune(
    weights: np.ndarray,
    density: float | None,
    granularity: str | Granularity = "fine",
    norm: str = "l1",
    pointwise_group: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude-prune a weight tensor to a density at a granularity.

    Parameters
    ----------
    weights : np.ndarray
        Real ``[K, C, R, S]`` tensor without NaN/Inf.
    density : float or None
        Target fraction of weights kept, in ``[0, 1]``. For ``nm:N:M`` the density is implied
        (N / M) and this argument is ignored -- it may be ``None``; any value given is still
        validated. Read the achieved density with :func:`achieved_density`.
    granularity : str or Granularity
        See :func:`parse_granularity`.
    norm : {"l1", "l2"}
        Group saliency: sum of ``|w|`` or the Euclidean norm of the group.
    pointwise_group : int
        Input channels per ``vector``/``kernel`` group on 1x1 layers (module docstring).

    Returns
    -------
    pruned : np.ndarray
        Same shape and dtype as ``weights``, zero outside the mask.
    mask : np.ndarray
        bool, same shape; every group is entirely True or entirely False.

    Raises
    ------
    SparsityError
        Bad density, granularity, norm, rank, NaN/Inf weights, or a block larger than the
        tensor.
    """
    g = parse_granularity(granularity)
    if density is None:
        if g.kind != "nm":
            raise SparsityError(f"a density is required for granularity {g.spec}")
    else:
        density = _check_density(density)
    if norm not in ("l1", "l2"):
        raise SparsityError(f"unknown norm {norm!r}: expected 'l1' or 'l2'")
    w = np.asarray(weights)
    if w.dtype.kind not in "fiu":
        raise SparsityError(f"weights must be a real numeric array, got dtype {w.dtype}")
    _check_shape4(w.shape)
    if w.dtype.kind == "f" and not np.all(np.isfinite(w)):
        raise SparsityError("weights contain NaN or Inf")

    if g.kind == "nm":
        mask = _prune_nm(w, g)
    else:
        assert density is not None  # required above for every kind but nm
        block = block_shape_for(w.shape, g, pointwise_group)
        if block == (1, 1, 1, 1) and norm == "l1" and w.dtype == np.float32:
            # |w| of float32 weights is exact in float32: the same ranking as in float64,
            # at half the memory and time of the selection.
            mag = np.abs(w)
        else:
            mag = np.abs(w, dtype=np.float64) if norm == "l1" else np.square(w, dtype=np.float64)
        if block == (1, 1, 1, 1):
            keep = _select_groups(mag.ravel(), 1, density)
            mask = keep.reshape(w.shape)
        else:
            rows, valid = blockify(mag, block, fill=0.0)
            saliency = rows.sum(axis=1)
            if norm == "l2":
                saliency = np.sqrt(saliency)
            sizes = valid.sum(axis=1)
            keep = _select_groups(saliency, sizes, density)
            mask = unblockify(np.broadcast_to(keep[:, None], rows.shape), w.shape, block)
    pruned = np.where(mask, w, np.zeros((), dtype=w.dtype)).astype(w.dtype, copy=False)
    return pruned, mask


def achieved_density(mask: np.ndarray) -> float:
    """Fraction of True (or non-zero) entries of ``mask``; 0.0 for an empty array."""
    m = np.asarray(mask)
    return float(np.count_nonzero(m)) / m.size if m.size else 0.0


def synthetic_weights(shape: tuple[int, int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Dense Gaussian weights with He scaling, no exact zeros.

    Parameters
    ----------
    shape : tuple of int
        ``(K, C, R, S)``.
    rng : np.random.Generator
        Source of randomness (the result is deterministic for its state).

    Returns
    -------
    np.ndarray
        float32, ``N(0, 2 / (C * R * S))``; exact zeros (probability ~0) are replaced by ``std``.
    """
    K, C, R, S = _check_shape4(tuple(shape))
    std = math.sqrt(2.0 / (C * R * S))
    w = rng.standard_normal((K, C, R, S), dtype=np.float32)
    w *= np.float32(std)
    w[w == 0] = np.float32(std)
    return w


def _gaussian_blur_planes(x: np.ndarray, sigma: float) -> np.ndarray:
    """Blur each ``[H, W]`` plane of ``x`` with a periodic Gaussian (FFT), then standardise."""
    H, W = x.shape[-2:]
    fy = np.fft.fftfreq(H)[:, None]
    fx = np.fft.rfftfreq(W)[None, :]
    transfer = np.exp(-2.0 * (math.pi * sigma) ** 2 * (fy**2 + fx**2))
    y = np.fft.irfft2(np.fft.rfft2(x) * transfer, s=(H, W))
    y -= y.mean(axis=(-2, -1), keepdims=True)
    sd = y.std(axis=(-2, -1), keepdims=True)
    return y / np.where(sd > 0, sd, 1.0)


def synthetic_activations(
    shape: tuple[int, int, int],
    density: float,
    rng: np.random.Generator,
    clustered: float = 0.0,
    cluster_sigma: float | None = None,
) -> np.ndarray:
    """Post-ReLU activations ``[C, H, W]`` with an exact number of non-zeros.

    Parameters
    ----------
    shape : tuple of int
        ``(C, H, W)``.
    density : float
        Fraction of non-zeros in ``[0, 1]``. The tensor has exactly ``round(density * C*H*W)``
        non-zeros (round half up) **per tensor**; individual channels vary around it.
    rng : np.random.Generator
        Source of randomness (deterministic for its state).
    clustered : float
        Spatial clustering in ``[0, 1]``. ``0`` places non-zeros uniformly at random. Otherwise
        a per-position score ``sqrt(clustered) * F + sqrt(1 - clustered) * E`` is thresholded
        (the top ``count`` scores become non-zero), where ``F`` is white noise Gaussian-blurred
        per channel (standardised) and ``E`` is independent white noise: ``clustered`` is the
        fraction of the score's variance that is spatially correlated. ``1`` gives compact blobs
        of activity, so the local density varies across the plane (as real activation maps do,
        which drives PE load imbalance); small values give mild modulation.
    cluster_sigma : float, optional
        Standard deviation of the blur in pixels; default ``max(1, 0.1 * min(H, W))``. The
        blur is periodic (wraps at the plane edges).

    Returns
    -------
    np.ndarray
        float32 ``[C, H, W]``, ``>= 0``; non-zero values are half-normal (``|N(0, 1)|``, never 0).

    Raises
    ------
    SparsityError
        On a bad shape, density, ``clustered`` or ``cluster_sigma``.
    """
    if len(shape) != 3 or min(shape) < 1:
        raise SparsityError(f"activations shape must be (C, H, W) with positive sizes, got {shape}")
    C, H, W = (int(v) for v in shape)
    density = _check_density(density)
    try:
        clustered = float(clustered)
    except (TypeError, ValueError):
        raise SparsityError(f"clustered must be a number in [0, 1], got {clustered!r}") from None
    if not (0.0 <= clustered <= 1.0):
        raise SparsityError(f"clustered must be in [0, 1], got {clustered!r}")
    size = C * H * W
    count = int(math.floor(density * size + 0.5))
    if clustered == 0.0:
        score = rng.random(size)
    else:
        sigma = max(1.0, 0.1 * min(H, W)) if cluster_sigma is None else float(cluster_sigma)
        if not (sigma > 0 and math.isfinite(sigma)):
            raise SparsityError(f"cluster_sigma must be positive, got {cluster_sigma!r}")
        field = _gaussian_blur_planes(rng.standard_normal((C, H, W)), sigma)
        score = math.sqrt(clustered) * field.ravel()
        if clustered < 1.0:
            score += math.sqrt(1.0 - clustered) * rng.standard_normal(size)
    out = np.zeros(size, dtype=np.float32)
    if count > 0:
        idx = np.arange(size) if count >= size else np.argpartition(-score, count - 1)[:count]
        vals = np.abs(rng.standard_normal(idx.size, dtype=np.float32))
        vals[vals == 0] = np.float32(1.0)
        out[idx] = vals
    return out.reshape(C, H, W)
