"""Shared fixtures of the engine tests: architectures, small seeded layers, and independent
(numpy-only) re-derivations of what the engine must compute.

The helpers are exposed as session-scoped fixtures returning functions, so hypothesis tests can
use them without function-scoped-fixture warnings.
"""

from __future__ import annotations

import math
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from scnn_sim.inputs.arch import ArchConfig, load_arch
from scnn_sim.sparsity.pruning import prune, synthetic_activations, synthetic_weights
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors


def make_tensors(C: int, K: int, R: int, S: int, H: int, W: int, *, stride: int = 1,
                 padding: int = 0, groups: int = 1, wd: float = 0.5, ad: float = 0.5,
                 granularity: str = "fine", seed: int = 0, name: str = "L") -> LayerTensors:
    """A seeded layer: He-Gaussian weights pruned to ``wd`` at ``granularity``, post-ReLU
    activations at density ``ad``."""
    layer = Layer(name, C=C, K=K, R=R, S=S, H=H, W=W, stride=stride, padding=padding,
                  groups=groups)
    rng = np.random.default_rng(seed)
    w = synthetic_weights(layer.weight_shape, rng)
    if wd < 1.0:
        w, _ = prune(w, wd, granularity)
    a = synthetic_activations((C, H, W), ad, rng)
    return LayerTensors(layer, np.ascontiguousarray(w, np.float32), a)


def naive_conv(weights: np.ndarray, acts: np.ndarray, layer: Layer) -> np.ndarray:
    """Grouped, strided, padded convolution by sliding windows + einsum (float64).

    Deliberately a different formulation from ``engine.layer.reference_conv``.
    """
    st, pad, g = layer.stride, layer.padding, layer.groups
    x = np.pad(acts.astype(np.float64), ((0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (layer.R, layer.S), axis=(1, 2))
    win = win[:, ::st, ::st][:, :layer.P, :layer.Q]          # [C, P, Q, R, S]
    Kg, Cg = layer.K // g, layer.C // g
    out = np.empty((layer.K, layer.P, layer.Q))
    for gi in range(g):
        out[gi * Kg:(gi + 1) * Kg] = np.einsum(
            "kcrs,cpqrs->kpq", weights[gi * Kg:(gi + 1) * Kg].astype(np.float64),
            win[gi * Cg:(gi + 1) * Cg])
    return out


def rle_entries(vec: np.ndarray, index_bits: int) -> int:
    """Entries of SCNN's zero-run code of one block, placeholders included (trailing zeros
    are not encoded; a gap of g zeros before a non-zero costs g // 2**index_bits
    placeholders)."""
    period = 1 << index_bits
    n, gap = 0, 0
    for v in np.asarray(vec).ravel():
        if v == 0:
            gap += 1
        else:
            n += gap // period + 1
            gap = 0
    return n


def expected_work(lt: LayerTensors, arch: ArchConfig, tiling, kc: int) -> SimpleNamespace:
    """Products, vector pairs and buffer reads re-derived from the tensors and the tiling.

    Only the work tiles' *input ranges* (``tiling.rows``/``cols``) are taken from the engine;
    the stride-phase decomposition, the block contents, their zero-run coding and the
    F x I vector pairing are recomputed here.
    """
    layer = lt.layer
    st, pad, g = layer.stride, layer.padding, layer.groups
    Kg, Cg = layer.K // g, layer.C // g
    axis = {"k": 0, "r": 1, "s": 2}
    perm = tuple(axis[ch] for ch in arch.weight_order)
    groups_k = [(k0, min(k0 + kc, Kg)) for k0 in range(0, Kg, kc)]
    products = pairs = iaram = fifo_w = fifo_r = 0
    for gi in range(g):
        for c in range(Cg):
            cc = gi * Cg + c
            for a in range(st):
                for b in range(st):
                    wblocks = []
                    for k0, k1 in groups_k:
                        wb = lt.weights[gi * Kg + k0:gi * Kg + k1, c, a::st, b::st]
                        wblocks.append((int(np.count_nonzero(wb)),
                                        rle_entries(wb.transpose(perm).ravel(),
                                                    arch.index_bits)))
                    for (r0, r1), (c0, c1) in zip(tiling.rows, tiling.cols, strict=True):
                        ys = [y for y in range(r0, r1) if (y + pad) % st == a]
                        xs = [x for x in range(c0, c1) if (x + pad) % st == b]
                        ab = lt.activations[cc][np.ix_(ys, xs)] if ys and xs else np.zeros(0)
                        nnz_a = int(np.count_nonzero(ab))
                        na = rle_entries(ab.ravel(), arch.index_bits)
                        for nnz_w, nw in wblocks:
                            products += nnz_a * nnz_w
                            if na and nw:
                                pairs += math.ceil(na / arch.I) * math.ceil(nw / arch.F)
                                iaram += na
                                # FIFO entries hold F weights each.
                                fifo_w += math.ceil(nw / arch.F)
                                fifo_r += math.ceil(na / arch.I) * math.ceil(nw / arch.F)
    return SimpleNamespace(products=products, pairs=pairs, iaram=iaram, fifo_w=fifo_w,
                           fifo_r=fifo_r)


#: A two-layer workload YAML (3x3 convs on 12x12): small enough for end-to-end CLI tests.
TINY_WORKLOAD = textwrap.dedent("""\
    name: tiny
    layers:
      - {name: c1, kind: conv, C: 8, K: 16, R: 3, S: 3, H: 12, W: 12, stride: 1, padding: 1,
         groups: 1, weight_density: 0.5, act_density: 0.6}
      - {name: c2, kind: conv, C: 16, K: 16, R: 3, S: 3, H: 12, W: 12, stride: 1, padding: 1,
         groups: 1, weight_density: 0.4, act_density: 0.5}
    """)


@pytest.fixture(scope="session")
def tiny_workload() -> str:
    """The text of :data:`TINY_WORKLOAD`, the shared two-layer workload YAML."""
    return TINY_WORKLOAD


@pytest.fixture(scope="session")
def arch() -> ArchConfig:
    """SCNN's Table 3 (the shipped default)."""
    return load_arch()


@pytest.fixture(scope="session")
def arch1(arch: ArchConfig) -> ArchConfig:
    """A single PE (1 x 1 grid): no tiling, no halos, no barrier between PEs."""
    return arch.replace(**{"pe_array.rows": 1, "pe_array.cols": 1})


@pytest.fixture(scope="session")
def tensors():
    """``make_tensors(C, K, R, S, H, W, *, stride, padding, groups, wd, ad, granularity,
    seed)``."""
    return make_tensors


@pytest.fixture(scope="session")
def conv_ref():
    """Independent reference convolution ``naive_conv(weights, acts, layer)``."""
    return naive_conv


@pytest.fixture(scope="session")
def work():
    """``expected_work(lt, arch, tiling, kc)``: independently derived products/pairs."""
    return expected_work


@pytest.fixture(scope="session")
def entries():
    """``rle_entries(vec, index_bits)``."""
    return rle_entries
