"""Design-space sweeps: a YAML spec -> points -> parallel simulation -> one crash-safe store.

Spec (YAML; relative paths are relative to the spec file)
---------------------------------------------------------
============== ====================================================================================
``workloads``  required list: built-in names, workload ``.yaml``, exported ``.h5`` or ``.npz`` paths
``arch``       optional base architecture: a shipped name (``dnnsim``) or a YAML path, or a
               list of them merged in order (default: SCNN's Table 3)
``energy``     optional energy table name or YAML (default ``aladdin40``)
``vary``       mapping of dotted architecture paths (:func:`scnn_sim.inputs.arch.arch_fields`)
to lists
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
``file:field: problem``. The keys are declared once, by
:class:`~scnn_sim.sweep.spec.SweepSpecModel` (``scnn-sim schema sweep`` prints its JSON
Schema). The architecture of every point is built, so a point whose
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
(as requested; each layer's achieved density is ``weight_density``), ``seed``, ``energy``
(as written in the spec; ``""`` = the default), ``energy_table`` (the name of the table the
point was priced with; absent from stores of earlier versions), ``arch.<path>`` for every
varied parameter, ``arch_json`` (the full architecture),
``status``, ``error``, ``elapsed_s``, ``finished_at`` (Unix time), ``host``,
``scnn_sim_version``, ``layer``; then the metrics: the keys of
:meth:`scnn_sim.results.records.SimulationResult.flat_rows` (``cycles``, ``energy_pj.total``, ...)
and the point's area ``area_mm2.*`` (``area_mm2.total``, ``area_mm2.per_pe.total``, ...).
Numeric columns are ``float64`` (``NaN`` = missing; booleans 0/1), text columns ``str``
(lists and dicts as JSON). A failed point has one row, ``layer="total"``, with its error.

:func:`export_sweep` (``scnn-sim sweep ... --export FILE.h5|.csv``) writes that table to CSV
or to HDF5 as the result table of :mod:`scnn_sim.results.h5table` (format ``scnn-sim-table``, kind
``sweep``: the layout ``run --h5`` writes too), which :func:`load_sweep_results`,
``scnn-sim plot`` and :func:`scnn_sim.results.h5table.read_table` read (as well as the export
layout of earlier versions, ``scnn-sim-sweep`` version 1).

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

Modules
-------
============== ====================================================================================
``spec``       the spec: :func:`load_spec`, :func:`spec_from_dict`, :class:`SweepSpec`,
               :class:`SweepPoint`, :func:`pe_config_label`
``checks``     checks of single spec values; workload resolution; the canonical JSON of ids
``point``      :func:`run_point` (one point, in any process) and its rows of the table
``store``      :class:`SweepStore`, the SQLite results store, and its opening checks
``read``       :func:`read_sweep_columns`, :func:`load_sweep_results` (store or HDF5 export)
``export``     :func:`export_sweep` (HDF5 / CSV)
``executors``  in-process, process-pool and dask executors; worker lifetime
``locking``    the sidecar lock of a store
``signals``    SIGTERM as Ctrl-C; signals held back during a commit
``run``        :func:`run_sweep`, :class:`SweepSummary`
============== ====================================================================================
"""

from scnn_sim.sweep.executors import WATCHDOG_PERIOD_S, default_workers
from scnn_sim.sweep.export import export_sweep
from scnn_sim.sweep.point import run_point
from scnn_sim.sweep.read import load_sweep, load_sweep_results, read_sweep_columns
from scnn_sim.sweep.run import SweepSummary, run_sweep
from scnn_sim.sweep.spec import (
    POINT_KEYS,
    SPEC_KEYS,
    SweepPoint,
    SweepSpec,
    builtin_sweeps,
    load_spec,
    pe_config_label,
    resolve_spec,
    spec_from_dict,
)
from scnn_sim.sweep.store import (
    APPLICATION_ID,
    EXPORT_SUFFIXES,
    FORMAT,
    FORMAT_VERSION,
    HDF5_MAGIC,
    SQLITE_MAGIC,
    SweepStore,
)

__all__ = ["SweepPoint", "SweepSpec", "SweepSummary", "SweepStore", "load_spec",
           "spec_from_dict", "run_sweep", "run_point", "load_sweep_results", "load_sweep",
           "read_sweep_columns", "export_sweep", "pe_config_label", "FORMAT",
           "FORMAT_VERSION", "APPLICATION_ID", "SQLITE_MAGIC", "HDF5_MAGIC",
           "EXPORT_SUFFIXES", "SPEC_KEYS", "POINT_KEYS", "WATCHDOG_PERIOD_S", "builtin_sweeps",
           "resolve_spec", "default_workers"]
