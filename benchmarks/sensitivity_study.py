"""How robust are the headline results to the modelling choices the papers leave open?

For each network (default AlexNet and VGG-16, synthetic tensors at SCNN's published
densities), runs :func:`scnn_sim.studies.sensitivity.sensitivity` over every declared choice
(``scnn_sim/inputs/choices.py``) and
:func:`scnn_sim.studies.sensitivity.granularity_sensitivity` for kernel against fine pruning
at the same (published) densities, and reports:

- SCNN/DCNN and SCNN/DCNN-opt energy: the base, the range over one choice at a time, and the
  range over the combinations (every pricing and reading combination crossed with the
  one-at-a-time simulations);
- kernel/fine energy and memory-reference ratios: the base and the range over one choice at
  a time (a granularity study per simulated alternative), with the choices at each end, and
  the verdict on each claim of Mao et al.

Writes ``sensitivity.json`` and a tornado chart per network (``sensitivity_NET.png``) to
``benchmarks/out`` (``--refresh``: ``benchmarks/results``)::

    python benchmarks/sensitivity_study.py [--networks alexnet,vgg16] [--choices A,B]
        [--granularity-choices vgg16=A,B]

The JSON is rewritten after each network (the other networks' entries are kept), so networks
can be run one at a time. ``--granularity-choices NET=A,B`` restricts the granularity part of
one network (a VGG-16 granularity study is two simulations with merge counting per
alternative); the JSON records which choices each part used.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _common import results_dir

from scnn_sim.outputs import atomic_write_json
from scnn_sim.plot.tornado import tornado
from scnn_sim.studies.sensitivity import granularity_sensitivity, sensitivity

RESULTS = results_dir()


def _one_at_a_time(choices: list[dict[str, Any]], get) -> dict[str, Any]:
    """Min and max of ``get(result)`` over every alternative of every choice, and where."""
    vals = [(get(r), f"{ch['name']}={r['alternative']}") for ch in choices
            for r in ch["results"] if not r["skipped"] and get(r) is not None]
    lo, hi = min(vals), max(vals)
    return {"min": lo[0], "min_at": lo[1], "max": hi[0], "max_at": hi[1]}


def study(net: str, choices: str | None, gran_choices: str | None) -> dict[str, Any]:
    t0 = time.time()
    s = sensitivity(net, choices=choices)
    tornado(s, RESULTS / f"sensitivity_{net}.png")
    t1 = time.time()
    gs = granularity_sensitivity(net, choices=gran_choices, published_densities=True,
                                 granularities="fine,kernel")
    t2 = time.time()
    out: dict[str, Any] = {"choices": [c["name"] for c in s["choices"]],
                           "granularity_choices": [c["name"] for c in gs["choices"]],
                           "simulations": s["simulations"],
                           "granularity_studies": gs["simulations"],
                           "wall_s": {"sensitivity": t1 - t0, "granularity": t2 - t1}}
    for m in ("energy_vs_dcnn", "energy_vs_dcnn_opt", "speedup_vs_dcnn", "cycles",
              "intra_pe_utilization", "barrier", "temporal_tiling_penalty"):
        rng = s["range"]["metrics"][m]
        out[m] = {"base": s["base"][m],
                  "one_at_a_time": _one_at_a_time(s["choices"], lambda r, m=m: r["values"][m]),
                  "combinations": {"min": rng["min"], "max": rng["max"],
                                   "min_at": rng["min_at"], "max_at": rng["max_at"]},
                  "swing_by_choice": {ch["name"]: ch["swing"][m] for ch in s["choices"]}}
    out["range_note"] = s["range"]["note"]
    base = gs["base"]["granularities"]["kernel"]["totals"]["ratios_vs_fine"]
    model = gs["base"]["arch"]["accumulator"]["access_model"]
    out["kernel_over_fine"] = {
        q: {"base": b, "one_at_a_time": _one_at_a_time(
            gs["choices"], lambda r, q=q: r["ratios"]["kernel"][q])}
        for q, b in (("energy", base["energy_pj"]["total"]),
                     ("memory_references", base["memory_references"][model]),
                     ("memory_bits", base["memory_bits"][model]),
                     ("cycles", base["cycles"]))}
    out["verdicts"] = [v["verdict"] for v in gs["verdicts"]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", default="alexnet,vgg16")
    ap.add_argument("--choices", default=None, help="default: every declared choice")
    ap.add_argument("--granularity-choices", action="append", default=[], metavar="NET=A,B",
                    help="the choices of NET's granularity part (default: --choices)")
    args = ap.parse_args()
    gran = dict(g.split("=", 1) for g in args.granularity_choices)
    out = RESULTS / "sensitivity.json"
    doc: dict[str, Any] = {"networks": {}}
    if out.exists():
        doc = json.loads(out.read_text())
    for net in args.networks.split(","):
        r = study(net, args.choices, gran.get(net, args.choices))
        doc["networks"][net] = r
        atomic_write_json(out, doc)
        print(f"\n{net} ({r['simulations']} runs, {r['granularity_studies']} granularity "
              f"studies; {r['wall_s']['sensitivity']:.0f} s + {r['wall_s']['granularity']:.0f} s)")
        for m, label in (("energy_vs_dcnn", "SCNN/DCNN energy"),
                         ("energy_vs_dcnn_opt", "SCNN/DCNN-opt energy"),
                         ("speedup_vs_dcnn", "speed-up over DCNN")):
            v = r[m]
            o, c = v["one_at_a_time"], v["combinations"]
            print(f"  {label}: base {v['base']:.3f}; one choice at a time {o['min']:.3f} "
                  f"({o['min_at']}) - {o['max']:.3f} ({o['max_at']}); over combinations "
                  f"{c['min']:.3f} - {c['max']:.3f}")
        for q, v in r["kernel_over_fine"].items():
            o = v["one_at_a_time"]
            print(f"  kernel/fine {q}: base {v['base']:.3f}; one choice at a time "
                  f"{o['min']:.3f} ({o['min_at']}) - {o['max']:.3f} ({o['max_at']})")
        for line in r["verdicts"]:
            print(f"  - {line}")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
