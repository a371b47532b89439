"""Sweeps: spec validation, local and dask execution, the results file, resume and errors."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sqlite3
import textwrap

import h5py
import numpy as np
import pytest
from conftest import TINY_WORKLOAD

from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.sweep import (
    APPLICATION_ID,
    SweepStore,
    load_spec,
    load_sweep_results,
    run_sweep,
    spec_from_dict,
)

# The shared two-layer workload and one layer more.
TINY = TINY_WORKLOAD + "  - {name: fc, kind: fc, C: 256, K: 10, R: 1, S: 1, H: 1, W: 1}\n"


@pytest.fixture()
def tiny(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    return tmp_path


def write_spec(folder, text: str, name: str = "spec.yaml"):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


SPEC4 = """\
    workloads: [tiny.yaml]
    vary:
      pe_array.rows: [2, 4]
    granularities: [fine, kernel]
    densities: [0.5]
    """


# ---------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize("body, expected", [
    ("workloads: [tiny.yaml]\nvary: {pe_array.rowz: [2]}\n",
     "spec.yaml:vary.pe_array.rowz: unknown key (allowed: name, clock_ghz, pe_array.rows"),
    ("workloads: [tiny.yaml]\nvary: {pe_array.rows: []}\n",
     "spec.yaml:vary.pe_array.rows: must be a non-empty list, got []"),
    ("workloads: []\n", "spec.yaml:workloads: must be a non-empty list, got []"),
    ("vary: {pe_array.rows: [2]}\n", "spec.yaml:workloads: missing"),
    ("workloads: [tiny.yaml]\ndensities: [0.5, 1.5]\n",
     "spec.yaml:densities[1]: must be a number in [0, 1]"),
    ("workloads: [tiny.yaml]\ndensities: [-0.1]\n", "spec.yaml:densities[0]"),
    ("workloads: [tiny.yaml]\ngranularities: [fine, coarse]\n",
     "spec.yaml:granularities[1]: unknown granularity 'coarse'"),
    ("workloads: [tiny.yaml]\nseeds: [1, 1]\n", "spec.yaml:seeds[1]: duplicate of seeds[0]"),
    ("workloads: [tiny.yaml]\nseeds: [-1]\n", "spec.yaml:seeds[0]: must be a non-negative"),
    ("workloads: [tiny.yaml]\nfrobnicate: 1\n", "spec.yaml:frobnicate: unknown key"),
    ("workloads: [tiny.yaml]\nvary: {pe_array.rows: [2, 0]}\n",
     "spec.yaml:vary.pe_array.rows[1]: must be a positive integer up to 1024, got 0"),
    ("workloads: [tiny.yaml]\nvary: {accumulator.banks: [32, 24], "
     "accumulator.bank_mapping: [xor]}\n", "xor needs a power-of-two bank count"),
    ("workloads: [nosuchnet]\n", "spec.yaml:workloads[0]: unknown workload 'nosuchnet'"),
    ("workloads: [missing.yaml]\n", "spec.yaml:workloads[0]:"),
    ("workloads: [tiny.yaml]\nlayers: [c1, c9]\n",
     "spec.yaml:layers[1]: workload tiny.yaml has no conv layer 'c9'"),
    ("workloads: [tiny.yaml]\nlayers: [fc]\n", "has no conv layer 'fc'"),
    ("workloads: [tiny.yaml]\nmode: zip\n", "spec.yaml:mode: must be one of list, product"),
    ("workloads: [tiny.yaml]\nmode: list\n", "spec.yaml:points: mode list needs"),
    ("workloads: [tiny.yaml]\npoints: [{pe_array.rows: 2}]\n",
     "spec.yaml:points: only with mode: list"),
    ("workloads: [tiny.yaml]\nmode: list\npoints: [{pe_array.rows: 2}, {multiplier.G: 3}]\n",
     "spec.yaml:points[1].multiplier.G: unknown key"),
    ("workloads: [tiny.yaml]\nmode: list\npoints: [{pe_array.rows: 2}, {pe_array.rows: 2}]\n",
     "spec.yaml:points[1]: duplicate of points[0]"),
    ("workloads: [tiny.yaml]\nmode: list\npoints: [{multiplier.F: 0}]\n",
     "spec.yaml:points[0].multiplier.F: must be a positive integer up to 1024, got 0"),
    ("workloads: [tiny.yaml]\nmode: list\npoints: [{pe_array.rows: 2, density: 2}]\n",
     "spec.yaml:points[0].density: must be a number in [0, 1]"),
    ("workloads: [tiny.yaml]\narch: nowhere.yaml\n", "spec.yaml:arch:"),
    ("workloads: [tiny.yaml]\nenergy: nosuchtable\n", "spec.yaml:energy:"),
    ("workloads: [tiny.yaml]\nweight_format: csr\n", "spec.yaml:weight_format: must be"),
    ("workloads: [tiny.yaml]\ngranularities: [fine, FINE]\n", "duplicate point"),
    ("- just\n- a list\n", "spec.yaml: the spec must be a mapping"),
    ("", "spec.yaml: empty spec"),
    ("workloads: [tiny.yaml\n", "spec.yaml:2: malformed YAML"),
    ("workloads: [tiny.yaml]\nseeds: [0]\nseeds: [1]\n",
     "spec.yaml:3: malformed YAML: found duplicate key"),
])
def test_spec_errors(tiny, body, expected):
    path = write_spec(tiny, body)
    with pytest.raises(ConfigError) as exc:
        load_spec(path)
    msg = str(exc.value)
    assert expected in msg
    assert msg.startswith(str(path))
    assert "\n" not in msg


def test_spec_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read sweep spec"):
        load_spec(tmp_path / "nope.yaml")


def test_spec_expansion_and_ids(tiny):
    spec = load_spec(write_spec(tiny, SPEC4))
    pts = spec.points()
    assert len(pts) == 4
    assert len({p.point_id for p in pts}) == 4
    assert spec.varied == ["pe_array.rows"]
    # Stable ids: the same spec gives the same ids, whatever the dict order.
    again = spec_from_dict({"densities": [0.5], "granularities": ["fine", "kernel"],
                            "vary": {"pe_array.rows": [2, 4]}, "workloads": ["tiny.yaml"]},
                           base_dir=tiny)
    assert [p.point_id for p in again.points()] == [p.point_id for p in pts]
    # List mode: each entry crossed with the other axes; per-entry axis values replace them.
    spec = load_spec(write_spec(tiny, """\
        workloads: [tiny.yaml]
        mode: list
        points:
          - {label: small, pe_array.rows: 2, pe_array.cols: 2}
          - {label: big, multiplier.F: 8, multiplier.I: 8, granularity: kernel}
        granularities: [fine, vector]
        """))
    got = [(p.label, p.granularity, dict(p.overrides)) for p in spec.points()]
    assert got == [("small", "fine", {"pe_array.rows": 2, "pe_array.cols": 2}),
                   ("small", "vector", {"pe_array.rows": 2, "pe_array.cols": 2}),
                   ("big", "kernel", {"multiplier.F": 8, "multiplier.I": 8})]


# ---------------------------------------------------------------------------------------------
# Running


METRICS = ("cycles", "energy_pj.total", "products", "oracle_cycles", "dcnn.cycles",
           "multiplier_utilization", "accesses.dram_read_bits_weight_values")


def _by_key(df):
    return df.sort_values(["point_id", "layer"]).reset_index(drop=True)


def test_local_sweep_and_dask_give_the_same_file(tiny):
    spec = write_spec(tiny, SPEC4)
    out = tiny / "local.sqlite"
    summary = run_sweep(spec, out, workers=2, progress=False)
    assert (summary.points, summary.ran, summary.ok, summary.errors) == (4, 4, 4, 0)
    df = load_sweep_results(out)
    assert len(df) == 4 * 3  # 2 conv layers + total per point
    assert set(df["layer"]) == {"c1", "c2", "total"}
    assert (df["status"] == "ok").all()
    assert set(df["arch.pe_array.rows"]) == {2.0, 4.0}
    assert set(df["granularity"]) == {"fine", "kernel"}
    assert df["density"].eq(0.5).all()
    assert df["arch_json"].str.contains('"rows":').all()
    tot = df[df["layer"] == "total"]
    assert tot["point_id"].is_unique and (tot["cycles"] > 0).all()
    assert set(tot["pe_config"]) == {"16x(4x4) 2x8", "32x(4x4) 4x8"}

    with contextlib.closing(sqlite3.connect(out)) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert dict(db.execute("SELECT key, value FROM meta"))["format"] == "scnn-sim-sweep"
        assert db.execute("SELECT count(*) FROM rows").fetchone()[0] == 12
        assert db.execute("SELECT sum(n_rows) FROM points").fetchone()[0] == 12
        params = json.loads(db.execute("SELECT params_json FROM points").fetchone()[0])
        assert set(params) >= {"workload", "arch", "granularity", "density", "seed"}

    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        summary = run_sweep(spec, tiny / "dask.sqlite", scheduler=cluster.scheduler_address,
                            progress=False)
    assert summary.ok == 4
    a, b = _by_key(df), _by_key(load_sweep_results(tiny / "dask.sqlite"))
    assert list(a["point_id"]) == list(b["point_id"])
    assert list(a["layer"]) == list(b["layer"])
    for col in METRICS:
        np.testing.assert_array_equal(a[col].to_numpy(), b[col].to_numpy(), err_msg=col)


@pytest.fixture()
def counted(monkeypatch):
    """Count simulate() calls of in-process sweeps (workers=1)."""
    import scnn_sim.simulation as simulation

    calls = []
    real = simulation.simulate

    def wrapper(*args, **kwargs):
        calls.append(kwargs.get("granularity"))
        return real(*args, **kwargs)

    monkeypatch.setattr(simulation, "simulate", wrapper)
    return calls


def test_resume_skips_finished_points(tiny, counted):
    spec = write_spec(tiny, SPEC4)
    out = tiny / "r.sqlite"
    first = run_sweep(spec, out, workers=1, progress=False, max_points=2)
    assert (first.ran, first.remaining) == (2, 2)
    assert len(counted) == 2
    assert load_sweep_results(out)["point_id"].nunique() == 2
    stamps = load_sweep_results(out).groupby("point_id")["finished_at"].first()

    second = run_sweep(spec, out, workers=1, progress=False)
    assert (second.skipped, second.ran, second.remaining) == (2, 2, 0)
    assert len(counted) == 4  # only the two missing points were simulated
    df = load_sweep_results(out)
    tot = df[df["layer"] == "total"]
    assert sorted(tot["point_id"]) == sorted(p.point_id for p in load_spec(spec).points())
    assert len(df) == 12  # every point exactly once
    # The first two points were not rewritten.
    again = df.groupby("point_id")["finished_at"].first()
    for pid, t in stamps.items():
        assert again[pid] == t

    third = run_sweep(spec, out, workers=1, progress=False)
    assert (third.skipped, third.ran) == (4, 0) and len(counted) == 4


def test_interrupted_write_is_invisible_and_resumed(tiny, monkeypatch):
    spec = write_spec(tiny, SPEC4)
    out = tiny / "k.sqlite"
    real = SweepStore.append
    n = {"appends": 0}

    def killed_mid_write(self, rows, _before_commit=None, params=None):
        n["appends"] += 1
        if n["appends"] == 3:
            def die():
                raise KeyboardInterrupt("killed between the data and the commit")
            return real(self, rows, _before_commit=die, params=params)
        return real(self, rows, params=params)

    monkeypatch.setattr(SweepStore, "append", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, workers=1, progress=False)
    # Rows of the third point were inserted but the transaction never committed.
    with contextlib.closing(sqlite3.connect(out)) as db:
        assert db.execute("SELECT count(*) FROM rows").fetchone()[0] == 6
        assert db.execute("SELECT count(*) FROM points").fetchone()[0] == 2
    df = load_sweep_results(out)
    assert len(df) == 6 and df["point_id"].nunique() == 2
    assert not (out.parent / "k.sqlite.lock").exists()

    monkeypatch.setattr(SweepStore, "append", real)
    summary = run_sweep(spec, out, workers=1, progress=False)
    assert (summary.skipped, summary.ran) == (2, 2)
    df = load_sweep_results(out)
    assert len(df) == 12 and df[df["layer"] == "total"]["point_id"].nunique() == 4
    with contextlib.closing(sqlite3.connect(out)) as db:
        assert db.execute("SELECT count(*) FROM rows").fetchone()[0] == 12


def test_error_point_is_recorded_and_retried(tiny, counted):
    spec = write_spec(tiny, """\
        workloads: [tiny.yaml]
        vary:
          buffers.iaram_bytes: [10240, 24]   # 24 B: no sub-tile of c2 fits, it cannot map
        """)
    out = tiny / "e.sqlite"
    summary = run_sweep(spec, out, workers=1, progress=False)
    assert (summary.ok, summary.errors) == (1, 1)
    assert "cannot map on the PE array" in summary.error_messages[0][1]
    df = load_sweep_results(out)
    bad = df[df["status"] == "error"]
    assert len(bad) == 1 and bad["layer"].iloc[0] == "total"
    assert bad["arch.buffers.iaram_bytes"].iloc[0] == 24
    # c1 maps in 1-pixel passes (8 channels x 20 bits + one staged channel = 180 <= 192 bits
    # under fewest_passes); c2 (16 channels) cannot.
    assert "c2: cannot map" in bad["error"].iloc[0]
    assert math.isnan(bad["cycles"].iloc[0])
    assert len(df[df["status"] == "ok"]) == 3

    calls = len(counted)
    again = run_sweep(spec, out, workers=1, progress=False)
    assert (again.skipped, again.ran, again.errors) == (1, 1, 1)
    assert len(counted) == calls + 1  # only the error point was retried
    df = load_sweep_results(out)
    assert len(df) == 4 and df[df["layer"] == "total"]["point_id"].is_unique


def test_second_writer_is_refused(tiny):
    import fcntl
    import os

    spec = write_spec(tiny, SPEC4)
    out = tiny / "l.sqlite"
    fd = os.open(tiny / "l.sqlite.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(ScnnSimError, match="another sweep is writing this file"):
            run_sweep(spec, out, workers=1, progress=False)
    finally:
        os.close(fd)


def test_not_a_sweep_file(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.attrs["format"] = "scnn-sim-results"
    with pytest.raises(ScnnSimError, match="not an scnn-sim sweep results file"):
        load_sweep_results(tmp_path / "x.h5")
    (tmp_path / "y.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ScnnSimError, match="y.h5"):
        load_sweep_results(tmp_path / "y.h5")
    with pytest.raises(ScnnSimError, match="no such sweep results file"):
        load_sweep_results(tmp_path / "z.h5")


def _cli(argv):
    from scnn_sim.commands import sweep

    parser = argparse.ArgumentParser(prog="scnn-sim")
    sweep.register(parser.add_subparsers())
    args = parser.parse_args(["sweep", *argv])
    return args.func(args)


def test_cli_sweep(tiny, capsys):
    spec = write_spec(tiny, SPEC4)
    out = tiny / "cli.sqlite"
    assert _cli([str(spec), "-o", str(out), "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "sweep spec: 4 points (varied: pe_array.rows)" in text
    assert "cycles [k]" in text and "energy [uJ]" in text
    assert "4 run (4 ok, 0 error)" in text
    assert _cli([str(spec), "-o", str(out), "--workers", "1", "--no-progress"]) == 0
    assert "4 already done, 0 run" in capsys.readouterr().out

    bad = write_spec(tiny, "workloads: [tiny.yaml]\ndensities: [2]\n", "bad.yaml")
    with pytest.raises(ConfigError, match="bad.yaml:densities"):
        _cli([str(bad), "-o", str(out)])


def test_structured_array_without_pandas(tiny, monkeypatch):
    import sys

    out = tiny / "np.sqlite"
    run_sweep(write_spec(tiny, SPEC4), out, workers=1, progress=False, max_points=1)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    arr = load_sweep_results(out)
    assert isinstance(arr, np.ndarray) and arr.dtype.names is not None
    assert len(arr) == 3
    assert list(arr["layer"]) == ["c1", "c2", "total"]
    assert arr["cycles"].dtype == np.float64 and (arr["cycles"] > 0).all()


MID = textwrap.dedent("""\
    name: mid
    layers:
      - {name: a, kind: conv, C: 64, K: 64, R: 3, S: 3, H: 28, W: 28, stride: 1, padding: 1,
         groups: 1, weight_density: 0.5, act_density: 0.5}
    """)


def test_sigterm_mid_sweep_then_resume(tmp_path):
    """A real SIGTERM lands between points (writes hold it back); the re-run completes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "mid.yaml").write_text(MID)
    n = 20
    spec = write_spec(tmp_path, f"workloads: [mid.yaml]\nseeds: {list(range(n))}\n")
    out = tmp_path / "t.sqlite"
    # Each point is slowed by 0.3 s in the child, so the SIGTERM lands mid-sweep however fast
    # or loaded the machine is (points are otherwise a few ms and can all finish first).
    code = ("import sys, time; import scnn_sim.simulation as s; orig = s.simulate; "
            "s.simulate = lambda *a, **k: (time.sleep(0.3), orig(*a, **k))[1]; "
            "from scnn_sim.sweep import run_sweep; "
            "run_sweep(sys.argv[1], sys.argv[2], workers=1, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(spec), str(out)],
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if out.exists():
                try:
                    df = load_sweep_results(out)
                except ScnnSimError:
                    df = None  # created but not yet initialised
                if df is not None and "point_id" in df and df["point_id"].nunique() >= 2:
                    break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read().decode()
    assert proc.returncode != 0, err  # stopped early (terminated), not finished
    done = load_sweep_results(out)
    n_done = done["point_id"].nunique()
    assert 2 <= n_done < n
    assert len(done) == 2 * n_done  # whole points only (layer + total rows)
    assert (done["status"] == "ok").all()  # the interrupted point is not recorded as failed

    summary = run_sweep(spec, out, workers=1, progress=False)
    assert (summary.skipped, summary.ran) == (n_done, n - n_done)
    df = load_sweep_results(out)
    assert len(df) == 2 * n and df[df["layer"] == "total"]["point_id"].is_unique
