"""Tests of the granularity study (scnn_sim.studies.granularity) and the ``granularity``
sub-command.

The accumulator counts of the engine are checked against a plain-Python re-implementation
of SCNN's vector pairing on tiny layers (one PE, one work tile, one output-channel group).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from scnn_sim.commands import granularity as granularity_cmd
from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.arch import load_arch
from scnn_sim.inputs.options import OptionError
from scnn_sim.pricing.energy import load_energy_table
from scnn_sim.simulation import simulate
from scnn_sim.sparsity.pruning import prune
from scnn_sim.studies.granularity import (
    ACC_MODELS,
    StudyError,
    granularity_study,
    parse_granularity_list,
    weight_order_effect,
)
from scnn_sim.workload.shapes import Layer, Workload
from scnn_sim.workload.tensors import LayerTensors

# The provenance block (scnn_sim.results.provenance) first, then the study's own fields.
TOP_KEYS = ["format", "format_version", "scnn_sim_version", "workload", "workload_source", "arch",
            "energy_table", "energy", "seed", "weight_format", "clustered", "pointwise_group",
            "layer_subset", "density", "granularities"]


# --------------------------------------------------------------------------------------------
# Brute-force reference: SCNN's streams and vector pairs, in plain Python.
# --------------------------------------------------------------------------------------------

def _entries(dense: list[float], index_bits: int) -> list[tuple[int, float]]:
    """(dense position, value) of each zero-run entry of a block; placeholders have value 0.

    A non-zero after ``g`` zeros costs ``g // 2**index_bits`` placeholders (each standing for
    ``2**index_bits`` dense positions, itself the last) and then itself; trailing zeros cost
    nothing.
    """
    period = 1 << index_bits
    out: list[tuple[int, float]] = []
    run = 0
    for pos, v in enumerate(dense):
        if v == 0.0:
            run += 1
            if run == period:          # a placeholder stands for `period` zero positions
                out.append((pos, 0.0))
                run = 0
        else:
            out.append((pos, float(v)))
            run = 0
    # Placeholders after the last non-zero are not emitted.
    while out and out[-1][1] == 0.0:
        out.pop()
    return out


def brute_force(w: np.ndarray, a: np.ndarray, layer: Layer, F: int, I: int,  # noqa: E741
                wide_words: int, order: str = "krs", index_bits: int = 4) -> dict[str, int]:
    """Accumulator RMWs of a layer on one PE (one work tile, one output-channel group).

    Re-implements SCNN's PT-IS-CP-sparse loop: for each input channel and stride phase, the
    tile's non-zero activations (row-major, placeholders kept) are grouped I at a time, the
    (c, k') block's non-zero weights (in ``order``, first letter outermost) F at a time; each
    (activation vector, weight vector) pair is one cycle whose products go to accumulator
    address (k, output row, output column) of the tile's buffer. Returns the per-product,
    same-address and wide counts, the IARAM reads and weight-FIFO reads.
    """
    K, C, R, S = w.shape
    st, pad = layer.stride, layer.padding
    H, W = a.shape[1:]
    phase_list = [(pa, pb) for pa in range(st) for pb in range(st)]
    rows = {pa: [y for y in range(H) if (y + pad) % st == pa] for pa in range(st)}
    cols = {pb: [x for x in range(W) if (x + pad) % st == pb] for pb in range(st)}
    rv = {pa: len(range(pa, R, st)) for pa in range(st)}
    sv = {pb: len(range(pb, S, st)) for pb in range(st)}
    # Buffer origin and extent: products land in rows u - v (u: phase row, v: phase k-row).
    oy = min((rows[pa][0] + pad) // st - (rv[pa] - 1)
             for pa, _ in phase_list if rows[pa] and rv[pa])
    ox = min((cols[pb][0] + pad) // st - (sv[pb] - 1)
             for _, pb in phase_list if cols[pb] and sv[pb])
    hi_c = max((cols[pb][-1] + pad) // st for _, pb in phase_list if cols[pb] and sv[pb])
    BW = hi_c - ox + 1
    counts = dict.fromkeys(("per_product", "same_address", "wide", "iaram", "fifo_r"), 0)
    for c in range(C):
        for pa, pb in phase_list:
            ys, xs = rows[pa], cols[pb]
            acts = [(y, x) for y in ys for x in xs]
            a_entries = [((((acts[p][0] + pad) // st), ((acts[p][1] + pad) // st)), v)
                         for p, v in _entries([float(a[c, y, x]) for y, x in acts],
                                              index_bits)]
            # Weight block: K x rv x sv of phase (pa, pb), linearised in `order`.
            dims = {"k": K, "r": rv[pa], "s": sv[pb]}
            coords = [()]
            for letter in order:   # first letter outermost
                coords = [(*t, (letter, i)) for t in coords for i in range(dims[letter])]
            kvx = [dict(t) for t in coords]
            dense = [float(w[d["k"], c, pa + st * d["r"], pb + st * d["s"]]) for d in kvx]
            w_entries = [((kvx[p]["k"], kvx[p]["r"], kvx[p]["s"]), v)
                         for p, v in _entries(dense, index_bits)]
            na, nw = len(a_entries), len(w_entries)
            if na == 0 or nw == 0:
                continue
            counts["iaram"] += na
            counts["fifo_r"] += math.ceil(na / I) * math.ceil(nw / F)  # entries of F
            for i0 in range(0, na, I):
                for j0 in range(0, nw, F):
                    addrs = []
                    for (k, v, x), wv in w_entries[j0:j0 + F]:
                        for (u, ww), av in a_entries[i0:i0 + I]:
                            if wv == 0.0 or av == 0.0:
                                continue   # placeholders: the multiplier is gated
                            addrs.append((k, u - v - oy, ww - x - ox))
                    assert all(0 <= col < BW for _, _, col in addrs)
                    counts["per_product"] += len(addrs)
                    counts["same_address"] += len(set(addrs))
                    counts["wide"] += len({(k, r, col // wide_words) for k, r, col in addrs})
    return counts


def _tiny_tensors(rng: np.random.Generator, C: int, K: int, R: int, H: int, stride: int,
                  padding: int, w_density: float, a_density: float,
                  granularity: str = "fine") -> LayerTensors:
    layer = Layer(name="tiny", C=C, K=K, R=R, S=R, H=H, W=H, stride=stride, padding=padding)
    w = rng.standard_normal((K, C, R, R)).astype(np.float32)
    w, _ = prune(w, w_density, granularity)
    a = (rng.random((C, H, H)) < a_density) * (rng.random((C, H, H)) + 0.5)
    return LayerTensors(layer, w.astype(np.float32), a.astype(np.float32))


ONE_PE = {"pe_array.rows": 1, "pe_array.cols": 1}

TINY_CASES = [
    # (C, K, R, H, stride, pad, F, I, wide, order, granularity, w dens, a dens)
    (1, 2, 3, 4, 1, 0, 4, 4, 4, "krs", "fine", 0.6, 0.6),
    (2, 4, 3, 4, 1, 1, 4, 4, 4, "krs", "fine", 0.3, 0.5),
    (2, 3, 3, 4, 1, 1, 4, 4, 2, "krs", "vector", 0.5, 0.7),
    (2, 4, 3, 4, 1, 1, 4, 4, 4, "krs", "kernel", 0.5, 0.5),
    (2, 4, 3, 4, 1, 1, 3, 2, 4, "rsk", "vector", 0.5, 0.7),
    (1, 4, 3, 5, 2, 1, 4, 4, 4, "krs", "fine", 0.7, 0.8),   # stride 2: four phases
    (2, 2, 3, 4, 1, 0, 4, 4, 3, "skr", "kernel", 0.5, 0.9),
    (2, 4, 1, 4, 1, 0, 4, 4, 4, "krs", "fine", 0.5, 0.5),   # 1x1
]


@pytest.mark.parametrize("case", TINY_CASES)
def test_accumulator_counts_match_brute_force(case) -> None:
    C, K, R, H, st, pad, F, I, wide, order, gran, wd, ad = case  # noqa: E741
    rng = np.random.default_rng(TINY_CASES.index(case))
    arch = load_arch().replace(**ONE_PE, **{"multiplier.F": F, "multiplier.I": I,
                                            "accumulator.wide_words": wide,
                                            "dataflow.weight_order": order})
    for _ in range(3):
        lt = _tiny_tensors(rng, C, K, R, H, st, pad, wd, ad, gran)
        res = simulate([lt], arch=arch, count_merges=True, verify=True)
        rec = res.layers[0].record
        assert rec["verified"] is True
        assert rec["mapping"]["work_tiles"] == 1 and rec["mapping"]["output_channel_groups"] == 1
        want = brute_force(lt.weights, lt.activations, lt.layer, F, I, wide, order)
        got = rec["accumulator_accesses"]
        assert {m: got[m] for m in ACC_MODELS} == {m: want[m] for m in ACC_MODELS}
        assert rec["accesses"]["iaram_reads"] == want["iaram"]
        assert rec["accesses"]["weight_fifo_reads"] == want["fifo_r"]


def test_brute_force_sees_placeholders() -> None:
    # The second tiny case must exercise placeholders, else the comparison misses them.
    dense = [0.0] * 20 + [1.0]
    assert _entries(dense, 4) == [(15, 0.0), (20, 1.0)]
    rng = np.random.default_rng(3)
    lt = _tiny_tensors(rng, 2, 4, 3, 4, 1, 1, 0.1, 0.5)
    arch = load_arch().replace(**ONE_PE)
    rec = simulate([lt], arch=arch, count_merges=True).layers[0].record
    assert rec["mapping"]["weight_placeholders"] > 0
    want = brute_force(lt.weights, lt.activations, lt.layer, 4, 4, 4)
    assert rec["accumulator_accesses"]["same_address"] == want["same_address"]
    assert rec["accumulator_accesses"]["wide"] == want["wide"]


# --------------------------------------------------------------------------------------------
# (ii) merged and wide counts never exceed per-product, and equal it when nothing can merge.
# --------------------------------------------------------------------------------------------

def _ordered(acc: dict[str, int]) -> bool:
    return acc["wide"] <= acc["same_address"] <= acc["per_product"]


def test_merges_never_exceed_per_product_alexnet_conv3() -> None:
    res = simulate("alexnet", layers=["conv3"], granularity="vector", density=0.35,
                   count_merges=True)
    acc = res.layers[0].record["accumulator_accesses"]
    assert _ordered(acc)
    assert acc["wide"] < acc["per_product"]


def test_one_product_per_cycle_never_merges() -> None:
    arch = load_arch().replace(**{"multiplier.F": 1, "multiplier.I": 1})
    lt = _tiny_tensors(np.random.default_rng(0), 4, 8, 3, 12, 1, 1, 0.5, 0.6)
    acc = simulate([lt], arch=arch, count_merges=True).layers[0].record["accumulator_accesses"]
    assert acc["per_product"] > 0
    assert acc["per_product"] == acc["same_address"] == acc["wide"]


def test_pointwise_distinct_channels_and_rows_never_merge() -> None:
    # 1x1 conv, dense weights, krs order: the F weights of a vector are F different output
    # channels. Activations: one non-zero per input row per channel, so the I activations
    # of a vector sit on I different rows. Every product of a pair then has its own
    # (channel, row): no same-address and no wide merge, on the full 8x8 PE array.
    rng = np.random.default_rng(1)
    C, K, H = 6, 16, 24
    layer = Layer(name="pw", C=C, K=K, R=1, S=1, H=H, W=H)
    w = rng.standard_normal((K, C, 1, 1)).astype(np.float32)
    a = np.zeros((C, H, H), np.float32)
    for c in range(C):
        a[c, np.arange(H), rng.integers(0, H, H)] = 1.0 + rng.random(H)
    acc = simulate([LayerTensors(layer, w, a)], count_merges=True).layers[0].record[
        "accumulator_accesses"]
    assert acc["per_product"] == C * K * H
    assert acc["per_product"] == acc["same_address"] == acc["wide"]


# --------------------------------------------------------------------------------------------
# (i) equal density and identical activations: equal products up to group rounding.
# --------------------------------------------------------------------------------------------

def _same_mask_tensors(rng: np.random.Generator, layer: Layer, a_density: float
                       ) -> tuple[LayerTensors, int]:
    """Dense weights; every input channel has the same activation mask (m non-zeros)."""
    w = rng.standard_normal(layer.weight_shape).astype(np.float32)
    mask = rng.random((layer.H, layer.W)) < a_density
    a = (mask[None] * (0.5 + rng.random((layer.C, layer.H, layer.W)))).astype(np.float32)
    return LayerTensors(layer, w, a), int(mask.sum())


GROUP_SIZE = {"fine": lambda lay: 1, "vector": lambda lay: lay.S,
              "kernel": lambda lay: lay.R * lay.S, "filter": lambda lay: lay.C * lay.R * lay.S}


def test_products_equal_up_to_group_rounding() -> None:
    # Products of a stride-1 layer are sum_c nnz_w(c) * nnz_a(c); with the same activation
    # mask in every channel (m non-zeros each) they are m * (kept weights), whatever the
    # granularity. Fine keeps round(d*N) weights (within 1/2 of d*N), a granularity of equal
    # groups of g weights keeps g*round(d*N/g) (within g/2): the products of the two differ by
    # at most m * (g + 1) / 2 per layer.
    rng = np.random.default_rng(7)
    layers = [Layer(name="a", C=12, K=16, R=3, S=3, H=12, W=12, padding=1),
              Layer(name="b", C=16, K=8, R=5, S=5, H=9, W=9, padding=2)]
    tensors, masks = zip(*(_same_mask_tensors(rng, lay, 0.5) for lay in layers), strict=True)
    study = granularity_study(list(tensors), density=0.35)
    grans = study["granularities"]
    assert list(grans) == ["fine", "vector", "kernel", "filter"]
    total_tol = {g: 0.0 for g in grans}
    for i, (lay, m) in enumerate(zip(layers, masks, strict=True)):
        n = math.prod(lay.weight_shape)
        fine = grans["fine"]["layers"][i]
        for g, entry in grans.items():
            rec = entry["layers"][i]
            kept = round(rec["weight_density"] * n)
            assert rec["products"] == m * kept
            tol = m * (GROUP_SIZE[g](lay) + 1) / 2
            total_tol[g] += tol
            assert abs(rec["products"] - fine["products"]) <= tol
    for g, entry in grans.items():
        assert abs(entry["totals"]["products"] - grans["fine"]["totals"]["products"]) \
            <= total_tol[g]


# --------------------------------------------------------------------------------------------
# (iv) coarse granularity merges more on 3x3 layers; 1x1 layers collapse to fine.
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def conv3_study() -> dict:
    return granularity_study("alexnet", density=0.35, layers=["conv3"],
                             granularities="fine,vector,kernel")


def test_study_keys_and_ratios(conv3_study: dict) -> None:
    s = conv3_study
    assert list(s) == TOP_KEYS
    assert s["workload"] == "alexnet" and s["density"] == 0.35 and s["seed"] == 0
    assert list(s["granularities"]) == ["fine", "vector", "kernel"]
    for g, entry in s["granularities"].items():
        assert set(entry) == {"layers", "totals"}
        for rec in [*entry["layers"], entry["totals"]]:
            acc = rec["accumulator_accesses"]
            assert _ordered(acc)
            q = rec["ratios_vs_fine"]
            if g == "fine":
                assert q["memory_references"] == dict.fromkeys(ACC_MODELS, 1.0)
            mr = rec["memory_references_by_access_model"]
            a = rec["accesses"]
            dram = sum(v for k, v in a.items() if k.startswith("dram_"))
            for m in ACC_MODELS:
                per = mr[m]["per_structure"]
                assert per["accumulator"]["accesses"] == 2 * acc[m] + a["acc_drain_reads"]
                width = 24 * (4 if m == "wide" else 1)
                assert per["accumulator"]["bits"] == 2 * acc[m] * width + \
                    24 * a["acc_drain_reads"]
                assert per["weight_fifo"]["bits"] == a["weight_fifo_read_bits"] + \
                    a["weight_fifo_write_bits"]
                assert per["dram"] == {"accesses": dram / 32, "bits": dram}
                assert mr[m]["accesses"] == pytest.approx(sum(
                    v["accesses"] for v in per.values()))
                assert mr[m]["bits"] == sum(v["bits"] for v in per.values())
            # The run record's definition is the same function under the arch's model.
            assert rec["memory_references"] == mr["per_product"]
            model_e = rec["energy_pj_by_access_model"]["per_product"]["total"]
            assert model_e == pytest.approx(rec["energy_pj"]["total"])
    json.dumps(s)  # JSON-serialisable


def test_coarse_has_fewer_wide_accesses_on_3x3(conv3_study: dict) -> None:
    grans = conv3_study["granularities"]
    fine = grans["fine"]["totals"]
    # Synthetic activations vary per channel, so products agree only statistically here.
    for g in ("vector", "kernel"):
        tot = grans[g]["totals"]
        assert tot["products"] == pytest.approx(fine["products"], rel=1e-3)
        assert tot["accumulator_accesses"]["wide"] <= fine["accumulator_accesses"]["wide"]
        assert tot["ratios_vs_fine"]["accumulator_accesses"]["wide"] < 0.8
        assert tot["ratios_vs_fine"]["weight_index_bits"] < 1.0


def _mixed_workload() -> Workload:
    layers = (Layer(name="c3", C=8, K=16, R=3, S=3, H=12, W=12, padding=1, act_density=0.5),
              Layer(name="pw", C=16, K=24, R=1, S=1, H=12, W=12, act_density=0.5))
    return Workload(name="mixed", layers=layers, source="test", provenance="test")


def test_energy_by_model_matches_the_engine_under_that_model() -> None:
    # energy_pj_by_access_model re-charges the accumulator; under access_model=wide the
    # engine's own energy must agree with it (and the per-product one must not).
    arch = load_arch().replace(**{"accumulator.access_model": "wide"})
    s = granularity_study(_mixed_workload(), density=0.4, granularities="fine", arch=arch)
    for rec in [*s["granularities"]["fine"]["layers"], s["granularities"]["fine"]["totals"]]:
        by_model = rec["energy_pj_by_access_model"]
        assert by_model["wide"] == pytest.approx(rec["energy_pj"])
        acc = rec["accumulator_accesses"]
        # Priced by width: one wide access (4 words) costs more than one per-product access.
        per_wide = rec["energy_pj"]["accumulator"] - by_model["per_product"]["accumulator"]
        t = load_energy_table()
        one = {w: t.access_pj("accumulator_read", w) + t.access_pj("accumulator_write", w)
               for w in (24, 96)}
        assert per_wide == pytest.approx(acc["wide"] * one[96] - acc["per_product"] * one[24])
        assert (by_model["wide"]["accumulator"] / acc["wide"]
                > by_model["per_product"]["accumulator"] / acc["per_product"])


def test_pointwise_layers_collapse_to_fine() -> None:
    s = granularity_study(_mixed_workload(), density=0.4, granularities="fine,vector,kernel")
    fine_pw = s["granularities"]["fine"]["layers"][1]
    for g in ("vector", "kernel"):
        pw = s["granularities"][g]["layers"][1]
        assert pw["name"] == "pw"
        for key in ("products", "cycles", "accumulator_accesses", "accesses", "energy_pj"):
            assert pw[key] == fine_pw[key], key
        assert pw["ratios_vs_fine"]["memory_references"] == dict.fromkeys(ACC_MODELS, 1.0)
    # With blocks of input channels the 1x1 layer is pruned differently.
    s4 = granularity_study(_mixed_workload(), density=0.4, granularities="fine,vector",
                           pointwise_group=4, layers=["pw"])
    assert s4["granularities"]["vector"]["layers"][0]["accesses"] != \
        s4["granularities"]["fine"]["layers"][0]["accesses"]


def test_weight_order_rsk_removes_the_coarse_advantage() -> None:
    lay = Layer(name="c3", C=8, K=16, R=3, S=3, H=14, W=14, padding=1, act_density=0.6)
    wl = Workload(name="one", layers=(lay,), source="test", provenance="test")
    eff = weight_order_effect(wl, density=0.35, granularities="fine,kernel")
    assert eff["orders"] == ["krs", "rsk"]
    assert set(eff["studies"]) == {"krs", "rsk"}
    krs, rsk = eff["effect"]["kernel"]["krs"], eff["effect"]["kernel"]["rsk"]
    assert krs["vs_fine"]["wide"] < rsk["vs_fine"]["wide"]
    assert rsk["vs_krs"]["wide"] > 1.0
    assert rsk["accumulator_accesses"]["per_product"] == krs["accumulator_accesses"][
        "per_product"]
    with pytest.raises(StudyError, match="permutation"):
        weight_order_effect(wl, density=0.35, orders=("krs", "kk"))


# --------------------------------------------------------------------------------------------
# Argument checks and (v) the CLI.
# --------------------------------------------------------------------------------------------

def test_bad_study_arguments() -> None:
    wl = _mixed_workload()
    with pytest.raises(StudyError, match="not both"):
        granularity_study(wl, density=0.3, published_densities=True)
    with pytest.raises(StudyError, match="give a density"):
        granularity_study(wl)
    with pytest.raises(OptionError, match=r"^density: must be a number in \[0, 1\]"):
        granularity_study(wl, density=1.5)
    with pytest.raises(StudyError, match="unknown granularity|granularities"):
        granularity_study(wl, density=0.3, granularities="fine,bogus")
    with pytest.raises(StudyError, match="twice"):
        parse_granularity_list("vector,vector")
    with pytest.raises(StudyError, match="published density"):
        granularity_study(wl, published_densities=True)
    assert parse_granularity_list("kernel, vector") == ["fine", "kernel", "vector"]


WORKLOAD_YAML = """\
name: tinynet
layers:
  - {name: c1, C: 3, K: 8, R: 3, S: 3, H: 12, W: 12, padding: 1,
     weight_density: 0.5, act_density: 1.0}
  - {name: c2, C: 8, K: 8, R: 3, S: 3, H: 12, W: 12, padding: 1,
     weight_density: 0.4, act_density: 0.5}
  - {name: c3, C: 8, K: 8, R: 1, S: 1, H: 12, W: 12, act_density: 0.5}
"""


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scnn-sim")
    granularity_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["granularity", *argv])
    return args.func(args)


def test_cli_happy_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wl = tmp_path / "tinynet.yaml"
    wl.write_text(WORKLOAD_YAML)
    out_json = tmp_path / "out" / "study.json"
    assert _cli([str(wl), "--density", "0.35", "--granularities", "vector,kernel",
                 "--per-layer", "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    for needle in ("granularity study", "ratio to fine", "acc RMW wide [M]", "DRAM [Mbit]",
                   "mem refs wide [x]", "E total [uJ] (product)", "kernel / fine",
                   "granularity vector, per layer", "c2"):
        assert needle in text, needle
    data = json.loads(out_json.read_text())
    assert list(data) == TOP_KEYS
    assert list(data["granularities"]) == ["fine", "vector", "kernel"]
    assert [r["name"] for r in data["granularities"]["kernel"]["layers"]] == ["c1", "c2", "c3"]
    assert not list(out_json.parent.glob(".*.tmp"))

    assert _cli([str(wl), "--published-densities", "--granularities", "fine,filter",
                 "--layers", "c1,c2", "--weight-format", "scnn"]) == 0
    text = capsys.readouterr().out
    assert "published density" in text and "filter / fine" in text


@pytest.mark.parametrize("argv, match", [
    (["--density", "0.3", "--granularities", "fine,spaghetti"], "granularit"),
    (["--density", "0.3", "--published-densities"], "not both"),
    ([], "--density"),
    (["--density", "1.5"], r"\[0, 1\]"),
    (["--density", "-0.1"], r"\[0, 1\]"),
])
def test_cli_errors(tmp_path: Path, argv: list[str], match: str) -> None:
    wl = tmp_path / "tinynet.yaml"
    wl.write_text(WORKLOAD_YAML)
    with pytest.raises(ScnnSimError, match=match) as info:
        _cli([str(wl), *argv])
    assert "\n" not in str(info.value)
