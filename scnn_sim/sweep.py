"""Design-space sweeps: a YAML spec -> points -> parallel simulation -> one HDF5 results file.

Spec (YAML; relative paths are relative to the spec file)
---------------------------------------------------------
============== ====================================================================================
``workloads``  required list: built-in names, workload ``.yaml`` or exported ``.h5`` paths
``arch``       optional base architecture YAML (default: SCNN's Table 3)
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

Results file (HDF5, format ``scnn-sim-sweep`` version 1)
-------------------------------------------------------
* Root attributes: ``format``, ``format_version``, ``scnn_sim_version`` (of the last writer),
  ``spec_json`` (the last spec run into the file).
* Group ``/rows`` holds one 1-D resizable dataset per column, all of the same length; row *i* of
  the table is element *i* of every dataset. Numeric columns are ``float64`` (``NaN`` = missing;
  booleans 0/1; integers exact up to 2**53), text columns are variable-length UTF-8 (lists and
  dicts as JSON). Columns appear in first-seen order (the group tracks creation order); a column
  first seen late is back-filled with ``NaN`` / ``""``.
* ``/rows`` attribute ``n_committed``: only rows ``[0, n_committed)`` exist. Anything past it is
  the debris of an interrupted write; readers ignore it and the next append overwrites it.
* One row per (point, layer) plus a ``total`` row per point (column ``layer``), in the order
  points finished. Config columns come first: ``point_id``, ``point_index`` (position in the
  spec that ran it, for display order), ``workload``, ``label``, ``pe_config`` (e.g.
  ``64x(4x4)``: PEs x (F x I)), ``granularity``, ``density``, ``seed``, ``energy``,
  ``arch.<path>`` for every varied parameter, ``arch_json`` (the full architecture),
  ``status`` (``ok`` / ``error``), ``error``, ``elapsed_s``, ``finished_at`` (Unix time),
  ``host``, ``scnn_sim_version``, ``layer``; then the metrics: the keys of
  :meth:`scnn_sim.results.SimulationResult.flat_rows` (``cycles``, ``energy_pj.total``, ...)
  and the point's area ``area_mm2.*`` (``area_mm2.total``, ``area_mm2.per_pe.total``, ...).
  A failed point has one row, ``layer="total"``, with its error and no metrics.

Atomicity and resume
--------------------
Only the parent process writes. A point's rows are appended as one unit: the file is opened,
every column is resized and written, then ``n_committed`` is raised by the number of rows, the
file is flushed and closed. ``n_committed`` is written last, so a point is either wholly
visible or not at all. SIGINT and SIGTERM are held back during this short write and acted on
after it; between points the file is closed. A sidecar ``RESULTS.h5.lock`` (``flock``) refuses
a second sweep writing the same file. (A SIGKILL or power loss inside the few milliseconds of a
write is not covered by HDF5 itself: the file could then be damaged.)

Re-running the same sweep (or a larger spec into the same file) resumes: points whose id is
already committed with ``status="ok"`` are skipped. Points recorded as ``error`` are retried:
their old rows are first removed by rewriting the file to a temporary file and renaming it
over the original, so the file always holds every point at most once.
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
from scnn_sim.arch import ArchConfig, arch_fields, arch_from_dict, load_arch
from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.yamlio import parse_yaml

FORMAT = "scnn-sim-sweep"
FORMAT_VERSION = 1

SPEC_KEYS = ("name", "description", "workloads", "arch", "energy", "vary", "granularities",
             "densities", "seeds", "layers", "mode", "points", "count_merges", "weight_format",
             "clustered", "pointwise_group")
POINT_KEYS = ("label", "workload", "granularity", "density", "seed")
H5_SUFFIXES = (".h5", ".hdf5")

__all__ = ["SweepPoint", "SweepSpec", "SweepSummary", "load_spec", "spec_from_dict",
           "run_sweep", "run_point", "load_sweep_results", "pe_config_label", "FORMAT"]


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


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep spec YAML.

    Parameters
    ----------
    path
        The spec file; relative paths inside it are relative to its directory.

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
    p = Path(path)
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
        raise ConfigError(f"{where}: must be a workload name or a .yaml/.h5 path, got {name!r}")
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
    return target, [lay.name for lay in wl.conv_layers]


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
    wf = data.get("weight_format", "scnn")
    if wf not in ("scnn", "group"):
        raise ConfigError(f"{where}:weight_format: must be scnn or group, got {wf!r}")
    if wf != "scnn":
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
    elif not isinstance(arch_path, str):
        raise ConfigError(f"{where}:arch: must be the path of an architecture YAML")
    else:
        try:
            base_arch = load_arch(_resolve_path(arch_path, base))
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
                    pt = SweepPoint(
                        workload=wname, workload_path=resolved[wname][0],
                        layers=layers_of.get(wname), overrides=tuple(sorted(overrides.items())),
                        arch=arch, label=label, granularity=g, density=d, seed=s,
                        energy=energy, energy_path=energy_path, options=opts)
                    pid = pt.point_id
                    here = f"{w} (workload {wname}, granularity {g}, density {d}, seed {s})"
                    if pid in seen:
                        raise ConfigError(f"{w}: duplicate point: {here} is the same "
                                          f"simulation as {seen[pid]}")
                    seen[pid] = here
                    points.append(pt)
    varied = list(dict.fromkeys([*vary_keys, *(k for _, o, _, _ in configs for k in o)]))
    return SweepSpec(source=where, name=name, data=dict(data), point_list=points, varied=varied)


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


class SweepStore:
    """The append-only results file (see the module docstring for the layout).

    Parameters
    ----------
    path
        The HDF5 file; created on first use.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def _open(self, mode: str):
        import h5py

        for attempt in range(20):
            try:
                return h5py.File(self.path, mode, libver=("v110", "latest"))
            except BlockingIOError:  # pragma: no cover - another process holds the HDF5 lock
                time.sleep(0.05 * (attempt + 1))
            except OSError as exc:
                if "lock" in str(exc).lower() and attempt < 19:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise ScnnSimError(f"{self.path}: cannot open results file ({exc})") from None
        raise ScnnSimError(f"{self.path}: results file is locked by another process")

    def ensure(self, spec_json: str | None = None) -> None:
        """Create the file if missing; check its format; record the spec being run."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._open("w-") as f:
                f.attrs["format"] = FORMAT
                f.attrs["format_version"] = FORMAT_VERSION
                g = f.create_group("rows", track_order=True)
                g.attrs["n_committed"] = 0
        with self._open("a") as f:
            _check_format(f, self.path)
            f.attrs["scnn_sim_version"] = __version__
            if spec_json is not None:
                f.attrs["spec_json"] = spec_json

    def statuses(self) -> dict[str, str]:
        """``point_id -> status`` of every committed point."""
        with self._open("r") as f:
            _check_format(f, self.path)
            g = f["rows"]
            n = int(g.attrs["n_committed"])
            if n == 0 or "point_id" not in g:
                return {}
            ids = g["point_id"].asstr()[:n]
            st = g["status"].asstr()[:n]
        out: dict[str, str] = {}
        for pid, s in zip(ids, st, strict=True):
            out[pid] = "error" if out.get(pid) == "error" or s == "error" else s
        return out

    def append(self, rows: Sequence[Mapping[str, Any]],
               _before_commit: Callable[[], None] | None = None) -> None:
        """Append one point's rows atomically: data first, then ``n_committed``."""
        import h5py

        if not rows:
            return
        with _signals_deferred(), self._open("a") as f:
            g = f["rows"]
            n = int(g.attrs["n_committed"])
            m = len(rows)
            keys = list(dict.fromkeys(k for r in rows for k in r))
            for k in keys:
                if k not in g:
                    if _kind_of([r.get(k) for r in rows]) == _STR:
                        g.create_dataset(k, shape=(n,), maxshape=(None,), chunks=(128,),
                                         dtype=h5py.string_dtype())
                    else:
                        g.create_dataset(k, shape=(n,), maxshape=(None,), chunks=(128,),
                                         dtype="f8", fillvalue=np.nan)
            for k, ds in g.items():
                ds.resize((n + m,))
                if ds.dtype.kind == "f":
                    ds[n:] = np.array([_to_num(r.get(k)) for r in rows], dtype="f8")
                else:
                    ds[n:] = np.array([_to_str(r.get(k)) for r in rows], dtype=object)
            if _before_commit is not None:
                _before_commit()
            g.attrs["n_committed"] = n + m
            f.flush()

    def drop_points(self, point_ids: set[str]) -> int:
        """Rewrite the file without the rows of ``point_ids`` (temporary file + rename).

        Returns the number of rows removed.
        """
        import h5py

        with self._open("r") as f:
            g = f["rows"]
            n = int(g.attrs["n_committed"])
            ids = g["point_id"].asstr()[:n] if n else np.array([], dtype=object)
            keep = np.array([pid not in point_ids for pid in ids], dtype=bool)
            if keep.all():
                return 0
            tmp = self.path.with_name(f".{self.path.name}.compact.tmp")
            with h5py.File(tmp, "w", libver=("v110", "latest")) as out:
                for k, v in f.attrs.items():
                    out.attrs[k] = v
                og = out.create_group("rows", track_order=True)
                for k, ds in g.items():
                    data = ds[:n][keep]
                    og.create_dataset(k, data=data, maxshape=(None,), chunks=(128,),
                                      dtype=ds.dtype, **({"fillvalue": np.nan}
                                                         if ds.dtype.kind == "f" else {}))
                og.attrs["n_committed"] = int(keep.sum())
        with _signals_deferred():
            os.replace(tmp, self.path)
        return int((~keep).sum())

    def read_columns(self) -> dict[str, np.ndarray]:
        """Every committed column: float64 arrays and object arrays of ``str``."""
        with self._open("r") as f:
            _check_format(f, self.path)
            g = f["rows"]
            n = int(g.attrs["n_committed"])
            cols: dict[str, np.ndarray] = {}
            for k, ds in g.items():
                if ds.dtype.kind == "f":
                    cols[k] = ds[:n].astype("f8")
                else:
                    cols[k] = np.array(ds.asstr()[:n], dtype=object)
        return cols


def _check_format(f: Any, path: Path) -> None:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT or "rows" not in f:
        raise ScnnSimError(f"{path}: not an scnn-sim sweep results file (format {fmt!r})")
    ver = int(f.attrs.get("format_version", 0))
    if ver > FORMAT_VERSION:
        raise ScnnSimError(f"{path}: sweep file format version {ver} is newer than this "
                           f"scnn-sim reads ({FORMAT_VERSION})")


def load_sweep_results(path: str | os.PathLike):
    """Read the committed rows of a sweep results file.

    Parameters
    ----------
    path
        The HDF5 file written by :func:`run_sweep`.

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
        Missing file, not HDF5, or not a sweep results file.
    """
    p = Path(path)
    if not p.is_file():
        raise ScnnSimError(f"{p}: no such sweep results file")
    try:
        cols = SweepStore(p).read_columns()
    except ScnnSimError:
        raise
    except (OSError, KeyError) as exc:
        raise ScnnSimError(f"{p}: not a readable sweep results file ({exc})") from None
    try:
        import pandas as pd
    except ImportError:
        n = len(next(iter(cols.values()))) if cols else 0
        arr = np.empty(n, dtype=[(k, v.dtype) for k, v in cols.items()])
        for k, v in cols.items():
            arr[k] = v
        return arr
    return pd.DataFrame(cols)


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
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=self.ctx)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.pool.submit(fn, *args)

    def wait_first(self, futs: set[Future]) -> set[Future]:
        done, _ = wait(futs, return_when=FIRST_COMPLETED)
        return done

    def restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self.ctx)
        self.broken = False

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


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
    """Run (or resume) a sweep, streaming every finished point into one HDF5 file.

    Parameters
    ----------
    spec_or_path
        A spec YAML path, a spec mapping (relative paths from the current directory) or a
        :class:`SweepSpec`.
    out_path
        Results file; created if missing, else resumed (complete points are skipped, error
        points retried).
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
        status = store.statuses()
        retry = {p.point_id for p in points if status.get(p.point_id) == "error"}
        if retry:
            store.drop_points(retry)
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
                store.append(_point_rows(pt, res, order[pt.point_id]))
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
