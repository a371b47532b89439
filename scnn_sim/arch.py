"""Architecture configuration: a frozen dataclass loaded from YAML and validated on load.

The defaults are SCNN's Table 3 (Parashar et al., ISCA 2017), shipped as
``scnn_sim/data/arch/scnn.yaml``. Every error names the file, the field path, the bad value and
what is allowed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from scnn_sim.errors import ConfigError
from scnn_sim.yamlio import parse_yaml

DEFAULT_ARCH = "scnn"


#: Largest integer any count or size may take (sizes, latencies, rates): beyond it the
#: simulator's int64 / float arithmetic overflows (a 1e21 halo rate raised OverflowError).
MAX_INT = 2 ** 40
#: Range of the rates (clock GHz, DRAM GB/s): outside it cycle counts overflow or vanish.
MIN_RATE, MAX_RATE = 1e-6, 1e9


def _pos_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError("must be a positive integer")
    if v > MAX_INT:
        raise ValueError("must be at most 2**40 (the simulator's cap)")
    return v


def _nonneg_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError("must be a non-negative integer")
    if v > MAX_INT:
        raise ValueError("must be at most 2**40 (the simulator's cap)")
    return v


def _pos_float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError("must be a positive number")
    if not MIN_RATE <= v <= MAX_RATE:
        raise ValueError(f"must be within [{MIN_RATE:g}, {MAX_RATE:g}] (the simulator's range)")
    return float(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return v

    return check


def _order(v: Any) -> str:
    if not isinstance(v, str) or sorted(v) != ["k", "r", "s"]:
        raise ValueError("must be a permutation of 'krs' (first letter outermost), e.g. krs or rsk")
    return v


def _auto_or_pos_int(v: Any) -> int | None:
    return None if v == "auto" else _pos_int(v)


def _subtiles(v: Any) -> tuple[int, int] | None:
    if v == "auto":
        return None
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ValueError("must be auto or [rows, cols]")
    return (_pos_int(v[0]), _pos_int(v[1]))


def _value_bits(v: Any) -> int:
    v = _pos_int(v)
    if v > 32:
        raise ValueError("must be at most 32")
    return v


def _index_bits(v: Any) -> int:
    v = _pos_int(v)
    if v > 16:
        raise ValueError("must be between 1 and 16")
    return v


# (yaml section, yaml key) -> (dataclass field, validator). One table drives loading, validation,
# printing and sweeps (which address parameters by their dotted YAML path).
_SCHEMA: dict[tuple[str, ...], tuple[str, Callable[[Any], Any]]] = {
    ("name",): ("name", str),
    ("clock_ghz",): ("clock_ghz", _pos_float),
    ("pe_array", "rows"): ("pe_rows", _pos_int),
    ("pe_array", "cols"): ("pe_cols", _pos_int),
    ("multiplier", "F"): ("F", _pos_int),
    ("multiplier", "I"): ("I", _pos_int),
    ("data", "value_bits"): ("value_bits", _value_bits),
    ("data", "index_bits"): ("index_bits", _index_bits),
    ("data", "accumulator_bits"): ("acc_bits", _value_bits),
    ("data", "placeholders"): ("placeholders", _bool),
    ("accumulator", "banks"): ("acc_banks", _pos_int),
    ("accumulator", "entries_per_bank"): ("acc_entries_per_bank", _pos_int),
    ("accumulator", "double_buffered"): ("acc_double_buffered", _bool),
    ("accumulator", "contention"): ("contention", _choice("queued", "lockstep")),
    ("accumulator", "queue_depth"): ("queue_depth", _pos_int),
    ("accumulator", "bank_mapping"): ("bank_mapping", _choice("linear", "xor", "dnnsim_xor")),
    ("accumulator", "bank_load"): ("bank_load", _choice("all_products", "on_plane")),
    ("accumulator", "drain_timing"): ("drain_timing", _bool),
    ("accumulator", "access_model"): (
        "access_model", _choice("per_product", "same_address", "wide")),
    ("accumulator", "wide_words"): ("wide_words", _pos_int),
    ("buffers", "iaram_bytes"): ("iaram_bytes", _pos_int),
    ("buffers", "oaram_bytes"): ("oaram_bytes", _pos_int),
    ("buffers", "weight_fifo_entries"): ("weight_fifo_entries", _pos_int),
    ("dram", "bandwidth_gbytes_per_s"): ("dram_gbytes_per_s", _pos_float),
    ("dram", "latency_cycles"): ("dram_latency_cycles", _nonneg_int),
    ("dram", "timing"): ("dram_timing", _bool),
    ("dataflow", "weight_order"): ("weight_order", _order),
    ("dataflow", "kc"): ("kc", _auto_or_pos_int),
    ("dataflow", "kc_max"): ("kc_max", _pos_int),
    ("dataflow", "kc_rule"): ("kc_rule", _choice("scnn", "dnnsim")),
    ("dataflow", "subtiles"): ("subtiles", _subtiles),
    ("dataflow", "tiling"): ("tiling", _choice("balanced", "ceil", "padded")),
    ("dataflow", "overflow"): (
        "overflow", _choice("fewest_passes", "half_iaram", "channel_chunk")),
    ("dataflow", "barrier"): ("barrier", _choice("group", "input_channel")),
    ("dataflow", "halo_model"): ("halo_model", _choice("scnn", "dnnsim")),
    ("dataflow", "halo_words_per_cycle"): ("halo_words_per_cycle", _pos_int),
    ("dataflow", "drain_words_per_cycle"): ("drain_words_per_cycle", _pos_int),
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
        for path, (field, _) in _SCHEMA.items():
            value = getattr(self, field)
            if field in ("kc", "subtiles") and value is None:
                value = "auto"
            elif isinstance(value, tuple):
                value = list(value)
            node = out
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
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


def _default_dict() -> dict[str, Any]:
    text = resources.files("scnn_sim").joinpath("data/arch/scnn.yaml").read_text()
    return yaml.safe_load(text)


def arch_from_dict(data: Mapping[str, Any], where: str = "<dict>") -> ArchConfig:
    """Validate a nested mapping (missing keys take SCNN's defaults) into an :class:`ArchConfig`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: the architecture must be a mapping of sections")
    merged = _merge(_default_dict(), data)
    known_sections = {p[0] for p in _SCHEMA}
    for key, value in data.items():
        if key not in known_sections:
            raise ConfigError(
                f"{where}:{key}: unknown field (allowed: {', '.join(sorted(known_sections))})")
        if isinstance(value, Mapping):
            allowed = {p[1] for p in _SCHEMA if p[0] == key and len(p) == 2}
            if not allowed:
                raise ConfigError(f"{where}:{key}: must be a single value, not a mapping")
            for sub in value:
                if sub not in allowed:
                    raise ConfigError(f"{where}:{key}.{sub}: unknown field "
                                      f"(allowed: {', '.join(sorted(allowed))})")
        elif any(p[0] == key and len(p) == 2 for p in _SCHEMA):
            raise ConfigError(f"{where}:{key}: must be a mapping")
    kwargs: dict[str, Any] = {}
    for path, (field, check) in _SCHEMA.items():
        value = merged
        for key in path:
            value = value[key]
        try:
            kwargs[field] = check(value)
        except ValueError as exc:
            raise ConfigError(f"{where}:{'.'.join(path)}: {exc}, got {value!r}") from None
    arch = ArchConfig(**kwargs)
    _check_consistency(arch, where)
    return arch


#: Sanity caps: beyond these the simulator's per-PE Python bookkeeping takes minutes or more
#: (SCNN itself has 64 PEs of 4 x 4 multipliers).
MAX_PE_DIM = 1024
MAX_PES = 16384
MAX_MULTIPLIER_DIM = 1024
MAX_BANKS = 65536


def _check_consistency(arch: ArchConfig, where: str) -> None:
    for key, v in (("pe_array.rows", arch.pe_rows), ("pe_array.cols", arch.pe_cols)):
        if v > MAX_PE_DIM:
            raise ConfigError(f"{where}:{key}: {v} is beyond the simulator's cap of "
                              f"{MAX_PE_DIM} PEs per side")
    if arch.pe_rows * arch.pe_cols > MAX_PES:
        raise ConfigError(f"{where}:pe_array: {arch.pe_rows}x{arch.pe_cols} = "
                          f"{arch.pe_rows * arch.pe_cols} PEs is beyond the simulator's cap of "
                          f"{MAX_PES}")
    if arch.acc_banks > MAX_BANKS:
        raise ConfigError(f"{where}:accumulator.banks: {arch.acc_banks} is beyond the "
                          f"simulator's cap of {MAX_BANKS}")
    for key, v in (("multiplier.F", arch.F), ("multiplier.I", arch.I)):
        if v > MAX_MULTIPLIER_DIM:
            raise ConfigError(f"{where}:{key}: {v} is beyond the simulator's cap of "
                              f"{MAX_MULTIPLIER_DIM}")
    if arch.bank_mapping == "xor" and arch.acc_banks & (arch.acc_banks - 1):
        raise ConfigError(f"{where}:accumulator.bank_mapping: xor needs a power-of-two bank "
                          f"count, got banks={arch.acc_banks}")
    entry_bits = arch.F * (arch.value_bits + arch.index_bits)
    if arch.iaram_bytes * 8 < 2 * (arch.value_bits + arch.index_bits) * arch.I:
        raise ConfigError(f"{where}:buffers.iaram_bytes: {arch.iaram_bytes} B cannot hold two "
                          f"activation vectors of I={arch.I}")
    if arch.weight_fifo_entries * entry_bits <= 0:  # pragma: no cover - guarded by validators
        raise ConfigError(f"{where}:buffers.weight_fifo_entries: must hold one weight vector")


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
    text = str(src)
    p = Path(src)
    if looks_like_arch_name(text) and not p.is_file():
        names = shipped_archs()
        if text not in names:
            raise ConfigError(f"{text}: unknown architecture (shipped: {', '.join(names)}; "
                              f"or give a YAML path)")
        where = f"{text}.yaml"
        raw = resources.files("scnn_sim").joinpath(f"data/arch/{where}").read_text()
    else:
        where = str(p)
        try:
            raw = p.read_text()
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read architecture file ({exc.strerror})") from None
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
    return [".".join(p) for p in _SCHEMA]


__all__ = ["ArchConfig", "load_arch", "arch_from_dict", "arch_fields", "shipped_archs"]
