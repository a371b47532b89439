"""The network model: which layer feeds which, where each layer's input comes from, and the
outputs a layer hands to the next (README "PPU pooling and layer chaining").

SCNN keeps a layer's outputs on chip: the PPU writes them, compressed, to the OARAM, and the
OARAM and IARAM swap roles for the next layer (SCNN Sec. IV). A layer therefore reads its input
from DRAM only when it is the network's first layer, when its input is not one earlier layer's
output (a branch or a concatenation without an ``input`` field), when a producer spilled its
outputs to DRAM (they did not fit the OARAM), or when the input does not fit the IARAM. The
:class:`Network` answers these questions for one run and runs each layer in the engine
(:func:`scnn_sim.engine.layer.simulate_layer`) with the right input source and outputs.

The synthetic tensors are drawn here too, one seeded stream per (seed, layer, tensor), so that
a layer's result does not depend on which other layers are simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from scnn_sim.engine.layer import LayerCounts, encode_outputs, simulate_layer
from scnn_sim.inputs.arch import ArchConfig
from scnn_sim.sparsity.formats import FormatSize
from scnn_sim.sparsity.pruning import synthetic_activations, synthetic_weights
from scnn_sim.workload.shapes import Layer, chain_producers
from scnn_sim.workload.tensors import LayerTensors

__all__ = ["InputSource", "Network", "layer_rng", "synthesize"]

#: ``(index in the workload, layer, exported tensors or None)``: one conv layer of a run.
Item = tuple[int, Layer, "LayerTensors | None"]


def layer_rng(seed: int, index: int, what: int) -> np.random.Generator:
    """The random stream of one tensor: ``what`` 0 weights, 1 input, 2 outputs of a layer."""
    # One independent stream per (seed, layer, tensor): a layer's tensors do not depend on
    # which other layers are simulated, nor on the granularity.
    return np.random.default_rng([seed, index, what])


def synthesize(layer: Layer, index: int, seed: int, clustered: float = 0.0) -> LayerTensors:
    """Seeded dense Gaussian weights and post-ReLU activations at the layer's act density."""
    w = synthetic_weights(layer.weight_shape, layer_rng(seed, index, 0))
    a = synthetic_activations((layer.C, layer.H, layer.W), layer.act_density,
                              layer_rng(seed, index, 1), clustered=clustered)
    return LayerTensors(layer, w, a)


@dataclass(frozen=True)
class InputSource:
    """Where a layer's input came from, and why (the record's ``mapping.input_source*``)."""

    input_source: Literal["dram", "chained"]
    reason: str
    producers: tuple[str, ...]


class Network:
    """Which layer feeds which, and whether a layer's input is on chip.

    Parameters
    ----------
    items
        All conv layers of the network, ``(index, layer, tensors or None)``, in order (before
        any ``layers=`` selection, so a layer's result does not depend on the selection).
    exported
        The tensors are exported ones (a layer's input is the previous layer's real output).
    arch, seed, clustered
        The architecture, and the seed and clustering of synthetic tensors.
    """

    def __init__(self, items: list[Item], exported: bool, arch: ArchConfig, seed: int,
                 clustered: float) -> None:
        self.items = items
        self.pos = {index: k for k, (index, _, _) in enumerate(items)}
        self.by_name = {lay.name: k for k, (_, lay, _) in enumerate(items)}
        self.exported = exported
        self.arch, self.seed, self.clustered = arch, seed, clustered
        layers = [lay for _, lay, _ in items]
        self.producers = _exported_producers(layers) if exported else chain_producers(layers)
        self.consumer: dict[str, int] = {}
        for k, lay in enumerate(layers):
            for name in self.producers.get(lay.name) or ():
                self.consumer.setdefault(name, k)
        self.spilled: dict[str, bool] = {}

    def simulate(self, index: int, lt: LayerTensors, *, verify: bool = False,
                 count_merges: bool | None = None,
                 weight_storage: FormatSize | None = None) -> tuple[LayerCounts, InputSource]:
        """Run layer ``index`` (its tensors ``lt``) in the engine, chained to its producers.

        Returns the engine's counts and where the input came from; records whether the
        layer's outputs spilled (for its consumers).
        """
        layer = self.items[self.pos[index]][1]
        out_acts = self.output_activations(index, lt.layer)
        from_dram, reason = self.input_from_dram(index, layer)
        counts = simulate_layer(lt, self.arch, verify=verify, input_from_dram=from_dram,
                                out_activations=out_acts, count_merges=count_merges,
                                weight_storage=weight_storage)
        self.spilled[layer.name] = bool(counts.mapping["outputs_spill"])
        if not from_dram and not counts.mapping["activations_resident"]:
            from_dram, reason = True, "input does not fit the IARAM: streamed from DRAM"
        source = InputSource("dram" if from_dram else "chained", reason,
                             tuple(self.producers.get(layer.name) or ()))
        return counts, source

    def network_input(self, index: int, layer: Layer) -> bool:
        """The layer reads the network's input, or an input of unknown producer, from DRAM."""
        return self.pos[index] == 0 or self.producers.get(layer.name) is None

    def input_from_dram(self, index: int, layer: Layer) -> tuple[bool, str]:
        """Whether the layer's input comes from DRAM, and why (before the IARAM check)."""
        if self.pos[index] == 0:
            return True, "the network's first layer reads its input from DRAM"
        prods = self.producers.get(layer.name)
        if prods is None:
            return True, ("no producer: the input is not the previous layer's output "
                          "(a branch or concatenation without an input field)")
        for name in prods:
            if self._spills(name):
                return True, f"producer {name!r} spilled its outputs to DRAM"
        return False, "on chip: the producers' outputs stay in OARAM, swapped to IARAM"

    def _spills(self, name: str) -> bool:
        if name not in self.spilled:
            index, lay, given = self.items[self.by_name[name]]
            out = self.output_activations(index, lay)
            self.spilled[name] = encode_outputs(lay, out, self.arch)[1]
        return self.spilled[name]

    def output_activations(self, index: int, layer: Layer) -> np.ndarray:
        """The layer's outputs after the PPU (ReLU, pooling), for OARAM counts.

        Exported tensors: the consumer's real input when it is this layer's output alone (its
        plane may be smaller: pooled in the exported model). Synthetic: drawn post-pool,
        ``layer.out_shape``, at the first consumer's input density; without a consumer at the
        next layer's density when it reads K channels, else at this layer's own input density.
        """
        k = self.pos[index]
        c = self.consumer.get(layer.name)
        if self.exported and c is not None and c == k + 1:
            tensors = self.items[c][2]
            assert tensors is not None   # exported: every item carries its tensors
            acts = tensors.activations
            if acts.shape[0] == layer.K and self.producers[self.items[c][1].name] == (
                    layer.name,):
                return acts
        dens = layer.act_density
        if c is not None:
            dens = self.items[c][1].act_density
        elif k + 1 < len(self.items) and self.items[k + 1][1].C == layer.K:
            dens = self.items[k + 1][1].act_density
        return synthetic_activations(layer.out_shape, dens, layer_rng(self.seed, index, 2),
                                     clustered=self.clustered)


def _exported_producers(layers: list[Layer]) -> dict[str, tuple[str, ...] | None]:
    """Exported networks: the previous layer feeds a layer that reads its K channels on the
    same or a smaller plane (pooled in the model; the file does not store pooling layers)."""
    out: dict[str, tuple[str, ...] | None] = {}
    prev: Layer | None = None
    for lay in layers:
        ok = (prev is not None and prev.K == lay.C and lay.H <= prev.P and lay.W <= prev.Q)
        out[lay.name] = (prev.name,) if prev is not None and ok else None
        prev = lay
    return out
