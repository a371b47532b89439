"""The study's tables (accuracy, no-loss density, SCNN), its text and markdown reports."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from scnn_sim.results.tables import format_table
from scnn_sim.studies.real.errors import RealStudyError

#: The study's tables (``scnn-sim study --table``): accuracy vs density, no-loss density, SCNN.
TABLES = ("accuracy", "no-loss", "scnn")

#: Columns of :func:`scnn_table`.
SCNN_HEADERS = ["model", "role", "density", "acc [%]", "cycles", "util", "products [k]",
                "acc RMW prod [k]", "acc RMW addr [k]", "acc RMW wide [k]",
                "mem refs prod [k]", "mem refs wide [k]", "DRAM [kbit]", "energy [uJ]",
                "cycles/fine", "mem refs/fine", "DRAM/fine", "energy/fine"]


def accuracy_headers(granularities: Sequence[str], control: bool) -> list[str]:
    """Columns of :func:`accuracy_table`: ``target``, per granularity ``acc [%]`` and
    ``dens``, then ``dense+ft acc [%]`` with a dense control."""
    headers = ["target"]
    for g in granularities:
        headers += [f"{g} acc [%]", f"{g} dens"]
    return headers + (["dense+ft acc [%]"] if control else [])


def no_loss_headers(control: bool) -> list[str]:
    """Columns of :func:`no_loss_table` (two more with a dense control)."""
    headers = ["granularity", "no-loss target", "density", "acc [%]", "loss [pt]",
               "x fewer weights"]
    return headers + (["dense+ft target", "dense+ft loss [pt]"] if control else [])


def table_headers(table: str, granularities: Sequence[str], control: bool = True) -> list[str]:
    """The columns of one of :data:`TABLES`, known before the study runs (for ``--columns``).

    Raises
    ------
    RealStudyError
        An unknown table name.
    """
    if table == "accuracy":
        return accuracy_headers(granularities, control)
    if table == "no-loss":
        return no_loss_headers(control)
    if table == "scnn":
        return list(SCNN_HEADERS)
    raise RealStudyError(f"--table: unknown table {table!r} (one of {', '.join(TABLES)})")


def study_table(result: dict[str, Any], table: str) -> tuple[list[str], list[list[Any]]]:
    """``(headers, rows)`` of one of :data:`TABLES` for a study result."""
    tables = {"accuracy": accuracy_table, "no-loss": no_loss_table, "scnn": scnn_table}
    if table not in tables:
        raise RealStudyError(f"--table: unknown table {table!r} (one of {', '.join(TABLES)})")
    return tables[table](result)


def accuracy_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Accuracy (%) and achieved density per schedule density and granularity.

    Returns
    -------
    headers, rows
        One row per target density; per granularity an ``acc [%]`` and a ``dens`` column;
        last the dense control (``dense+ft``) when the study has one.
    """
    grans = list(result["accuracy"])
    control = result.get("dense_control")
    headers = accuracy_headers(grans, bool(control))
    targets = [p["target"] for p in result["accuracy"][grans[0]]]
    rows: list[list[Any]] = []
    for i, t in enumerate(targets):
        row: list[Any] = [float(t)]
        for g in grans:
            p = result["accuracy"][g][i]
            row += [100.0 * p["accuracy"], float(p["density"])]
        if control:
            row.append(100.0 * control[i]["accuracy"])
        rows.append(row)
    return headers, rows


def no_loss_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Per granularity: lowest density within the tolerance of the dense accuracy.

    With a dense control, two more columns: the same against the control at each point.
    """
    dense = result["dense"]["accuracy"]
    ctl = result.get("no_loss_vs_control")
    headers = no_loss_headers(bool(ctl))
    rows = []
    for g, nl in result["no_loss"].items():
        row: list[Any] = [g, float(nl["target"]), float(nl["density"]), 100.0 * nl["accuracy"],
                          100.0 * (dense - nl["accuracy"]), 1.0 / nl["density"]]
        if ctl:
            row += [float(ctl[g]["target"]), float(ctl[g]["loss_points"])]
        rows.append(row)
    return headers, rows


def scnn_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """One row per exported model: accuracy beside SCNN cycles, accesses and energy."""
    headers = list(SCNN_HEADERS)
    rows = []
    for e in result["scnn"]:
        t = e["totals"]
        q = e.get("ratios_vs_fine") or {}
        acc = t["accumulator_accesses"]

        def k(v: Any) -> Any:
            return "-" if v is None else v / 1e3

        def r(v: Any) -> Any:
            return "-" if v is None else float(v)

        rows.append([
            e["granularity"], ",".join(e["roles"]), float(e["density"]),
            100.0 * e["accuracy"], int(t["cycles"]), float(t["multiplier_utilization"]),
            t["products"] / 1e3, k(acc["per_product"]), k(acc["same_address"]),
            k(acc["wide"]), k(t["memory_references"]["per_product"]),
            k(t["memory_references"]["wide"]), t["dram_bits"] / 1e3,
            t["energy_pj"]["total"] / 1e6, r(q.get("cycles")),
            r((q.get("memory_references") or {}).get("per_product")), r(q.get("dram_bits")),
            r(q.get("energy_pj")),
        ])
    return headers, rows


def text_report(result: dict[str, Any]) -> str:
    """The accuracy, no-loss and SCNN tables as plain text (what ``scnn-sim study`` prints)."""
    prov = result["provenance"]
    parts = [
        f"dataset {prov['dataset']['name']}: dense accuracy "
        f"{100 * result['dense']['accuracy']:.2f}% ({prov['epochs']} epochs, fine-tuning "
        f"{prov['finetune_epochs']} epoch(s) per step, seed {prov['seed']})",
        "",
        "test accuracy vs density (dens = achieved fraction of conv weights kept; dense+ft = "
        "the unpruned model fine-tuned like the pruned ones)",
        format_table(*accuracy_table(result)),
        "",
        f"no-loss density (lowest density within {100 * prov['tolerance']:.1f} points of "
        f"the dense model; dense+ft columns: of dense+ft at the same step)",
        format_table(*no_loss_table(result)),
    ]
    if result["scnn"]:
        parts += ["", f"SCNN (one test image; common density {result['common_density']:g}; "
                      "ratios vs fine at the common density)",
                  format_table(*scnn_table(result))]
    return "\n".join(parts)


def markdown_summary(result: dict[str, Any]) -> str:
    """Markdown summary: provenance, accuracy table, no-loss densities, SCNN table."""
    prov = result["provenance"]
    ds = prov["dataset"]
    lines = [
        f"# Real-data granularity study: {ds['name']}",
        "",
        f"- data: {ds['source']}; {prov['train_images_used']} training / {ds['test_size']} "
        f"test images, shape {'x'.join(map(str, ds['image_shape']))}",
        f"- model: {prov['model']} ({result['dense']['conv_weights']:,} conv weights, "
        f"{result['dense']['parameters']:,} parameters)",
        f"- training: {prov['epochs']} epochs dense (Adam lr {prov['lr']:g}, batch "
        f"{prov['batch_size']}), then per schedule step: prune every conv layer, "
        f"{prov['finetune_epochs']} fine-tuning epoch(s) (lr {prov['finetune_lr']:g})",
        f"- schedule: {', '.join(f'{d:g}' for d in prov['schedule'])}; seed {prov['seed']}; "
        f"scnn-sim {prov['scnn_sim_version']}, torch {prov['torch_version']}, "
        f"{prov.get('threads', '?')} thread(s), {prov.get('elapsed_s', '?')} s",
        f"- dense test accuracy: **{100 * result['dense']['accuracy']:.2f}%**",
        "",
        "## Test accuracy vs density",
        "",
        "`dens` is the achieved fraction of all conv weights kept; `dense+ft` is the "
        "unpruned model fine-tuned exactly like the pruned ones (same epochs, learning rate "
        "and data order): the accuracy the training budget alone buys.",
        "",
        format_table(*accuracy_table(result), "markdown"),
        "",
        f"## No-loss density (lowest density within {100 * prov['tolerance']:.1f} points "
        "of dense)",
        "",
        "`dense+ft` columns: the same criterion against the dense control at the same "
        "schedule step (same training budget).",
        "",
        format_table(*no_loss_table(result), "markdown"),
    ]
    if result["scnn"]:
        lines += [
            "",
            "## SCNN (first test image)",
            "",
            f"Common density {result['common_density']:g} (role `common`) and each "
            "granularity's own no-loss density (role `no_loss`); ratios are to `fine` at the "
            "common density. Coarse granularities store weights in the group-index format. "
            "Memory references (scnn_sim.results.records.memory_references) are accesses at each "
            "structure's native width (accumulator, IARAM, OARAM, weight FIFO, 32-bit DRAM "
            "accesses), an accumulator read-modify-write counting as two, under the per-product "
            "(`prod`, SCNN as published) and `wide` access models; `mem refs/fine` is per "
            "product. Energy charges the accumulator per product (the default architecture's "
            "access model).",
            "",
            format_table(*scnn_table(result), "markdown"),
        ]
    return "\n".join(lines) + "\n"


def load_result(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``study.json`` written by :func:`run_study`."""
    from scnn_sim.inputs.readers import read_json

    return read_json(path, RealStudyError, "study results")
