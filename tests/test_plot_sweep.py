"""Sweep figures never average over a varied parameter: every one is shown, or the figure is
refused in one line naming the parameter to filter."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from scnn_sim.cli import main
from scnn_sim.plot import (
    MAX_CONFIGS,
    MAX_SERIES,
    PlotError,
    figure_title,
    pareto_front,
    plot_energy_breakdown,
    plot_granularity,
    plot_pe_sweep,
    plot_utilization,
    sweep_parameters,
)
from scnn_sim.plot import as_plot_data as _as
from scnn_sim.pricing.energy import COMPONENTS, DEFAULT_TABLE
from scnn_sim.results.h5table import columns_of, table_frame, write_table
from scnn_sim.results.tables import table_records

CONFIGS = {"A": (8, 4), "B": (4, 8),  # label -> (PE grid side, F = I)
           "64 PEs of 4x4 (SCNN)": (8, 4), "16 PEs of 4x4": (4, 4), "4 PEs of 8x8": (2, 8)}


def table(labels=("A", "B"), grans=("fine", "kernel"), dens=(0.3, 0.6), seeds=(0,),
          queue=(4,), energy="", workload="alexnet", energy_table=DEFAULT_TABLE):
    """A sweep table of ``total`` rows (no simulation): distinct, deterministic metrics."""
    rows = []
    for i, (lab, g, d, s, q) in enumerate(itertools.product(labels, grans, dens, seeds, queue)):
        side, f = CONFIGS.get(lab, (2 + i % 5, 2))
        arch = {"clock_ghz": 1.0, "pe_array": {"rows": side, "cols": side},
                "multiplier": {"F": f, "I": f}}
        util = 0.2 + 0.01 * i + (0.1 if g == "fine" else 0.0) + 0.05 * s
        row = {"point_id": f"{i:016x}", "point_index": i, "workload": workload, "label": lab,
               "pe_config": f"{side * side}x({f}x{f})", "granularity": g,
               "density": d, "seed": s, "energy": energy, "energy_table": energy_table,
               "arch.pe_array.rows": side, "arch.pe_array.cols": side, "arch.multiplier.F": f,
               "arch.multiplier.I": f, "arch.accumulator.queue_depth": q,
               "arch_json": json.dumps(arch), "status": "ok", "error": "", "layer": "total",
               "cycles": 1e5 * (1 + i % 7) / (1 + s), "multiplier_utilization": util,
               "energy_pj.total": 1e8 * (1 + (i * 5) % 11), "area_mm2.total": side * 1.5}
        row.update({f"energy_pj.{c}": 1e6 * (j + 1) for j, c in enumerate(COMPONENTS)})
        row.update({"accesses.acc_reads": 1e5 * (i + 1), "accesses.iaram_reads": 2e5,
                    "accesses.dram_read_bits_weight_values": 3e6 / (2 if g == "kernel" else 1),
                    "accumulator_accesses.per_product": 1e5 * (i + 1)})
        rows.append(row)
    return table_frame(columns_of(rows))


def one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(PlotError) as exc:
        fn(*args, **kwargs)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_sweep_parameters_name_every_varied_one():
    t = table_records(table(seeds=(0, 1), queue=(1, 4)))
    assert sweep_parameters(t) == ["granularity", "density", "seed", "label",
                                   "arch.accumulator.queue_depth"]
    # PE-array paths are implied by the label; a single value of anything is no parameter.
    assert sweep_parameters(table_records(table(labels=("A",), dens=(0.3,)))) == ["granularity"]


# --------------------------------------------------------------------------------------------
# utilisation vs density


def test_utilization_draws_each_point_without_averaging():
    df = table(seeds=(0, 1))
    ax = plot_utilization(df).axes[0]
    # granularity x seed x label = 8 lines of two densities each: every point drawn as is.
    assert len(ax.lines) == 8
    drawn = sorted(float(y) for ln in ax.lines for y in ln.get_ydata())
    assert drawn == pytest.approx(sorted(100 * df["multiplier_utilization"]))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "fine, seed 0, A" in labels and "kernel, seed 1, B" in labels


def test_utilization_refuses_too_many_lines_naming_the_parameter():
    df = table(seeds=(0, 1), queue=(1, 4), labels=("A", "B"))
    msg = one_line_error(plot_utilization, df)
    assert "16 lines (granularity x seed x label x accumulator.queue_depth)" in msg
    assert "filter seed (0, 1)" in msg and "df[df['seed'] == 0]" in msg
    # Following the advice gives a figure.
    assert len(plot_utilization(df[df["seed"] == 0]).axes[0].lines) == 8


def test_points_the_table_does_not_tell_apart_are_refused_not_averaged():
    pd = pytest.importorskip("pandas")
    df = table()
    twin = df.copy()  # the same parameters under other point ids (e.g. another spec's options)
    twin["point_id"] = [f"{i:016x}"[::-1] for i in range(len(twin))]
    both = pd.concat([df, twin], ignore_index=True)
    one = both[(both["density"] == 0.3) & (both["label"] == "A")]
    for fn, data in ((plot_utilization, both), (plot_pe_sweep, both), (plot_granularity, one)):
        assert "differ in something the table does not name" in one_line_error(fn, data)


# --------------------------------------------------------------------------------------------
# pe-sweep


def test_pe_sweep_one_front_per_series_and_a_marker_per_configuration():
    df = table(labels=("A", "B"), queue=(1, 4))
    fig = plot_pe_sweep(df)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts() if t.get_text()]
    series = ["fine, density 0.3", "fine, density 0.6", "kernel, density 0.3",
              "kernel, density 0.6"]
    configs = ["A, accumulator.queue_depth=1", "A, accumulator.queue_depth=4",
               "B, accumulator.queue_depth=1", "B, accumulator.queue_depth=4"]
    assert texts == [*series, *configs, "on the Pareto front"]
    # Each series' ringed points are exactly its own Pareto front.
    rows = table_records(df)
    want = 0
    for g, d in itertools.product(("fine", "kernel"), (0.3, 0.6)):
        grp = [r for r in rows if r["granularity"] == g and r["density"] == d]
        want += len(pareto_front([r["cycles"] / 1e6 for r in grp],
                                 [r["energy_pj.total"] / 1e6 for r in grp]))
    ringed = [c for c in ax.collections if c.get_gid() == "front-point"]
    assert len(ringed) == want
    assert len([c for c in ax.collections if c.get_gid() in ("point", "front-point")]) == 16
    assert len([ln for ln in ax.lines if ln.get_gid() == "pareto-front"]) == 4
    # Area panels: a line per series and queue depth (line style), each through both labels.
    lines = [ln for ln in fig.axes[1].lines if ln.get_gid() == "series"]
    assert len(lines) == 8 and all(len(ln.get_xdata()) == 2 for ln in lines)
    assert {ln.get_linestyle() for ln in lines} == {"-", "--"}


def test_pe_sweep_refuses_more_series_or_configurations_than_it_can_show():
    dens = tuple(round(0.05 * k, 2) for k in range(1, MAX_SERIES + 2))
    msg = one_line_error(plot_pe_sweep, table(grans=("fine",), dens=dens))
    assert f"{MAX_SERIES + 1} series (density)" in msg and "filter density" in msg
    labels = tuple(f"L{k}" for k in range(MAX_CONFIGS + 1))
    msg = one_line_error(plot_pe_sweep, table(labels=labels, grans=("fine",), dens=(0.3,)))
    assert f"{MAX_CONFIGS + 1} PE configurations (label)" in msg


def test_cli_refusal_is_one_line_and_non_zero(tmp_path, capsys):
    src = tmp_path / "rich.h5"
    df = table(seeds=(0, 1), queue=(1, 4))
    write_table(src, kind="sweep", provenance={},
                columns={k: df[k].to_numpy() for k in df.columns})
    out = tmp_path / "u.png"
    assert main(["plot", str(src), "--kind", "cycles", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "filter seed" in err[0] and not out.exists()
    assert main(["plot", str(src), "--kind", "pe-sweep", "-o", str(out)]) == 0


# --------------------------------------------------------------------------------------------
# granularity and energy breakdown


def test_granularity_plot_names_the_parameters_to_filter():
    msg = one_line_error(plot_granularity, table())
    assert "besides granularity the sweep varies density (0.3, 0.6); label (A, B)" in msg
    assert "df[df['density'] == 0.3]" in msg
    df = table()
    ax = plot_granularity(df[(df["density"] == 0.3) & (df["label"] == "A")]).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fine", "kernel"]


def test_energy_breakdown_names_every_varied_parameter_per_bar():
    ax = plot_energy_breakdown(table(queue=(1, 4), dens=(0.3,))).axes[0]
    # one row per point, its label wrapped after commas
    labels = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    assert len(labels) == len(set(labels)) == 8
    assert "A, fine, accumulator.queue_depth=1" in labels


def test_sweep_energy_breakdown_gives_twelve_rows_the_width():
    labels = ("64 PEs of 4x4 (SCNN)", "16 PEs of 4x4", "4 PEs of 8x8")
    df = table(labels=labels)  # 3 configurations x 2 granularities x 2 densities
    fig = plot_energy_breakdown(df)
    ax = fig.axes[0]
    fig.canvas.draw()
    box, page = ax.get_window_extent(), fig.bbox
    # The bars had ~15% of the width beside one-line labels and a 5-column legend.
    assert box.width / page.width > 0.6
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ticks) == 12 and ticks[0] == "64 PEs of 4x4 (SCNN),\nfine, density 0.3"
    assert all(len(line) <= 24 for t in ticks for line in t.split("\n"))
    # The component legend is the figure's, below the bars, within the column.
    assert ax.get_legend() is None and len(fig.legends) == 1
    legend = fig.legends[0].get_window_extent()
    assert legend.y1 < box.y0 and legend.width <= page.width
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        c.replace("_", " ") for c in COMPONENTS]
    # Bar lengths are the points' recorded energies, in uJ.
    rows = table_records(df)
    got = sorted(round(sum(p.get_width() for c in ax.containers for p in c.patches
                           if p.get_y() < i < p.get_y() + p.get_height()), 6)
                 for i in range(12))
    want = sorted(round(sum(r[f"energy_pj.{c}"] for c in COMPONENTS) / 1e6, 6) for r in rows)
    assert got == pytest.approx(want)


def test_sweep_title_names_workload_density_and_energy_table():
    want = f"alexnet | density 0.3, 0.6 | energy {DEFAULT_TABLE}"  # the name as used
    assert figure_title(_as(table())) == want
    own = table(dens=(math.nan,), energy="tables/my45.yaml", energy_table="my45")
    assert figure_title(_as(own)) == "alexnet | density per-layer | energy my45"
    assert np.isnan(own["density"]).all()
    # Stores of earlier versions have no energy_table: the spec's value, or "default".
    old = table(energy_table="").drop(columns=["energy_table"])
    assert figure_title(_as(old)) == "alexnet | density 0.3, 0.6 | energy default"
    old = table(energy="tables/my45.yaml", energy_table="").drop(columns=["energy_table"])
    assert figure_title(_as(old)).endswith("| energy my45")
