"""The work of one sweep point: it runs in a worker process, a dask worker, or in-process."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from scnn_sim import __version__
from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.arch import arch_from_dict
from scnn_sim.inputs.options import SimOptions
from scnn_sim.sweep.checks import _canon
from scnn_sim.sweep.spec import POINT_ID_DEFAULTS, SweepPoint, pe_config_label


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
        ``rows`` (:meth:`~scnn_sim.results.records.SimulationResult.table_rows`; empty on error),
        ``granularity`` (as simulated), ``energy_table`` (the name of the table used),
        ``elapsed_s``, ``host``.
    """
    t0 = time.perf_counter()
    out: dict[str, Any] = {"point_id": task["point_id"], "rows": [], "error": "",
                           "granularity": task.get("granularity"),
                           "host": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        from scnn_sim.simulation import simulate

        # The task's SimOptions fields; one left out is at its point-id default.
        options = {**POINT_ID_DEFAULTS, **{k: v for k, v in task.items()
                                           if k in SimOptions.__struct_fields__}}
        options["arch"] = arch_from_dict(task["arch"], where="<sweep point>")
        result = simulate(task["workload"], **options, progress=False)
        # The metric columns of a run table: every record key and the configuration's area.
        out["rows"] = result.table_rows()
        out["granularity"] = result.meta.get("granularity")
        out["energy_table"] = result.meta.get("energy_table", "")  # the name actually used
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
        "energy_table": res.get("energy_table") or "",
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
        metrics = {k: v for k, v in r.items() if k != "layer"}
        rows.append({**config, "layer": r["layer"], **metrics})
    return rows
