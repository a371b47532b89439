"""Plots: every kind rendered headless to PNG and PDF from small real results."""

from __future__ import annotations

import argparse
import json
import math
import textwrap

import h5py
import pytest
from conftest import TINY_WORKLOAD

from scnn_sim.errors import ScnnSimError
from scnn_sim.plot import (
    KINDS,
    PlotError,
    pareto_front,
    plot_cycles,
    plot_energy_breakdown,
    plot_granularity,
    plot_pe_sweep,
    plot_utilization,
    render,
)
from scnn_sim.pricing.energy import COMPONENTS

# The shared two-layer workload and one layer more.
TINY = TINY_WORKLOAD + (
    "  - {name: c3, kind: conv, C: 16, K: 8, R: 1, S: 1, H: 12, W: 12, stride: 1, padding: 0,\n"
    "     groups: 1, weight_density: 0.6, act_density: 0.5}\n")
N_LAYERS = 3
GRANS = ("fine", "vector", "kernel")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from scnn_sim.simulation import simulate
    from scnn_sim.sweep import export_sweep, run_sweep

    d = tmp_path_factory.mktemp("plot")
    (d / "tiny.yaml").write_text(TINY)
    run = simulate(d / "tiny.yaml")
    run.write_json(d / "run.json")
    gran = {"workload": "tiny", "granularities": {}}
    for g in GRANS:
        r = simulate(d / "tiny.yaml", granularity=g, density=0.4, count_merges=True,
                     weight_format="group")
        gran["granularities"][g] = {"layers": [lr.record for lr in r.layers],
                                    "totals": r.totals.record}
    (d / "gran.json").write_text(json.dumps(gran))
    (d / "spec.yaml").write_text(textwrap.dedent("""\
        workloads: [tiny.yaml]
        mode: list
        points:
          - {label: "16 PEs of 4x4", pe_array.rows: 4, pe_array.cols: 4}
          - {label: "4 PEs of 8x8", pe_array.rows: 2, pe_array.cols: 2, multiplier.F: 8,
             multiplier.I: 8, accumulator.banks: 128}
        granularities: [fine, kernel]
        densities: [0.3, 0.6]
        """))
    run_sweep(d / "spec.yaml", d / "sweep.sqlite", workers=1, progress=False)
    export_sweep(d / "sweep.sqlite", d / "sweep.h5")  # plot reads both; most tests the export
    return d


def check_image(path):
    data = path.read_bytes()
    if path.suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert data[:5] == b"%PDF-"
    assert len(data) > 5000


@pytest.mark.parametrize("source, kind", [
    ("run.json", "energy-breakdown"), ("run.json", "cycles"),
    ("gran.json", "energy-breakdown"), ("gran.json", "cycles"), ("gran.json", "granularity"),
    ("sweep.h5", "energy-breakdown"), ("sweep.h5", "cycles"), ("sweep.h5", "pe-sweep"),
])
def test_render_png_and_pdf(results, tmp_path, source, kind):
    for suffix in (".png", ".pdf"):
        out = render(results / source, kind, tmp_path / f"fig{suffix}")
        check_image(out)


def legend_texts(ax):
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def test_energy_breakdown_artists(results):
    fig = plot_energy_breakdown(results / "run.json")
    assert tuple(fig.get_size_inches())[0] == pytest.approx(3.5)
    ax = fig.axes[0]
    assert len(ax.containers) == len(COMPONENTS)
    assert sum(len(c.patches) for c in ax.containers) == N_LAYERS * len(COMPONENTS)
    assert "[µJ]" in ax.get_ylabel()
    assert legend_texts(ax) == [c.replace("_", " ") for c in COMPONENTS]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c1", "c2", "c3"]
    # Bar heights are the record's energies in uJ.
    rec = json.loads((results / "run.json").read_text())["layers"][0]
    assert ax.containers[0].patches[0].get_height() == pytest.approx(
        rec["energy_pj"]["multipliers"] / 1e6)
    assert all(t.get_fontsize() <= 9 for t in ax.get_xticklabels() + ax.get_yticklabels())

    fig = plot_energy_breakdown(results / "gran.json")
    ax = fig.axes[0]
    assert sum(len(c.patches) for c in ax.containers) == N_LAYERS * len(GRANS) * len(COMPONENTS)
    assert legend_texts(ax)[-len(GRANS):] == list(GRANS)
    # The legend (13 components and a hatch per granularity) stays within the column.
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().width <= fig.bbox.width


def test_cycles_and_utilization_artists(results):
    ax = plot_cycles(results / "run.json").axes[0]
    assert len(ax.containers) == 3
    assert all(len(c.patches) == N_LAYERS for c in ax.containers)
    assert legend_texts(ax) == ["SCNN", "oracle", "DCNN"]
    assert "cycles]" in ax.get_ylabel()

    ax = plot_utilization(results / "sweep.h5").axes[0]
    assert len(ax.lines) == 2 * 2  # granularity x PE configuration
    assert all(len(line.get_xdata()) == 2 for line in ax.lines)  # two densities
    assert ax.get_xlabel() == "weight density [%]"
    assert "[%]" in ax.get_ylabel()
    assert any(t.startswith("fine") for t in legend_texts(ax))
    # The sweep form of the cycles kind is the utilisation plot.
    assert len(plot_cycles(results / "sweep.h5").axes[0].lines) == 4


def test_granularity_artists(results):
    ax = plot_granularity(results / "gran.json").axes[0]
    assert len(ax.containers) == len(GRANS)
    assert all(len(c.patches) == 8 for c in ax.containers)
    assert all(p.get_height() == pytest.approx(1.0) for p in ax.containers[0].patches)
    assert ax.get_ylabel() == "relative to fine [x]"
    assert legend_texts(ax) == list(GRANS)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "weight storage" in labels and "acc. wide" in labels
    # Coarser groups store fewer index bits.
    storage = labels.index("weight storage")
    assert ax.containers[2].patches[storage].get_height() < 1.0


def test_pe_sweep_artists(results):
    ax = plot_pe_sweep(results / "sweep.h5").axes[0]
    assert ax.get_xlabel() == "latency [ms]" and ax.get_ylabel() == "energy [µJ]"
    texts = [t for t in legend_texts(ax) if t]  # blank entries align the two columns
    assert texts[-1] == "on the Pareto front"
    # One colour (and Pareto front) per granularity x density; one marker per PE configuration.
    assert texts[:-1] == ["fine, density 0.3", "fine, density 0.6", "kernel, density 0.3",
                          "kernel, density 0.6", "16 PEs of 4x4", "4 PEs of 8x8"]
    assert len([ln for ln in ax.lines if ln.get_gid() == "pareto-front"]) == 4


def _flat(pairs):
    return [float(v) for pair in pairs for v in pair]


def _series_lines(ax):
    return [ln for ln in ax.lines if ln.get_gid() == "series"]


def test_pe_sweep_area_panels(results):
    from scnn_sim.inputs.arch import arch_from_dict
    from scnn_sim.pricing.area import area_model
    from scnn_sim.sweep import load_sweep_results

    fig = plot_pe_sweep(results / "sweep.h5")
    assert len(fig.axes) == 3
    b, c = fig.axes[1], fig.axes[2]
    assert b.get_ylabel().startswith("perf. / area") and c.get_xlabel() == "chip area [mm²]"
    assert c.get_ylabel().startswith("energy x delay x area")
    assert b.get_xscale() == "log"
    top = b.child_axes[0]
    assert {t.get_text() for t in top.get_xticklabels()} == {"16 PEs of 4x4", "4 PEs of 8x8"}
    df = load_sweep_results(results / "sweep.h5")
    tot = df[(df["layer"] == "total") & (df["status"] == "ok")]
    for _, r in tot.iterrows():  # the sweep recorded the area of each point's architecture
        want = area_model(arch_from_dict(json.loads(r["arch_json"]))).total
        assert r["area_mm2.total"] == pytest.approx(want)
    area = tot["area_mm2.total"].to_numpy()
    latency_ms = tot["cycles"].to_numpy() / 1e6  # 1 GHz
    energy_uj = tot["energy_pj.total"].to_numpy() / 1e6
    perf = sorted(zip(area, 1e3 / latency_ms / area, strict=True))
    edap = sorted(zip(area, energy_uj * latency_ms * area, strict=True))
    lines_b, lines_c = _series_lines(b), _series_lines(c)
    assert len(lines_b) == len(lines_c) == 4  # granularity x density, 2 PE configs each
    got_b = sorted(tuple(xy) for ln in lines_b for xy in ln.get_xydata())
    got_c = sorted(tuple(xy) for ln in lines_c for xy in ln.get_xydata())
    assert _flat(got_b) == pytest.approx(_flat(perf))
    assert _flat(got_c) == pytest.approx(_flat(edap))


def test_pe_sweep_without_recorded_area_prices_nothing(results, monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    import scnn_sim.pricing.area as area
    from scnn_sim.sweep import load_sweep_results

    def boom(*_a, **_k):
        raise AssertionError("plotting priced an architecture")
    monkeypatch.setattr(area, "area_model", boom)
    df = load_sweep_results(results / "sweep.h5")
    old = df[[k for k in df.columns if not k.startswith("area_mm2.")]]  # before the area model
    fig = plot_pe_sweep(old)
    assert len(fig.axes) == 1  # panel (a) only, and a note saying why
    notes = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "no-area-note"]
    assert len(notes) == 1 and "no area_mm2.total" in notes[0]
    assert len(plot_pe_sweep(results / "sweep.h5").axes) == 3  # recorded: three panels
    fig = Figure()
    FigureCanvasAgg(fig)
    with pytest.raises(PlotError, match="no area_mm2.total in this sweep"):
        plot_pe_sweep(old, ax=fig.subplots(1, 3))


def test_pe_sweep_axes_options(results):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    assert len(plot_pe_sweep(results / "sweep.h5", area=False).axes) == 1
    fig = Figure(figsize=(9, 2.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    assert plot_pe_sweep(results / "sweep.h5", ax=axes) is fig
    assert len(_series_lines(axes[2])) == 4
    with pytest.raises(PlotError, match="one axes or three, got 2"):
        plot_pe_sweep(results / "sweep.h5", ax=axes[:2])


def test_pareto_front():
    x = [1, 2, 3, 4, 2.5]
    y = [5, 3, 4, 1, 2]
    assert list(pareto_front(x, y)) == [0, 1, 4, 3]


def test_axes_argument_draws_into_given_axes(results):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 2.5))
    FigureCanvasAgg(fig)
    a, b = fig.subplots(1, 2)
    assert plot_energy_breakdown(results / "run.json", ax=a) is fig
    assert plot_pe_sweep(results / "sweep.h5", ax=b) is fig
    assert len(a.containers) == len(COMPONENTS)


@pytest.mark.parametrize("make, kind, expected", [
    (lambda d: d / "run.json", "histogram", "--kind: unknown plot kind 'histogram'"),
    (lambda d: d / "tiny.yaml", "cycles", "unsupported results file type '.yaml'"),
    (lambda d: d / "missing.json", "cycles", "no such results file"),
    (lambda d: _write(d, "shape.json", '{"foo": 1, "bar": 2}'), "cycles",
     "not scnn-sim results: expected 'layers'"),
    (lambda d: _write(d, "storage.json", '{"workload": "x", "granularities": [{}]}'),
     "granularity", "looks like a `storage --json` report"),
    (lambda d: _write(d, "layers.json", '{"layers": [{"x": 1}]}'), "cycles",
     "layers[0]: expected a layer record"),
    (lambda d: _write(d, "broken.json", '{"layers": [1, 2'), "cycles", ":1: malformed JSON"),
    (lambda d: d / "run.json", "pe-sweep", "needs sweep results"),
    (lambda d: d / "run.json", "granularity", "a single run"),
    (lambda d: d / "sweep.h5", "granularity", "several points per granularity"),
    (lambda d: _h5(d), "cycles", "no /layers group (damaged file)"),
])
def test_bad_input_is_one_clear_error(results, tmp_path, make, kind, expected):
    with pytest.raises(PlotError) as exc:
        render(make(results), kind, tmp_path / "x.png")
    assert expected in str(exc.value)
    assert "\n" not in str(exc.value)
    assert isinstance(exc.value, ScnnSimError)


def test_bad_output_suffix(results, tmp_path):
    with pytest.raises(PlotError, match=r"x\.jpg: output must end in"):
        render(results / "run.json", "cycles", tmp_path / "x.jpg")


def _write(d, name, text):
    (d / name).write_text(text)
    return d / name


def _h5(d):
    with h5py.File(d / "run.h5", "w") as f:
        f.attrs["format"] = "scnn-sim-results"
    return d / "run.h5"


def test_cli_plot(results, tmp_path, capsys):
    from scnn_sim.commands import plot

    parser = argparse.ArgumentParser(prog="scnn-sim")
    plot.register(parser.add_subparsers())
    out = tmp_path / "e.pdf"
    args = parser.parse_args(["plot", str(results / "run.json"), "--kind", "energy-breakdown",
                              "-o", str(out)])
    assert args.func(args) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    check_image(out)
    args = parser.parse_args(["plot", str(results / "run.json"), "--kind", "nope", "-o",
                              str(out)])
    with pytest.raises(ScnnSimError, match="unknown plot kind"):
        args.func(args)
    assert set(KINDS) == {"energy-breakdown", "cycles", "granularity", "pe-sweep"}


# ------------------------------------------------------------------ many layers, selection, titles


def _many(results, n, names=None):
    """A run JSON with ``n`` layers (copies of the tiny run's records, renamed)."""
    run = json.loads((results / "run.json").read_text())
    recs = run["layers"]
    names = names or [f"block{i // 10}.layer{i}" for i in range(n)]
    run["layers"] = [{**recs[i % len(recs)], "name": nm} for i, nm in enumerate(names)]
    return run


def test_many_layers_become_horizontal_rows(results):
    from scnn_sim.plot import HORIZONTAL_ABOVE, MAX_HEIGHT

    run = _many(results, 120)
    fig = plot_energy_breakdown(run)
    ax = fig.axes[0]
    w, h = fig.get_size_inches()
    assert w == pytest.approx(3.5) and 8.0 < h <= MAX_HEIGHT
    # one row per layer, stage prefix moved to a stage label at the block's first row
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 120 and labels[0] == "layer0" and labels[-1] == "layer119"
    assert [t.get_text() for t in ax.texts][:3] == ["block0", "block1", "block2"]
    assert ax.get_xlabel() == "energy [µJ]" and ax.get_ylabel() == "layer"
    bars = ax.containers[0].patches
    assert bars[0].get_width() == pytest.approx(run["layers"][0]["energy_pj"]["multipliers"]
                                                / 1e6)
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first layer on top
    small = plot_energy_breakdown(_many(results, HORIZONTAL_ABOVE, [f"c{i}" for i in range(
        HORIZONTAL_ABOVE)])).axes[0]
    assert len(small.get_xticklabels()) == HORIZONTAL_ABOVE  # short names stay vertical
    # beyond the height cap the labels are thinned, the bars are not
    ax = plot_cycles(_many(results, 300)).axes[0]
    assert len(ax.containers[0].patches) == 300
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 100 and labels[:2] == ["layer0", "layer3"]  # every 3rd of 300


def test_layer_selection_and_stage_grouping(results, tmp_path):
    from scnn_sim.plot import group_by_stage, select_layers, stage_of

    assert stage_of("denseblock1.denselayer2.conv1") == "denseblock1"
    assert stage_of("inception_3a/1x1") == "inception_3a" and stage_of("conv1") == "conv1"
    run = _many(results, 40)
    sel = select_layers(run["layers"], ["block1", "block3.layer3?"], "x")
    assert [r["name"] for r in sel] == [f"block1.layer{i}" for i in range(10, 20)] + [
        f"block3.layer{i}" for i in range(30, 40)]
    with pytest.raises(PlotError, match=r"x: --layers nope: no such layer or stage \(stages: "
                                        r"block0, block1"):
        select_layers(run["layers"], ["nope"], "x")
    grouped = group_by_stage(run["layers"])
    assert [g["name"] for g in grouped] == ["block0", "block1", "block2", "block3"]
    assert grouped[1]["cycles"] == pytest.approx(sum(r["cycles"] for r in run["layers"][10:20]))
    assert grouped[0]["energy_pj"]["dram"] == pytest.approx(
        sum(r["energy_pj"]["dram"] for r in run["layers"][:10]))
    ax = plot_energy_breakdown(run, group=True).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["block0", "block1", "block2",
                                                            "block3"]
    (tmp_path / "many.json").write_text(json.dumps(run))
    out = render(tmp_path / "many.json", "cycles", tmp_path / "c.png", layers=["block2"])
    check_image(out)
    with pytest.raises(PlotError, match="--layers/--group: not for --kind granularity"):
        render(results / "gran.json", "granularity", tmp_path / "g.png", group=True)


def test_titles_say_unknown_for_what_the_results_do_not_record(results):
    # gran.json is built by hand (no density, no energy table): the title must not guess.
    for fig in (plot_energy_breakdown(results / "gran.json"),
                plot_granularity(results / "gran.json")):
        assert fig.get_suptitle() == ("tiny | density unknown (fine, vector, kernel) | "
                                      "energy unknown")
    run = json.loads((results / "run.json").read_text())
    assert run["density"] is None  # recorded as null: each layer's own density
    del run["density"], run["energy_table"], run["workload"]
    assert plot_cycles(run).get_suptitle() == "unknown | density unknown (fine) | energy unknown"


def test_granularity_bars_are_the_records_fields_not_recomputed(results):
    gran = json.loads((results / "gran.json").read_text())
    kernel = gran["granularities"]["kernel"]["totals"]
    kernel["memory_references"]["accesses"] *= 3  # a record the plot must show as it is
    ax = plot_granularity(gran).axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    fine = gran["granularities"]["fine"]["totals"]
    got = ax.containers[2].patches[labels.index("memory refs")].get_height()
    assert got == pytest.approx(kernel["memory_references"]["accesses"]
                                / fine["memory_references"]["accesses"])
    del kernel["memory_references"]  # not recorded: the bars are left empty
    ax = plot_granularity(gran).axes[0]
    assert math.isnan(ax.containers[2].patches[labels.index("memory refs")].get_height())


def test_plot_package_imports_no_pricing_or_counting_function():
    import ast
    from pathlib import Path

    import scnn_sim.plot

    allowed = {"scnn_sim.pricing.energy": {"COMPONENTS"}}  # the component names, for colours
    for path in Path(scnn_sim.plot.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module.startswith("scnn_sim.pricing")
                    or node.module == "scnn_sim.results.records"):
                names = {a.name for a in node.names}
                assert names <= allowed.get(node.module, set()), (path.name, node.module, names)


def test_records_are_read_as_result_objects_or_typed_records(results):
    import msgspec

    from scnn_sim.plot import as_plot_data
    from scnn_sim.results.records import LayerResult

    run = json.loads((results / "run.json").read_text())

    class Dcnn(msgspec.Struct):
        cycles: float

    class Rec(msgspec.Struct):
        name: str
        cycles: float
        oracle_cycles: float
        dcnn: Dcnn

    layers = [Rec(r["name"], r["cycles"], r["oracle_cycles"], Dcnn(r["dcnn"]["cycles"]))
              for r in run["layers"]]
    ax = plot_cycles({**run, "layers": layers}).axes[0]
    assert [p.get_height() for p in ax.containers[0].patches] == pytest.approx(
        [r["cycles"] for r in run["layers"]])
    wrapped = as_plot_data({**run, "layers": [LayerResult(r) for r in run["layers"]]})
    assert wrapped.runs[""]["layers"] == run["layers"]


def test_titles_name_workload_density_and_energy_table(results):
    fig = plot_energy_breakdown(results / "run.json")
    assert fig.get_suptitle() == "tiny | density per-layer (fine) | energy aladdin40"
    fig = plot_cycles(results / "run.json", title="my title")
    assert fig.get_suptitle() == "my title"
    assert "kernel" in plot_granularity(results / "gran.json").get_suptitle()
    from scnn_sim.studies.granularity import granularity_study

    study = granularity_study(results / "tiny.yaml", published_densities=True,
                              granularities=["fine", "kernel"])
    title = plot_energy_breakdown(study).get_suptitle()
    assert title == "tiny | density published (fine, kernel) | energy aladdin40"
    sweep_title = plot_pe_sweep(results / "sweep.h5").get_suptitle()
    assert sweep_title.startswith("tiny | density 0.3, 0.6 | energy")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    plot_cycles(results / "run.json", ax=ax)
    assert ax.get_title(loc="left").startswith("tiny |")  # given axes: an axes title


def test_cli_plot_layers_group_title(results, tmp_path, capsys):
    from scnn_sim import cli

    (tmp_path / "many.json").write_text(json.dumps(_many(results, 40)))
    out = tmp_path / "g.png"
    assert cli.main(["plot", str(tmp_path / "many.json"), "--kind", "cycles", "--group",
                     "--layers", "block1,block2", "--title", "two blocks", "-o", str(out)]) == 0
    check_image(out)
    assert cli.main(["plot", str(tmp_path / "many.json"), "--kind", "cycles", "--layers",
                     "nope", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--layers nope: no such layer or stage" in err[0]
