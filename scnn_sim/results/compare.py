"""Compare ``run --json`` (or ``run --h5``) results: per-layer and network ratios to the first.

Metrics per layer and for the network: ``cycles``; energy by component and in total
(``energy_pj``); memory references (:func:`scnn_sim.results.records.memory_references`, the one
definition ``run`` and the granularity study use: accesses at each structure's native width,
summed); DRAM traffic in bits (the sum of the ``dram_*`` keys). Ratios are
``run / reference`` (the reference is the first file); a ratio with a zero reference is NaN.

Runs of different workloads or different layer lists are refused unless ``force``; forced, the
comparison covers the layers the runs share, in the reference's order.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_type_hints

from scnn_sim import __version__
from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.readers import as_path, read_json
from scnn_sim.results.models import RunOutput
from scnn_sim.results.provenance import FORMAT_VERSION
from scnn_sim.results.records import memory_references

__all__ = ["METRICS", "CompareError", "Comparison", "RunSummary", "compare_runs", "load_run",
           "metrics_of", "render_comparison"]

#: The ``format`` of a ``run --json`` document (from its declared model).
RUN_FORMAT: str = get_args(get_type_hints(RunOutput)["format"])[0]

#: Per-layer metrics of the comparison table, with their units.
METRICS = {"cycles": "cycles", "energy_pj": "pJ", "memory_refs": "accesses",
           "dram_bits": "bits"}


class CompareError(ScnnSimError):
    """Results that cannot be compared (not run JSON, different workloads, ...)."""


@dataclass(frozen=True)
class RunSummary:
    """One run file: identity, per-layer metrics (in order) and network totals."""

    path: str
    label: str
    workload: str
    meta: dict[str, Any]
    layers: dict[str, dict[str, float]]
    totals: dict[str, float]


def metrics_of(rec: dict[str, Any], where: str) -> dict[str, float]:
    """The compared numbers of one layer record: cycles, energy (total and by component),
    memory references and DRAM bits.

    Raises
    ------
    CompareError
        If the record lacks ``cycles``, ``energy_pj`` or ``accesses``.
    """
    try:
        acc = rec["accesses"]
        energy = rec["energy_pj"]
        out = {"cycles": float(rec["cycles"]),
               "memory_refs": float(memory_references(acc)["accesses"]),
               "dram_bits": float(sum(v for k, v in acc.items() if k.startswith("dram_")
                                      and v is not None)),
               "energy_pj": float(energy["total"])}
        out.update({f"energy_pj.{k}": float(v) for k, v in energy.items() if k != "total"})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CompareError(f"{where}: not a run layer record (missing or bad {exc})") from None
    return out


def load_run(path: str | os.PathLike[str], label: str | None = None) -> RunSummary:
    """Read a ``scnn-sim run --json`` file or a ``run --h5`` table
    (:mod:`scnn_sim.results.h5table`).

    Raises
    ------
    CompareError
        Missing file, malformed JSON, or JSON that is not a run (one line naming the file).
    """
    p = as_path(path, "results file", CompareError)
    if not p.is_file():
        raise CompareError(f"{p}: no such results file")
    from scnn_sim.results.h5table import TableError, is_hdf5, read_table

    if p.suffix.lower() in (".h5", ".hdf5") or is_hdf5(p):
        try:
            table = read_table(p, kind="run")
        except TableError as exc:
            raise CompareError(str(exc)) from None
        records = table.records()
        if not records or records[-1]["name"] != "total":
            raise CompareError(f"{p}: a run table without its 'total' row (damaged file)")
        obj: Any = {**table.provenance, "layers": records[:-1], "totals": records[-1]}
        obj.setdefault("workload", "")
        return _summary(p, obj, label)
    obj = read_json(p, CompareError, "results file")  # the reader policy: size, depth
    _check_format(p, obj)
    if not isinstance(obj, dict) or not isinstance(obj.get("layers"), list) \
            or not isinstance(obj.get("totals"), dict) or "workload" not in obj:
        hint = " (a `granularity --json` file: compare its runs with `scnn-sim plot " \
            "--kind granularity`)" if isinstance(obj, dict) and "granularities" in obj else ""
        raise CompareError(f"{p}: not a `scnn-sim run --json` result (needs 'workload', "
                           f"'layers' and 'totals'){hint}")
    return _summary(p, obj, label)


def _check_format(p: Path, obj: Any) -> None:
    """Refuse a document of another ``format`` or ``format_version`` than ``run --json``
    writes (declared once, in :class:`scnn_sim.results.models.RunOutput`)."""
    if not isinstance(obj, dict) or ("format" not in obj and "format_version" not in obj):
        return  # not a result document at all: said below
    fmt, version = obj.get("format"), obj.get("format_version")
    if fmt != RUN_FORMAT:
        raise CompareError(f"{p}: format {fmt!r} is not {RUN_FORMAT!r} (a `scnn-sim run "
                           f"--json` result); compare reads run results only")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise CompareError(f"{p}: format_version {version!r} of {RUN_FORMAT!r} is not "
                           f"{FORMAT_VERSION}, the version this scnn-sim {__version__} reads "
                           f"(re-run it with this version)")


def _summary(p: Path, obj: dict[str, Any], label: str | None) -> RunSummary:
    """The compared numbers of a run document (``run --json``, or a run table's records)."""
    layers: dict[str, dict[str, float]] = {}
    for i, rec in enumerate(obj["layers"]):
        name = rec.get("name") if isinstance(rec, dict) else None
        if not isinstance(name, str):
            raise CompareError(f"{p}:layers[{i}]: a layer record needs a 'name'")
        layers[name] = metrics_of(rec, f"{p}:{name}")
    if not layers:
        raise CompareError(f"{p}: the run has no layers")
    meta = {k: v for k, v in obj.items() if k not in ("layers", "totals")}
    return RunSummary(path=str(p), label=label or p.stem, workload=str(obj["workload"]),
                      meta=meta, layers=layers, totals=metrics_of(obj["totals"], f"{p}:totals"))


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


@dataclass(frozen=True)
class Comparison:
    """Runs compared to ``runs[0]``: layer names and, per other run, ratio dicts."""

    runs: list[RunSummary]
    layer_names: list[str]
    forced: bool

    @property
    def reference(self) -> RunSummary:
        """The first run (denominator of every ratio)."""
        return self.runs[0]

    def ratios(self, run: RunSummary, layer: str | None = None) -> dict[str, float]:
        """``run / reference`` of every metric of ``layer`` (``None``: network totals)."""
        ref = self.reference.totals if layer is None else self.reference.layers[layer]
        cur = run.totals if layer is None else run.layers[layer]
        return {k: _ratio(cur.get(k, math.nan), v) for k, v in ref.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: per run, per layer metrics and ratios."""
        return {
            "reference": self.reference.path,
            "forced": self.forced,
            "runs": [{"path": r.path, "label": r.label, "workload": r.workload,
                      "layers": {n: r.layers[n] for n in self.layer_names},
                      "totals": r.totals} for r in self.runs],
            "ratios": [{"path": r.path, "layers": {n: self.ratios(r, n)
                                                   for n in self.layer_names},
                        "totals": self.ratios(r)} for r in self.runs[1:]],
        }


def compare_runs(paths: list[str | os.PathLike[str]], *, force: bool = False) -> Comparison:
    """Load two or more run files and check they are comparable.

    Parameters
    ----------
    paths : list of path
        ``run --json`` files; the first is the reference.
    force : bool
        Compare runs of different workloads or layer lists (over their shared layers).

    Raises
    ------
    CompareError
        Fewer than two files, a non-run file, or (without ``force``) different workloads or
        layer lists, or (with ``force``) no shared layer.
    """
    if len(paths) < 2:
        raise CompareError("compare: give at least two `run --json` files")
    labels = [Path(p).stem for p in paths]
    if len(set(labels)) < len(labels):
        labels = [str(p) for p in paths]
    runs = [load_run(p, label) for p, label in zip(paths, labels, strict=True)]
    ref = runs[0]
    names = list(ref.layers)
    for r in runs[1:]:
        if r.workload != ref.workload and not force:
            raise CompareError(f"{r.path}: workload {r.workload!r} differs from {ref.path}'s "
                               f"{ref.workload!r} (--force to compare anyway)")
        if list(r.layers) != list(ref.layers) and not force:
            only_a = [n for n in ref.layers if n not in r.layers]
            only_b = [n for n in r.layers if n not in ref.layers]
            what = (f"{len(only_a)} layer(s) only in {ref.path} ({', '.join(only_a[:3])}), "
                    f"{len(only_b)} only in {r.path} ({', '.join(only_b[:3])})"
                    if only_a or only_b else "same layers in another order")
            raise CompareError(f"{r.path}: layer list differs from {ref.path}'s: {what} "
                               f"(--force to compare the shared layers)")
        names = [n for n in names if n in r.layers]
    if not names:
        raise CompareError(f"{paths[1]}: no layer in common with {paths[0]}")
    return Comparison(runs=runs, layer_names=names, forced=force)


def _short(name: str, width: int) -> str:
    return name if len(name) <= width else name[: width - 3] + "..."


def render_comparison(cmp: Comparison, *, layers: bool = True, name_width: int = 24) -> str:
    """The comparison as text tables no wider than 120 columns.

    One per-layer table per compared run (reference values and ``run/ref`` ratios of cycles,
    energy, memory references and DRAM bits), then the network totals of every run with
    energy by component.
    """
    from scnn_sim.results.tables import format_table

    ref = cmp.reference
    tag = [chr(65 + i) if i < 26 else str(i) for i in range(len(cmp.runs))]
    out = [_short(f"{t} = {r.path}: workload {r.workload}, arch {_arch(r)}, energy "
                  f"{r.meta.get('energy_table', '?')}, granularity "
                  f"{r.meta.get('granularity', '?')}, seed {r.meta.get('seed', '?')}", 120)
           for t, r in zip(tag, cmp.runs, strict=True)]
    if cmp.forced:
        out.append(f"--force: comparing the {len(cmp.layer_names)} shared layer(s)")
    if layers:
        for i, run in enumerate(cmp.runs[1:], start=1):
            b = tag[i]
            headers = ["layer", "cycles A [k]", f"{b}/A", "energy A [uJ]", f"{b}/A",
                       "mem refs A [M]", f"{b}/A", "DRAM A [Mbit]", f"{b}/A"]
            rows = []
            for n in [*cmp.layer_names, None]:
                m = ref.totals if n is None else ref.layers[n]
                r = cmp.ratios(run, n)
                rows.append([_short(n or "total", name_width), m["cycles"] / 1e3, r["cycles"],
                             m["energy_pj"] / 1e6, r["energy_pj"], m["memory_refs"] / 1e6,
                             r["memory_refs"], m["dram_bits"] / 1e6, r["dram_bits"]])
            out += ["", _short(f"per layer, {b} = {run.label} vs A = {ref.label} "
                               f"(ratios {b}/A [x])", 120),
                    format_table(headers, rows)]
    comps = [k for k in ref.totals if k.startswith("energy_pj.")]
    headers = ["network total", *tag, *[f"{t}/A [x]" for t in tag[1:]]]
    rows = []
    for key, label, div in [("cycles", "cycles [k]", 1e3), ("energy_pj", "energy [uJ]", 1e6),
                            *[(k, f"  {k.split('.', 1)[1]} [uJ]", 1e6) for k in comps],
                            ("memory_refs", "memory refs [M]", 1e6),
                            ("dram_bits", "DRAM [Mbit]", 1e6)]:
        vals = [r.totals.get(key, math.nan) / div for r in cmp.runs]
        rows.append([label, *vals, *[_ratio(v, vals[0]) for v in vals[1:]]])
    out += ["", format_table(headers, rows)]
    return "\n".join(out)


def _arch(r: RunSummary) -> str:
    arch = r.meta.get("arch")
    if not isinstance(arch, dict):
        return "?"
    pe = arch.get("pe_array", {})
    return f"{arch.get('name', '?')} {pe.get('rows', '?')}x{pe.get('cols', '?')}"
