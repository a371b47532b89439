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
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.inputs.arch import (
    ArchConfig,
    arch_field_types,
    arch_from_dict,
    load_arch,
    looks_like_arch_name,
)
from scnn_sim.inputs.filekind import refuse_other_kind
from scnn_sim.inputs.options import OPTION_DEFAULTS, OPTION_TYPES
from scnn_sim.inputs.readers import as_path, read_text
from scnn_sim.inputs.validation import Fraction, NonEmptyStr, NonNegativeInt, convert
from scnn_sim.inputs.yamlio import parse_yaml
from scnn_sim.sweep.checks import (
    _SHAPES,
    _canon,
    _check_granularity,
    _check_reachable,
    _parse_layers,
    _resolve_path,
    _resolve_workload,
    _unique,
)

# ----------------------------------------------------------------------------- declared model
# The spec YAML, declared once: validation, defaults and the JSON Schema (scnn-sim schema
# sweep) come from these classes. 'vary' and 'points' take the architecture's own declared
# types (arch_field_types), so a varied value is checked as the architecture checks it. Code
# after the model resolves names and paths, refuses duplicates and builds every point.


def _arch_paths(name: str, doc: str, value: Any, extra: list[tuple[str, Any]]) -> type:
    """A Struct with one optional key per architecture path (``value(type)`` its type)."""
    paths = {p.replace(".", "__"): p for p in arch_field_types()}
    fields = [(n, t | UnsetType, UNSET) for n, t in extra]
    fields += [(py, value(arch_field_types()[path]) | UnsetType, UNSET)
               for py, path in paths.items()]
    cls = msgspec.defstruct(name, fields, rename=paths, module=__name__, kw_only=True,
                            forbid_unknown_fields=True, frozen=True)
    cls.__doc__ = doc
    return cls


_Unique = Meta(min_length=1, extra_json_schema={"uniqueItems": True})

LayerNames = Annotated[list[NonEmptyStr], _Unique]

# VaryModel, PointModel and the _Option_* types are made at import (from the architecture's
# fields and from SimOptions): the type checker sees them as Any.
if TYPE_CHECKING:
    VaryModel = Any
    PointModel = Any
    _Option_count_merges = Any
    _Option_weight_format = Any
    _Option_clustered = Any
    _Option_pointwise_group = Any
else:
    VaryModel = _arch_paths(
        "VaryModel", "Architecture paths (scnn_sim.inputs.arch.arch_fields()) -> the values to "
        "try.", lambda t: Annotated[list[t], _Unique], [])

    PointModel = _arch_paths(
        "PointModel", "One configuration of mode: list: architecture paths, and optionally a "
        "label and values that replace an axis for this entry.", lambda t: t,
        [("label", str), ("workload", NonEmptyStr), ("granularity", NonEmptyStr | None),
         ("density", Fraction | None), ("seed", NonNegativeInt)])

    # The simulation options a spec may set, typed as SimOptions declares them.
    _Option_count_merges = OPTION_TYPES["count_merges"]
    _Option_weight_format = OPTION_TYPES["weight_format"]
    _Option_clustered = OPTION_TYPES["clustered"]
    _Option_pointwise_group = OPTION_TYPES["pointwise_group"]


class SweepSpecModel(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A design-space sweep (scnn-sim sweep SPEC): workloads x architectures x granularities x
    densities x seeds. Relative paths are relative to the spec file."""

    workloads: Annotated[list[NonEmptyStr], Meta(
        min_length=1, extra_json_schema={"uniqueItems": True},
        description="built-in names, workload .yaml, exported .h5 or .npz paths")]
    name: Annotated[str | None, Meta(description="default: the file stem")] = None
    description: str | None = None
    arch: Annotated[NonEmptyStr | Annotated[list[NonEmptyStr], Meta(min_length=1)] | None, Meta(
        description="base architecture: a shipped name or a YAML path, or a list of them "
                    "merged in order (default: SCNN's Table 3)")] = None
    energy: Annotated[NonEmptyStr | None, Meta(
        description="energy table: a shipped name or a YAML path (default: the default "
                    "table)")] = None
    vary: VaryModel | None = None
    granularities: Annotated[list[NonEmptyStr | None], Meta(
        min_length=1, extra_json_schema={"uniqueItems": True, "default": [None]},
        description="fine, vector, kernel, filter, channel, block:AxBxCxD or nm:N:M; null: "
                    "the workload's default")] = msgspec.field(default_factory=lambda: [None])
    densities: Annotated[list[Fraction | None], Meta(
        min_length=1, extra_json_schema={"uniqueItems": True, "default": [None]},
        description="weight density of every layer; null: each layer's own")] = msgspec.field(
        default_factory=lambda: [None])
    seeds: Annotated[list[NonNegativeInt], Meta(
        min_length=1, extra_json_schema={"uniqueItems": True, "default": [0]},
        description="seeds of the synthetic tensors")] = msgspec.field(
        default_factory=lambda: [0])
    layers: Annotated[LayerNames | dict[str, LayerNames] | None, Meta(
        description="conv layers to simulate: one list for every workload, or workload (as "
                    "written in workloads) -> list")] = None
    mode: Annotated[Literal["product", "list"], Meta(
        description="product: the cartesian product of every axis; list: points gives the "
                    "configurations, each crossed with the other axes")] = "product"
    points: Annotated[Annotated[list[PointModel], Meta(min_length=1)] | None, Meta(
        description="mode list only: one entry per configuration")] = None
    # Simulation options: declared once, in SimOptions (type, allowed values, default, help).
    count_merges: _Option_count_merges = OPTION_DEFAULTS["count_merges"]
    weight_format: _Option_weight_format = OPTION_DEFAULTS["weight_format"]
    clustered: _Option_clustered = OPTION_DEFAULTS["clustered"]
    pointwise_group: _Option_pointwise_group = OPTION_DEFAULTS["pointwise_group"]


#: The options of a sweep point, at the value that a point id leaves out: SimOptions'
#: defaults, except ``weight_format``, left out when ``scnn`` (its default before ``group``
#: became it), so the ids of existing stores stay valid.
POINT_ID_DEFAULTS = {**{k: OPTION_DEFAULTS[k] for k in ("count_merges", "weight_format",
                                                         "clustered", "pointwise_group")},
                     "weight_format": "scnn"}

#: Keys of a spec and of an entry of ``points`` besides the architecture paths.
SPEC_KEYS = tuple(f.encode_name for f in msgspec.structs.fields(SweepSpecModel))
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
    from scnn_sim.workload.shapes import builtin_dir

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
    from scnn_sim.workload.shapes import builtin_dir

    p = as_path(name_or_path, "sweep spec", ConfigError)
    text = str(p)
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
    refuse_other_kind(p, shown, "sweep", ConfigError)
    text = read_text(p, ConfigError, "sweep spec")  # the reader policy
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
    from scnn_sim.inputs.limits import check_layer_memory, check_mapping_sane

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
    spec = convert(data, SweepSpecModel, where, what="the spec")
    name = spec.name or Path(where).stem

    # Simulation options (a value at its point-id default stays out of the point id).
    options = {k: getattr(spec, k) for k, default in POINT_ID_DEFAULTS.items()
               if getattr(spec, k) != default}
    opts = tuple(sorted(options.items()))

    base_arch, energy, energy_path = _base_arch_and_energy(spec, where, base)

    # Workloads and layers.
    workloads = _unique(spec.workloads, where, "workloads")
    resolved: dict[str, tuple[str, list[str] | None]] = {}
    for i, w in enumerate(workloads):
        resolved[w] = _resolve_workload(w, f"{where}:workloads[{i}]", base)
    layers_of = _parse_layers(spec.layers, resolved, where)

    # Axes. Architecture values are taken as written (the model has checked them): the
    # point id hashes the resolved architecture, the results table shows these.
    vary = dict(data.get("vary") or {})
    for key, values in vary.items():
        _unique(values, where, f"vary.{key}")
    grans = [_check_granularity(g, f"{where}:granularities[{i}]")
             for i, g in enumerate(_unique(spec.granularities, where, "granularities"))]
    dens = _unique(spec.densities, where, "densities")
    seeds = _unique(spec.seeds, where, "seeds")

    configs = _configs(spec, data, resolved, vary, where)

    vary_keys = list(vary)
    points = _expand(workloads, configs, vary, vary_keys, base_arch, resolved, layers_of,
                     (grans, dens, seeds), energy, energy_path, opts)
    varied = list(dict.fromkeys([*vary_keys, *(k for _, o, _, _ in configs for k in o)]))
    return SweepSpec(source=where, name=name, data=dict(data), point_list=points, varied=varied)


def _expand(workloads: list[str], configs: list[tuple[str | None, dict[str, Any],
                                                      dict[str, Any], str]],
            vary: dict[str, Any], vary_keys: list[str], base_arch: ArchConfig,
            resolved: dict[str, Any], layers_of: dict[str, Any],
            axes_values: tuple[list[Any], list[Any], list[Any]], energy: str | None,
            energy_path: str | None, opts: tuple[tuple[str, Any], ...]) -> list[SweepPoint]:
    """Every point: workloads x configurations x varied values x granularities x densities
    x seeds; an impossible or duplicate point is refused."""
    grans, dens, seeds = axes_values
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
    return points


def _base_arch_and_energy(spec: SweepSpecModel, where: str, base: Path
                          ) -> tuple[ArchConfig, str | None, str | None]:
    """The spec's base architecture, its energy table as written and the path to load."""
    if spec.arch is None:
        base_arch = load_arch(None)
    else:
        # A shipped name or a YAML path (relative to the spec), or a list of them merged in
        # order (later ones override earlier ones).
        arch_list = [spec.arch] if isinstance(spec.arch, str) else spec.arch
        try:
            base_arch = load_arch([a if looks_like_arch_name(a) and not (base / a).is_file()
                                   else _resolve_path(a, base) for a in arch_list])
        except ScnnSimError as exc:
            raise ConfigError(f"{where}:arch: {exc}") from None
    energy = spec.energy
    energy_path: str | None = None
    if energy is not None:
        from scnn_sim.pricing.energy import builtin_tables, load_energy_table

        energy_path = energy if energy in builtin_tables() else str(_resolve_path(energy, base))
        try:
            load_energy_table(energy_path)
        except ScnnSimError as exc:
            raise ConfigError(f"{where}:energy: {exc}") from None
    return base_arch, energy, energy_path


def _configs(spec: SweepSpecModel, data: Any, resolved: dict[str, Any], vary: dict[str, Any],
             where: str) -> list[tuple[str | None, dict[str, Any], dict[str, Any], str]]:
    """The configurations: (label, arch overrides, per-entry axis replacements, where)."""
    configs: list[tuple[str | None, dict[str, Any], dict[str, Any], str]] = []
    if spec.mode == "list":
        if spec.points is None:
            raise ConfigError(f"{where}:points: mode list needs a non-empty 'points' list")
        for j, (entry, model) in enumerate(zip(_unique(data["points"], where, "points"),
                                               spec.points, strict=True)):
            w = f"{where}:points[{j}]"
            if not entry:
                raise ConfigError(f"{w}: must be a non-empty mapping of architecture paths "
                                  f"(and optionally {', '.join(POINT_KEYS)})")
            over, axes = {}, {}
            for key, value in entry.items():
                if key == "workload":
                    if value not in resolved:
                        raise ConfigError(f"{w}.workload: {value!r} is not one of workloads")
                    axes["workload"] = [value]
                elif key == "granularity":
                    axes["granularity"] = [_check_granularity(value, f"{w}.granularity")]
                elif key in ("density", "seed"):
                    axes[key] = [getattr(model, key)]
                elif key != "label":  # an architecture path: the model allows no other key
                    if key in vary:
                        raise ConfigError(f"{w}.{key}: also under vary; give it in one place")
                    over[key] = value
            configs.append((entry.get("label"), over, axes, w))
    else:
        if spec.points is not None:
            raise ConfigError(f"{where}:points: only with mode: list")
        configs.append((None, {}, {}, where))
    return configs


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
