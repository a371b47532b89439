"""Sub-commands ``workloads`` (list the built-in workloads) and ``show`` (one workload's layers)."""

from __future__ import annotations

import argparse

from scnn_sim.errors import WorkloadError
from scnn_sim.results.tables import format_table
from scnn_sim.workload.shapes import Layer, Workload, builtin_dir, builtin_names, load_workload


def _density_summary(workload: Workload) -> str:
    published = sum(layer.density_source == "published" for layer in workload.layers)
    return f"{published}/{len(workload.layers)} published"


def workloads_table() -> str:
    """Render the table of built-in workloads.

    Returns
    -------
    str
        One row per built-in workload: name, conv and fc layer counts, dense conv MACs and the
        number of layers whose densities are published.

    Raises
    ------
    WorkloadError
        No built-in workload is installed (a broken installation).
    """
    if not builtin_names():
        raise WorkloadError(f"{builtin_dir()}: no built-in workloads found (the installation "
                            f"is missing its workloads/ folder; reinstall scnn-sim)")
    headers = ["workload", "conv layers", "fc layers", "dense conv MACs [GMAC]", "densities"]
    rows = []
    for name in builtin_names():
        w = load_workload(name)
        rows.append(
            [
                w.name,
                len(w.conv_layers),
                len(w.fc_layers),
                round(w.dense_macs / 1e9, 3),
                _density_summary(w),
            ]
        )
    return format_table(headers, rows)


def _pool_cell(layer: Layer) -> str:
    """``max3x3/2->27x27`` (``p1``: padding, ``c``: ceil rounding), or ``-`` without pool."""
    pool = layer.pool
    if pool is None:
        return "-"
    return (f"{pool.kind}{pool.window}x{pool.window}/{pool.stride}"
            f"{f'p{pool.padding}' if pool.padding else ''}{'c' if pool.ceil_mode else ''}"
            f"->{layer.out_shape[1]}x{layer.out_shape[2]}")


def show_table(workload: Workload) -> str:
    """Render the layer table of one workload followed by its totals.

    Parameters
    ----------
    workload : Workload
        The workload to describe.

    Returns
    -------
    str
        The table (one row per layer) and a few lines of totals.
    """
    headers = [
        "layer",
        "kind",
        "C",
        "K",
        "RxS",
        "HxW",
        "stride",
        "pad",
        "groups",
        "PxQ",
        "pool",
        "dense MACs [M]",
        "weight density",
        "act density",
        "source",
    ]
    rows = []
    for layer in workload.layers:
        rows.append(
            [
                layer.name,
                layer.kind,
                layer.C,
                layer.K,
                f"{layer.R}x{layer.S}",
                f"{layer.H}x{layer.W}",
                layer.stride,
                layer.padding,
                layer.groups,
                f"{layer.P}x{layer.Q}",
                _pool_cell(layer),
                round(layer.dense_macs / 1e6, 3),
                layer.weight_density,
                layer.act_density,
                layer.density_source,
            ]
        )
    conv, fc = workload.conv_layers, workload.fc_layers
    conv_macs = workload.dense_macs
    fc_macs = sum(layer.dense_macs for layer in fc)
    # Expected non-zero products if weight and activation zeros are independent.
    effective = sum(layer.dense_macs * layer.weight_density * layer.act_density for layer in conv)
    lines = [
        f"{workload.name}: {workload.description}" if workload.description else workload.name,
        f"source: {workload.source}",
        "",
        format_table(headers, rows),
        "",
        f"conv layers: {len(conv)}, dense conv MACs: {conv_macs:,} ({conv_macs / 1e9:.3f} G)",
        f"fc layers: {len(fc)}, dense fc MACs: {fc_macs:,} ({fc_macs / 1e9:.3f} G)",
        f"conv MACs with non-zero weight and activation (density product): "
        f"{effective / 1e9:.3f} G ({effective / conv_macs:.1%} of dense)"
        if conv_macs
        else "conv MACs with non-zero weight and activation: 0",
        f"densities: {_density_summary(workload)}",
    ]
    return "\n".join(lines)


def run_workloads(args: argparse.Namespace) -> int:
    """Print the built-in workloads; return the exit status."""
    print(workloads_table())
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print the layer table of ``args.workload``; return the exit status."""
    from scnn_sim.simulation import resolve_workload

    shapes = resolve_workload(args.workload)[1]
    if shapes is None:  # a list of tensors cannot come from the command line
        raise WorkloadError(f"{args.workload}: no layer shapes to show")
    print(show_table(shapes))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``workloads`` and ``show`` sub-commands to the top-level parser."""
    p = subparsers.add_parser(
        "workloads",
        help="list the built-in workloads",
        description="List the built-in workloads with layer counts, dense conv MACs and how "
        "many layers have published densities.",
    )
    p.set_defaults(func=run_workloads)
    p = subparsers.add_parser(
        "show",
        help="show the layers of a workload",
        description="Show the layer table of a workload (built-in name, YAML path, exported "
        "layers .h5 or one-layer .npz; files show their measured densities): shapes, "
        "dense MACs, densities and their source, then totals.",
    )
    p.add_argument("workload", metavar="WORKLOAD|FILE.h5|FILE.npz",
                   help="built-in name, YAML path, .h5 or .npz file")
    p.set_defaults(func=run_show)
