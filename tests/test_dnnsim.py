"""The DNNsim-compatible preset (``--arch dnnsim``) and its modelling options.

* DNNsim's golden figures (tests/dnnsim_data.py, copied from its CSVs) on conv2 and aligned,
  at 1,024 accumulator entries and at Kc = 8, by both configurations that give Kc = 8.
* An independent re-implementation of DNNsim's rules (:func:`dnnsim_reference`, written from
  the rules in README "Modelling choices", pure Python) on small layers the golden data does
  not cover: strided, grouped, non-square PE grids, several Kc groups.
* Each option on its own: bank_load, placeholders, timing switches, padded tiling, kc_rule,
  halo_model.
"""

from __future__ import annotations

import math

import dnnsim_data
import numpy as np
import pytest

from scnn_sim import simulate
from scnn_sim.engine.layer import choose_mapping, simulate_layer
from scnn_sim.engine.mapping import split_bounds
from scnn_sim.inputs.arch import load_arch
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors

# ---------------------------------------------------------------- golden DNNsim figures


@pytest.fixture(scope="module")
def npz_layers(tmp_path_factory):
    return dnnsim_data.write_npz(tmp_path_factory.mktemp("dnnsim"), ["conv2", "aligned"])


CONFIGS = {
    "acc1024": ("acc1024", "dnnsim"),
    "kc8": ("kc8", ["dnnsim", {"dataflow": {"kc": 8}}]),
    # DNNsim's own Kc = 8 run: out_acc_size = 128 = 32 banks x 4 entries.
    "acc128": ("kc8", ["dnnsim", {"accumulator": {"entries_per_bank": 4}}]),
}


@pytest.mark.parametrize("layer", ["conv2", "aligned"])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_dnnsim_preset_reproduces_dnnsim(npz_layers, layer, config):
    golden_key, arch = CONFIGS[config]
    res = simulate(npz_layers[layer], arch=arch)
    rec = res.layers[0].record
    assert rec["mapping"]["kc"] == (64 if golden_key == "acc1024" else 8)
    got = dnnsim_data.ours(rec, res.meta["arch"])
    gold = dnnsim_data.GOLDEN[(layer, golden_key)]
    assert abs(got["cycles"] - gold["cycles"]) <= 0.005 * gold["cycles"], (got, gold)
    for key in ("mults", "idle_conflicts", "idle_pe", "idle_halo", "f_loop"):
        assert abs(got[key] - gold[key]) <= 0.03 * gold[key], (key, got, gold)
    # cycles are compute + halo: no DRAM or drain time in the preset
    bd = rec["cycle_breakdown"]
    assert bd["dram_stall"] == 0 and bd["drain_stall"] == 0


# ---------------------------------------------------------------- independent reference


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def _hash(k: int, x: int, y: int, banks: int) -> int:
    # bit 4 = k2 ^ x1 ^ y1, bit 3 = x0, bit 2 = y0, bits 1..0 = k mod 4
    b4 = ((k >> 2) & 1) ^ ((x >> 1) & 1) ^ ((y >> 1) & 1)
    return (b4 * 16 + (x & 1) * 8 + (y & 1) * 4 + (k & 3)) % banks


def dnnsim_reference(w: np.ndarray, a: np.ndarray, lay: Layer, rows: int, cols: int, F: int,
                     I: int, banks: int, acc: int, kc: int | None = None) -> dict[str, int]:
    """DNNsim's SCNN cycle model, loop by loop, in plain Python (small layers only)."""
    st, pad = lay.stride, lay.padding
    Xp, Yp = lay.H + 2 * pad, lay.W + 2 * pad
    P, Q = (Xp - lay.R) // st + 1, (Yp - lay.S) // st + 1
    Kg, Cg = lay.K // lay.groups, lay.C // lay.groups
    if kc is None:
        kc = acc // (math.ceil(P / rows) * math.ceil(Q / cols))
    kc = min(kc, Kg)
    tw, th = math.ceil(Xp / rows), math.ceil(Yp / cols)
    ap = np.zeros((lay.C, tw * rows, th * cols), np.float32)
    ap[:, pad:pad + lay.H, pad:pad + lay.W] = a
    n = {"cycles": 0, "mults": 0, "idle_conflicts": 0, "idle_pe": 0, "f_loop": 0, "halo": 0}
    for gi in range(lay.groups):
        for k0 in range(0, Kg, kc):
            ks = range(gi * Kg + k0, gi * Kg + min(k0 + kc, Kg))
            for ck in range(Cg):
                pe_cycles = []
                for pex in range(rows):
                    for pey in range(cols):
                        acts: dict = {}
                        for x in range(pex * tw, (pex + 1) * tw):
                            for y in range(pey * th, (pey + 1) * th):
                                if ap[gi * Cg + ck, x, y] != 0:
                                    acts.setdefault((x % st, y % st), []).append((x, y))
                        wgts: dict = {}
                        for r in range(lay.R):
                            for s in range(lay.S):
                                for k in ks:
                                    if w[k, ck, r, s] != 0:
                                        ph = ((r + pad) % st, (s + pad) % st)
                                        wgts.setdefault(ph, []).append((k, r, s))
                        cyc = 0
                        for ph, al in acts.items():
                            wl = wgts.get(ph, [])
                            for i in range(0, len(al), I):
                                for f in range(0, len(wl), F):
                                    load = [0] * banks
                                    for x, y in al[i:i + I]:
                                        for k, r, s in wl[f:f + F]:
                                            ow = _trunc_div(x - r, st)
                                            oh = _trunc_div(y - s, st)
                                            if 0 <= ow < P and 0 <= oh < Q:
                                                load[_hash(k, ow, oh, banks)] += 1
                                                n["mults"] += 1
                                    warp = max(1, max(load))
                                    cyc += warp
                                    n["idle_conflicts"] += (warp - 1) * F * I
                                    n["f_loop"] += 1
                        pe_cycles.append(cyc)
                top = max(pe_cycles)
                n["cycles"] += top
                n["idle_pe"] += sum(top - c for c in pe_cycles) * F * I
            xs = [lay.R - 1 - pad, tw, pad]
            ys = [lay.S - 1 - pad, th, pad]
            region = max(xs[i] * ys[j] for i in range(3) for j in range(3) if (i, j) != (1, 1))
            n["cycles"] += region * len(ks)
            n["halo"] += region * len(ks)
    return n


def _random_layer(seed: int, C, K, R, H, stride, pad, groups, wd=0.4, ad=0.5) -> LayerTensors:
    rng = np.random.default_rng(seed)
    lay = Layer("L", C=C, K=K, R=R, S=R, H=H, W=H, stride=stride, padding=pad, groups=groups)
    w = rng.integers(1, 9, (K, C // groups, R, R)).astype(np.float32)
    w[rng.random(w.shape) >= wd] = 0
    a = rng.integers(1, 9, (C, H, H)).astype(np.float32)
    a[rng.random(a.shape) >= ad] = 0
    return LayerTensors(lay, w, a)


@pytest.mark.parametrize("case", [
    # seed, C, K, R, H, stride, pad, groups, pe grid, entries per bank, kc
    (1, 4, 16, 3, 11, 1, 1, 1, (2, 2), 4, None),      # several Kc groups
    (2, 4, 12, 5, 13, 1, 2, 2, (3, 2), 8, None),      # grouped, non-square grid
    (3, 3, 8, 5, 19, 2, 0, 1, (2, 2), 32, None),      # strided (stride 2, pad 0)
    (4, 2, 8, 3, 17, 2, 2, 1, (2, 3), 32, None),      # strided with pad % stride == 0
    (5, 6, 16, 3, 10, 1, 0, 2, (2, 2), 32, 3),        # explicit Kc, not dividing Kg
    (6, 3, 10, 11, 35, 4, 0, 1, (2, 2), 32, None),    # conv1-like, stride 4
])
def test_preset_matches_independent_reference(case):
    seed, C, K, R, H, st, pad, g, (rows, cols), epb, kc = case
    lt = _random_layer(seed, C, K, R, H, st, pad, g)
    over = {"pe_array": {"rows": rows, "cols": cols},
            "accumulator": {"entries_per_bank": epb}}
    if kc is not None:
        over["dataflow"] = {"kc": kc}
    arch = load_arch(["dnnsim", over])
    c = simulate_layer(lt, arch, verify=True)
    assert c.verified
    ref = dnnsim_reference(lt.weights, lt.activations, lt.layer, rows, cols, arch.F, arch.I,
                           arch.acc_banks, arch.acc_capacity, kc)
    n = arch.n_pes * arch.F * arch.I
    got = {"cycles": c.cycles, "mults": c.on_plane_products,
           "idle_conflicts": round(c.conflict_stall_cycles * n),
           "idle_pe": round(c.barrier_idle_cycles * n), "f_loop": c.vector_pairs,
           "halo": c.halo_cycles}
    assert got == ref


# ---------------------------------------------------------------- the options one by one


@pytest.fixture(scope="module")
def padded_layer():
    return _random_layer(11, 4, 16, 3, 12, 1, 1, 1, wd=0.3, ad=0.4)


def _small(**over):
    base = {"pe_array": {"rows": 2, "cols": 2}}
    for k, v in over.items():
        base.setdefault(k, {}).update(v)
    return load_arch(base)


def test_on_plane_products_are_the_valid_products(padded_layer):
    from conftest import naive_conv

    lt = padded_layer
    c = simulate_layer(lt, _small(), verify=True)
    mw = (lt.weights != 0).astype(np.float64)
    ma = (lt.activations != 0).astype(np.float64)
    valid = int(round(naive_conv(mw, ma, lt.layer).sum()))
    assert c.on_plane_products == valid
    assert c.products > valid  # padding: some products fall off the plane


def test_bank_load_on_plane_only_lowers_contention(padded_layer):
    lock = {"contention": "lockstep"}
    all_p = simulate_layer(padded_layer, _small(accumulator=lock), verify=True)
    on_p = simulate_layer(padded_layer, _small(accumulator={**lock, "bank_load": "on_plane"}),
                          verify=True)
    assert on_p.products == all_p.products and on_p.vector_pairs == all_p.vector_pairs
    assert on_p.conflict_stall_cycles < all_p.conflict_stall_cycles


def test_dnnsim_xor_changes_bank_conflicts_not_work(padded_layer):
    lock = {"contention": "lockstep"}
    lin = simulate_layer(padded_layer, _small(accumulator=lock), verify=True)
    dx = simulate_layer(padded_layer, _small(accumulator={**lock, "bank_mapping": "dnnsim_xor"}),
                        verify=True)
    assert dx.verified and dx.products == lin.products
    assert dx.conflict_stall_cycles != lin.conflict_stall_cycles


def test_no_placeholders():
    # weight density 5%: long zero runs need placeholders under the 4-bit index
    lt = _random_layer(12, 8, 32, 3, 12, 1, 1, 1, wd=0.05, ad=0.3)
    with_ph = simulate_layer(lt, _small(), verify=True)
    no_ph = simulate_layer(lt, _small(data={"placeholders": False}), verify=True)
    assert with_ph.mapping["weight_placeholders"] > 0
    assert no_ph.mapping["weight_placeholders"] == 0 and no_ph.mapping["act_placeholders"] == 0
    assert no_ph.mapping["weight_entries"] == int(np.count_nonzero(lt.weights))
    assert no_ph.verified and no_ph.products == with_ph.products


def test_timing_switches(padded_layer):
    slow = {"bandwidth_gbytes_per_s": 0.01}
    timed = simulate_layer(padded_layer, _small(dram=slow), input_from_dram=True, verify=True)
    assert timed.dram_stall_cycles > 0
    untimed = simulate_layer(padded_layer, _small(dram={**slow, "timing": False},
                                                  accumulator={"drain_timing": False}),
                             input_from_dram=True, verify=True)
    assert untimed.dram_stall_cycles == 0 and untimed.drain_stall_cycles == 0
    assert untimed.cycles == timed.cycles - timed.dram_stall_cycles - timed.drain_stall_cycles
    # DRAM bits are still counted
    assert untimed.accesses["dram_read_bits_weight_values"] == \
        timed.accesses["dram_read_bits_weight_values"]


@pytest.mark.parametrize("n, parts, pad, expected", [
    (27, 8, 2, [(0, 2), (2, 6), (6, 10), (10, 14), (14, 18), (18, 22), (22, 26), (26, 27)]),
    (32, 8, 0, [(i * 4, i * 4 + 4) for i in range(8)]),
    (5, 4, 1, [(0, 1), (1, 3), (3, 5), (5, 5)]),
])
def test_padded_tiling(n, parts, pad, expected):
    assert split_bounds(n, parts, "padded", pad) == expected


def test_kc_rule_dnnsim_ignores_halo_and_capacity():
    lt = _random_layer(13, 4, 64, 5, 27, 1, 2, 1)
    arch = load_arch({"dataflow": {"kc_rule": "dnnsim"}})
    tiling, kc, _, _ = choose_mapping(lt, arch)
    assert kc == 1024 // (4 * 4)  # output 27x27 on 8x8 PEs: 4x4 tiles
    assert tiling.sub == (1, 1)
    assert kc * tiling.BH * tiling.BW > arch.acc_capacity  # the halo does not fit: DNNsim's
    _, kc_scnn, _, _ = choose_mapping(lt, load_arch())
    assert kc_scnn <= 8


def test_halo_model_dnnsim():
    lt = _random_layer(14, 4, 16, 5, 27, 1, 2, 1)
    arch = load_arch(["dnnsim", {"dataflow": {"kc": 4}}])
    c = simulate_layer(lt, arch, verify=True)
    # padded 31 -> tiles of 4; regions {2, 4, 2} x {2, 4, 2}: largest 2 x 4 = 8 per channel
    assert c.halo_cycles == 8 * 16
    c2 = simulate_layer(lt, arch.replace(**{"dataflow.halo_words_per_cycle": 4}), verify=True)
    assert c2.halo_cycles == 8 * 16 // 4


def test_lockstep_linear_rsk_hazard():
    # buffer plane 8 x 8 = 64, a multiple of 32 banks: with k fastest (rsk) an F-vector's
    # products are 64 addresses apart, all in one linear bank (README "configuration hazard")
    lt = _random_layer(15, 4, 16, 3, 6, 1, 1, 1, wd=0.9, ad=0.9)

    def stall(order, mapping):
        arch = load_arch({"pe_array": {"rows": 1, "cols": 1},
                          "accumulator": {"contention": "lockstep", "bank_mapping": mapping},
                          "dataflow": {"weight_order": order, "kc": 8}})
        c = simulate_layer(lt, arch, verify=True)
        assert c.mapping["buffer"] == [8, 8]
        return c.conflict_stall_cycles / c.busy_cycles

    hazard = stall("rsk", "linear")
    assert hazard > 2.0  # most pairs put F = 4 products in one bank: >= 3 extra cycles
    assert stall("rsk", "xor") < 0.6 * hazard
    assert stall("rsk", "dnnsim_xor") < 0.6 * hazard
    assert stall("krs", "linear") < 0.6 * hazard
