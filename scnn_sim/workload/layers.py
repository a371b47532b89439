"""A network's layers as values: :class:`Pool`, :class:`Layer` and :class:`Workload`.

They were in :mod:`scnn_sim.workload.shapes` (which still re-exports them, with the YAML
models, validation and loading of workload files).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from scnn_sim.errors import WorkloadError

__all__ = [
    "DENSITY_SOURCES",
    "KINDS",
    "POOL_KINDS",
    "DensitySource",
    "Layer",
    "LayerKind",
    "Pool",
    "PoolKind",
    "Workload",
]

LayerKind = Literal["conv", "fc"]
PoolKind = Literal["max", "avg"]
DensitySource = Literal["published", "default", "measured"]
KINDS = get_args(LayerKind)
POOL_KINDS = get_args(PoolKind)
DENSITY_SOURCES = get_args(DensitySource)


@dataclass(frozen=True)
class Pool:
    """A pooling layer applied by the PPU to a conv layer's (ReLU'd) outputs before OARAM.

    Parameters
    ----------
    kind : str
        ``"max"`` or ``"avg"``.
    window : int
        Square window size.
    stride : int
        Window stride (the YAML default is ``window``).
    padding : int
        Symmetric padding, at most ``window // 2``; padding never wins a max and is not
        counted by an average.
    ceil_mode : bool
        Round the output size up (Caffe's pooling; GoogLeNet's ``3x3_s2`` pools need it).
    """

    kind: str
    window: int
    stride: int
    padding: int = 0
    ceil_mode: bool = False

    def out_size(self, n: int) -> int:
        """Pooled extent of ``n`` inputs along one axis."""
        span = n + 2 * self.padding - self.window
        if not self.ceil_mode:
            return span // self.stride + 1
        out = -(-span // self.stride) + 1
        if (out - 1) * self.stride >= n + self.padding:
            out -= 1   # the last window would start in the right padding
        return out

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping of this pool."""
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """Short text, e.g. ``max 3x3/2 pad 0`` (``ceil`` appended in ceil mode)."""
        w = self.window
        return (f"{self.kind} {w}x{w}/{self.stride} pad {self.padding}"
                + (" ceil" if self.ceil_mode else ""))


@dataclass(frozen=True)
class Layer:
    """Shape and densities of one convolution or fully-connected layer.

    Parameters
    ----------
    name : str
        Layer name, unique within its workload.
    C, K : int
        Input channels (all groups) and output channels.
    R, S : int
        Kernel height (rows) and width (columns).
    H, W : int
        Input height and width, before padding.
    stride, padding, groups : int
        Convolution stride, symmetric zero padding and number of groups.
    kind : str
        ``"conv"`` or ``"fc"`` (an fc layer is a 1x1 convolution on a 1x1 input).
    weight_density, act_density : float
        Fraction of non-zero weights and of non-zero input activations, in [0, 1].
    density_source : str
        ``"published"`` or ``"default"``: where the densities came from.
    pool : Pool or None
        Pooling the PPU applies to the outputs before they are written to OARAM.
    inputs : tuple of str or None
        Explicit producers (YAML ``input``): the layers whose pooled outputs, concatenated
        along channels in this order, are this layer's input. ``None``: the previous layer
        (see :func:`chain_producers`).

    Notes
    -----
    No validation happens on construction; call :func:`validate_layer`.
    """

    name: str
    C: int
    K: int
    R: int
    S: int
    H: int
    W: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    kind: str = "conv"
    weight_density: float = 1.0
    act_density: float = 1.0
    density_source: str = "default"
    pool: Pool | None = None
    inputs: tuple[str, ...] | None = None

    @property
    def P(self) -> int:
        """Output height: ``(H + 2*padding - R) // stride + 1``."""
        return (self.H + 2 * self.padding - self.R) // self.stride + 1

    @property
    def Q(self) -> int:
        """Output width: ``(W + 2*padding - S) // stride + 1``."""
        return (self.W + 2 * self.padding - self.S) // self.stride + 1

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """Output shape after the PPU's pooling: ``(K, P', Q')`` (``(K, P, Q)`` unpooled)."""
        if self.pool is None:
            return (self.K, self.P, self.Q)
        return (self.K, self.pool.out_size(self.P), self.pool.out_size(self.Q))

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """Weight tensor shape ``(K, C // groups, R, S)``."""
        return (self.K, self.C // self.groups, self.R, self.S)

    @property
    def dense_macs(self) -> int:
        """Multiply-accumulates of the dense layer: ``K * (C//groups) * R * S * P * Q``."""
        return self.K * (self.C // self.groups) * self.R * self.S * self.P * self.Q

    def with_densities(self, weight_density: float, act_density: float, source: str) -> Layer:
        """Return a copy with other densities and density source.

        Parameters
        ----------
        weight_density, act_density : float
            New weight and input-activation densities.
        source : str
            New ``density_source`` (``"published"`` or ``"default"``).

        Returns
        -------
        Layer
            The modified copy (not validated).
        """
        return dataclasses.replace(
            self,
            weight_density=weight_density,
            act_density=act_density,
            density_source=source,
        )


@dataclass(frozen=True)
class Workload:
    """A network: its layers in order, and where it came from.

    Parameters
    ----------
    name : str
        Workload name.
    layers : tuple of Layer
        Conv and fc layers in network order.
    source : str
        Path of the file the workload was loaded from.
    provenance : str
        Where the shapes and densities come from.
    description : str
        Short human description (optional).
    """

    name: str
    layers: tuple[Layer, ...]
    source: str
    provenance: str
    description: str = ""

    @property
    def conv_layers(self) -> tuple[Layer, ...]:
        """The layers of kind ``conv``, in order."""
        return tuple(layer for layer in self.layers if layer.kind == "conv")

    @property
    def fc_layers(self) -> tuple[Layer, ...]:
        """The layers of kind ``fc``, in order."""
        return tuple(layer for layer in self.layers if layer.kind == "fc")

    @property
    def dense_macs(self) -> int:
        """Dense multiply-accumulates of the conv layers only."""
        return sum(layer.dense_macs for layer in self.conv_layers)

    def layer(self, name: str) -> Layer:
        """Return the layer called ``name``.

        Raises
        ------
        WorkloadError
            If there is no such layer.
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise WorkloadError(f"{self.source}: workload {self.name!r} has no layer {name!r}")
