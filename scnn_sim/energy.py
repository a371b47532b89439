"""Energy = action counts x a cited energy table (pJ per action).

The engine only counts actions; this module turns counts into energy, per component, so a
table can be swapped without re-simulating. Shipped tables: ``horowitz45`` (default) and
``accelergy45``; any YAML of the same shape works (``--energy FILE``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from scnn_sim.errors import ConfigError
from scnn_sim.yamlio import parse_yaml

DEFAULT_TABLE = "horowitz45"
ACTIONS = (
    "multiply", "crossbar_transfer", "accumulator_read", "accumulator_write", "iaram_read",
    "oaram_write", "weight_fifo_read", "weight_fifo_write", "ppu_op", "halo_word", "dram_bit",
)
#: Components of the energy breakdown, in plotting order.
COMPONENTS = ("multipliers", "accumulator", "crossbar", "iaram", "oaram", "weight_fifo", "ppu",
              "halo", "dram")


@dataclass(frozen=True)
class EnergyTable:
    """pJ per action, with the source of every entry."""

    name: str
    technology_node: str
    energy_pj: Mapping[str, float]
    sources: Mapping[str, str]
    bits: Mapping[str, float] = field(default_factory=dict)

    def _per_bits(self, action: str, count: float, bits: float | None) -> float:
        # An action whose entry gives ``bits`` is priced per bit moved when the bits are
        # known (weight FIFO entries shrink when a group index replaces per-weight indices).
        width = self.bits.get(action)
        if width and bits is not None:
            return bits / width * self.energy_pj[action]
        return count * self.energy_pj[action]

    def breakdown(self, accesses: Mapping[str, float]) -> dict[str, float]:
        """Energy in pJ per component for a dict of action counts (engine ``accesses`` keys)."""
        e = self.energy_pj
        a = accesses
        dram_bits = sum(v for k, v in a.items() if k.startswith("dram_"))
        return {
            "multipliers": a["multiplies"] * e["multiply"],
            "accumulator": ((a["acc_reads"] + a["acc_drain_reads"]) * e["accumulator_read"]
                            + a["acc_writes"] * e["accumulator_write"]),
            "crossbar": a["crossbar_transfers"] * e["crossbar_transfer"],
            "iaram": a["iaram_reads"] * e["iaram_read"],
            "oaram": a["oaram_writes"] * e["oaram_write"],
            "weight_fifo": (
                self._per_bits("weight_fifo_read", a["weight_fifo_reads"],
                               a.get("weight_fifo_read_bits"))
                + self._per_bits("weight_fifo_write", a["weight_fifo_writes"],
                                 a.get("weight_fifo_write_bits"))),
            "ppu": a["ppu_ops"] * e["ppu_op"],
            "halo": a["halo_words"] * e["halo_word"],
            "dram": dram_bits * e["dram_bit"],
        }


def builtin_tables() -> list[str]:
    """Names of the shipped energy tables."""
    folder = resources.files("scnn_sim").joinpath("data/energy")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_energy_table(name_or_path: str | os.PathLike | None = None) -> EnergyTable:
    """Load a shipped table by name or a YAML file; every action needs ``energy_pj`` and
    ``source``; an optional ``bits`` (entry width) prices the action per bit moved."""
    name = DEFAULT_TABLE if name_or_path is None else str(name_or_path)
    if name in builtin_tables():
        where = f"{name}.yaml"
        text = resources.files("scnn_sim").joinpath(f"data/energy/{name}.yaml").read_text()
    else:
        where = name
        try:
            text = Path(name).read_text()
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read energy table ({exc.strerror}); built-in "
                              f"tables: {', '.join(builtin_tables())}") from None
    data = parse_yaml(text, where, ConfigError)
    if not isinstance(data, dict) or not isinstance(data.get("actions"), dict):
        raise ConfigError(f"{where}: needs a mapping with an 'actions' mapping")
    actions = data["actions"]
    energy, sources, bits = {}, {}, {}
    for act in ACTIONS:
        entry = actions.get(act)
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}:actions.{act}: missing (every table needs "
                              f"{', '.join(ACTIONS)})")
        value = entry.get("energy_pj")
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or value < 0):
            raise ConfigError(f"{where}:actions.{act}.energy_pj: must be a number >= 0, "
                              f"got {value!r}")
        src = entry.get("source")
        if not isinstance(src, str) or not src.strip():
            raise ConfigError(f"{where}:actions.{act}.source: every entry needs a cited source")
        energy[act] = float(value)
        sources[act] = src
        if "bits" in entry:
            b = entry["bits"]
            if (isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b)
                    or b <= 0):
                raise ConfigError(f"{where}:actions.{act}.bits: must be a positive number "
                                  f"(the entry width the energy is for), got {b!r}")
            bits[act] = float(b)
    unknown = sorted(set(actions) - set(ACTIONS))
    if unknown:
        raise ConfigError(f"{where}:actions.{unknown[0]}: unknown action "
                          f"(allowed: {', '.join(ACTIONS)})")
    return EnergyTable(name=str(data.get("name", Path(where).stem)),
                       technology_node=str(data.get("technology_node", "unknown")),
                       energy_pj=energy, sources=sources, bits=bits)
