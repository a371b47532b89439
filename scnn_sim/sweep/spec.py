"""The sweep spec: a YAML file -> validated :class:`SweepSpec` -> expanded :class:`SweepPoint`\\ s.

The keys are listed in :mod:`scnn_sim.sweep`. Everything is validated on load, before anything
runs; the architecture of every point is built, so an impossible configuration is refused up
front. A point's id hashes its canonical JSON (:attr:`SweepPoint.key`).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scnn_sim.arch import (
    ArchConfig,
    arch_fields,
    arch_from_dict,
    load_arch,
    looks_like_arch_name,
)
from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.provenance import DEFAULT_WEIGHT_FORMAT, WEIGHT_FORMATS
from scnn_sim.sweep.checks import (
    _SHAPES,
    _canon,
    _check_density,
    _check_granularity,
    _check_reachable,
    _check_seed,
    _is_int,
    _is_real,
    _nonempty_list,
    _parse_layers,
    _resolve_path,
    _resolve_workload,
)
from scnn_sim.yamlio import parse_yaml

SPEC_KEYS = ("name", "description", "workloads", "arch", "energy", "vary", "granularities",
             "densities", "seeds", "layers", "mode", "points", "count_merges", "weight_format",
             "clustered", "pointwise_group")
POINT_KEYS = ("label", "workload", "granularity", "density", "seed")


def pe_config_label(arch: Mapping[str, Any]) -> str:
    """Short PE-array label of a nested arch dict: ``"64x(4x4)"`` = 64 PEs of F x I.

    Non-square arrays add the grid: ``"32x(4x4) 4x8"``.
    """
    rows, cols = arch["pe_array"]["rows"], arch["pe_array"]["cols"]
    f, i = arch["multiplier"]["F"], arch["multiplier"]["I"]
    label = f"{rows * cols}x({f}x{i})"
    return label if rows == cols else f"{label} {rows}x{cols}"


@dataclass(frozen=True)
class SweepPoint:
    """One simulation of a sweep.

    Attributes
    ----------
    workload
        As written in the spec (name or path); ``workload_path`` is what is simulated.
    overrides
        The varied architecture parameters of this point (dotted path -> value).
    arch
        The full resolved architecture (nested dict, :meth:`ArchConfig.to_dict`).
    """

    workload: str
    workload_path: str
    layers: tuple[str, ...] | None
    overrides: tuple[tuple[str, Any], ...]
    arch: dict[str, Any] = field(repr=False, hash=False, compare=False)
    label: str | None
    granularity: str | None
    density: float | None
    seed: int
    energy: str | None
    energy_path: str | None
    options: tuple[tuple[str, Any], ...]

    @property
    def key(self) -> dict[str, Any]:
        """The canonical identity of the point (what :attr:`point_id` hashes)."""
        return {"workload": self.workload, "layers": list(self.layers) if self.layers else None,
                "arch": self.arch, "energy": self.energy, "granularity": self.granularity,
                "density": self.density, "seed": self.seed, "options": dict(self.options)}

    @property
    def point_id(self) -> str:
        """Stable id: 16 hex digits of the SHA-256 of the canonical JSON of :attr:`key`."""
        return hashlib.sha256(_canon(self.key).encode()).hexdigest()[:16]

    def task(self) -> dict[str, Any]:
        """The picklable job sent to a worker (:func:`run_point`)."""
        return {"point_id": self.point_id, "workload": self.workload_path,
                "layers": list(self.layers) if self.layers else None, "arch": self.arch,
                "energy": self.energy_path, "granularity": self.granularity,
                "density": self.density, "seed": self.seed, **dict(self.options)}


@dataclass
class SweepSpec:
    """A validated sweep specification; :meth:`points` expands it."""

    source: str
    name: str
    data: dict[str, Any]
    point_list: list[SweepPoint]
    varied: list[str]

    def points(self) -> list[SweepPoint]:
        """Every point, in spec order (workload-major)."""
        return list(self.point_list)

    def __len__(self) -> int:
        return len(self.point_list)


def builtin_sweeps() -> list[str]:
    """Names of the shipped sweep specs (``workloads/sweeps/*.yaml``), e.g. ``example``."""
    from scnn_sim.workload import builtin_dir

    d = builtin_dir() / "sweeps"
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def resolve_spec(name_or_path: str | os.PathLike) -> Path:
    """The spec file of a shipped sweep name (see :func:`builtin_sweeps`) or a path.

    A plain word (no directory part, no ``.yaml`` suffix) that is not an existing file names a
    shipped spec; anything else is a path.

    Raises
    ------
    ConfigError
        A plain word that is no shipped sweep.
    """
    from scnn_sim.workload import builtin_dir

    p = Path(name_or_path)
    text = os.fspath(name_or_path)
    if p.exists() or "/" in text or os.sep in text or p.suffix:
        return p
    if text in builtin_sweeps():
        return builtin_dir() / "sweeps" / f"{text}.yaml"
    known = ", ".join(builtin_sweeps()) or "(none found)"
    raise ConfigError(f"{text}: no such sweep spec file or shipped sweep (shipped: {known})")


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep spec YAML.

    Parameters
    ----------
    path
        The spec file, or the name of a shipped spec (:func:`resolve_spec`); relative paths
        inside it are relative to its directory.

    Returns
    -------
    SweepSpec

    Raises
    ------
    ConfigError
        One line ``file:field: problem`` for any problem (unreadable file, malformed YAML,
        unknown key, empty list, bad value, unknown architecture path, impossible
        architecture, unknown workload or layer, duplicate point).
    """
    p = resolve_spec(path)
    shown = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ConfigError(f"{shown}: cannot read sweep spec ({reason})") from None
    data = parse_yaml(text, shown, ConfigError)
    return spec_from_dict(data, where=shown, base_dir=p.parent)


def _check_point_layers(pt: SweepPoint, arch_checked: set[tuple[str, str]], where: str) -> None:
    """Refuse up front a point whose layers cannot be simulated (memory, sub-tiles)."""
    layers = _SHAPES.get(pt.workload_path)
    if layers is None:  # exported .h5: checked from its declared shapes when it is read
        return
    key = (pt.workload_path, _canon(pt.arch))
    if key in arch_checked:
        return
    arch_checked.add(key)
    from scnn_sim.limits import check_layer_memory, check_mapping_sane

    cfg = arch_from_dict(pt.arch, where="<sweep point>")
    for lay in layers:
        if pt.layers and lay.name not in pt.layers:
            continue
        try:
            check_mapping_sane(lay, cfg, f"{pt.workload}:{lay.name}")
            check_layer_memory(lay, f"{pt.workload}:{lay.name}", cfg)
        except ScnnSimError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def spec_from_dict(data: Any, where: str = "<spec>",
                   base_dir: str | os.PathLike | None = None) -> SweepSpec:
    """Validate a spec given as a mapping (the YAML's content) and expand its points.

    Parameters
    ----------
    data
        The spec mapping (see :mod:`scnn_sim.sweep`).
    where
        Name used in error messages (the file).
    base_dir
        Directory that relative paths are relative to (default: the current directory).

    Returns
    -------
    SweepSpec

    Raises
    ------
    ConfigError
        ``where:field: problem`` on the first problem found.
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    if data is None:
        raise ConfigError(f"{where}: empty spec; expected a mapping with a 'workloads' list")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: the spec must be a mapping, got {type(data).__name__}")
    for key in data:
        if key not in SPEC_KEYS:
            raise ConfigError(f"{where}:{key}: unknown key (allowed: {', '.join(SPEC_KEYS)})")

    name = data.get("name") or Path(where).stem
    if not isinstance(name, str):
        raise ConfigError(f"{where}:name: must be text, got {name!r}")
    mode = data.get("mode", "product")
    if mode not in ("product", "list"):
        raise ConfigError(f"{where}:mode: must be product or list, got {mode!r}")

    # Simulation options.
    options: dict[str, Any] = {}
    cm = data.get("count_merges")
    if cm is not None and not isinstance(cm, bool):
        raise ConfigError(f"{where}:count_merges: must be true, false or null, got {cm!r}")
    if cm is not None:
        options["count_merges"] = cm
    wf = data.get("weight_format", DEFAULT_WEIGHT_FORMAT)
    if wf not in WEIGHT_FORMATS:
        raise ConfigError(f"{where}:weight_format: must be group or scnn, got {wf!r}")
    if wf != "scnn":  # in the point id since "group" became the default (ids stay unique)
        options["weight_format"] = wf
    cl = data.get("clustered", 0.0)
    if not _is_real(cl) or not 0.0 <= float(cl) <= 1.0:
        raise ConfigError(f"{where}:clustered: must be a number in [0, 1], got {cl!r}")
    if float(cl):
        options["clustered"] = float(cl)
    pg = data.get("pointwise_group", 1)
    if not _is_int(pg) or pg < 1:
        raise ConfigError(f"{where}:pointwise_group: must be a positive integer, got {pg!r}")
    if pg != 1:
        options["pointwise_group"] = int(pg)
    opts = tuple(sorted(options.items()))

    # Base architecture and energy table.
    arch_path = data.get("arch")
    if arch_path is None:
        base_arch = load_arch(None)
    else:
        # A shipped name or a YAML path (relative to the spec), or a list of them merged in
        # order (later ones override earlier ones).
        arch_list = arch_path if isinstance(arch_path, list) else [arch_path]
        if not arch_list or not all(isinstance(a, str) and a for a in arch_list):
            raise ConfigError(f"{where}:arch: must be an architecture name or YAML path, or a "
                              f"non-empty list of them")
        try:
            base_arch = load_arch([a if looks_like_arch_name(a) and not (base / a).is_file()
                                   else _resolve_path(a, base) for a in arch_list])
        except ScnnSimError as exc:
            raise ConfigError(f"{where}:arch: {exc}") from None
    energy = data.get("energy")
    energy_path: str | None = None
    if energy is not None:
        if not isinstance(energy, str):
            raise ConfigError(f"{where}:energy: must be a table name or a YAML path")
        from scnn_sim.energy import builtin_tables, load_energy_table

        energy_path = energy if energy in builtin_tables() else str(_resolve_path(energy, base))
        try:
            load_energy_table(energy_path)
        except ScnnSimError as exc:
            raise ConfigError(f"{where}:energy: {exc}") from None

    # Workloads and layers.
    workloads = _nonempty_list(data, "workloads", where, None)
    resolved: dict[str, tuple[str, list[str] | None]] = {}
    for i, w in enumerate(workloads):
        resolved[w] = _resolve_workload(w, f"{where}:workloads[{i}]", base)
    layers_of = _parse_layers(data.get("layers"), resolved, where)

    # Axes.
    fields = set(arch_fields())
    vary = data.get("vary", {}) or {}
    if not isinstance(vary, Mapping):
        raise ConfigError(f"{where}:vary: must be a mapping of architecture paths to lists")
    for key in vary:
        if key not in fields:
            raise ConfigError(f"{where}:vary.{key}: unknown architecture parameter "
                              f"(see scnn_sim.arch.arch_fields(), e.g. pe_array.rows)")
        _nonempty_list(vary, key, where, None, shown=f"vary.{key}")
    grans = [_check_granularity(g, f"{where}:granularities[{i}]")
             for i, g in enumerate(_nonempty_list(data, "granularities", where, [None]))]
    dens = [_check_density(d, f"{where}:densities[{i}]")
            for i, d in enumerate(_nonempty_list(data, "densities", where, [None]))]
    seeds = [_check_seed(s, f"{where}:seeds[{i}]")
             for i, s in enumerate(_nonempty_list(data, "seeds", where, [0]))]

    # Configurations: (label, arch overrides, per-entry axis replacements, where).
    configs: list[tuple[str | None, dict[str, Any], dict[str, Any], str]] = []
    if mode == "list":
        entries = _nonempty_list(data, "points", where, None) if "points" in data else None
        if entries is None:
            raise ConfigError(f"{where}:points: mode list needs a non-empty 'points' list")
        for j, entry in enumerate(entries):
            w = f"{where}:points[{j}]"
            if not isinstance(entry, Mapping) or not entry:
                raise ConfigError(f"{w}: must be a non-empty mapping of architecture paths "
                                  f"(and optionally {', '.join(POINT_KEYS)})")
            over, axes, label = {}, {}, None
            for key, value in entry.items():
                if key == "label":
                    if not isinstance(value, str):
                        raise ConfigError(f"{w}.label: must be text, got {value!r}")
                    label = value
                elif key == "workload":
                    if value not in resolved:
                        raise ConfigError(f"{w}.workload: {value!r} is not one of workloads")
                    axes["workload"] = [value]
                elif key == "granularity":
                    axes["granularity"] = [_check_granularity(value, f"{w}.granularity")]
                elif key == "density":
                    axes["density"] = [_check_density(value, f"{w}.density")]
                elif key == "seed":
                    axes["seed"] = [_check_seed(value, f"{w}.seed")]
                elif key in fields:
                    if key in vary:
                        raise ConfigError(f"{w}.{key}: also under vary; give it in one place")
                    over[key] = value
                else:
                    raise ConfigError(f"{w}.{key}: unknown key (an architecture path from "
                                      f"scnn_sim.arch.arch_fields() or one of "
                                      f"{', '.join(POINT_KEYS)})")
            configs.append((label, over, axes, w))
    else:
        if "points" in data:
            raise ConfigError(f"{where}:points: only with mode: list")
        configs.append((None, {}, {}, where))

    vary_keys = list(vary)
    arch_cache: dict[str, dict[str, Any]] = {}
    points: list[SweepPoint] = []
    arch_checked: set[tuple[str, str]] = set()
    seen: dict[str, str] = {}
    for wname in workloads:
        for label, over, axes, w in configs:
            for combo in itertools.product(*(vary[k] for k in vary_keys)):
                overrides = {**over, **dict(zip(vary_keys, combo, strict=True))}
                arch = _build_arch(base_arch, overrides, arch_cache, w, vary_keys)
                for g, d, s in itertools.product(axes.get("granularity", grans),
                                                 axes.get("density", dens),
                                                 axes.get("seed", seeds)):
                    if wname not in axes.get("workload", [wname]):
                        continue
                    _check_reachable(g, d, w)
                    pt = SweepPoint(
                        workload=wname, workload_path=resolved[wname][0],
                        layers=layers_of.get(wname), overrides=tuple(sorted(overrides.items())),
                        arch=arch, label=label, granularity=g, density=d, seed=s,
                        energy=energy, energy_path=energy_path, options=opts)
                    _check_point_layers(pt, arch_checked, w)
                    pid = pt.point_id
                    here = f"{w} (workload {wname}, granularity {g}, density {d}, seed {s})"
                    if pid in seen:
                        raise ConfigError(f"{w}: duplicate point: {here} is the same "
                                          f"simulation as {seen[pid]}")
                    seen[pid] = here
                    points.append(pt)
    varied = list(dict.fromkeys([*vary_keys, *(k for _, o, _, _ in configs for k in o)]))
    return SweepSpec(source=where, name=name, data=dict(data), point_list=points, varied=varied)


def _build_arch(base: ArchConfig, overrides: dict[str, Any], cache: dict[str, dict[str, Any]],
                where: str, vary_keys: Sequence[str]) -> dict[str, Any]:
    key = _canon(overrides)
    if key not in cache:
        try:
            cfg = base.replace(**overrides) if overrides else base
        except ConfigError as exc:
            msg = str(exc).removeprefix("<override>:")
            shown = ", ".join(f"{k}={v!r}" for k, v in overrides.items() if k in vary_keys)
            prefix = f"{where}:vary ({shown})" if shown else where
            raise ConfigError(f"{prefix}: impossible architecture: {msg}") from None
        cache[key] = cfg.to_dict()
    return cache[key]
