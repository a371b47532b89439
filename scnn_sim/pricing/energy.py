"""Energy = action counts x a cited energy table, every access priced at its width.

The engine only counts actions (``LayerCounts.accesses``: accesses at each structure's native
width, the bits they move, operations and leakage cycles); this module turns counts into
energy, per component, so a table can be swapped without re-simulating.

Pricing rule (README "Modelling choices", energy)
-------------------------------------------------

Every table entry states the width it is for (``bits``). An action with a width is priced by
the bits it moves: an access of ``w`` bits costs ``fixed_pj + (energy_pj - fixed_pj) * w /
bits`` (``fixed_pj``, the width-independent part of an access, defaults to 0: Horowitz's
8 KB SRAM costs 5 pJ per 32-bit and 10 pJ per 64-bit access, linear in width). So a 4-word
accumulator access costs 4 words, an F-weight FIFO entry costs F values and F indices, and no
access is charged below its data width. Operations (multiply, add, coordinate, PPU) and
leakage (pJ per cycle per multiplier or per KB of SRAM) are priced per count.

Tables: ``aladdin40`` (default), ``horowitz45`` and ``accelergy45`` ship with the package; any
YAML of the same shape works (``--energy FILE``), and so does an Accelergy ERT through a
mapping YAML (:func:`load_ert_table`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from scnn_sim.errors import ConfigError
from scnn_sim.inputs.readers import as_path, read_text
from scnn_sim.inputs.validation import NonEmptyStr, NonNegativeNumber, PositiveNumber, convert
from scnn_sim.inputs.yamlio import parse_yaml

DEFAULT_TABLE = "aladdin40"

#: action -> (component, [(count key, bits key or None), ...]) of the engine's ``accesses``.
#: ``dram_bit`` is special: its count is the sum of every ``dram_*`` key (bits).
ACTION_SPEC: dict[str, tuple[str, tuple[tuple[str, str | None], ...]]] = {
    "multiply": ("multipliers", (("multiplies", None),)),
    "add": ("adders", (("adds", None),)),
    "coordinate": ("coordinates", (("coord_ops", None),)),
    "crossbar_transfer": ("crossbar", (("crossbar_transfers", "crossbar_bits"),)),
    "accumulator_read": ("accumulator", (("acc_reads", "acc_read_bits"),
                                         ("acc_drain_reads", "acc_drain_read_bits"))),
    "accumulator_write": ("accumulator", (("acc_writes", "acc_write_bits"),)),
    "iaram_read": ("iaram", (("iaram_reads", "iaram_read_bits"),)),
    "iaram_write": ("iaram", (("iaram_writes", "iaram_write_bits"),)),
    "oaram_write": ("oaram", (("oaram_writes", "oaram_write_bits"),)),
    "weight_fifo_read": ("weight_fifo", (("weight_fifo_reads", "weight_fifo_read_bits"),)),
    "weight_fifo_write": ("weight_fifo", (("weight_fifo_writes", "weight_fifo_write_bits"),)),
    "weight_broadcast": ("weight_broadcast", (("weight_broadcasts", "weight_broadcast_bits"),)),
    "ppu_op": ("ppu", (("ppu_ops", None),)),
    "halo_word": ("halo", (("halo_words", "halo_bits"),)),
    "dram_bit": ("dram", ()),
    "leakage_multiplier": ("leakage", (("leakage_multiplier_cycles", None),)),
    "leakage_sram_kb": ("leakage", (("leakage_sram_kb_cycles", None),)),
}
ACTIONS = tuple(ACTION_SPEC)
#: Components of the energy breakdown, in plotting order.
COMPONENTS = ("multipliers", "adders", "coordinates", "accumulator", "crossbar", "iaram",
              "oaram", "weight_fifo", "weight_broadcast", "ppu", "halo", "dram", "leakage")
#: Actions whose table entry must state a width (``bits``): they are priced per bit moved.
WIDTH_ACTIONS = tuple(a for a, (_, keys) in ACTION_SPEC.items()
                      if any(b is not None for _, b in keys)) + ("dram_bit",)
#: Unit of each action's count, for printing tables.
ACTION_UNITS = {
    "multiply": "operation", "add": "operation", "coordinate": "product",
    "ppu_op": "output", "dram_bit": "bit", "leakage_multiplier": "multiplier x cycle",
    "leakage_sram_kb": "KB of SRAM x cycle",
}


@dataclass(frozen=True)
class EnergyTable:
    """pJ per action at a stated width, with the source of every entry.

    ``energy_pj[a]`` is the energy of one action ``a`` of ``bits[a]`` bits (when the entry
    states a width); ``fixed_pj[a]`` is its width-independent part (0 unless given).
    """

    name: str
    technology_node: str
    energy_pj: Mapping[str, float]
    sources: Mapping[str, str]
    bits: Mapping[str, float] = field(default_factory=dict)
    fixed_pj: Mapping[str, float] = field(default_factory=dict)
    per: Mapping[str, str] = field(default_factory=dict)

    def access_pj(self, action: str, width_bits: float | None = None) -> float:
        """Energy of one access of ``width_bits`` bits (the entry's own width by default)."""
        e = self.energy_pj[action]
        w = self.bits.get(action)
        if width_bits is None or not w:
            return e
        fixed = self.fixed_pj.get(action, 0.0)
        return fixed + (e - fixed) * width_bits / w

    def _price(self, action: str, accesses: Mapping[str, float]) -> float:
        e = self.energy_pj[action]
        if action == "dram_bit":
            bits = sum(v for k, v in accesses.items() if k.startswith("dram_"))
            return bits / self.bits.get(action, 1.0) * e
        total = 0.0
        width = self.bits.get(action)
        fixed = self.fixed_pj.get(action, 0.0)
        for count_key, bits_key in ACTION_SPEC[action][1]:
            n = accesses.get(count_key, 0) or 0
            moved = accesses.get(bits_key) if bits_key is not None else None
            if width and moved is not None:
                total += n * fixed + (e - fixed) * moved / width
            else:
                total += n * e
        return total

    def breakdown(self, accesses: Mapping[str, float]) -> dict[str, float]:
        """Energy in pJ per component (:data:`COMPONENTS`) for the engine's ``accesses``.

        Keys missing from ``accesses`` count as 0; an access whose bits key is missing is
        priced at the entry's own width.
        """
        out = dict.fromkeys(COMPONENTS, 0.0)
        for action, (component, _) in ACTION_SPEC.items():
            out[component] += self._price(action, accesses)
        return out

    def describe(self) -> list[dict[str, Any]]:
        """One row per action: ``action``, ``energy_pj``, ``bits``, ``fixed_pj``, ``unit``,
        ``pj_per_bit``, ``per`` and ``source``."""
        rows = []
        for a in ACTIONS:
            b = self.bits.get(a)
            rows.append({"action": a, "component": ACTION_SPEC[a][0],
                         "energy_pj": self.energy_pj[a], "bits": b,
                         "fixed_pj": self.fixed_pj.get(a, 0.0),
                         "unit": (f"access of {b:g} bits" if a in WIDTH_ACTIONS else
                                  ACTION_UNITS.get(a, "action") + (f" ({b:g}-bit)" if b else "")),
                         "pj_per_bit": (self.energy_pj[a] - self.fixed_pj.get(a, 0.0)) / b
                         if b and a in WIDTH_ACTIONS else None,
                         "per": self.per.get(a, ""), "source": self.sources[a]})
        return rows


def builtin_tables() -> list[str]:
    """Names of the shipped energy tables."""
    folder = resources.files("scnn_sim").joinpath("data/energy")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


# ----------------------------------------------------------------------------- declared models
# A table YAML, an ERT mapping YAML and the Accelergy ERT it names, each declared once: the
# validation, defaults and JSON Schema (scnn-sim schema energy / ert-mapping) come from these
# classes. Their per-action fields are made from ACTIONS and WIDTH_ACTIONS, so a new action
# is a new required key everywhere. Code after them checks fixed_pj <= energy_pj and looks
# the mapped entries up in the ERT.

_BITS = "the width in bits that energy_pj is for"


class EntryModel(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """pJ per action (per count: operations, leakage), with its source."""

    energy_pj: Annotated[NonNegativeNumber, Meta(description="pJ per action, or per access of "
                                                 "`bits` bits")]
    source: Annotated[NonEmptyStr, Meta(description="a cited source, or 'assumption: ...'")]
    bits: Annotated[PositiveNumber | None, Meta(description=_BITS)] = None
    fixed_pj: Annotated[NonNegativeNumber, Meta(description="the width-independent pJ of one "
                                                "access, at most energy_pj")] = 0.0
    per: Annotated[str, Meta(description="what one action is")] = ""


class WidthEntryModel(EntryModel, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """pJ per access of a stated width, with its source: priced per bit moved."""

    bits: Annotated[PositiveNumber, Meta(description=_BITS + "; this action is priced per bit "
                                         "moved, so its entry must state it")]


def _per_action(name: str, doc: str, field_type: Any) -> type:
    """A Struct with one required field per action (in ACTIONS order)."""
    cls = msgspec.defstruct(name, [(a, field_type(a)) for a in ACTIONS], module=__name__,
                            forbid_unknown_fields=True, frozen=True, kw_only=True)
    cls.__doc__ = doc
    return cls


def _entry(action: str) -> type:
    return WidthEntryModel if action in WIDTH_ACTIONS else EntryModel


if TYPE_CHECKING:
    class TableActions(msgspec.Struct):  # made at import by defstruct
        def __getattr__(self, name: str) -> Any: ...
else:
    TableActions = _per_action("TableActions", "Every scnn-sim action (scnn-sim energy lists "
                               "them) and its price.", _entry)


class EnergyTableModel(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An energy table: pJ per action at a stated width, every entry cited."""

    actions: TableActions
    name: Annotated[str | None, Meta(description="default: the file stem")] = None
    technology_node: str = "unknown"


class ErtRefModel(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """An action priced by one entry of an Accelergy ERT."""

    component: Annotated[str, Meta(description="the ERT component, e.g. system.PE[0..63].mac")]
    action: Annotated[str, Meta(description="the ERT action of that component, e.g. read")]
    arguments: Annotated[Any | UnsetType, Meta(description="picks one of several entries of "
                                                "that component and action")] = UNSET
    bits: Annotated[PositiveNumber | None, Meta(description="the width in bits of one such "
                                                "ERT action")] = None
    fixed_pj: Annotated[NonNegativeNumber | None, Meta(description="the width-independent pJ "
                                                       "of one access")] = None
    scale: Annotated[NonNegativeNumber, Meta(description="a factor on the ERT "
                                             "energy")] = 1.0
    source: Annotated[str | None, Meta(description="default: 'Accelergy ERT FILE: "
                                       "component.action'")] = None
    per: Annotated[str | None, Meta(description="default: component.action")] = None


class WidthErtRefModel(ErtRefModel, forbid_unknown_fields=True, frozen=True,
                       kw_only=True):
    """An action priced per bit moved, by one entry of an Accelergy ERT."""

    bits: Annotated[PositiveNumber, Meta(description="the width in bits of one such ERT "
                                         "action; this action is priced per bit moved")]


def _mapped(action: str) -> Any:
    ref, entry = ((WidthErtRefModel, WidthEntryModel) if action in WIDTH_ACTIONS
                  else (ErtRefModel, EntryModel))
    # msgspec cannot tell two mappings apart without a tag; the loader does, by 'component'.
    return Annotated[dict[str, Any], Meta(extra_json_schema={"anyOf": [
        {"$ref": f"#/$defs/{ref.__name__}"}, {"$ref": f"#/$defs/{entry.__name__}"}]})]


if TYPE_CHECKING:
    class ErtMappingActions(msgspec.Struct):  # made at import by defstruct
        def __getattr__(self, name: str) -> Any: ...
else:
    ErtMappingActions = _per_action("ErtMappingActions", "Every scnn-sim action: an ERT entry "
                                    "(component, action, ...) or a plain table entry.", _mapped)


class ErtMappingModel(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An energy table taken from an Accelergy ERT: each action mapped to an ERT entry."""

    actions: ErtMappingActions
    name: Annotated[str | None, Meta(description="default: the file stem")] = None
    technology_node: str = "unknown"
    ert: Annotated[str | None, Meta(description="the ERT YAML, relative to this file (used "
                                    "by --energy MAP.yaml)")] = None


class _ErtAction(msgspec.Struct, frozen=True):
    name: str
    energy: NonNegativeNumber
    arguments: Any = None


class _ErtComponent(msgspec.Struct, frozen=True):
    name: str
    actions: list[_ErtAction]


class _ErtTables(msgspec.Struct, frozen=True):
    tables: Annotated[list[_ErtComponent], Meta(min_length=1)]


class ErtModel(msgspec.Struct, frozen=True):
    """What scnn-sim reads of an Accelergy ERT (other keys are Accelergy's and ignored)."""

    ERT: Annotated[_ErtTables, Meta(description="an Accelergy ERT needs a top-level 'ERT' "
                                    "mapping with 'version' and 'tables'")]


def table_from_dict(data: Any, where: str) -> EnergyTable:
    """Validate a parsed table YAML (``{name, technology_node, actions: {...}}``).

    Raises
    ------
    ConfigError
        One line ``where:actions.ACTION.field: problem``.
    """
    model = convert(data, EnergyTableModel, where, what="the energy table")
    energy, sources, bits, fixed, per = {}, {}, {}, {}, {}
    for act in ACTIONS:
        e = getattr(model.actions, act)
        if e.fixed_pj > e.energy_pj:
            raise ConfigError(f"{where}:actions.{act}.fixed_pj: {e.fixed_pj:g} exceeds "
                              f"energy_pj {e.energy_pj:g}")
        energy[act], sources[act], per[act] = e.energy_pj, e.source, e.per
        if e.bits is not None:
            bits[act] = e.bits
        if e.fixed_pj:
            fixed[act] = e.fixed_pj
    return EnergyTable(name=model.name or Path(where).stem,
                       technology_node=model.technology_node,
                       energy_pj=energy, sources=sources, bits=bits, fixed_pj=fixed, per=per)


def _read(path: str | os.PathLike[str], what: str) -> str:
    try:
        return read_text(as_path(path, what, ConfigError), ConfigError, what)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; built-in energy tables: {', '.join(builtin_tables())}") \
            from None


def load_energy_table(name_or_path: str | os.PathLike[str] | None = None) -> EnergyTable:
    """Load a shipped table by name, a table YAML, or an ERT mapping YAML.

    Parameters
    ----------
    name_or_path
        ``None`` (``aladdin40``), a shipped name, a table YAML (every action needs
        ``energy_pj``, ``source`` and, for actions priced per bit, ``bits``), or a mapping
        YAML with an ``ert:`` key naming an Accelergy ERT (see :func:`load_ert_table`).

    Raises
    ------
    ConfigError
        One line ``file:actions.ACTION.field: problem`` for a malformed table.
    """
    name = DEFAULT_TABLE if name_or_path is None else str(name_or_path)
    if name in builtin_tables():
        where = f"{name}.yaml"
        text = resources.files("scnn_sim").joinpath(f"data/energy/{name}.yaml").read_text()
    else:
        where = name
        text = _read(name, "energy table")
    data = parse_yaml(text, where, ConfigError)
    if isinstance(data, dict) and "ERT" in data:
        raise ConfigError(f"{where}: this is an Accelergy ERT; give a mapping YAML whose 'ert:' "
                          "names it (scnn-sim energy ERT.yaml --mapping MAP.yaml)")
    if isinstance(data, dict) and "ert" in data:
        ert = data["ert"]
        if not isinstance(ert, str) or not ert.strip():
            raise ConfigError(f"{where}:ert: must be the path of an Accelergy ERT YAML")
        ert_path = Path(ert) if Path(ert).is_absolute() else Path(where).parent / ert
        return load_ert_table(ert_path, name)
    return table_from_dict(data, where)


# ----------------------------------------------------------------------------- Accelergy ERT

def _ert_index(ert: ErtModel) -> dict[tuple[str, str], list[tuple[Any, float]]]:
    """(component name, action name) -> [(arguments, energy pJ)] of an Accelergy ERT."""
    out: dict[tuple[str, str], list[tuple[Any, float]]] = {}
    for comp in ert.ERT.tables:
        for act in comp.actions:
            out.setdefault((comp.name, act.name), []).append((act.arguments, act.energy))
    return out


def load_ert_table(ert: str | os.PathLike[str], mapping: str | os.PathLike[str]) -> EnergyTable:
    """An energy table from an Accelergy ERT and a mapping YAML.

    The mapping YAML (:class:`ErtMappingModel`; ``data/ert/example_mapping.yaml`` is one)::

        name: my-ert
        technology_node: 45 nm
        ert: ERT.yaml                  # optional here, used by --energy MAP.yaml
        actions:
          multiply: {component: system.PE[0..63].mac, action: mac_random, bits: 16}
          accumulator_read:
            component: system.PE[0..63].acc
            action: read
            arguments: {address_delta: 1, data_delta: 1}   # picks one of several entries
            bits: 24                                        # the width of that ERT action
          halo_word: {energy_pj: 1.0, bits: 24, source: "assumption: ..."}  # not in the ERT

    Every scnn-sim action is mapped to one ERT (component, action[, arguments]) and the width
    that ERT action accesses, or given directly as a table entry. The ERT's energy (pJ) is
    taken as is (``scale`` multiplies it, e.g. 0.25 for a 64-bit ERT action priced per 16 bits
    is better given as ``bits: 64``).

    Raises
    ------
    ConfigError
        A malformed ERT or mapping, a component or action the ERT lacks, or an ambiguous
        action (several argument sets and no ``arguments`` given): one line each.
    """
    ert_where, map_where = str(ert), str(mapping)
    index = _ert_index(convert(parse_yaml(_read(ert, "Accelergy ERT"), ert_where, ConfigError),
                               ErtModel, ert_where, what="an Accelergy ERT"))
    data = parse_yaml(_read(mapping, "ERT mapping"), map_where, ConfigError)
    model = convert(data, ErtMappingModel, map_where, what="an ERT mapping")
    entries: dict[str, Any] = {}
    for act in ACTIONS:
        m = getattr(model.actions, act)
        if "component" not in m:
            entries[act] = m  # a plain table entry, validated by table_from_dict below
            continue
        at = f"{map_where}:actions.{act}"
        ref = convert(m, WidthErtRefModel if act in WIDTH_ACTIONS else ErtRefModel, map_where,
                      prefix=("actions", act))
        comp, name = ref.component, ref.action
        found = index.get((comp, name))
        if found is None:
            comps = sorted({c for c, _ in index})
            raise ConfigError(f"{at}: {ert_where} has no action {name!r} of component "
                              f"{comp!r} (components: {', '.join(comps[:6])})")
        args = "" if ref.arguments is UNSET else f" {ref.arguments}"
        if ref.arguments is not UNSET:
            found = [f for f in found if f[0] == ref.arguments]
            if not found:
                raise ConfigError(f"{at}.arguments: no {comp}.{name} entry with arguments "
                                  f"{ref.arguments!r} in {ert_where}")
        elif len(found) > 1:
            raise ConfigError(f"{at}.arguments: {comp}.{name} has {len(found)} entries in "
                              f"{ert_where}; pick one with arguments: {{...}}")
        entry = {"energy_pj": found[0][1] * ref.scale,
                 "source": ref.source or f"Accelergy ERT {Path(ert_where).name}: "
                                         f"{comp}.{name}{args}",
                 "per": f"{comp}.{name}" if ref.per is None else ref.per}
        if ref.bits is not None:
            entry["bits"] = ref.bits
        if ref.fixed_pj is not None:
            entry["fixed_pj"] = ref.fixed_pj
        entries[act] = entry
    table = {"name": model.name or Path(map_where).stem,
             "technology_node": model.technology_node, "actions": entries}
    return table_from_dict(table, map_where)
