"""How robust is a result? Its headline metrics under every open modelling choice.

:func:`sensitivity` runs a workload once as configured (the *base*), then varies each open
modelling choice of :data:`scnn_sim.inputs.choices.CHOICES` one at a time and reports the
headline metrics (:data:`METRICS`) at every alternative, then their range over combinations
of the choices. What each figure costs depends on the kind of the choice:

- ``simulation`` choices (bank mapping, tiling, Kc rule, overflow, access model...) change
  counts or cycles: each alternative is one more run of the cycle-level engine;
- ``pricing`` choices (energy table, crossbar, DRAM and SRAM energies) leave every count
  unchanged: the runs already made are re-priced (:func:`reprice`, energy = counts x
  table), never re-simulated;
- ``reading`` choices (barrier over all PEs or over active PEs, the baseline of the
  temporal-tiling penalty) read another field, or another baseline, of the same run.

The range over combinations crosses every pricing and reading alternative with every
simulated configuration. When the simulation choices have at most ``max_simulations``
combinations every one is simulated (``exhaustive``); otherwise the simulated
configurations are the base and the one-at-a-time ones, and the range says so. The results
say which of the three produced each figure (``produced_by``); all counts come from the
cycle-level engine (scnn-sim has no analytical mode yet).

:func:`granularity_sensitivity` does the same for the coarse/fine ratios of the
granularity study and states, per claim of Mao et al., whether it holds under every choice.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from scnn_sim.errors import ConfigError
from scnn_sim.inputs.arch import ArchConfig, load_arch
from scnn_sim.inputs.choices import MAX_SIMULATIONS, Alternative, Choice, get_choices
from scnn_sim.inputs.options import DEFAULT_WEIGHT_FORMAT
from scnn_sim.pricing.energy import EnergyTable, load_energy_table
from scnn_sim.pricing.layer import PENALTY_BASELINES, price_record, record_penalty
from scnn_sim.results.provenance import energy_provenance, provenance
from scnn_sim.results.records import LayerResult, SimulationResult, totals_record
from scnn_sim.workload.shapes import Workload
from scnn_sim.workload.tensors import LayerTensors

#: What produced a figure (``produced_by``): a run of the cycle-level engine (the base run's,
#: when the alternative is its configuration), the counts of a run re-priced, or another
#: reading of a run.
PRODUCERS = ("simulation", "simulation (the base run)", "re-pricing", "reading")
ENGINE = "cycle-level engine (scnn_sim.engine)"


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


#: The readings of a metric that reading choices pick between (the first is the default).
READINGS: dict[str, tuple[str, ...]] = {
    "barrier": ("all_pes", "active_pes"),
    "temporal_tiling_penalty": PENALTY_BASELINES,
}


def _penalty(result: SimulationResult, table: EnergyTable, baseline: str) -> float:
    """The network's temporal-tiling penalty against ``baseline`` (energy / sum of baselines)."""
    if baseline == "dram_once":
        return result.totals["temporal_tiling_penalty"]
    base = 0.0
    for lr in result.layers:
        e = lr.record["energy_pj"]["total"]
        p = record_penalty(lr.record, table, baseline)
        base += e / p if p else e
    return _ratio(result.totals["energy_pj"]["total"], base)


#: Headline metrics: name -> (label with unit, value of a run, priced with a table, read
#: with the readings).
METRICS: dict[str, tuple[str, Callable[[SimulationResult, EnergyTable, Mapping[str, str]],
                                       float]]] = {
    "cycles": ("cycles [k]", lambda r, t, rd: r.totals["cycles"] / 1e3),
    "energy_uj": ("energy [uJ]", lambda r, t, rd: r.totals["energy_pj"]["total"] / 1e6),
    "speedup_vs_dcnn": ("speed-up vs DCNN [x]", lambda r, t, rd: r.totals["speedup_vs_dcnn"]),
    "speedup_vs_dcnn_opt": ("speed-up vs DCNN-opt [x]", lambda r, t, rd: _ratio(
        r.totals["dcnn_opt"]["cycles"], r.totals["cycles"])),
    "energy_vs_dcnn": ("E SCNN/DCNN [x]", lambda r, t, rd: _ratio(
        r.totals["energy_pj"]["total"], r.totals["dcnn"]["energy_pj"]["total"])),
    "energy_vs_dcnn_opt": ("E SCNN/DCNN-opt [x]", lambda r, t, rd: _ratio(
        r.totals["energy_pj"]["total"], r.totals["dcnn_opt"]["energy_pj"]["total"])),
    "memory_references": ("mem refs [M]",
                          lambda r, t, rd: r.totals["memory_references"]["accesses"] / 1e6),
    "intra_pe_utilization": ("intra-PE util [frac]",
                             lambda r, t, rd: r.totals["intra_pe_utilization"]),
    "barrier": ("barrier [frac]", lambda r, t, rd: r.totals[
        "barrier_fraction" if rd["barrier"] == "all_pes" else "barrier_fraction_active"]),
    "temporal_tiling_penalty": ("tiling penalty [x]", lambda r, t, rd: _penalty(
        r, t, rd["temporal_tiling_penalty"])),
}
DEFAULT_READING: dict[str, str] = {m: options[0] for m, options in READINGS.items()}


# ----------------------------------------------------------------------------- configuration

def apply_energy(table: EnergyTable, alt: Alternative) -> EnergyTable:
    """``table`` with a pricing alternative applied (a shipped table, then entry overrides).

    A number replaces the entry's pJ per access at the entry's own width (its
    width-independent part dropped); a table name copies that table's entry.
    """
    if alt.energy_table:
        table = load_energy_table(alt.energy_table)
    if not alt.energy:
        return table
    energy, sources = dict(table.energy_pj), dict(table.sources)
    bits, fixed = dict(table.bits), dict(table.fixed_pj)
    for action, value in alt.energy.items():
        if action not in energy:
            raise ConfigError(f"choice {alt.name!r}: no energy action {action!r}")
        if isinstance(value, str):
            other = load_energy_table(value)
            energy[action], sources[action] = other.energy_pj[action], other.sources[action]
            bits.pop(action, None)
            fixed.pop(action, None)
            if action in other.bits:
                bits[action] = other.bits[action]
            if action in other.fixed_pj:
                fixed[action] = other.fixed_pj[action]
        else:
            energy[action] = float(value)
            sources[action] = f"sensitivity choice {alt.name!r}: {alt.source}"
            fixed.pop(action, None)
    return replace(table, name=f"{table.name}+{alt.name}", energy_pj=energy, sources=sources,
                   bits=bits, fixed_pj=fixed)


def reprice(result: SimulationResult, table: EnergyTable) -> SimulationResult:
    """The same run priced with another energy table: counts unchanged, energies recomputed.

    Equal to simulating with ``table`` (``tests/test_sensitivity.py`` checks it), without
    running the engine.
    """
    records = []
    for lr in result.layers:
        r = lr.record
        records.append(price_record(dict(r, dcnn=dict(r["dcnn"]),
                                         dcnn_opt=dict(r["dcnn_opt"])), table))
    a = result.meta["arch"]
    multipliers = (a["pe_array"]["rows"] * a["pe_array"]["cols"] * a["multiplier"]["F"]
                   * a["multiplier"]["I"])
    meta = dict(result.meta, energy_table=table.name, energy=energy_provenance(table))
    return SimulationResult(meta=meta, layers=[LayerResult(r) for r in records],
                            totals=LayerResult(totals_record(records, multipliers)),
                            outputs=result.outputs)


def metrics(result: SimulationResult, table: EnergyTable,
            reading: Mapping[str, str] | None = None) -> dict[str, float]:
    """Every headline metric (:data:`METRICS`) of a run priced with ``table``."""
    rd = dict(DEFAULT_READING, **(reading or {}))
    return {name: float(get(result, table, rd)) for name, (_, get) in METRICS.items()}


def _arch_key(arch: ArchConfig) -> str:
    return repr(sorted(arch.to_dict().items(), key=lambda kv: kv[0]))


class _Runs:
    """Runs of the engine, one per distinct architecture (so the base is run once)."""

    def __init__(self, run: Callable[[ArchConfig], Any]) -> None:
        self.run = run
        self.cache: dict[Any, Any] = {}

    def __call__(self, arch: ArchConfig) -> Any:
        key = _arch_key(arch)
        if key not in self.cache:
            self.cache[key] = self.run(arch)
        return self.cache[key]


def _setting_arch(base: ArchConfig, alts: Sequence[Alternative]) -> ArchConfig:
    over: dict[str, Any] = {}
    for alt in alts:
        over.update(alt.arch)
    return base.replace(**over) if over else base


def _setting_table(base: EnergyTable, alts: Sequence[Alternative]) -> EnergyTable:
    # energy_table alternatives first, then entry overrides (so an entry survives a table swap)
    for alt in sorted(alts, key=lambda a: not a.energy_table):
        base = apply_energy(base, alt)
    return base


def _setting_reading(alts: Sequence[Alternative]) -> dict[str, str]:
    out = dict(DEFAULT_READING)
    for alt in alts:
        out.update(alt.reading)
    return out


def _check_reading(choice: Choice) -> None:
    for alt in choice.alternatives:
        for m, name in alt.reading.items():
            if name not in READINGS.get(m, ()):
                raise ConfigError(f"choice {choice.name!r}: no reading {name!r} of {m!r}")


def _prepare(choices: list[Choice], base: ArchConfig, table: EnergyTable
             ) -> dict[str, dict[str, Any]]:
    """Validate every alternative before any simulation: its architecture (or the reason it
    does not apply to this one) and its table."""
    out: dict[str, dict[str, Any]] = {}
    for ch in choices:
        _check_reading(ch)
        for alt in ch.alternatives:
            entry: dict[str, Any] = {"skipped": None}
            if alt.arch:
                try:
                    entry["arch"] = _setting_arch(base, [alt])
                except ConfigError as exc:
                    entry["skipped"] = f"not applicable to this architecture: {exc}"
            if alt.energy or alt.energy_table:
                entry["table"] = apply_energy(table, alt)
            out[f"{ch.name}={alt.name}"] = entry
    return out


def _swing(values: list[dict[str, float]]) -> dict[str, list[float]]:
    return {m: [min(v[m] for v in values), max(v[m] for v in values)] for m in METRICS}


def _range(choices: list[Choice], base_arch: ArchConfig, table: EnergyTable, runs: _Runs,
           prepared: dict[str, dict[str, Any]], max_simulations: int) -> dict[str, Any]:
    """Min and max of every metric over the combinations of the choices."""
    def usable(ch: Choice) -> list[Alternative]:
        return [a for a in ch.alternatives if not prepared[f"{ch.name}={a.name}"]["skipped"]]

    sim = [ch for ch in choices if ch.kind == "simulation"]
    other = [ch for ch in choices if ch.kind != "simulation"]
    n_sim = 1
    for ch in sim:
        n_sim *= len(usable(ch))
    exhaustive = n_sim <= max_simulations
    if exhaustive:
        sim_settings = [list(zip([c.name for c in sim], combo, strict=True))
                        for combo in itertools.product(*(usable(c) for c in sim))]
    else:  # the base and the one-at-a-time configurations
        sim_settings = [[]] + [[(ch.name, a)] for ch in sim for a in usable(ch)]
    other_settings = [list(zip([c.name for c in other], combo, strict=True))
                      for combo in itertools.product(*(usable(c) for c in other))]
    by_name = {c.name: c for c in choices}
    tables: dict[tuple[str, ...], EnergyTable] = {}
    best: dict[str, dict[str, Any]] = {}
    n = 0
    for s in sim_settings:
        res = runs(_setting_arch(base_arch, [a for _, a in s]))
        priced: dict[int, SimulationResult] = {}
        for o in other_settings:
            alts = [a for _, a in o]
            pricing = tuple(a.name for c, a in o if by_name[c].kind == "pricing")
            if pricing not in tables:
                tables[pricing] = _setting_table(table, alts)
            t = tables[pricing]
            if id(t) not in priced:
                priced[id(t)] = reprice(res, t)
            vals = metrics(priced[id(t)], t, _setting_reading(alts))
            n += 1
            at = {c: a.name for c, a in [*s, *o]}
            for m, v in vals.items():
                b = best.setdefault(m, {"min": v, "max": v, "min_at": at, "max_at": at})
                if v < b["min"]:
                    b["min"], b["min_at"] = v, at
                if v > b["max"]:
                    b["max"], b["max_at"] = v, at
    distinct = {_arch_key(_setting_arch(base_arch, [a for _, a in s])) for s in sim_settings}
    return {"exhaustive": exhaustive, "simulated_configurations": len(distinct),
            "simulation_combinations": n_sim, "combinations": n,
            "note": ("every combination of the choices" if exhaustive else
                     f"the {n_sim} combinations of the simulation choices exceed "
                     f"max_simulations={max_simulations}: the base and each one-at-a-time "
                     "simulation, crossed with every pricing and reading combination"),
            "metrics": best}


def _one_at_a_time(choices: list[Choice], base_arch: ArchConfig, table: EnergyTable,
                   runs: _Runs, prepared: dict[str, dict[str, Any]],
                   base_res: Any, evaluate: Callable[[Any, EnergyTable, dict[str, str]], Any]
                   ) -> list[dict[str, Any]]:
    out = []
    base_key = _arch_key(base_arch)
    for ch in choices:
        rows = []
        for alt in ch.alternatives:
            prep = prepared[f"{ch.name}={alt.name}"]
            row: dict[str, Any] = {"alternative": alt.name, "source": alt.source,
                                   "skipped": prep["skipped"]}
            if prep["skipped"]:
                rows.append(row)
                continue
            if ch.kind == "simulation":
                arch = prep["arch"]
                row["produced_by"] = ("simulation" if _arch_key(arch) != base_key
                                      else "simulation (the base run)")
                row["values"] = evaluate(runs(arch), table, DEFAULT_READING)
            elif ch.kind == "pricing":
                row["produced_by"] = "re-pricing"
                row["values"] = evaluate(base_res, prep["table"], DEFAULT_READING)
            else:
                row["produced_by"] = "reading"
                row["values"] = evaluate(base_res, table, _setting_reading([alt]))
            row["is_base"] = _is_base(ch, alt, base_arch, table)
            rows.append(row)
        out.append({**ch.to_dict(), "results": rows})
    return out


def _is_base(ch: Choice, alt: Alternative, arch: ArchConfig, table: EnergyTable) -> bool:
    """Whether the alternative is what the base run already uses."""
    if ch.kind == "simulation":
        d = arch.to_dict()
        for path, value in alt.arch.items():
            node: Any = d
            for key in path.split("."):
                node = node[key]
            if node != value:
                return False
        return True
    if ch.kind == "reading":
        return all(DEFAULT_READING[m] == r for m, r in alt.reading.items())
    if alt.energy_table:
        return alt.energy_table == table.name
    for action, value in alt.energy.items():
        want = (load_energy_table(value).energy_pj[action] if isinstance(value, str)
                else float(value))
        if table.energy_pj[action] != want:
            return False
    return True


# ----------------------------------------------------------------------------- the study

# Over 80 lines (86) only for its numpy docstring: the code is 37 lines.
def sensitivity(
    workload: str | os.PathLike | Workload | Sequence[LayerTensors],
    *,
    choices: str | Sequence[str] | None = None,
    arch: ArchConfig | str | os.PathLike | Sequence[Any] | None = None,
    energy: EnergyTable | str | os.PathLike | None = None,
    granularity: str | None = None,
    density: float | None = None,
    seed: int = 0,
    clustered: float = 0.0,
    pointwise_group: int = 1,
    layers: Sequence[str] | None = None,
    weight_format: str = DEFAULT_WEIGHT_FORMAT,
    max_simulations: int = MAX_SIMULATIONS,
    progress: bool = False,
) -> dict[str, Any]:
    """Headline metrics of a run under each open modelling choice, and their range.

    Parameters
    ----------
    workload
        Anything :func:`scnn_sim.simulate` accepts.
    choices
        Names of :data:`scnn_sim.inputs.choices.CHOICES` (comma-separated or a sequence);
        ``None`` for all.
    arch, energy, granularity, density, seed, clustered, pointwise_group, layers, weight_format
        The base run's options, as for :func:`scnn_sim.simulate`.
    max_simulations
        Simulate every combination of the simulation choices when there are at most this
        many; else only the one-at-a-time configurations (the range says which).
    progress
        Progress bars on stderr.

    Returns
    -------
    dict
        Provenance (format ``scnn-sim-sensitivity``), ``engine``, ``metrics`` (name ->
        label), ``base`` (metric -> value), ``choices`` (per choice its declaration and
        ``results``: per alternative ``alternative``, ``source``, ``produced_by``,
        ``is_base``, ``values`` (metric -> value) or ``skipped`` (why it does not apply),
        plus ``swing``: metric -> [min, max] over its alternatives), ``range`` (min and max
        of every metric over the combinations, with the alternatives reaching them) and
        ``simulations`` (engine runs made).

    Raises
    ------
    ChoiceError
        An unknown or repeated choice, before anything is simulated.
    """
    from scnn_sim.simulation import simulate

    chosen = get_choices(choices)
    base_arch = arch if isinstance(arch, ArchConfig) else load_arch(arch)
    table = energy if isinstance(energy, EnergyTable) else load_energy_table(energy)
    if not isinstance(max_simulations, int) or max_simulations < 1:
        raise ConfigError(f"max_simulations: must be a positive integer, got "
                          f"{max_simulations!r}")
    prepared = _prepare(chosen, base_arch, table)

    def run(a: ArchConfig) -> SimulationResult:
        return simulate(workload, arch=a, energy=table, granularity=granularity,
                        density=density, seed=seed, clustered=clustered,
                        pointwise_group=pointwise_group, layers=layers,
                        weight_format=weight_format, progress=progress)

    runs = _Runs(run)
    base_res = runs(base_arch)

    def evaluate(res: SimulationResult, t: EnergyTable, rd: dict[str, str]) -> dict[str, float]:
        return metrics(res if t is table else reprice(res, t), t, rd)

    rows = _one_at_a_time(chosen, base_arch, table, runs, prepared, base_res, evaluate)
    for ch in rows:
        vals = [r["values"] for r in ch["results"] if not r["skipped"]]
        ch["swing"] = _swing(vals)
    rng = _range(chosen, base_arch, table, runs, prepared, max_simulations)
    m = base_res.meta
    return {**provenance("scnn-sim-sensitivity", workload=m["workload"],
                         workload_source=m["workload_source"], arch=base_arch, energy=table,
                         seed=seed, weight_format=weight_format, clustered=clustered,
                         pointwise_group=pointwise_group, layers=layers,
                         granularity=m["granularity"], density=density),
            "engine": ENGINE,
            "metrics": {name: label for name, (label, _) in METRICS.items()},
            "base": metrics(base_res, table),
            "choices": rows, "range": rng, "simulations": len(runs.cache)}


# ----------------------------------------------------------------------------- granularity

#: Claims of Mao et al. checked by :func:`granularity_sensitivity`: name -> (text, coarse/fine
#: ratio it reads, test). ``{g}`` is the coarse granularity.
CLAIMS: dict[str, tuple[str, str, Callable[[float], bool]]] = {
    "fewer_memory_references": ("{g} needs fewer memory references than fine",
                                "memory_references", lambda r: r < 1.0),
    "saves_30pct_memory_references": ("{g} saves at least 30% of fine's memory references "
                                      "(workshop version: 30-35%)", "memory_references",
                                      lambda r: r <= 0.70),
    "saves_2x_memory_references": ("{g} saves about 2x of fine's memory references (paper: "
                                   "'about 2x')", "memory_references", lambda r: r <= 0.5),
    "fewer_bits": ("{g} moves fewer memory bits than fine", "memory_bits",
                   lambda r: r < 1.0),
    "less_energy": ("{g} uses less energy than fine", "energy", lambda r: r < 1.0),
    "no_slower": ("{g} is no slower than fine", "cycles", lambda r: r <= 1.0),
}
#: The coarse/fine ratios of the granularity sensitivity (totals of the network).
GRANULARITY_RATIOS = ("memory_references", "memory_bits", "energy", "cycles")


def _study_ratios(study: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per coarse granularity, the network's coarse/fine ratios (memory references and bits
    under the study architecture's access model)."""
    model = study["arch"]["accumulator"]["access_model"]
    out = {}
    for g, entry in study["granularities"].items():
        if g == "fine":
            continue
        q = entry["totals"]["ratios_vs_fine"]
        out[g] = {"memory_references": q["memory_references"][model],
                  "memory_bits": q["memory_bits"][model],
                  "energy": q["energy_pj"]["total"], "cycles": q["cycles"]}
    return out


def granularity_sensitivity(
    workload: str | os.PathLike | Workload | Sequence[LayerTensors],
    *,
    choices: str | Sequence[str] | None = None,
    arch: ArchConfig | str | os.PathLike | None = None,
    energy: EnergyTable | str | os.PathLike | None = None,
    **study_kwargs: Any,
) -> dict[str, Any]:
    """The coarse/fine ratios of the granularity study under each open modelling choice.

    Simulation choices re-run the study (one simulation per granularity and alternative);
    pricing choices re-price the base study
    (:func:`scnn_sim.studies.granularity.reprice_study`); reading choices do not change
    these ratios and are left out.

    Parameters
    ----------
    workload
        As for :func:`scnn_sim.studies.granularity.granularity_study`.
    choices
        Names of declared choices, or ``None`` for every simulation and pricing choice.
    arch, energy
        The base architecture and energy table.
    **study_kwargs
        Other arguments of :func:`~scnn_sim.studies.granularity.granularity_study`
        (``density`` or ``published_densities``, ``granularities``, ``seed``...).

    Returns
    -------
    dict
        ``{"base": study, "ratios": names, "choices": [{name, kind, question, results:
        [{alternative, produced_by, is_base, ratios: {g: {ratio: value}}} | skipped]}],
        "verdicts": [{claim, granularity, text, holds: "every"|"some"|"never", holds_under,
        fails_under, verdict}], "simulations"}``.
    """
    from scnn_sim.studies.granularity import granularity_study, reprice_study

    chosen = [c for c in get_choices(choices) if c.kind != "reading"]
    base_arch = arch if isinstance(arch, ArchConfig) else load_arch(arch)
    table = energy if isinstance(energy, EnergyTable) else load_energy_table(energy)
    prepared = _prepare(chosen, base_arch, table)
    runs = _Runs(lambda a: granularity_study(workload, arch=a, energy=table, **study_kwargs))
    base = runs(base_arch)

    def evaluate(study: dict[str, Any], t: EnergyTable, _reading: dict[str, str]) -> Any:
        return _study_ratios(study if t is table else reprice_study(study, t))

    rows = _one_at_a_time(chosen, base_arch, table, runs, prepared, base, evaluate)
    for ch in rows:
        for r in ch["results"]:
            if "values" in r:
                r["ratios"] = r.pop("values")
    base_ratios = _study_ratios(base)
    verdicts = []
    for g in base_ratios:
        for claim, (text, ratio, test) in CLAIMS.items():
            holds: list[str] = []
            fails: list[str] = []
            for ch in rows:
                for r in ch["results"]:
                    if r["skipped"]:
                        continue
                    v = r["ratios"][g][ratio]
                    (holds if v is not None and test(v) else fails).append(
                        f"{ch['name']}={r['alternative']}")
            word = "every" if not fails else "never" if not holds else "some"
            line = text.format(g=g) + {
                "every": ": holds under every choice",
                "never": ": holds under no choice",
                "some": (": holds under some choices; fails under " + ", ".join(fails)
                         if len(fails) <= len(holds) else
                         ": holds only under " + ", ".join(holds))}[word]
            verdicts.append({"claim": claim, "granularity": g, "text": text.format(g=g),
                             "ratio": ratio, "base": base_ratios[g][ratio], "holds": word,
                             "holds_under": holds, "fails_under": fails, "verdict": line})
    return {"base": base, "ratios": list(GRANULARITY_RATIOS), "choices": rows,
            "verdicts": verdicts, "simulations": len(runs.cache)}


__all__ = ["CLAIMS", "GRANULARITY_RATIOS", "METRICS", "PRODUCERS", "READINGS", "apply_energy",
           "granularity_sensitivity", "metrics", "reprice", "sensitivity"]
