"""Silicon area of an SCNN configuration from a cited per-component table (mm2).

The shipped table ``scnn16`` is SCNN's Table 4 (Parashar et al., ISCA 2017; TSMC 16 nm, PE
array and SRAM only, wiring omitted). Each component's area is scaled linearly with one size
of the configuration (per PE), from the size Table 4 was measured at:

============== =====================================================================
component      size the area is proportional to
============== =====================================================================
iaram_oaram    bytes of IARAM + OARAM
weight_fifo    bits: entries x F x (value_bits + index_bits)
multipliers    F x I x (value_bits / reference_bits) ** width_exponent (default 2)
crossbar       crosspoint bits: (F x I) x A x accumulator_bits
accumulator    bits: banks x entries_per_bank x accumulator_bits x (2 if double-buffered)
other          1 per PE (fixed)
============== =====================================================================

So the default configuration reproduces Table 4 exactly, and the chip is ``n_pes`` PEs. The
dense baseline (DCNN, DCNN-opt) is Table 5's constant 5.9 mm2. Any YAML of the same shape
works (``area_model(arch, table="my_table.yaml")``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from scnn_sim.errors import ConfigError
from scnn_sim.inputs.arch import ArchConfig
from scnn_sim.inputs.readers import as_path, read_text
from scnn_sim.inputs.yamlio import parse_yaml

DEFAULT_AREA_TABLE = "scnn16"
#: Components of the per-PE area breakdown, in SCNN's Table 4 order.
AREA_COMPONENTS = ("iaram_oaram", "weight_fifo", "multipliers", "crossbar", "accumulator",
                   "other")
_ENTRY_KEYS = {"area_mm2", "reference", "per", "source"}
_MULTIPLIER_KEYS = {"reference_bits", "width_exponent"}


@dataclass(frozen=True)
class AreaTable:
    """Area of every component at a reference size, with sources (see the module docstring).

    Attributes
    ----------
    name, technology_node
        Provenance.
    area_mm2, reference, sources
        Per component: area in mm2 at ``reference`` units of its size, and the citation.
    reference_bits, width_exponent
        Multiplier operand width the multiplier area is for, and the exponent of the width
        scaling (2: area grows with the square of ``value_bits``).
    dcnn_mm2, dcnn_source
        Area of the dense baseline (a constant).
    """

    name: str
    technology_node: str
    area_mm2: Mapping[str, float]
    reference: Mapping[str, float]
    sources: Mapping[str, str]
    reference_bits: float
    width_exponent: float
    dcnn_mm2: float
    dcnn_source: str

    def unit_mm2(self, component: str) -> float:
        """mm2 per unit of the component's size."""
        return self.area_mm2[component] / self.reference[component]


def component_sizes(arch: ArchConfig, table: AreaTable) -> dict[str, float]:
    """Per-PE size of every component, in the unit its table entry is given per."""
    fifo_bits = arch.weight_fifo_entries * arch.F * (arch.value_bits + arch.index_bits)
    acc_bits = (arch.acc_banks * arch.acc_entries_per_bank * arch.acc_bits
                * (2 if arch.acc_double_buffered else 1))
    return {
        "iaram_oaram": float(arch.iaram_bytes + arch.oaram_bytes),
        "weight_fifo": float(fifo_bits),
        "multipliers": arch.F * arch.I
        * (arch.value_bits / table.reference_bits) ** table.width_exponent,
        "crossbar": float(arch.F * arch.I * arch.acc_banks * arch.acc_bits),
        "accumulator": float(acc_bits),
        "other": 1.0,
    }


@dataclass(frozen=True)
class AreaModel:
    """The area of one configuration: per-PE components, the chip and the dense baseline."""

    table: str
    n_pes: int
    per_pe: Mapping[str, float]
    dcnn_mm2: float

    @property
    def per_pe_total(self) -> float:
        """mm2 of one PE."""
        return sum(self.per_pe.values())

    @property
    def total(self) -> float:
        """mm2 of the accelerator (``n_pes`` PEs)."""
        return self.n_pes * self.per_pe_total

    def to_dict(self) -> dict[str, Any]:
        """JSON form: chip mm2 per component, ``total``, ``per_pe`` (components and
        ``total``), ``dcnn`` and ``dcnn_opt`` (the baseline's constant). Rounded to 1e-9 mm2
        so the JSON shows no floating-point noise."""
        def r(v: float) -> float:
            return round(v, 9)

        out: dict[str, Any] = {k: r(self.n_pes * v) for k, v in self.per_pe.items()}
        out["total"] = r(self.total)
        out["per_pe"] = {**{k: r(v) for k, v in self.per_pe.items()},
                         "total": r(self.per_pe_total)}
        out["dcnn"] = out["dcnn_opt"] = r(self.dcnn_mm2)
        return out


def area_model(arch: ArchConfig, table: AreaTable | str | os.PathLike[str] | None = None
               ) -> AreaModel:
    """Area of ``arch`` priced with ``table`` (default ``scnn16``, SCNN's Table 4).

    Parameters
    ----------
    arch
        The configuration.
    table
        An :class:`AreaTable`, a shipped table name or a YAML path.

    Returns
    -------
    AreaModel
        ``.to_dict()`` is what results carry as ``area_mm2``.
    """
    t = table if isinstance(table, AreaTable) else load_area_table(table)
    sizes = component_sizes(arch, t)
    per_pe = {c: sizes[c] * t.unit_mm2(c) for c in AREA_COMPONENTS}
    return AreaModel(table=t.name, n_pes=arch.n_pes, per_pe=per_pe, dcnn_mm2=t.dcnn_mm2)


def builtin_area_tables() -> list[str]:
    """Names of the shipped area tables."""
    folder = resources.files("scnn_sim").joinpath("data/area")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _number(value: Any, where: str, positive: bool) -> float:
    bad = (isinstance(value, bool) or not isinstance(value, (int, float))
           or not math.isfinite(value) or value < 0 or (positive and value == 0))
    if bad:
        raise ConfigError(f"{where}: must be a number {'> 0' if positive else '>= 0'}, "
                          f"got {value!r}")
    return float(value)


def _source(entry: Mapping[str, Any], where: str) -> str:
    src = entry.get("source")
    if not isinstance(src, str) or not src.strip():
        raise ConfigError(f"{where}.source: every entry needs a cited source")
    return src


def load_area_table(name_or_path: str | os.PathLike[str] | None = None) -> AreaTable:
    """Load a shipped area table by name or a YAML file, validated.

    Every component of :data:`AREA_COMPONENTS` needs ``area_mm2`` (>= 0), ``reference``
    (> 0, the size the area is for) and ``source``; ``multipliers`` may set
    ``reference_bits`` (default 16) and ``width_exponent`` (default 2); ``baselines.dcnn``
    needs ``area_mm2`` and ``source``.

    Raises
    ------
    ConfigError
        One line ``file:field: problem``.
    """
    name = DEFAULT_AREA_TABLE if name_or_path is None else str(name_or_path)
    if name in builtin_area_tables():
        where = f"{name}.yaml"
        text = resources.files("scnn_sim").joinpath(f"data/area/{name}.yaml").read_text()
    else:
        where = name
        try:
            text = read_text(as_path(name_or_path, "area table", ConfigError), ConfigError,
                             "area table")
        except ConfigError as exc:
            raise ConfigError(f"{exc}; built-in tables: {', '.join(builtin_area_tables())}") \
                from None
    data = parse_yaml(text, where, ConfigError)
    if not isinstance(data, dict) or not isinstance(data.get("components"), dict):
        raise ConfigError(f"{where}: needs a mapping with a 'components' mapping")
    unknown_top = sorted(set(data) - {"name", "technology_node", "components", "baselines"})
    if unknown_top:
        raise ConfigError(f"{where}:{unknown_top[0]}: unknown field (allowed: baselines, "
                          f"components, name, technology_node)")
    comps = data["components"]
    unknown = sorted(set(comps) - set(AREA_COMPONENTS))
    if unknown:
        raise ConfigError(f"{where}:components.{unknown[0]}: unknown component "
                          f"(allowed: {', '.join(AREA_COMPONENTS)})")
    area, ref, sources = {}, {}, {}
    ref_bits, exponent = 16.0, 2.0
    for comp in AREA_COMPONENTS:
        at = f"{where}:components.{comp}"
        entry = comps.get(comp)
        if not isinstance(entry, dict):
            raise ConfigError(f"{at}: missing (every table needs {', '.join(AREA_COMPONENTS)})")
        allowed = _ENTRY_KEYS | (_MULTIPLIER_KEYS if comp == "multipliers" else set())
        extra = sorted(set(entry) - allowed)
        if extra:
            raise ConfigError(f"{at}.{extra[0]}: unknown field (allowed: "
                              f"{', '.join(sorted(allowed))})")
        area[comp] = _number(entry.get("area_mm2"), f"{at}.area_mm2", positive=False)
        ref[comp] = _number(entry.get("reference"), f"{at}.reference", positive=True)
        sources[comp] = _source(entry, at)
        if comp == "multipliers":
            ref_bits = _number(entry.get("reference_bits", 16), f"{at}.reference_bits",
                               positive=True)
            exponent = _number(entry.get("width_exponent", 2), f"{at}.width_exponent",
                               positive=False)
    base = data.get("baselines")
    dcnn = base.get("dcnn") if isinstance(base, dict) else None
    if not isinstance(dcnn, dict):
        raise ConfigError(f"{where}:baselines.dcnn: missing (needs area_mm2 and source)")
    dcnn_mm2 = _number(dcnn.get("area_mm2"), f"{where}:baselines.dcnn.area_mm2",
                       positive=False)
    dcnn_src = _source(dcnn, f"{where}:baselines.dcnn")
    return AreaTable(name=str(data.get("name", Path(where).stem)),
                     technology_node=str(data.get("technology_node", "unknown")),
                     area_mm2=area, reference=ref, sources=sources, reference_bits=ref_bits,
                     width_exponent=exponent, dcnn_mm2=dcnn_mm2, dcnn_source=dcnn_src)


__all__ = ["AREA_COMPONENTS", "AreaModel", "AreaTable", "area_model", "builtin_area_tables",
           "component_sizes", "load_area_table"]
