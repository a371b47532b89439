"""Design-space sweeps: a YAML spec -> points -> parallel simulation -> one crash-safe store.

Spec (YAML; relative paths are relative to the spec file)
---------------------------------------------------------
============== ====================================================================================
``workloads``  required list: built-in names, workload ``.yaml``, exported ``.h5`` or ``.npz`` paths
``arch``       optional base architecture: a shipped name (``dnnsim``) or a YAML path, or a
               list of them merged in order (default: SCNN's Table 3)
``energy``     optional energy table name or YAML (default ``horowitz45``)
``vary``       mapping of dotted architecture paths (:func:`scnn_sim.arch.arch_fields`) to lists
``granularities`` list of granularity specs; ``null`` = the workload's default (default ``[null]``)
``densities``  list of weight densities in [0, 1]; ``null`` = each layer's own (default ``[null]``)
``seeds``      list of seeds (default ``[0]``)
``layers``     optional: a list of conv layer names (every workload), or a mapping from a
               workload (as written in ``workloads``) to its list
``mode``       ``product`` (default): the cartesian product of every axis. ``list``: ``points``
               gives explicit configurations, each crossed with the other axes
``points``     (``mode: list``) list of mappings: dotted architecture paths, plus optionally
               ``label``, ``workload``, ``granularity``, ``density``, ``seed`` (which then
               replace that axis for this entry)
``count_merges``, ``weight_format``, ``clustered``, ``pointwise_group``
               passed to :func:`scnn_sim.simulate` for every point
``name``, ``description``  free text
============== ====================================================================================

Everything is validated on load, before anything runs: every error is one line
``file:field: problem``. The architecture of every point is built, so a point whose
configuration is impossible is refused up front; a point that only fails while simulating (a
layer that cannot be mapped) is recorded with ``status="error"`` and the sweep goes on.

Each point is (workload, layers, full architecture, energy table, granularity, density, seed,
simulation options). Its id is the first 16 hex digits of the SHA-256 of the canonical JSON of
those fields (the *resolved* architecture, so editing the base YAML gives new points).

Execution
---------
Points go to ``workers`` spawned processes (``concurrent.futures.ProcessPoolExecutor``; a
script calling :func:`run_sweep` needs ``if __name__ == "__main__":``), to this process
(``workers=1``), or to a ``dask.distributed`` scheduler (``scheduler="tcp://..."``; workload,
arch and energy paths must be readable by its workers). At most 2 x workers points are in
flight, so memory does not grow with the sweep. Every point runs the same
:func:`run_point`, so the results do not depend on where it ran. A worker process that dies
fails the points in flight; each is retried once on a fresh pool. Ctrl-C or SIGTERM stops
the sweep: points not yet written are simply absent and run on the next invocation. The point
id hashes a workload's *name or path*, not the file's content.

Results store (SQLite, format ``scnn-sim-sweep`` version 2)
----------------------------------------------------------
One SQLite database (by convention ``RESULTS.sqlite``) in WAL mode, ``PRAGMA application_id``
= :data:`APPLICATION_ID`, ``PRAGMA user_version`` = :data:`FORMAT_VERSION`, and tables:

* ``meta(key, value)``: ``format``, ``format_version``, ``created_at``, ``scnn_sim_version``
  (of the last writer), ``spec_json`` (the last spec run into the store).
* ``points``: one row per committed point: ``seq`` (commit order), ``point_id``,
  ``point_index``, ``status`` (``ok`` / ``error``), ``error``, ``params_json`` (the point's
  parameters, :attr:`SweepPoint.key`), ``n_rows``, ``finished_at``.
* ``rows(point_id, idx, data)``: the point's rows of the results table, each a JSON object.

The table :func:`load_sweep_results` returns has one row per (point, layer) plus a ``total``
row per point (column ``layer``), in commit order. Config columns come first: ``point_id``,
``point_index`` (position in the spec that ran it, for display order), ``workload``,
``label``, ``pe_config`` (e.g. ``64x(4x4)``: PEs x (F x I)), ``granularity``, ``density``
(as requested; each layer's achieved density is ``weight_density``), ``seed``, ``energy``,
``arch.<path>`` for every varied parameter, ``arch_json`` (the full architecture),
``status``, ``error``, ``elapsed_s``, ``finished_at`` (Unix time), ``host``,
``scnn_sim_version``, ``layer``; then the metrics: the keys of
:meth:`scnn_sim.results.SimulationResult.flat_rows` (``cycles``, ``energy_pj.total``, ...)
and the point's area ``area_mm2.*`` (``area_mm2.total``, ``area_mm2.per_pe.total``, ...).
Numeric columns are ``float64`` (``NaN`` = missing; booleans 0/1), text columns ``str``
(lists and dicts as JSON). A failed point has one row, ``layer="total"``, with its error.

:func:`export_sweep` (``scnn-sim sweep ... --export FILE.h5|.csv``) writes that table to CSV
or to the HDF5 layout of format version 1 (group ``/rows``, one dataset per column, attribute
``n_committed``), which :func:`load_sweep_results` and ``scnn-sim plot`` also read.

Atomicity and resume
--------------------
Only the parent process writes, over one connection held for the run. Each finished point is
one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): its ``points`` row and all its table
rows, so a kill at any instant (``kill -9`` included) leaves a store the next run opens with
every committed point intact and no part of the point being written (SQLite's write-ahead
log is replayed on open). ``synchronous = NORMAL``: a power cut may lose the last commits,
never consistency. A new store is built under a temporary name and renamed into place. A
sidecar ``RESULTS.sqlite.lock`` (``flock``) refuses a second sweep writing the same store.

Opening checks the file before using it: SQLite header (a truncated file is refused at once),
``application_id``, the ``meta`` table's format and version, and ``PRAGMA quick_check``; a
foreign, HDF5, truncated or corrupt file gets one line and is never modified.

Re-running the same sweep (or a larger spec into the same store) resumes: points committed
with ``status="ok"`` are skipped. Points recorded as ``error`` are retried; the new result
replaces the old record in the same transaction, so the store holds every point at most once.
Worker processes die with the sweep (``PR_SET_PDEATHSIG`` on Linux, plus a parent-pid
watchdog thread), so a killed sweep leaves no orphaned workers behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim import __version__
from scnn_sim.arch import (
    ArchConfig,
    arch_fields,
    arch_from_dict,
    load_arch,
    looks_like_arch_name,
)
from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.provenance import DEFAULT_WEIGHT_FORMAT, WEIGHT_FORMATS
from scnn_sim.yamlio import parse_yaml

FORMAT = "scnn-sim-sweep"
FORMAT_VERSION = 2

SPEC_KEYS = ("name", "description", "workloads", "arch", "energy", "vary", "granularities",
             "densities", "seeds", "layers", "mode", "points", "count_merges", "weight_format",
             "clustered", "pointwise_group")
POINT_KEYS = ("label", "workload", "granularity", "density", "seed")
H5_SUFFIXES = (".h5", ".hdf5")

__all__ = ["SweepPoint", "SweepSpec", "SweepSummary", "SweepStore", "load_spec",
           "spec_from_dict", "run_sweep", "run_point", "load_sweep_results", "load_sweep",
           "read_sweep_columns", "export_sweep", "pe_config_label", "FORMAT",
           "FORMAT_VERSION"]


# --------------------------------------------------------------------------------------------
# Spec


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


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


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _nonempty_list(data: Mapping[str, Any], key: str, where: str, default: list | None,
                   shown: str | None = None) -> list:
    shown = shown or key
    if key not in data:
        if default is None:
            raise ConfigError(f"{where}:{shown}: missing (a non-empty list)")
        return default
    v = data[key]
    if not isinstance(v, list):
        raise ConfigError(f"{where}:{shown}: must be a list, got {type(v).__name__}")
    if not v:
        raise ConfigError(f"{where}:{shown}: empty list (give at least one value)")
    seen: dict[str, int] = {}
    for i, item in enumerate(v):
        try:
            c = _canon(item)
        except TypeError:
            c = repr(item)
        if c in seen:
            raise ConfigError(f"{where}:{shown}[{i}]: duplicate of {shown}[{seen[c]}] "
                              f"({item!r})")
        seen[c] = i
    return v


def _check_granularity(v: Any, where: str) -> str | None:
    if v is None:
        return None
    from scnn_sim.sparsity import parse_granularity

    try:
        return parse_granularity(v).spec
    except ScnnSimError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_density(v: Any, where: str) -> float | None:
    if v is None:
        return None
    if not _is_real(v) or not math.isfinite(float(v)) or not 0.0 <= float(v) <= 1.0:
        raise ConfigError(f"{where}: must be a number in [0, 1] or null, got {v!r}")
    return float(v)


def _check_seed(v: Any, where: str) -> int:
    if not _is_int(v) or v < 0:
        raise ConfigError(f"{where}: must be a non-negative integer, got {v!r}")
    return int(v)


def _resolve_path(value: str, base_dir: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base_dir / p


def _resolve_workload(name: Any, where: str, base_dir: Path) -> tuple[str, list[str] | None]:
    """(path or name to simulate, conv layer names or None when unknown)."""
    from scnn_sim.workload import builtin_names, load_workload

    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: must be a workload name or a .yaml/.h5/.npz path, "
                          f"got {name!r}")
    if Path(name).suffix.lower() in H5_SUFFIXES:
        path = _resolve_path(name, base_dir)
        if not path.is_file():
            raise ConfigError(f"{where}: no such exported-layer file {str(path)!r}")
        try:
            from scnn_sim.h5io import read_attrs

            names = list(read_attrs(path)["layers"])
        except ImportError:  # pragma: no cover - h5io ships with scnn-sim
            names = None
        except ScnnSimError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return str(path), names
    if Path(name).suffix.lower() == ".npz":
        from scnn_sim.npzio import read_npz_layer

        path = _resolve_path(name, base_dir)
        try:
            wl, _ = read_npz_layer(path)  # validated now, before any point runs
        except ScnnSimError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return str(path), [wl.layers[0].name]
    path = _resolve_path(name, base_dir)
    looks_like_path = ("/" in name or os.sep in name
                       or Path(name).suffix.lower() in (".yaml", ".yml") or path.exists())
    if name.lower() in builtin_names() or not looks_like_path:
        target = name  # a built-in name (load_workload lists them when unknown)
    else:
        target = str(path)
    try:
        wl = load_workload(target)
    except ScnnSimError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    _SHAPES[target] = list(wl.conv_layers)
    return target, [lay.name for lay in wl.conv_layers]


#: Conv layer shapes of the YAML / built-in workloads resolved by the last spec load.
_SHAPES: dict[str, list[Any]] = {}


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
        The spec mapping (see the module docstring).
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


def _check_reachable(granularity: str | None, density: float | None, where: str) -> None:
    """A granularity that fixes the density (``nm:N:M``) crossed with another density."""
    from scnn_sim.limits import check_fixed_density

    try:
        check_fixed_density(granularity, density)
    except ScnnSimError as exc:
        msg = str(exc).replace("--density", "density", 1)
        raise ConfigError(f"{where}: {msg} (granularities x densities)") from None


def _parse_layers(value: Any, resolved: Mapping[str, tuple[str, list[str] | None]],
                  where: str) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if isinstance(value, list):
        per = {w: value for w in resolved}
        label = lambda w: "layers"  # noqa: E731
    elif isinstance(value, Mapping):
        for w in value:
            if w not in resolved:
                raise ConfigError(f"{where}:layers.{w}: not one of workloads")
        per = dict(value)
        label = lambda w: f"layers.{w}"  # noqa: E731
    else:
        raise ConfigError(f"{where}:layers: must be a list of layer names or a mapping from "
                          f"workload to such a list")
    out: dict[str, tuple[str, ...]] = {}
    for w, names in per.items():
        if not isinstance(names, list) or not names:
            raise ConfigError(f"{where}:{label(w)}: must be a non-empty list of layer names")
        known = resolved[w][1]
        for i, n in enumerate(names):
            if not isinstance(n, str):
                raise ConfigError(f"{where}:{label(w)}[{i}]: must be a layer name, got {n!r}")
            if known is not None and n not in known:
                raise ConfigError(f"{where}:{label(w)}[{i}]: workload {w} has no conv layer "
                                  f"{n!r}")
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}:{label(w)}: duplicate layer names")
        out[w] = tuple(names)
    return out


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


# --------------------------------------------------------------------------------------------
# Per-point work (runs in a worker process, a dask worker, or in-process)


def run_point(task: Mapping[str, Any]) -> dict[str, Any]:
    """Simulate one point; never raises for a failing simulation.

    Parameters
    ----------
    task
        :meth:`SweepPoint.task` of the point.

    Returns
    -------
    dict
        ``point_id``, ``status`` (``ok`` / ``error``), ``error`` (message or ``""``),
        ``rows`` (:meth:`~scnn_sim.results.SimulationResult.flat_rows`; empty on error),
        ``granularity`` (as simulated), ``elapsed_s``, ``host``.
    """
    t0 = time.perf_counter()
    out: dict[str, Any] = {"point_id": task["point_id"], "rows": [], "error": "",
                           "granularity": task.get("granularity"),
                           "host": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        from scnn_sim.results import flatten
        from scnn_sim.simulation import simulate

        result = simulate(
            task["workload"], arch=arch_from_dict(task["arch"], where="<sweep point>"),
            energy=task.get("energy"), granularity=task.get("granularity"),
            density=task.get("density"), seed=task.get("seed", 0),
            count_merges=task.get("count_merges"), clustered=task.get("clustered", 0.0),
            pointwise_group=task.get("pointwise_group", 1), layers=task.get("layers"),
            # options omit weight_format only when it is scnn (see spec_from_dict)
            weight_format=task.get("weight_format", "scnn"), progress=False)
        # The configuration's area (scnn_sim.area) is a metric of every row of the point.
        area = flatten({"area_mm2": result.meta["area_mm2"]})
        out["rows"] = [{**r, **area} for r in result.flat_rows()]
        out["granularity"] = result.meta.get("granularity")
        out["status"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a failing point is data, not a crash
        interrupt = _interrupt_in_chain(exc)
        if interrupt is not None:
            # Ctrl-C / SIGTERM inside compiled code surfaces as a SystemError whose cause is
            # the KeyboardInterrupt: an interruption, not a failing point.
            raise interrupt from None
        out["status"] = "error"
        out["error"] = str(exc) if isinstance(exc, ScnnSimError) \
            else f"{type(exc).__name__}: {exc}"
    out["elapsed_s"] = time.perf_counter() - t0
    return out


def _interrupt_in_chain(exc: BaseException) -> BaseException | None:
    """The KeyboardInterrupt / SystemExit an exception was raised from, if any."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if not isinstance(node, Exception):
            return node
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return None


def _point_rows(pt: SweepPoint, res: Mapping[str, Any], index: int | None = None
                ) -> list[dict[str, Any]]:
    """Rows of the results table for one finished point (config columns first)."""
    config: dict[str, Any] = {
        "point_id": pt.point_id,
        "point_index": index,
        "workload": pt.workload,
        "label": pt.label or "",
        "pe_config": pe_config_label(pt.arch),
        "granularity": res.get("granularity") or pt.granularity or "",
        "density": pt.density,
        "seed": pt.seed,
        "energy": pt.energy or "",
    }
    for key, value in pt.overrides:
        config[f"arch.{key}"] = value
    config.update({
        "arch_json": _canon(pt.arch),
        "status": res["status"],
        "error": res.get("error", ""),
        "elapsed_s": res.get("elapsed_s"),
        "finished_at": time.time(),
        "host": res.get("host", ""),
        "scnn_sim_version": __version__,
    })
    if res["status"] != "ok" or not res.get("rows"):
        return [{**config, "layer": "total"}]
    rows = []
    for r in res["rows"]:
        metrics = {k: v for k, v in r.items() if k != "name"}
        rows.append({**config, "layer": r["name"], **metrics})
    return rows


# --------------------------------------------------------------------------------------------
# The results file


_STR = "str"
_NUM = "num"


def _kind_of(values: Sequence[Any]) -> str:
    """Text if any value is text, a list or a dict; else numeric (also when all are None)."""
    for v in values:
        if isinstance(v, (str, list, tuple, dict)):
            return _STR
    return _NUM


def _to_num(v: Any) -> float:
    if v is None:
        return math.nan
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if _is_real(v):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _to_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return str(v)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back for the duration (main thread only), then act on them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.getsignal(sig)
        signal.signal(sig, lambda s, _f: received.append(s))
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in received[:1]:
            signal.raise_signal(sig)


#: SQLite ``PRAGMA application_id`` of a sweep store (ASCII ``"SCSW"``).
APPLICATION_ID = 0x53435357
SQLITE_MAGIC = b"SQLite format 3\x00"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: HDF5 export layout (also the results file of scnn-sim before the SQLite store; still read).
H5_FORMAT_VERSION = 1
#: Suffixes refused for the store itself (they name export formats).
EXPORT_SUFFIXES = (".h5", ".hdf5", ".csv")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE points (
    seq INTEGER PRIMARY KEY,            -- commit order
    point_id TEXT NOT NULL UNIQUE,
    point_index INTEGER,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error TEXT NOT NULL,
    params_json TEXT NOT NULL,          -- SweepPoint.key: what the point id hashes
    n_rows INTEGER NOT NULL,
    finished_at REAL NOT NULL
);
CREATE TABLE rows (
    point_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    data TEXT NOT NULL,                 -- one row of the table as a JSON object
    PRIMARY KEY (point_id, idx)
);
"""


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _sniff(path: Path) -> str:
    """``"sqlite"``, ``"hdf5"``, ``"empty"`` or ``"other"`` from the file's first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return "empty"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    return "other"


def _check_sqlite_header(path: Path) -> None:
    """Refuse a truncated database file from its 100-byte header, before SQLite reads it."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100:
        raise ScnnSimError(f"{path}: truncated sweep store ({size} bytes, shorter than an "
                           f"SQLite header)")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise ScnnSimError(f"{path}: corrupt sweep store (bad SQLite page size {page})")
    n_pages = int.from_bytes(head[28:32], "big")
    valid = head[24:28] == head[92:96] and n_pages > 0
    if size % page or (valid and size < n_pages * page):
        raise ScnnSimError(f"{path}: truncated sweep store ({size} bytes; the header declares "
                           f"{n_pages} pages of {page} bytes)")


class SweepStore:
    """The crash-safe results store of a sweep: one SQLite database in WAL mode.

    Every finished point is one transaction (its ``points`` row: id, parameters, status and
    error, plus its per-layer and total rows), so a kill at any instant leaves the committed
    points intact and no part of the point being written. See the module docstring.

    Parameters
    ----------
    path
        The store file (``.sqlite`` by convention); created on first :meth:`ensure`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._db: Any = None

    # -- opening ---------------------------------------------------------------------------

    def _connect(self):
        import sqlite3

        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        # WAL + NORMAL: a killed process never loses or tears a committed transaction (a
        # power cut may lose the last few commits, never consistency).
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _open(self):
        """A checked connection to an existing store (raises one line otherwise)."""
        import sqlite3

        p = self.path
        if p.exists() and not p.is_file():
            raise ScnnSimError(f"{p}: not a file (a sweep store is one SQLite file)")
        if not p.is_file():
            raise ScnnSimError(f"{p}: no such sweep results file")
        try:
            kind = _sniff(p)
        except OSError as exc:
            raise ScnnSimError(f"{p}: cannot read sweep store ({exc.strerror or exc})") from None
        if kind == "hdf5":
            raise ScnnSimError(f"{p}: an HDF5 file, not a sweep store (the store is an SQLite "
                               f"file; HDF5 is an export format: --export FILE.h5)")
        if kind == "empty":
            raise ScnnSimError(f"{p}: empty file, not a sweep store")
        if kind != "sqlite":
            raise ScnnSimError(f"{p}: not an scnn-sim sweep store (not an SQLite database)")
        _check_sqlite_header(p)
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise ScnnSimError(f"{p}: cannot open sweep store ({exc})") from None
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            if app != APPLICATION_ID:
                raise ScnnSimError(f"{p}: an SQLite database of another application "
                                   f"(application_id {app:#x}), not an scnn-sim sweep store")
            uv = conn.execute("PRAGMA user_version").fetchone()[0]
            if uv > FORMAT_VERSION:
                raise ScnnSimError(f"{p}: sweep store format version {uv} is newer than this "
                                   f"scnn-sim reads ({FORMAT_VERSION})")
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                first = " ".join(problems[0].split())
                raise ScnnSimError(f"{p}: corrupt sweep store (sqlite quick_check: {first}"
                                   f"{'; ...' if len(problems) > 1 else ''})")
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "points", "rows"} <= tables:
                raise ScnnSimError(f"{p}: not an scnn-sim sweep store (tables "
                                   f"{sorted(tables)})")
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            if meta.get("format") != FORMAT:
                raise ScnnSimError(f"{p}: not an scnn-sim sweep store (format "
                                   f"{meta.get('format')!r})")
            ver = int(meta.get("format_version", "0"))
            if ver > FORMAT_VERSION:
                raise ScnnSimError(f"{p}: sweep store format version {ver} is newer than this "
                                   f"scnn-sim reads ({FORMAT_VERSION})")
        except ScnnSimError:
            conn.close()
            raise
        except (sqlite3.Error, ValueError) as exc:
            conn.close()
            raise ScnnSimError(f"{p}: corrupt sweep store ({_one_line(exc)})") from None
        return conn

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        import sqlite3

        own = self._db is None
        conn = self._open() if own else self._db
        try:
            yield conn
        except sqlite3.OperationalError as exc:  # read-only file, disk full, locked, ...
            raise ScnnSimError(f"{self.path}: cannot use sweep store ({_one_line(exc)})") \
                from None
        except sqlite3.DatabaseError as exc:
            raise ScnnSimError(f"{self.path}: corrupt sweep store ({_one_line(exc)})") from None
        finally:
            if own:
                conn.close()

    @contextlib.contextmanager
    def session(self) -> Iterator[SweepStore]:
        """Keep one checked connection open for the calls inside (what a sweep run uses).

        Within one process, do not open the store file by other means meanwhile: closing any
        descriptor of it drops the connection's POSIX locks (an SQLite rule).
        """
        if self._db is not None:
            yield self
            return
        self._db = self._open()
        try:
            yield self
        finally:
            db, self._db = self._db, None
            db.close()

    def _create(self) -> None:
        """Create the store atomically: build it under a temporary name, then rename."""
        import sqlite3

        if self.path.suffix.lower() in EXPORT_SUFFIXES:
            raise ConfigError(f"{self.path}: the sweep store is an SQLite file: name it "
                              f".sqlite (HDF5 and CSV are exports: --export FILE.h5|.csv)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        for extra in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{tmp}{extra}")
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("BEGIN")
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("format_version", str(FORMAT_VERSION)),
                    ("created_at", repr(time.time())), ("scnn_sim_version", __version__)])
                conn.execute("COMMIT")
            finally:
                conn.close()
            with _signals_deferred():
                os.replace(tmp, self.path)
        except sqlite3.Error as exc:
            raise ScnnSimError(f"{self.path}: cannot create sweep store ({exc})") from None
        except OSError as exc:
            raise ScnnSimError(f"{self.path}: cannot create sweep store "
                               f"({exc.strerror or exc})") from None
        finally:
            for extra in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{tmp}{extra}")

    def ensure(self, spec_json: str | None = None) -> None:
        """Create the store if missing; check it; record the spec being run.

        Raises
        ------
        ScnnSimError
            The file exists but is not a sweep store (foreign, HDF5, truncated, corrupt).
        """
        if not self.path.exists():
            self._create()
        with self._conn() as conn, _signals_deferred():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('scnn_sim_version', ?)",
                         (__version__,))
            if spec_json is not None:
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('spec_json', ?)",
                             (spec_json,))
            conn.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------

    def statuses(self) -> dict[str, str]:
        """``point_id -> status`` of every committed point."""
        with self._conn() as conn:
            return dict(conn.execute("SELECT point_id, status FROM points"))

    def meta(self) -> dict[str, str]:
        """The ``meta`` table (``format``, ``format_version``, ``spec_json``, ...)."""
        with self._conn() as conn:
            return dict(conn.execute("SELECT key, value FROM meta"))

    def read_rows(self) -> list[dict[str, Any]]:
        """Every committed row, as dicts, in commit order (a point's rows in their order)."""
        with self._conn() as conn:
            # One read transaction: a concurrent writer's half-done point is invisible.
            conn.execute("BEGIN")
            data = conn.execute("SELECT r.data FROM rows r JOIN points p USING (point_id) "
                                "ORDER BY p.seq, r.idx").fetchall()
            conn.execute("COMMIT")
        return [json.loads(d) for (d,) in data]

    def read_columns(self) -> dict[str, np.ndarray]:
        """Every committed column: float64 arrays and object arrays of ``str``."""
        return _columns(self.read_rows())

    # -- writing ---------------------------------------------------------------------------

    def append(self, rows: Sequence[Mapping[str, Any]],
               _before_commit: Callable[[], None] | None = None,
               params: Mapping[str, Any] | None = None) -> None:
        """Commit one point (its rows, all with the same ``point_id``) in one transaction.

        A point already in the store (a retried error point) is replaced in the same
        transaction, so the store holds every point at most once and never none of a point
        it held before.
        """
        if not rows:
            return
        first = rows[0]
        pid = str(first["point_id"])
        if any(str(r.get("point_id")) != pid for r in rows):
            raise ValueError("append: the rows of one point only")
        status = str(first.get("status", "ok"))
        index = first.get("point_index")
        texts = [json.dumps(dict(r), default=_json_default) for r in rows]
        with self._conn() as conn, _signals_deferred():
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM rows WHERE point_id = ?", (pid,))
                conn.execute("DELETE FROM points WHERE point_id = ?", (pid,))
                conn.execute(
                    "INSERT INTO points (point_id, point_index, status, error, params_json, "
                    "n_rows, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (pid, None if index is None else int(index), status,
                     str(first.get("error") or ""),
                     json.dumps(dict(params or {}), sort_keys=True, default=_json_default),
                     len(rows), float(first.get("finished_at") or time.time())))
                conn.executemany("INSERT INTO rows VALUES (?, ?, ?)",
                                 [(pid, i, t) for i, t in enumerate(texts)])
                if _before_commit is not None:
                    _before_commit()
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise

    def drop_points(self, point_ids: set[str]) -> int:
        """Remove these points (one transaction); returns the number of rows removed."""
        ids = sorted(point_ids)
        if not ids:
            return 0
        with self._conn() as conn, _signals_deferred():
            conn.execute("BEGIN IMMEDIATE")
            n = 0
            for pid in ids:
                n += conn.execute("DELETE FROM rows WHERE point_id = ?", (pid,)).rowcount
                conn.execute("DELETE FROM points WHERE point_id = ?", (pid,))
            conn.execute("COMMIT")
        return n


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Rows -> columns in first-seen order: text (object ``str``) or ``float64`` (NaN missing)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cols: dict[str, np.ndarray] = {}
    for k in keys:
        vals = [r.get(k) for r in rows]
        if _kind_of(vals) == _STR:
            cols[k] = np.array([_to_str(v) for v in vals], dtype=object)
        else:
            cols[k] = np.array([_to_num(v) for v in vals], dtype="f8")
    return cols


def _check_format(f: Any, path: Path) -> None:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT or "rows" not in f:
        raise ScnnSimError(f"{path}: not an scnn-sim sweep results file (format {fmt!r})")
    ver = int(f.attrs.get("format_version", 0))
    if ver > H5_FORMAT_VERSION:
        raise ScnnSimError(f"{path}: sweep file format version {ver} is newer than this "
                           f"scnn-sim reads ({H5_FORMAT_VERSION})")


def _read_h5_columns(path: Path) -> dict[str, np.ndarray]:
    """Columns of an HDF5 export (or a results file of an older scnn-sim)."""
    import h5py

    try:
        with h5py.File(path, "r", locking=False) as f:
            _check_format(f, path)
            g = f["rows"]
            n = int(g.attrs["n_committed"])
            cols: dict[str, np.ndarray] = {}
            for k, ds in g.items():
                if ds.dtype.kind == "f":
                    cols[k] = ds[:n].astype("f8")
                else:
                    cols[k] = np.array(ds.asstr()[:n], dtype=object)
    except (OSError, KeyError) as exc:
        raise ScnnSimError(f"{path}: not a readable sweep results file ({exc})") from None
    return cols


def read_sweep_columns(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The committed columns of a sweep store (SQLite) or of its HDF5 export.

    Raises
    ------
    ScnnSimError
        Missing, foreign, truncated or corrupt file (one line).
    """
    p = Path(path)
    if not p.is_file():
        raise ScnnSimError(f"{p}: no such sweep results file")
    try:
        kind = _sniff(p)
    except OSError as exc:
        raise ScnnSimError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if kind == "hdf5":
        return _read_h5_columns(p)
    if kind == "sqlite":
        return SweepStore(p).read_columns()
    raise ScnnSimError(f"{p}: not an scnn-sim sweep results file (neither an SQLite sweep "
                       f"store nor its HDF5 export)")


def load_sweep_results(path: str | os.PathLike):
    """Read the committed rows of a sweep store (or of its HDF5 export).

    Parameters
    ----------
    path
        The SQLite store written by :func:`run_sweep`, or an HDF5 file of
        :func:`export_sweep` (also the results files of older scnn-sim versions).

    Returns
    -------
    pandas.DataFrame or numpy.ndarray
        With pandas installed, a DataFrame with one row per (point, layer) plus a ``total``
        row per point (column ``layer``) and the columns described in the module docstring
        (numeric columns ``float64``, text columns ``object``). Without pandas, a numpy
        structured array with the same fields (``f8`` or ``O``).

    Raises
    ------
    ScnnSimError
        Missing file, or not a sweep store / export (foreign, truncated, corrupt).
    """
    cols = read_sweep_columns(path)
    try:
        import pandas as pd
    except ImportError:
        n = len(next(iter(cols.values()))) if cols else 0
        arr = np.empty(n, dtype=[(k, v.dtype) for k, v in cols.items()])
        for k, v in cols.items():
            arr[k] = v
        return arr
    return pd.DataFrame(cols)


#: Documented alias: the reader plot and notebooks use.
load_sweep = load_sweep_results


def export_sweep(store: str | os.PathLike, out: str | os.PathLike) -> int:
    """Export the committed table of a sweep store to HDF5 (``.h5``/``.hdf5``) or ``.csv``.

    The HDF5 layout is the ``scnn-sim-sweep`` version 1 file (group ``/rows``, one dataset per
    column, attribute ``n_committed``), which :func:`load_sweep_results` and ``scnn-sim plot``
    read. The file is written under a temporary name and renamed, so it is whole or absent.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    ScnnSimError
        Unreadable store, unknown export suffix, or the output cannot be written.
    """
    import csv

    dst = Path(out)
    suffix = dst.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ConfigError(f"{dst}: --export: unknown format {suffix or '(none)'!r} "
                          f"(.h5, .hdf5 or .csv)")
    st = SweepStore(store)
    meta = st.meta()
    cols = st.read_columns()
    n = len(next(iter(cols.values()))) if cols else 0
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(list(cols))
                for i in range(n):
                    w.writerow(["" if (c.dtype.kind == "f" and math.isnan(c[i])) else
                                (repr(float(c[i])) if c.dtype.kind == "f" else c[i])
                                for c in cols.values()])
        else:
            import h5py

            with h5py.File(tmp, "w", libver=("v110", "latest"), locking=False) as f:
                f.attrs["format"] = FORMAT
                f.attrs["format_version"] = H5_FORMAT_VERSION
                f.attrs["scnn_sim_version"] = meta.get("scnn_sim_version", __version__)
                if "spec_json" in meta:
                    f.attrs["spec_json"] = meta["spec_json"]
                g = f.create_group("rows", track_order=True)
                for k, c in cols.items():
                    if c.dtype.kind == "f":
                        g.create_dataset(k, data=c, maxshape=(None,), chunks=(128,),
                                         fillvalue=np.nan)
                    else:
                        g.create_dataset(k, data=c, maxshape=(None,), chunks=(128,),
                                         dtype=h5py.string_dtype())
                g.attrs["n_committed"] = n
        os.replace(tmp, dst)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ScnnSimError(f"{dst}: cannot write export ({exc.strerror or exc})") from None
    return n


# --------------------------------------------------------------------------------------------
# Running


@dataclass
class SweepSummary:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    points
        Points in the spec.
    skipped
        Already complete in the file before this run.
    ran, ok, errors
        Points simulated by this run, and how they ended.
    remaining
        Points still to run (non-zero only when ``max_points`` stopped the run early).
    """

    path: str
    points: int
    skipped: int
    ran: int
    ok: int
    errors: int
    remaining: int
    elapsed_s: float
    error_messages: list[tuple[str, str]] = field(default_factory=list)
    point_ids: list[str] = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        text = (f"sweep: {self.points} points: {self.skipped} already done, {self.ran} run "
                f"({self.ok} ok, {self.errors} error) in {self.elapsed_s:.1f} s -> {self.path}")
        if self.remaining:
            text += f"; {self.remaining} left (run again to continue)"
        return text


class _InlineExecutor:
    """Runs each job at submission in this process (``workers=1``)."""

    workers = 1
    broken = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        fut: Future = Future()
        fut.set_result(fn(*args))  # an interrupt propagates from here
        return fut

    def wait_first(self, futs: set[Future]) -> set[Future]:
        return set(futs)

    def restart(self) -> None:  # pragma: no cover - never broken
        pass

    def shutdown(self) -> None:
        pass


class _PoolExecutor:
    def __init__(self, workers: int):
        import multiprocessing

        self.workers = workers
        self.broken = False
        self.ctx = multiprocessing.get_context("spawn")
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self.ctx,
                                   initializer=_worker_init, initargs=(os.getpid(),))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.pool.submit(fn, *args)

    def wait_first(self, futs: set[Future]) -> set[Future]:
        done, _ = wait(futs, return_when=FIRST_COMPLETED)
        return done

    def restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._new_pool()
        self.broken = False

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


#: Seconds between two checks of the parent's pid by a worker's watchdog thread.
WATCHDOG_PERIOD_S = 0.5


def _worker_init(parent_pid: int) -> None:
    """Pool initializer: a worker dies with the sweep process that started it.

    On Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes the kernel kill the worker when its
    parent dies (even by ``kill -9``); everywhere a daemon thread also polls ``os.getppid()``
    and exits the worker once it changes (the parent died and the worker was re-parented).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os._exit(1)

    def watchdog() -> None:
        while True:
            time.sleep(WATCHDOG_PERIOD_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watchdog, name="scnn-sim-parent-watchdog", daemon=True).start()


class _DaskExecutor:
    def __init__(self, scheduler: Any):
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise ScnnSimError("--scheduler needs dask.distributed: pip install "
                               "'scnn-sim[distributed]'") from exc
        if isinstance(scheduler, Client):
            self.client, self.own = scheduler, False
        else:
            try:
                self.client = Client(scheduler, timeout="20s", set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ScnnSimError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
            self.own = True
        self.workers = max(1, sum(self.client.nthreads().values()))
        self.broken = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def wait_first(self, futs: set[Any]) -> set[Any]:
        from dask.distributed import wait as dwait

        with self.client.as_current():
            done, _ = dwait(list(futs), return_when="FIRST_COMPLETED")
        return set(done)

    def restart(self) -> None:  # pragma: no cover - never broken
        pass

    def shutdown(self) -> None:
        if self.own:
            self.client.close()


@contextlib.contextmanager
def _file_lock(out: Path) -> Iterator[None]:
    """Exclusive ``flock`` on ``OUT.lock`` for the whole run (POSIX; a no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock = out.with_name(out.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ScnnSimError(f"{out}: another sweep is writing this file "
                               f"(lock {lock})") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


class _Terminated(KeyboardInterrupt):
    """SIGTERM during a sweep: unwinds like Ctrl-C so workers are shut down."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_s: int, _f: Any) -> None:
        raise _Terminated("terminated")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_sweep(spec_or_path: SweepSpec | Mapping[str, Any] | str | os.PathLike,
              out_path: str | os.PathLike, workers: int | None = None,
              scheduler: Any = None, progress: bool = True,
              max_points: int | None = None) -> SweepSummary:
    """Run (or resume) a sweep, streaming every finished point into one SQLite store.

    Parameters
    ----------
    spec_or_path
        A spec YAML path, a spec mapping (relative paths from the current directory) or a
        :class:`SweepSpec`.
    out_path
        Results store (SQLite, e.g. ``results.sqlite``; a ``.h5``/``.hdf5``/``.csv`` name is
        refused: those are :func:`export_sweep` formats); created if missing, else resumed
        (complete points are skipped, error points retried).
    workers
        Local worker processes (default: the cores available). ``1`` runs in this process.
        Workers are *spawned*: a script calling this must do so under
        ``if __name__ == "__main__":``.
    scheduler
        ``"tcp://HOST:PORT"`` of a running dask scheduler (or a ``dask.distributed.Client``):
        points go to its workers instead of local processes. Workload and arch paths must be
        readable there.
    progress
        Show a tqdm bar with ETA on stderr.
    max_points
        Run at most this many new points, then stop (the rest stay for a later run).

    Returns
    -------
    SweepSummary

    Raises
    ------
    ConfigError
        On an invalid spec (nothing runs).
    ScnnSimError
        Unreadable results file, another sweep writing it, or no scheduler at the address.
    """
    t0 = time.perf_counter()
    if isinstance(spec_or_path, SweepSpec):
        spec = spec_or_path
    elif isinstance(spec_or_path, Mapping):
        spec = spec_from_dict(spec_or_path)
    else:
        spec = load_spec(spec_or_path)
    if workers is not None and (not _is_int(workers) or workers < 1):
        raise ConfigError(f"--workers: must be a positive integer, got {workers!r}")
    if max_points is not None and (not _is_int(max_points) or max_points < 0):
        raise ConfigError(f"max_points: must be a non-negative integer, got {max_points!r}")
    out = Path(out_path)
    points = spec.points()
    summary = SweepSummary(path=str(out), points=len(points), skipped=0, ran=0, ok=0, errors=0,
                           remaining=0, elapsed_s=0.0,
                           point_ids=[p.point_id for p in points])
    with _file_lock(out), _sigterm_as_interrupt():
        store = SweepStore(out)
        store.ensure(spec_json=json.dumps(spec.data, default=str))
        with store.session():  # one connection for the run: checked once, not per point
            status = store.statuses()
            # Error points are retried; their old record stays until the new one replaces it
            # (in the same transaction).
            pending = [p for p in points if status.get(p.point_id) != "ok"]
            summary.skipped = len(points) - len(pending)
            if max_points is not None:
                summary.remaining = max(0, len(pending) - max_points)
                pending = pending[:max_points]
            if pending:
                _execute(pending, store, summary, workers, scheduler, progress)
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def _execute(pending: list[SweepPoint], store: SweepStore, summary: SweepSummary,
             workers: int | None, scheduler: Any, progress: bool) -> None:
    from tqdm import tqdm

    executor: Any
    if scheduler is not None:
        executor = _DaskExecutor(scheduler)
    else:
        n = min(workers or default_workers(), len(pending))
        executor = _InlineExecutor() if n <= 1 else _PoolExecutor(n)
    # Bounded in-flight window: memory stays O(workers), whatever the sweep size.
    window = 1 if isinstance(executor, _InlineExecutor) else 2 * executor.workers
    bar = tqdm(total=len(pending), desc="sweep", unit="point", disable=not progress,
               dynamic_ncols=True)
    queue = list(reversed(pending))
    order = {pid: i for i, pid in enumerate(summary.point_ids)}
    in_flight: dict[Any, SweepPoint] = {}
    attempts: dict[str, int] = {}
    try:
        while queue or in_flight:
            if executor.broken and not in_flight:
                executor.restart()
            while queue and len(in_flight) < window and not executor.broken:
                pt = queue.pop()
                try:
                    in_flight[executor.submit(run_point, pt.task())] = pt
                except BrokenProcessPool:
                    executor.broken = True
                    queue.append(pt)
            if not in_flight:
                continue
            for fut in executor.wait_first(set(in_flight)):
                pt = in_flight.pop(fut)
                try:
                    res = fut.result()
                except BrokenProcessPool as exc:
                    # A worker died (crash, OOM kill): every job in flight fails with it.
                    # Each is retried on a fresh pool; a point in flight at two deaths is
                    # recorded as an error.
                    executor.broken = True
                    attempts[pt.point_id] = attempts.get(pt.point_id, 0) + 1
                    if attempts[pt.point_id] < 2:
                        queue.append(pt)
                        continue
                    res = {"point_id": pt.point_id, "status": "error",
                           "error": f"worker process died ({exc or 'BrokenProcessPool'}); "
                                    "from a script, call run_sweep under "
                                    "`if __name__ == '__main__':` (processes are spawned)"}
                except Exception as exc:  # noqa: BLE001 - e.g. dask KilledWorker
                    res = {"point_id": pt.point_id, "status": "error",
                           "error": f"{type(exc).__name__}: {exc}"}
                store.append(_point_rows(pt, res, order[pt.point_id]), params=pt.key)
                summary.ran += 1
                if res["status"] == "ok":
                    summary.ok += 1
                else:
                    summary.errors += 1
                    summary.error_messages.append((pt.point_id, res.get("error", "")))
                bar.update(1)
                bar.set_postfix(errors=summary.errors, refresh=False)
    finally:
        bar.close()
        executor.shutdown()
