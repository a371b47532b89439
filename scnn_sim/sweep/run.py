"""Running (or resuming) a sweep: pending points -> executor -> one commit per finished point."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scnn_sim.errors import ConfigError
from scnn_sim.sweep.checks import _is_int
from scnn_sim.sweep.executors import _DaskExecutor, _InlineExecutor, _PoolExecutor, default_workers
from scnn_sim.sweep.locking import _file_lock
from scnn_sim.sweep.point import _point_rows, run_point
from scnn_sim.sweep.signals import _sigterm_as_interrupt
from scnn_sim.sweep.spec import SweepPoint, SweepSpec, load_spec, spec_from_dict
from scnn_sim.sweep.store import SweepStore


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


def run_sweep(spec_or_path: SweepSpec | Mapping[str, Any] | str | os.PathLike,
              out_path: str | os.PathLike, workers: int | None = None,
              scheduler: Any = None, progress: bool | str = True,
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
        True: a tqdm bar with ETA on stderr (for a terminal); ``"lines"``: one line per
        finished point on stderr (for a log: no carriage-return frames); False: nothing.
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
             workers: int | None, scheduler: Any, progress: bool | str) -> None:
    from tqdm import tqdm

    executor: Any
    if scheduler is not None:
        executor = _DaskExecutor(scheduler)
    else:
        n = min(workers or default_workers(), len(pending))
        executor = _InlineExecutor() if n <= 1 else _PoolExecutor(n)
    # Bounded in-flight window: memory stays O(workers), whatever the sweep size.
    window = 1 if isinstance(executor, _InlineExecutor) else 2 * executor.workers
    bar = tqdm(total=len(pending), desc="sweep", unit="point", disable=progress is not True,
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
                if progress == "lines":
                    print(f"sweep: point {summary.ran}/{len(pending)} {pt.point_id} "
                          f"{res['status']}", file=sys.stderr, flush=True)
    finally:
        bar.close()
        executor.shutdown()
