"""Granularity study on five networks: does coarse-grained sparsity save ~2x memory references?

Mao et al. 2017 ("Exploring the Regularity of Sparse Structure in CNNs") claim that on SCNN
vector- and kernel-level sparsity save about 2x (workshop version: 30-35%) of the memory
references of fine-grained sparsity at the same density. This script runs
:func:`scnn_sim.studies.granularity.granularity_study` on AlexNet, VGG-16, GoogLeNet, ResNet-50 and
DenseNet-121 at one density for every conv layer (default 0.35) and, for the networks with
published per-layer densities (SCNN Fig. 1: AlexNet, VGG-16, part of GoogLeNet), at those;
plus the weight-order effect (krs vs rsk) on the networks given by ``--order-effect``.

Writes ``benchmarks/results/granularity_<workload>.json`` (every study of the network, with
per-layer records; compact JSON) and ``benchmarks/results/granularity_summary.md``
(network-level ratios to fine, per kernel size, weight order, wide-access width), and prints
the same tables. ``--render-only`` rebuilds the summary from the saved JSON files.

    python benchmarks/granularity_study.py [--density 0.35] [--workloads alexnet,vgg16,...]
        [--granularities fine,vector,kernel,filter] [--no-published] [--order-effect alexnet]
        [--sensitivity alexnet] [--wide-words 2,4,8,16] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from _common import results_dir

from scnn_sim.outputs import atomic_write_bytes
from scnn_sim.results.tables import format_table
from scnn_sim.studies.granularity import ACC_MODELS, granularity_study, weight_order_effect
from scnn_sim.workload.shapes import load_workload

HERE = Path(__file__).resolve().parent
RESULTS = results_dir()  # benchmarks/out unless --refresh
WORKLOADS = ("alexnet", "vgg16", "googlenet", "resnet50", "densenet121")
SHORT = {"per_product": "product", "same_address": "addr", "wide": "wide"}


def has_published(name: str) -> tuple[int, int]:
    """(conv layers with published densities, conv layers) of a built-in workload."""
    convs = load_workload(name).conv_layers
    return sum(lay.density_source == "published" for lay in convs), len(convs)


def summary_rows(name: str, setting: str, study: dict[str, Any]) -> list[list[Any]]:
    """One row per non-fine granularity: network-level ratios to fine."""
    rows = []
    for g, entry in study["granularities"].items():
        if g == "fine":
            continue
        q = entry["totals"]["ratios_vs_fine"]
        rows.append(
            [name, setting, g, round(entry["totals"]["weight_density"], 3)]
            + [q["accumulator_accesses"][m] for m in ACC_MODELS]
            + [q["dram_bits"]]
            + [q["memory_references"][m] for m in ACC_MODELS]
            + [q["memory_bits"][m] for m in ACC_MODELS]
            + [q["energy_total_by_access_model"][m] for m in ACC_MODELS]
            + [q["cycles"]]
            + cross_model(entry["totals"], study["granularities"]["fine"]["totals"])
        )
    return rows


def cross_model(rec: dict[str, Any], fine: dict[str, Any]) -> list[float]:
    """Coarse under a merging model over fine under per-product (SCNN as published):
    accumulator RMWs (same-address, wide), memory references and bits moved (wide) and
    energy (wide)."""
    acc, acc_f = rec["accumulator_accesses"], fine["accumulator_accesses"]
    mr = rec["memory_references_by_access_model"]
    mr_f = fine["memory_references_by_access_model"]
    e, e_f = rec["energy_pj_by_access_model"], fine["energy_pj_by_access_model"]
    return [acc["same_address"] / acc_f["per_product"], acc["wide"] / acc_f["per_product"],
            mr["wide"]["accesses"] / mr_f["per_product"]["accesses"],
            mr["wide"]["bits"] / mr_f["per_product"]["bits"],
            e["wide"]["total"] / e_f["per_product"]["total"]]


SUMMARY_HEADERS = (
    ["network", "densities", "granularity", "w dens"]
    + [f"acc RMW {SHORT[m]} [x]" for m in ACC_MODELS]
    + ["DRAM bits [x]"]
    + [f"mem refs {SHORT[m]} [x]" for m in ACC_MODELS]
    + [f"bits moved {SHORT[m]} [x]" for m in ACC_MODELS]
    + [f"energy {SHORT[m]} [x]" for m in ACC_MODELS]
    + ["cycles [x]"]
    + ["acc addr / fine product [x]", "acc wide / fine product [x]",
       "mem refs wide / fine product [x]", "bits moved wide / fine product [x]",
       "energy wide / fine product [x]"]
)


def fine_rows(name: str, setting: str, study: dict[str, Any]) -> list[list[Any]]:
    """The fine-grained reference in absolute numbers (the denominators of the ratios)."""
    t = study["granularities"]["fine"]["totals"]
    mr = t["memory_references_by_access_model"]
    per = mr["per_product"]["per_structure"]
    return [[name, setting, round(t["weight_density"], 3), t["products"] / 1e6]
            + [t["accumulator_accesses"][m] / 1e6 for m in ACC_MODELS]
            + [per["weight_fifo"]["accesses"] / 1e6, per["dram"]["bits"] / 1e6]
            + [mr[m]["accesses"] / 1e6 for m in ACC_MODELS]
            + [mr[m]["bits"] / 1e6 for m in ACC_MODELS]
            + [t["energy_pj_by_access_model"][m]["total"] / 1e6 for m in ACC_MODELS]]


FINE_HEADERS = (
    ["network", "densities", "w dens", "products [M]"]
    + [f"acc RMW {SHORT[m]} [M]" for m in ACC_MODELS]
    + ["W FIFO entries rd+wr [M]", "DRAM [Mbit]"]
    + [f"mem refs {SHORT[m]} [M]" for m in ACC_MODELS]
    + [f"bits moved {SHORT[m]} [Mbit]" for m in ACC_MODELS]
    + [f"energy {SHORT[m]} [uJ]" for m in ACC_MODELS]
)

ORDER_HEADERS = (["network", "granularity", "order"]
                 + [f"acc RMW {SHORT[m]} [M]" for m in ACC_MODELS]
                 + [f"acc RMW {SHORT[m]} [x fine]" for m in ACC_MODELS]
                 + [f"mem refs {SHORT[m]} [x fine]" for m in ACC_MODELS])


def order_rows(name: str, eff: dict[str, Any]) -> list[list[Any]]:
    """Rows of the weight-order table: accumulator RMWs per order and granularity."""
    rows = []
    for g, per_order in eff["effect"].items():
        for order, e in per_order.items():
            rows.append([name, g, order]
                        + [e["accumulator_accesses"][m] / 1e6 for m in ACC_MODELS]
                        + [e["vs_fine"][m] for m in ACC_MODELS]
                        + [e["memory_references_vs_fine"][m] for m in ACC_MODELS])
    return rows


SENS_HEADERS = (["network", "wide words", "granularity"]
                + [f"acc RMW {SHORT[m]} [x fine]" for m in ACC_MODELS[1:]]
                + [f"mem refs {SHORT[m]} [x fine]" for m in ACC_MODELS[1:]]
                + ["mem refs wide / fine product [x]"])


def sensitivity_rows(name: str, density: float, seed: int, widths: list[int]
                     ) -> list[list[Any]]:
    """Ratios to fine when one wide accumulator access serves ``w`` words, for each w."""
    from scnn_sim.inputs.arch import load_arch

    rows = []
    for w in widths:
        st = granularity_study(name, density=density, seed=seed,
                               granularities="fine,vector,kernel",
                               arch=load_arch().replace(**{"accumulator.wide_words": w}))
        fine = st["granularities"]["fine"]["totals"]
        for g, entry in st["granularities"].items():
            if g == "fine":
                continue
            q = entry["totals"]["ratios_vs_fine"]
            rows.append([name, w, g] + [q["accumulator_accesses"][m] for m in ACC_MODELS[1:]]
                        + [q["memory_references"][m] for m in ACC_MODELS[1:]]
                        + [cross_model(entry["totals"], fine)[2]])
    return rows


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table; floats with 3 decimals."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 1e4 else f"{v:,.0f}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


KSIZE_HEADERS = (["network", "kernel", "share of products", "fine wide / fine product [x]"]
                 + [f"{g} acc RMW wide [x fine]" for g in ("vector", "kernel")]
                 + [f"{g} mem refs wide [x fine]" for g in ("vector", "kernel")]
                 + ["kernel mem refs wide / fine product [x]"])


def ksize_rows(name: str, study: dict[str, Any]) -> list[list[Any]]:
    """Ratios to fine per kernel size (R x S) of the layers: where the saving comes from."""
    grans = study["granularities"]
    if not {"vector", "kernel"} <= set(grans):
        return []
    sums: dict[tuple[str, str], dict[str, float]] = {}
    for g in ("fine", "vector", "kernel"):
        for r in grans[g]["layers"]:
            key = (f"{r['shape']['R']}x{r['shape']['S']}", g)
            acc = sums.setdefault(key, {"pp": 0.0, "wide": 0.0, "mr": 0.0, "mr_pp": 0.0})
            acc["pp"] += r["accumulator_accesses"]["per_product"]
            acc["wide"] += r["accumulator_accesses"]["wide"]
            mr = r["memory_references_by_access_model"]
            acc["mr"] += mr["wide"]["accesses"]
            acc["mr_pp"] += mr["per_product"]["accesses"]
    sizes = sorted({k for k, _ in sums}, key=lambda k: int(k.split("x")[0]))
    total = sum(sums[(k, "fine")]["pp"] for k in sizes)
    rows = []
    for k in sizes:
        f = sums[(k, "fine")]
        rows.append([name, k, f["pp"] / total if total else 0.0, f["wide"] / f["pp"]]
                    + [sums[(k, g)]["wide"] / f["wide"] for g in ("vector", "kernel")]
                    + [sums[(k, g)]["mr"] / f["mr"] for g in ("vector", "kernel")]
                    + [sums[(k, "kernel")]["mr"] / f["mr_pp"]])
    return rows


def simulate_workload(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every study of one network (density, published, order effect, width sweep)."""
    t0 = time.perf_counter()
    studies: dict[str, Any] = {}
    settings = [(f"{args.density:g} all layers", {"density": args.density})]
    n_pub, n_conv = has_published(name)
    if not args.no_published and n_pub:
        settings.append((f"published ({n_pub}/{n_conv} layers)", {"published_densities": True}))
    for label, kw in settings:
        t1 = time.perf_counter()
        studies[label] = granularity_study(name, granularities=args.granularities,
                                           seed=args.seed, **kw)
        print(f"[{name}] {label}: {time.perf_counter() - t1:.1f} s", flush=True)
    record: dict[str, Any] = {"workload": name, "published_layers": [n_pub, n_conv],
                              "studies": studies}
    if name in _names(args.order_effect):
        t1 = time.perf_counter()
        eff = weight_order_effect(name, density=args.density, seed=args.seed)
        record["weight_order_effect"] = {k: v for k, v in eff.items() if k != "studies"}
        print(f"[{name}] weight order krs vs rsk: {time.perf_counter() - t1:.1f} s", flush=True)
    if name in _names(args.sensitivity):
        t1 = time.perf_counter()
        widths = [int(w) for w in args.wide_words.split(",") if w.strip()]
        record["wide_words_sensitivity"] = {
            "density": args.density, "headers": SENS_HEADERS,
            "rows": sensitivity_rows(name, args.density, args.seed, widths)}
        print(f"[{name}] wide-access width sweep: {time.perf_counter() - t1:.1f} s", flush=True)
    record["wall_s"] = time.perf_counter() - t0
    return record


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--density", type=float, default=0.35)
    p.add_argument("--granularities", default="fine,vector,kernel,filter")
    p.add_argument("--no-published", action="store_true",
                   help="skip the runs at published per-layer densities")
    p.add_argument("--order-effect", default="alexnet",
                   help="networks for the krs vs rsk weight-order comparison ('' for none)")
    p.add_argument("--sensitivity", default="alexnet",
                   help="networks for the wide-access width sweep ('' for none)")
    p.add_argument("--wide-words", default="2,4,8,16",
                   help="widths of the sweep (default 2,4,8,16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS), help="results directory")
    p.add_argument("--render-only", action="store_true",
                   help="do not simulate: rebuild the summary from the saved JSON files")
    args = p.parse_args(argv)
    out_dir = Path(args.out)
    records = []
    for name in _names(args.workloads):
        path = out_dir / f"granularity_{name}.json"
        if args.render_only:
            records.append(json.loads(path.read_text()))
            continue
        rec = simulate_workload(name, args)
        # Compact JSON: the per-layer records of five networks are large.
        atomic_write_bytes(path, (json.dumps(rec, separators=(",", ":")) + "\n").encode())
        records.append(rec)
    render(records, out_dir)
    return 0


def render(records: list[dict[str, Any]], out_dir: Path) -> None:
    """Print the summary tables and write ``granularity_summary.md``."""
    summary, fines, orders, sens, ksz, notes = [], [], [], [], [], []
    for rec in records:
        name = rec["workload"]
        n_pub, n_conv = rec["published_layers"]
        if 0 < n_pub < n_conv:
            notes.append(f"{name}: {n_conv - n_pub} of {n_conv} conv layers have no published "
                         "density and use the workload's default density in the published run")
        for label, st in rec["studies"].items():
            summary += summary_rows(name, label, st)
            fines += fine_rows(name, label, st)
        ksz += ksize_rows(name, next(iter(rec["studies"].values())))
        if "weight_order_effect" in rec:
            orders += order_rows(name, rec["weight_order_effect"])
        if "wide_words_sensitivity" in rec:
            sens += rec["wide_words_sensitivity"]["rows"]
    walls = {rec["workload"]: rec["wall_s"] for rec in records}
    wall = sum(walls.values())
    first = next(iter(records[0]["studies"].values()))
    wall_text = (", ".join(f"{n} {s:.0f} s" for n, s in walls.items())
                 + f"; total {wall:.0f} s")
    text = [
        "Granularity study: network-level ratios to fine-grained pruning (same seed, same "
        "density).",
        "",
        format_table(SUMMARY_HEADERS, summary),
        "",
        "Fine-grained reference (absolute):",
        format_table(FINE_HEADERS, fines),
        "",
        "By kernel size (first density setting of each network):",
        format_table(KSIZE_HEADERS, ksz),
    ]
    if orders:
        text += ["", "Weight order (dataflow.weight_order) krs vs rsk:",
                 format_table(ORDER_HEADERS, orders)]
    if sens:
        text += ["", "Wide-access width (accumulator.wide_words):",
                 format_table(SENS_HEADERS, sens)]
    text += ["", f"wall time: {wall_text}"]
    print("\n".join(text))

    md = [
        "# Granularity study: SCNN memory references by pruning granularity",
        "",
        "Command: `python benchmarks/granularity_study.py` (defaults: density 0.35 for every "
        "conv layer and, where SCNN Fig. 1 publishes them, the per-layer densities; seed "
        f"{first['seed']}; SCNN Table 3 architecture; {first['energy_table']} energy; weight "
        "format `group` for coarse granularities; weight order krs). "
        f"scnn-sim {first['scnn_sim_version']}.",
        f"Wall time on a shared 2-core machine: {wall_text}.",
        "",
        "Ratios are coarse / fine at network level (sum over conv layers). `acc RMW`: "
        "accumulator read-modify-writes under the per-product (SCNN as published), "
        "same-address and wide (4 words) models. `mem refs` (scnn_sim.results.records."
        "memory_references) = accesses at each structure's native width, summed: "
        "accumulator (2 per RMW + drain reads; one wide access serves 4 words), IARAM and "
        "OARAM entries, weight-FIFO entries of F weights, 32-bit DRAM accesses; `bits moved` "
        "= the bits those accesses move. `energy` = total energy with the accumulator "
        "charged under each model, every access priced at its width. The last five columns "
        "compare coarse on merging hardware with fine on SCNN as published (per-product "
        "accumulator).",
        "",
        markdown_table(SUMMARY_HEADERS, summary),
        "",
        "Fine-grained reference (absolute values, the denominators):",
        "",
        markdown_table(FINE_HEADERS, fines),
        "",
        "By kernel size (density setting of the first row of each network): share of the "
        "fine-grained products, and ratios to fine of the layers of that kernel size.",
        "",
        markdown_table(KSIZE_HEADERS, ksz),
    ]
    if orders:
        md += ["", "Weight order effect (`dataflow.weight_order`, density of the first "
               "setting):", "", markdown_table(ORDER_HEADERS, orders)]
    if sens:
        md += ["", "Width of a wide accumulator access (`accumulator.wide_words`):", "",
               markdown_table(SENS_HEADERS, sens)]
    if notes:
        md += [""] + [f"- {n}" for n in notes]
    atomic_write_bytes(out_dir / "granularity_summary.md", ("\n".join(md) + "\n").encode())
    print(f"wrote {out_dir / 'granularity_summary.md'}")


if __name__ == "__main__":
    sys.exit(main())
