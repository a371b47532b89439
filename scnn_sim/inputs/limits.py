"""Up-front limits: what a layer would cost in memory, and what cannot be simulated sensibly.

Everything here runs on declared sizes, before a tensor is allocated or a kernel runs, so a
layer that would exhaust the machine (a 9 KB HDF5 file declaring 2 x 30000 x 30000
activations, C = K = 10**6) or that makes no sense on the configured array (more sub-tiles
than a PE tile has pixels) is refused with one line naming the layer and the estimate.

The memory limit is ``SCNN_SIM_MAX_MEMORY_GB`` (environment) or, by default, the smaller of
8 GB and half the physical memory.
"""

from __future__ import annotations

import math
import os
from typing import Any

from scnn_sim.errors import ConfigError, SparsityError, WorkloadError

ENV_MAX_MEMORY = "SCNN_SIM_MAX_MEMORY_GB"
DEFAULT_MAX_MEMORY_GB = 8.0
GB = 1024 ** 3

#: Bytes the simulator holds per element while simulating a layer (a deliberately generous
#: estimate): dense float32 tensor + float64 generation/pruning temporaries + compressed
#: stream entries (value + index); weights also pay the pruning scores and order.
BYTES_PER_ACTIVATION = 4 + 8 + 8
BYTES_PER_WEIGHT = 4 + 8 + 16 + 8
BYTES_PER_OUTPUT = 4 + 8 + 8 + 8
#: Per work tile (PE x pass): bounds, phase extents, per-tile counters.
BYTES_PER_TILE = 512
FIXED_BYTES = 64 * 1024 ** 2


class ResourceLimitError(WorkloadError):
    """A layer or configuration that would need more memory or time than allowed."""


def memory_limit_bytes() -> int:
    """The memory a layer may need: ``SCNN_SIM_MAX_MEMORY_GB`` or min(8 GB, RAM / 2).

    Raises
    ------
    ConfigError
        The environment variable is not a positive number.
    """
    raw = os.environ.get(ENV_MAX_MEMORY)
    if raw is not None and raw.strip():
        try:
            gb = float(raw)
        except ValueError:
            gb = math.nan
        if not math.isfinite(gb) or gb <= 0:
            raise ConfigError(f"{ENV_MAX_MEMORY}: must be a positive number of GB, got {raw!r}")
        return int(gb * GB)
    limit = DEFAULT_MAX_MEMORY_GB * GB
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        limit = min(limit, phys / 2)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        pass
    return int(limit)


def estimate_layer_bytes(layer: Any, arch: Any = None, batch: int = 1) -> int:
    """Rough upper estimate of the memory simulating ``layer`` needs, from its sizes only.

    Parameters
    ----------
    layer
        A :class:`scnn_sim.workload.shapes.Layer` (C, K, R, S, H, W, stride, padding, groups).
    arch
        Optional :class:`scnn_sim.inputs.arch.ArchConfig`: adds the per-work-tile bookkeeping.
    batch
        Input samples held at once (exported batches).
    """
    acts = int(layer.C) * int(layer.H) * int(layer.W)
    weights = int(layer.K) * (int(layer.C) // max(int(layer.groups), 1)) * int(layer.R) \
        * int(layer.S)
    p = (int(layer.H) + 2 * int(layer.padding) - int(layer.R)) // int(layer.stride) + 1
    q = (int(layer.W) + 2 * int(layer.padding) - int(layer.S)) // int(layer.stride) + 1
    outs = int(layer.K) * max(p, 0) * max(q, 0)
    prefix = 8 * (int(layer.H) + 1) * (int(layer.W) + 1)
    total = (FIXED_BYTES + BYTES_PER_ACTIVATION * acts * max(batch, 1)
             + BYTES_PER_WEIGHT * weights + BYTES_PER_OUTPUT * outs + prefix)
    if arch is not None:
        # Stride phases: at most min(stride, R) x min(stride, S) of them hold weights.
        st_ = int(layer.stride)
        tiles = int(arch.pe_rows) * int(arch.pe_cols) * min(st_, int(layer.R)) \
            * min(st_, int(layer.S))
        if arch.subtiles is not None:
            tiles *= int(arch.subtiles[0]) * int(arch.subtiles[1])
        total += BYTES_PER_TILE * tiles
    return total


def check_layer_memory(layer: Any, where: str, arch: Any = None, batch: int = 1) -> int:
    """Refuse a layer whose estimate exceeds :func:`memory_limit_bytes`; returns the estimate.

    Raises
    ------
    ResourceLimitError
        ``where: needs about X GB to simulate (C x H x W activations, ...), above the limit``.
    """
    need = estimate_layer_bytes(layer, arch, batch)
    limit = memory_limit_bytes()
    if need > limit:
        raise ResourceLimitError(
            f"{where}: needs about {need / GB:.3g} GB to simulate (activations "
            f"{layer.C}x{layer.H}x{layer.W}, weights {layer.K}x{layer.C // layer.groups}x"
            f"{layer.R}x{layer.S}, outputs {layer.K}x{layer.P}x{layer.Q}), above the limit "
            f"of {limit / GB:.3g} GB (set {ENV_MAX_MEMORY} to change it)")
    return need


def check_array_bytes(shape: Any, bytes_per_element: int, where: str,
                      error: Any = None) -> int:
    """The size gate for an array about to be built or read: its declared ``shape`` times
    ``bytes_per_element`` must fit :func:`memory_limit_bytes`; returns the bytes.

    Used by every reader before it allocates (``.npz`` and ``.npy`` headers, ONNX initializers
    and inputs, torchvision input shapes), so a small file declaring a huge tensor is refused
    as ``run`` refuses a huge layer. ``error`` is accepted for symmetry with the readers and
    ignored: the refusal is always :class:`ResourceLimitError`.

    Raises
    ------
    ResourceLimitError
        ``where: array of shape [..] needs about X GB, above the limit of Y GB (set ...)``.
    """
    dims = [int(d) for d in shape]
    n = math.prod(max(d, 0) for d in dims)
    need = n * int(bytes_per_element)
    limit = memory_limit_bytes()
    if need > limit:
        raise ResourceLimitError(
            f"{where}: an array of shape {dims} needs about {need / GB:.3g} GB, above the "
            f"limit of {limit / GB:.3g} GB (set {ENV_MAX_MEMORY} to change it)")
    return need


def check_mapping_sane(layer: Any, arch: Any, where: str) -> None:
    """Refuse a fixed ``dataflow.subtiles`` with more sub-tiles than the PE tile has pixels.

    Each PE holds a tile of about ``ceil(H / pe_rows) x ceil(W / pe_cols)`` input pixels;
    ``subtiles: [a, b]`` splits it in ``a x b`` sub-tiles, one pass each. More sub-tile rows
    than tile rows (or columns) only adds empty passes: 64 x 64 on AlexNet conv5 ran 4,096
    passes and reported 33.6 M cycles instead of ~41 k.

    Raises
    ------
    ConfigError
        ``where: dataflow.subtiles [a, b] exceeds the PE tile of h x w pixels``.
    """
    if arch.subtiles is None:
        return
    sub_r, sub_c = arch.subtiles
    tile_h = -(-int(layer.H) // int(arch.pe_rows))
    tile_w = -(-int(layer.W) // int(arch.pe_cols))
    if sub_r > tile_h or sub_c > tile_w:
        raise ConfigError(
            f"{where}: dataflow.subtiles [{sub_r}, {sub_c}] exceeds the PE tile of "
            f"{tile_h}x{tile_w} input pixels (H={layer.H}, W={layer.W} over a "
            f"{arch.pe_rows}x{arch.pe_cols} PE array): at most [{tile_h}, {tile_w}], or auto")


def check_fixed_density(granularity: str | None, density: float | None) -> None:
    """Refuse a density that a granularity cannot reach: ``nm:N:M`` fixes it at N / M.

    (Other granularities reach the request only approximately, e.g. whole filters of a layer
    with few filters; the achieved density is each layer's ``weight_density`` in the results,
    the request is the run's ``density``.)

    Raises
    ------
    SparsityError
        ``--density 0.3: nm:2:4 fixes the density at 0.5; drop --density or pass 0.5``.
    """
    if granularity is None or density is None:
        return
    from scnn_sim.sparsity.pruning import parse_granularity

    g = parse_granularity(granularity)
    fixed = g.implied_density
    if fixed is not None and not math.isclose(float(density), fixed, abs_tol=1e-9):
        raise SparsityError(f"--density {float(density):g}: {g.spec} fixes the density at "
                            f"{fixed:g}; drop --density or pass {fixed:g}")
