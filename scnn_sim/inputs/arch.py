"""Architecture configuration: a frozen dataclass loaded from YAML and validated on load.

The YAML form is declared once, by :class:`ArchModel` (one Struct per section): it gives the
validation, the defaults (SCNN's Table 3, Parashar et al., ISCA 2017; the shipped preset
``scnn_sim/data/arch/scnn.yaml`` restates them with comments) and the JSON Schema
(``scnn-sim schema arch``). What one field implies for another is checked by code after it.
Every error is one line naming the file, the field path, the bad value and what is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from scnn_sim.errors import ConfigError
from scnn_sim.inputs.readers import as_path, read_text
from scnn_sim.inputs.validation import convert
from scnn_sim.inputs.yamlio import parse_yaml

DEFAULT_ARCH = "scnn"


#: Largest integer any count or size may take (sizes, latencies, rates): beyond it the
#: simulator's int64 / float arithmetic overflows (a 1e21 halo rate raised OverflowError).
MAX_INT = 2 ** 40
#: Range of the rates (clock GHz, DRAM GB/s): outside it cycle counts overflow or vanish.
MIN_RATE, MAX_RATE = 1e-6, 1e9
#: Sanity caps: beyond these the simulator's per-PE Python bookkeeping takes minutes or more
#: (SCNN itself has 64 PEs of 4 x 4 multipliers).
MAX_PE_DIM = 1024
MAX_PES = 16384
MAX_MULTIPLIER_DIM = 1024
MAX_BANKS = 65536

#: A positive count or size, capped where the simulator's arithmetic would overflow.
Count = Annotated[int, Meta(ge=1, le=MAX_INT)]
#: A rate (GHz, GB/s) within the range the simulator's cycle arithmetic handles.
Rate = Annotated[float, Meta(ge=MIN_RATE, le=MAX_RATE)]


# The declared architecture: one Struct per YAML section. Validation, the defaults (SCNN's
# Table 3, equal to data/arch/scnn.yaml, whose comments explain each choice) and the JSON
# Schema (``scnn-sim schema arch``) all come from these classes.

class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class PeArray(_Section, frozen=True):
    """The grid of processing elements."""

    rows: Annotated[int, Meta(ge=1, le=MAX_PE_DIM, description="PE grid rows")] = 8
    cols: Annotated[int, Meta(ge=1, le=MAX_PE_DIM, description="PE grid columns")] = 8


class Multiplier(_Section, frozen=True):
    """Each PE's F x I multiplier array (SCNN section 4)."""

    F: Annotated[int, Meta(ge=1, le=MAX_MULTIPLIER_DIM, description="weight vector width")] = 4
    I: Annotated[int, Meta(ge=1, le=MAX_MULTIPLIER_DIM,  # noqa: E741 - the paper's name
                           description="activation vector width")] = 4


class Data(_Section, frozen=True):
    """Widths of the stored values."""

    value_bits: Annotated[int, Meta(ge=1, le=32, description="bits of a value")] = 16
    index_bits: Annotated[int, Meta(ge=1, le=16, description="bits of the zero-run index "
                                    "stored with each value")] = 4
    accumulator_bits: Annotated[int, Meta(ge=1, le=32, description="bits of a partial sum")] = 24
    placeholders: Annotated[bool, Meta(description="a zero run longer than 2**index_bits - 1 "
                                       "costs placeholder entries (false: unbounded runs)")] = True


class Accumulator(_Section, frozen=True):
    """The banked accumulator buffer behind the scatter crossbar."""

    banks: Annotated[int, Meta(ge=1, le=MAX_BANKS, description="banks per buffer (A)")] = 32
    entries_per_bank: Annotated[Count, Meta(description="entries of one bank")] = 32
    double_buffered: Annotated[bool, Meta(description="the drain of one output-channel group "
                                          "overlaps the compute of the next")] = True
    contention: Annotated[Literal["queued", "lockstep"], Meta(
        description="bank conflicts: per-bank queues, or a vector pair waits for its busiest "
                    "bank")] = "queued"
    queue_depth: Annotated[Count, Meta(description="per-bank queue entries behind the "
                                       "crossbar")] = 4
    bank_mapping: Annotated[Literal["linear", "xor", "dnnsim_xor"], Meta(
        description="output address -> bank: mod A, xor-fold (needs a power-of-two bank "
                    "count) or DNNsim's hash of the absolute (k, row, col)")] = "linear"
    bank_load: Annotated[Literal["all_products", "on_plane"], Meta(
        description="which products load a bank (all take a multiplier slot)")] = "all_products"
    drain_timing: Annotated[bool, Meta(description="the PPU drain takes time (false: no "
                                       "drain stall)")] = True
    access_model: Annotated[Literal["per_product", "same_address", "wide"], Meta(
        description="accumulator accesses: per product (as published), merged per address, "
                    "or wide words")] = "per_product"
    wide_words: Annotated[Count, Meta(description="words served by one wide access")] = 4


class Buffers(_Section, frozen=True):
    """Per-PE SRAM sizes."""

    iaram_bytes: Annotated[Count, Meta(description="input activation RAM per PE, values + "
                                       "indices (bytes)")] = 10240
    oaram_bytes: Annotated[Count, Meta(description="output activation RAM per PE "
                                       "(bytes)")] = 10240
    weight_fifo_entries: Annotated[Count, Meta(description="weight FIFO entries of F weights "
                                               "+ indices")] = 50


class Dram(_Section, frozen=True):
    """Off-chip memory."""

    bandwidth_gbytes_per_s: Annotated[Rate, Meta(description="bandwidth (GB/s)")] = 50.0
    latency_cycles: Annotated[int, Meta(ge=0, le=MAX_INT, description="latency "
                                        "(cycles)")] = 100
    timing: Annotated[bool, Meta(description="transfers take time (false: no DRAM stall; bits "
                                 "still counted)")] = True


class Dataflow(_Section, frozen=True):
    """Tiling, ordering and synchronisation choices (README "Modelling choices")."""

    weight_order: Annotated[Literal["krs", "ksr", "rks", "rsk", "skr", "srk"], Meta(
        description="linear order of a (c, k') weight block, first letter outermost")] = "krs"
    kc: Annotated[Literal["auto"] | Count, Meta(
        description="output channels per group: auto (README \"Kc and sub-tiles\") or an "
                    "integer")] = "auto"
    kc_max: Annotated[Count, Meta(description="cap of the auto Kc rule")] = 8
    kc_rule: Annotated[Literal["scnn", "dnnsim"], Meta(
        description="the auto Kc rule (dnnsim: accumulator entries // output tile "
                    "area)")] = "scnn"
    subtiles: Annotated[Literal["auto"] | tuple[Count, Count], Meta(
        description="sub-tiles of a PE tile: auto (fit IARAM and Kc) or [rows, cols]",
        extra={"allowed": "auto or [rows, cols] (positive integers)"})] = "auto"
    tiling: Annotated[Literal["balanced", "ceil", "padded"], Meta(
        description="how the input plane is cut into PE tiles")] = "ceil"
    overflow: Annotated[Literal["fewest_passes", "half_iaram", "channel_chunk"], Meta(
        description="activations that exceed the IARAM (README \"Temporal "
                    "tiling\")")] = "fewest_passes"
    barrier: Annotated[Literal["group", "input_channel"], Meta(
        description="PEs wait for the slowest after each output-channel group or each "
                    "input channel")] = "group"
    halo_model: Annotated[Literal["scnn", "dnnsim"], Meta(
        description="halo exchange model")] = "scnn"
    halo_words_per_cycle: Annotated[Count, Meta(description="words a PE sends to a neighbour "
                                                "per cycle")] = 4
    drain_words_per_cycle: Annotated[Count, Meta(description="words drained through the PPU "
                                                 "per cycle")] = 32


class ArchModel(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An SCNN architecture (the YAML that --arch reads); a missing key takes SCNN's Table 3
    value (Parashar et al., ISCA 2017)."""

    name: Annotated[str, Meta(description="name shown in results")] = "scnn"
    clock_ghz: Annotated[Rate, Meta(description="accelerator clock (GHz)")] = 1.0
    pe_array: PeArray = msgspec.field(default_factory=PeArray)
    multiplier: Multiplier = msgspec.field(default_factory=Multiplier)
    data: Data = msgspec.field(default_factory=Data)
    accumulator: Accumulator = msgspec.field(default_factory=Accumulator)
    buffers: Buffers = msgspec.field(default_factory=Buffers)
    dram: Dram = msgspec.field(default_factory=Dram)
    dataflow: Dataflow = msgspec.field(default_factory=Dataflow)


# Dotted YAML path -> ArchConfig field, in YAML order; sweeps address parameters by the path.
_FIELDS: dict[str, str] = {
    "name": "name", "clock_ghz": "clock_ghz",
    "pe_array.rows": "pe_rows", "pe_array.cols": "pe_cols",
    "multiplier.F": "F", "multiplier.I": "I",
    "data.value_bits": "value_bits", "data.index_bits": "index_bits",
    "data.accumulator_bits": "acc_bits", "data.placeholders": "placeholders",
    "accumulator.banks": "acc_banks", "accumulator.entries_per_bank": "acc_entries_per_bank",
    "accumulator.double_buffered": "acc_double_buffered", "accumulator.contention": "contention",
    "accumulator.queue_depth": "queue_depth", "accumulator.bank_mapping": "bank_mapping",
    "accumulator.bank_load": "bank_load", "accumulator.drain_timing": "drain_timing",
    "accumulator.access_model": "access_model", "accumulator.wide_words": "wide_words",
    "buffers.iaram_bytes": "iaram_bytes", "buffers.oaram_bytes": "oaram_bytes",
    "buffers.weight_fifo_entries": "weight_fifo_entries",
    "dram.bandwidth_gbytes_per_s": "dram_gbytes_per_s",
    "dram.latency_cycles": "dram_latency_cycles", "dram.timing": "dram_timing",
    "dataflow.weight_order": "weight_order", "dataflow.kc": "kc", "dataflow.kc_max": "kc_max",
    "dataflow.kc_rule": "kc_rule", "dataflow.subtiles": "subtiles", "dataflow.tiling": "tiling",
    "dataflow.overflow": "overflow", "dataflow.barrier": "barrier",
    "dataflow.halo_model": "halo_model",
    "dataflow.halo_words_per_cycle": "halo_words_per_cycle",
    "dataflow.drain_words_per_cycle": "drain_words_per_cycle",
}


@dataclass(frozen=True)
class ArchConfig:
    """An SCNN configuration. Build it with :func:`load_arch`; field meanings are in scnn.yaml."""

    name: str
    clock_ghz: float
    pe_rows: int
    pe_cols: int
    F: int
    I: int
    value_bits: int
    index_bits: int
    acc_bits: int
    placeholders: bool
    acc_banks: int
    acc_entries_per_bank: int
    acc_double_buffered: bool
    contention: str
    queue_depth: int
    bank_mapping: str
    bank_load: str
    drain_timing: bool
    access_model: str
    wide_words: int
    iaram_bytes: int
    oaram_bytes: int
    weight_fifo_entries: int
    dram_gbytes_per_s: float
    dram_latency_cycles: int
    dram_timing: bool
    weight_order: str
    kc: int | None
    kc_max: int
    kc_rule: str
    subtiles: tuple[int, int] | None
    tiling: str
    overflow: str
    barrier: str
    halo_model: str
    halo_words_per_cycle: int
    drain_words_per_cycle: int

    @property
    def n_pes(self) -> int:
        """Number of processing elements."""
        return self.pe_rows * self.pe_cols

    @property
    def multipliers(self) -> int:
        """Multipliers in the whole array (F x I per PE)."""
        return self.n_pes * self.F * self.I

    @property
    def acc_capacity(self) -> int:
        """Accumulator entries of one buffer of one PE (banks x entries)."""
        return self.acc_banks * self.acc_entries_per_bank

    @property
    def dram_bits_per_cycle(self) -> float:
        """DRAM bandwidth in bits per accelerator cycle."""
        return self.dram_gbytes_per_s * 8.0 / self.clock_ghz

    def to_dict(self) -> dict[str, Any]:
        """The nested YAML form (what :func:`load_arch` reads), for provenance and printing."""
        out: dict[str, Any] = {}
        for path, field in _FIELDS.items():
            value = getattr(self, field)
            if field in ("kc", "subtiles") and value is None:
                value = "auto"
            elif isinstance(value, tuple):
                value = list(value)
            *sections, key = path.split(".")
            node = out
            for section in sections:
                node = node.setdefault(section, {})
            node[key] = value
        return out

    def replace(self, **overrides: Any) -> ArchConfig:
        """A copy with dotted-path overrides, e.g. ``replace(**{"multiplier.F": 8})``."""
        return arch_from_dict(_merge(self.to_dict(), _nest(overrides)), where="<override>")


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        keys = dotted.split(".")
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def arch_from_dict(data: Mapping[str, Any], where: str = "<dict>") -> ArchConfig:
    """Validate a nested mapping (missing keys take SCNN's defaults) into an :class:`ArchConfig`.

    The fields are checked by the declared model (:class:`ArchModel`), then what one field
    implies for another by code; either way the error is one line ``where:section.key: ...``.
    """
    model = convert(dict(data) if isinstance(data, Mapping) else data, ArchModel, where,
                    what="the architecture")
    kwargs: dict[str, Any] = {}
    for path, field in _FIELDS.items():
        value: Any = model
        for key in path.split("."):
            value = getattr(value, key)
        kwargs[field] = None if field in ("kc", "subtiles") and value == "auto" else value
    arch = ArchConfig(**kwargs)
    _check_consistency(arch, where)
    return arch


def _check_consistency(arch: ArchConfig, where: str) -> None:
    """What the declared model cannot say: one field against another."""
    if arch.pe_rows * arch.pe_cols > MAX_PES:
        raise ConfigError(f"{where}:pe_array: {arch.pe_rows}x{arch.pe_cols} = "
                          f"{arch.pe_rows * arch.pe_cols} PEs is beyond the simulator's cap of "
                          f"{MAX_PES}")
    if arch.bank_mapping == "xor" and arch.acc_banks & (arch.acc_banks - 1):
        raise ConfigError(f"{where}:accumulator.bank_mapping: xor needs a power-of-two bank "
                          f"count, got banks={arch.acc_banks}")
    if arch.iaram_bytes * 8 < 2 * (arch.value_bits + arch.index_bits) * arch.I:
        raise ConfigError(f"{where}:buffers.iaram_bytes: {arch.iaram_bytes} B cannot hold two "
                          f"activation vectors of I={arch.I}")


#: One architecture source: a shipped name, a YAML path or a nested mapping.
ArchSource = str | os.PathLike | Mapping[str, Any]


def shipped_archs() -> list[str]:
    """Names of the architectures shipped in ``scnn_sim/data/arch`` (``--arch NAME``)."""
    folder = resources.files("scnn_sim").joinpath("data/arch")
    return sorted(f.name[:-5] for f in folder.iterdir() if f.name.endswith(".yaml"))


def looks_like_arch_name(text: str) -> bool:
    """Whether ``text`` reads as a shipped architecture name rather than a YAML path."""
    return not text.lower().endswith((".yaml", ".yml")) and "/" not in text and os.sep not in text


def _arch_source(src: ArchSource) -> tuple[dict[str, Any], str]:
    """The raw nested mapping of one source and where it came from (for error messages)."""
    if isinstance(src, Mapping):
        return dict(src), "<dict>"
    p = as_path(src, "arch", ConfigError)
    text = str(src)
    if looks_like_arch_name(text) and not p.is_file():
        names = shipped_archs()
        if text not in names:
            raise ConfigError(f"{text}: unknown architecture (shipped: {', '.join(names)}; "
                              f"or give a YAML path)")
        where = f"{text}.yaml"
        raw = resources.files("scnn_sim").joinpath(f"data/arch/{where}").read_text()
    else:
        where = str(p)
        raw = read_text(p, ConfigError, "architecture file")  # the reader policy
    data = parse_yaml(raw, where, ConfigError)
    if data is None:
        data = {}
    return data, where


def load_arch(path: ArchSource | ArchConfig | Sequence[ArchSource] | None = None) -> ArchConfig:
    """Load an architecture (missing fields default to SCNN's Table 3).

    Parameters
    ----------
    path
        ``None`` for the shipped default; a shipped name (``"scnn"``, ``"dnnsim"``; see
        :func:`shipped_archs`), a YAML path or a nested mapping; or a list of these, merged in
        order (later ones override earlier ones, field by field). Every source is validated
        on its own (errors name its file) and so is the merged result.
    """
    if isinstance(path, ArchConfig):
        return path
    if path is None:
        return arch_from_dict({}, where="scnn.yaml")
    if isinstance(path, (str, os.PathLike, Mapping)):
        data, where = _arch_source(path)
        return arch_from_dict(data, where=where)
    if not isinstance(path, (list, tuple)):
        raise ConfigError(f"arch: expected a name, a YAML path, a mapping or a list of them, "
                          f"got {type(path).__name__}")
    sources = list(path)
    if not sources:
        return arch_from_dict({}, where="scnn.yaml")
    merged: dict[str, Any] = {}
    wheres = []
    for src in sources:
        if isinstance(src, ArchConfig):
            data, where = src.to_dict(), f"<{src.name}>"
        elif isinstance(src, (str, os.PathLike, Mapping)):
            data, where = _arch_source(src)
        else:
            raise ConfigError(f"arch: expected a name, a YAML path or a mapping, got {src!r}")
        arch_from_dict(data, where=where)
        merged = _merge(merged, data)
        wheres.append(where)
    return arch_from_dict(merged, where="+".join(wheres))


def arch_fields() -> list[str]:
    """Dotted YAML paths of every architecture parameter (what sweeps may vary)."""
    return list(_FIELDS)


def arch_field_types() -> dict[str, Any]:
    """Dotted YAML path -> declared type (with its range or choices) of every parameter, as
    :class:`ArchModel` states it; sweep specs declare their varied values with these."""
    out: dict[str, Any] = {}

    def walk(model: type[msgspec.Struct], prefix: str) -> None:
        for f in msgspec.structs.fields(model):
            if isinstance(f.type, type) and issubclass(f.type, msgspec.Struct):
                walk(f.type, f"{prefix}{f.encode_name}.")
            else:
                out[prefix + f.encode_name] = f.type

    walk(ArchModel, "")
    return out


__all__ = ["ArchConfig", "ArchModel", "load_arch", "arch_from_dict", "arch_fields",
           "arch_field_types", "shipped_archs"]
