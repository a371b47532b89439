"""One HDF5 result table for `run --h5` and `sweep --export`: round trips, readers, old files,
damaged and foreign files."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from scnn_sim.cli import main
from scnn_sim.errors import ScnnSimError
from scnn_sim.plot import PlotError, load_results, render
from scnn_sim.pricing.energy import DEFAULT_TABLE
from scnn_sim.results.compare import CompareError, load_run
from scnn_sim.results.h5table import (
    FORMAT,
    FORMAT_VERSION,
    TableError,
    columns_of,
    read_table,
    unflatten,
    write_table,
)
from scnn_sim.simulation import simulate
from scnn_sim.sweep import SweepStore, export_sweep, load_sweep_results, run_sweep

#: A sweep of one point: the same simulation as the run below.
ONE_POINT = textwrap.dedent("""\
    name: one
    workloads: [tiny.yaml]
    """)
TWO_POINTS = textwrap.dedent("""\
    name: two
    workloads: [tiny.yaml]
    densities: [0.3, 0.6]
    """)


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_workload: str) -> Path:
    """tiny.yaml; its run as run.json and run.h5; a one-point and a two-point sweep exported."""
    d = tmp_path_factory.mktemp("tables")
    (d / "tiny.yaml").write_text(tiny_workload)
    res = simulate(d / "tiny.yaml")
    res.write_json(d / "run.json")
    res.write_h5(d / "run.h5")
    for name, spec in (("one", ONE_POINT), ("two", TWO_POINTS)):
        (d / f"{name}.yaml").write_text(spec)
        run_sweep(d / f"{name}.yaml", d / f"{name}.sqlite", workers=1, progress=False)
        export_sweep(d / f"{name}.sqlite", d / f"{name}.h5")
    return d


def _same_columns(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        if a[k].dtype.kind == "f":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            assert a[k].tolist() == b[k].tolist(), k


# --------------------------------------------------------------------------------------------
# Round trips of both producers through the one reader


def test_run_table_round_trip(files):
    res = simulate(files / "tiny.yaml")
    t = read_table(files / "run.h5")
    assert (t.format, t.format_version, t.kind) == (FORMAT, FORMAT_VERSION, "run")
    _same_columns(t.columns, columns_of(res.table_rows()))
    assert t.columns["layer"].tolist() == ["c1", "c2", "total"]
    assert t.provenance == json.loads(json.dumps(res.meta))  # the full provenance
    recs = t.records()
    assert [r["name"] for r in recs] == ["c1", "c2", "total"]
    assert recs[-1]["cycles"] == res.totals["cycles"]
    assert recs[0]["energy_pj"]["total"] == pytest.approx(res.layers[0]["energy_pj"]["total"])
    assert recs[0]["area_mm2"]["total"] == pytest.approx(res.meta["area_mm2"]["total"])


def test_sweep_export_round_trip(files):
    t = read_table(files / "two.h5", kind="sweep")
    assert (t.format, t.format_version, t.kind) == (FORMAT, FORMAT_VERSION, "sweep")
    store_cols = SweepStore(files / "two.sqlite").read_columns()
    _same_columns(t.columns, store_cols)
    assert t.provenance["spec"]["name"] == "two"
    assert t.provenance["store"] == str((files / "two.sqlite").resolve())
    assert t.provenance["store_format"] == "scnn-sim-sweep"
    assert set(t.columns["energy_table"]) == {DEFAULT_TABLE}  # the table the points used
    # load_sweep_results reads the store and its export alike.
    a = load_sweep_results(files / "two.sqlite")
    b = load_sweep_results(files / "two.h5")
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 6


def test_both_producers_write_one_layout(files):
    """A run and a one-point sweep of the same simulation: same root attributes, same /rows
    layout, and the sweep's rows are the run's rows behind the point's configuration."""
    with h5py.File(files / "run.h5") as r, h5py.File(files / "one.h5") as s:
        assert set(r.attrs) == set(s.attrs)
        assert list(r) == list(s) == ["rows"]
        assert r.attrs["format"] == s.attrs["format"] == FORMAT
        assert (r.attrs["kind"], s.attrs["kind"]) == ("run", "sweep")
    run, sweep = read_table(files / "run.h5"), read_table(files / "one.h5")
    cols = list(sweep.columns)
    metric_cols = cols[cols.index("layer"):]
    assert metric_cols == list(run.columns)
    for k in ("layer", "cycles", "energy_pj.total", "products", "area_mm2.total"):
        a, b = run.columns[k], sweep.columns[k]
        assert a.tolist() == b.tolist(), k


def test_unflatten_and_columns_of():
    cols = columns_of([{"a": 1, "b.c": None, "t": "x"}, {"a": True, "b.c": 2.5, "t": [1, 2]}])
    assert cols["a"].dtype == np.float64 and cols["a"].tolist() == [1.0, 1.0]
    assert math.isnan(cols["b.c"][0]) and cols["t"].tolist() == ["x", "[1, 2]"]
    assert unflatten({"b.c": math.nan, "b.d": 1.0, "layer": "c1"}) == {
        "b": {"c": None, "d": 1.0}, "layer": "c1"}


# --------------------------------------------------------------------------------------------
# The readers: plot, compare, load_sweep_results


def test_plot_and_compare_read_a_run_table(files, tmp_path):
    d = load_results(files / "run.h5")
    assert d.kind == "run" and d.workload == "tiny"
    assert [r["name"] for r in d.runs[""]["layers"]] == ["c1", "c2"]
    out = render(files / "run.h5", "energy-breakdown", tmp_path / "e.png")
    assert out.stat().st_size > 1000
    a, b = load_run(files / "run.json"), load_run(files / "run.h5")
    assert a.workload == b.workload == "tiny"
    assert a.layers == b.layers and a.totals == b.totals
    assert main(["compare", str(files / "run.json"), str(files / "run.h5"),
                 "--totals-only"]) == 0


def test_plot_reads_a_sweep_export(files):
    d = load_results(files / "two.h5")
    assert d.kind == "sweep" and len(d.frame) == 6


def test_each_reader_refuses_the_other_kind_in_one_line(files):
    with pytest.raises(ScnnSimError) as exc:
        load_sweep_results(files / "run.h5")
    assert "not an scnn-sim sweep results file" in str(exc.value)
    assert "run --h5" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(CompareError) as exc:
        load_run(files / "two.h5")
    assert "not a `scnn-sim run` result (sweep results" in str(exc.value)
    assert str(files / "two.h5") in str(exc.value) and "\n" not in str(exc.value)


# --------------------------------------------------------------------------------------------
# Files of earlier versions


def _legacy_run(res, path: Path) -> None:
    """What `run --h5` wrote before the shared layout (format scnn-sim-results 1)."""
    rows = res.flat_rows()
    keys = [k for k in rows[0] if not isinstance(rows[0][k], (list, dict))]
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "scnn-sim-results"
        f.attrs["format_version"] = 1
        f.attrs["scnn_sim_version"] = "0.0.9"
        f.attrs["meta_json"] = json.dumps(res.meta)
        g = f.create_group("layers")
        for k in keys:
            vals = [r.get(k) for r in rows]
            if any(isinstance(v, str) for v in vals):
                g.create_dataset(k, data=np.array(["" if v is None else str(v) for v in vals],
                                                  dtype=h5py.string_dtype()))
            else:
                g.create_dataset(k, data=np.array([np.nan if v is None else float(v)
                                                   for v in vals]))


def _legacy_sweep(cols: dict[str, np.ndarray], path: Path) -> None:
    """What `sweep --export FILE.h5` wrote before (format scnn-sim-sweep 1): resizable
    datasets that may be longer than the committed rows."""
    n = len(cols["layer"])
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "scnn-sim-sweep"
        f.attrs["format_version"] = 1
        f.attrs["spec_json"] = json.dumps({"name": "old"})
        g = f.create_group("rows", track_order=True)
        for k, c in cols.items():
            if c.dtype.kind == "f":
                g.create_dataset(k, data=np.concatenate([c, [np.nan]]), maxshape=(None,),
                                 chunks=(128,))
            else:
                g.create_dataset(k, data=np.concatenate([c, np.array([""], object)]),
                                 maxshape=(None,), chunks=(128,), dtype=h5py.string_dtype())
        g.attrs["n_committed"] = n


def test_old_layouts_still_read(files, tmp_path):
    res = simulate(files / "tiny.yaml")
    _legacy_run(res, tmp_path / "old_run.h5")
    t = read_table(tmp_path / "old_run.h5", kind="run")
    assert (t.format, t.format_version, t.kind) == ("scnn-sim-results", 1, "run")
    assert t.columns["layer"].tolist() == ["c1", "c2", "total"]
    assert t.columns["cycles"][-1] == res.totals["cycles"]
    assert t.provenance["workload"] == "tiny"
    assert load_run(tmp_path / "old_run.h5").totals == load_run(files / "run.json").totals

    cols = SweepStore(files / "two.sqlite").read_columns()
    _legacy_sweep(cols, tmp_path / "old_sweep.h5")
    t = read_table(tmp_path / "old_sweep.h5", kind="sweep")
    assert (t.format, t.format_version) == ("scnn-sim-sweep", 1)
    _same_columns(t.columns, cols)
    assert t.provenance == {"spec": {"name": "old"}}
    assert load_results(tmp_path / "old_sweep.h5").kind == "sweep"


# --------------------------------------------------------------------------------------------
# Damaged and foreign files: one line naming the file (and the format version)


def _attrs(path: Path, **attrs) -> Path:
    with h5py.File(path, "a") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
    return path


def _bad(kind: str, good: Path, dst: Path) -> Path:
    data = good.read_bytes()
    if kind == "truncated":
        dst.write_bytes(data[:len(data) // 2])
    elif kind == "garbage-after-signature":
        dst.write_bytes(data[:8] + b"\x01" * 400)
    elif kind == "not-hdf5":
        dst.write_text("layer,cycles\nc1,3\n")
    elif kind == "empty":
        dst.write_bytes(b"")
    elif kind in ("foreign", "newer", "no-rows", "short-column", "unknown-kind"):
        dst.write_bytes(data)
        if kind == "foreign":
            _attrs(dst, format="someone-else")
        elif kind == "newer":
            _attrs(dst, format_version=FORMAT_VERSION + 1)
        elif kind == "unknown-kind":
            _attrs(dst, kind="granularity")
        else:
            with h5py.File(dst, "a") as f:
                if kind == "no-rows":
                    del f["rows"]
                else:
                    del f["rows/cycles"]
                    f["rows"].create_dataset("cycles", data=np.zeros(2))
    else:  # pragma: no cover
        raise AssertionError(kind)
    return dst


BAD = {
    "truncated": "damaged or unreadable results table",
    "garbage-after-signature": "damaged or unreadable results table",
    "not-hdf5": "not an HDF5 file",
    "empty": "not an HDF5 file",
    "foreign": "not an scnn-sim results table (format 'someone-else'",
    "newer": f"scnn-sim-table format version {FORMAT_VERSION + 1} is newer than this",
    "unknown-kind": "scnn-sim-table version 1: unknown table kind 'granularity'",
    "no-rows": "scnn-sim-table version 1: no /rows group (damaged file)",
    "short-column": "/rows/cycles has shape (2,), expected (3,) (damaged file)",
}


@pytest.mark.parametrize("kind", list(BAD))
def test_damaged_or_foreign_file_refused_in_one_line(files, tmp_path, kind, capsys):
    bad = _bad(kind, files / "run.h5", tmp_path / "bad.h5")
    for read in (read_table, load_run, load_results):
        with pytest.raises(ScnnSimError) as exc:
            read(bad)
        msg = str(exc.value)
        assert msg.startswith(f"{bad}: ") and BAD[kind] in msg, msg
        assert "\n" not in msg
    assert isinstance(exc.value, PlotError)
    # The CLI: one line on stderr, non-zero exit, nothing written.
    out = tmp_path / "x.png"
    assert main(["plot", str(bad), "--kind", "cycles", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"scnn-sim: error: {bad}: ") and BAD[kind] in err[0]
    assert not out.exists()


def test_write_table_checks_its_input(tmp_path):
    with pytest.raises(TableError, match="unknown table kind 'granularity'"):
        write_table(tmp_path / "t.h5", [], kind="granularity", provenance={})
    with pytest.raises(TableError, match="columns of different lengths"):
        write_table(tmp_path / "t.h5", kind="run", provenance={},
                    columns={"a": np.zeros(2), "b": np.zeros(3)})
    assert not (tmp_path / "t.h5").exists()
    assert write_table(tmp_path / "t.h5", [], kind="sweep", provenance={}) == 0
    assert read_table(tmp_path / "t.h5").n_rows == 0
