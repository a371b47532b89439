"""The sweep store under kill -9, with damaged or foreign files, and its exports."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import scnn_sim.sweep as sw
import scnn_sim.sweep.executors as sw_executors
import scnn_sim.sweep.run as sw_run
from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.sweep import SweepStore, export_sweep, load_sweep_results, run_sweep

ONE = textwrap.dedent("""\
    name: one
    layers:
      - {name: c1, kind: conv, C: 4, K: 4, R: 3, S: 3, H: 6, W: 6, stride: 1, padding: 1,
         groups: 1, weight_density: 0.5, act_density: 0.6}
    """)

#: Columns that legitimately differ between two runs of the same point.
VOLATILE = {"finished_at"}


def _spec(folder: Path, n: int) -> Path:
    (folder / "one.yaml").write_text(ONE)
    spec = folder / "spec.yaml"
    spec.write_text(f"workloads: [one.yaml]\nseeds: {list(range(n))}\n")
    return spec


def _by_point(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in SweepStore(path).read_rows():
        out.setdefault(r["point_id"], []).append(
            {k: v for k, v in r.items() if k not in VOLATILE})
    return out


def _clean_run(tmp_path: Path, spec: Path, monkeypatch) -> tuple[dict, dict]:
    """Run the sweep once in-process; return (rows by point, run_point results by id)."""
    canned: dict[str, dict] = {}
    real = sw_run.run_point  # the name the run loop calls

    def recording(task):
        res = real(task)
        canned[task["point_id"]] = res
        return res

    monkeypatch.setattr(sw_run, "run_point", recording)
    clean = tmp_path / "clean.sqlite"
    summary = run_sweep(spec, clean, workers=1, progress=False)
    monkeypatch.setattr(sw_run, "run_point", real)
    assert summary.ok == summary.points
    return _by_point(clean), canned


#: The child: the real run_sweep (spec, resume, store), with run_point answering from the
#: clean run's results, so every instant of its life is store work and numba is not loaded.
CHILD = textwrap.dedent("""\
    import json, sys
    import scnn_sim.sweep.run as sw_run
    canned = json.load(open(sys.argv[3]))
    first = [True]

    def run_point(task):
        if first[0]:  # the first point is about to be committed
            print("ready", flush=True)
            first[0] = False
        return dict(canned[task["point_id"]])

    sw_run.run_point = run_point
    sw_run.run_sweep(sys.argv[1], sys.argv[2], workers=1, progress=False)
    """)


def _check_store(path: Path, clean: dict[str, list[dict]]) -> int:
    """Every committed point equals the clean run's; no half point. Returns points found."""
    # Closed before the readers below open the file: POSIX locks are per process, and closing
    # any descriptor of the file drops those of a connection still open (sqlite.org/howtocorrupt).
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = dict(db.execute("SELECT point_id, n_rows FROM points"))
    got = _by_point(path)
    assert set(got) == set(counts)
    for pid, rows in got.items():
        assert rows == clean[pid], pid
        assert len(rows) == counts[pid]
    df = load_sweep_results(path)  # the public reader opens it too
    assert len(df) == sum(len(v) for v in got.values())
    return len(got)


def test_kill9_at_50_random_instants(tmp_path, monkeypatch):
    n_points = 150
    spec = _spec(tmp_path, n_points)
    clean, canned = _clean_run(tmp_path, spec, monkeypatch)
    canned_path = tmp_path / "canned.json"
    canned_path.write_text(json.dumps(canned))
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    def start(out: Path, wait: bool = True) -> tuple[subprocess.Popen, float]:
        proc = subprocess.Popen([sys.executable, str(script), str(spec), str(out),
                                 str(canned_path)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        if wait:
            # No line: nothing was left to run (the child ends on its own).
            assert proc.stdout.readline().strip() in (b"ready", b"")
        return proc, time.monotonic()

    # Calibrate: how long an uninterrupted child spends from its first point to the end.
    proc, t0 = start(tmp_path / "calib.sqlite")
    assert proc.wait(timeout=60) == 0
    span = time.monotonic() - t0
    assert _check_store(tmp_path / "calib.sqlite", clean) == n_points

    rng = random.Random(20261201)
    out, generation, kills, mid_run, found = tmp_path / "s0.sqlite", 0, 0, 0, 0
    t_end = time.monotonic() + 150
    while kills < 50:
        if kills % 3 == 0 or found == n_points:  # a fresh store, then up to two resumes
            generation += 1
            out, found = tmp_path / f"s{generation}.sqlite", 0
        assert time.monotonic() < t_end, f"only {kills} kills in the time budget"
        # Most kills land while points are being committed (anywhere in what is left of the
        # run); some during start-up (store creation, first open, resume).
        early = rng.random() < 0.2
        proc, t0 = start(out, wait=not early)
        left = span * (n_points - found) / n_points
        delay = rng.uniform(0, 0.6) if early else rng.uniform(0, left)
        time.sleep(max(0.0, t0 + delay - time.monotonic()))
        mid_run += not early and proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        if out.exists() and out.stat().st_size:
            found = _check_store(out, clean)
    assert mid_run >= 20, "too few kills landed while points were being committed"
    # The last store, resumed to the end, equals the clean run.
    proc, _ = start(out)
    assert proc.wait(timeout=60) == 0
    assert _by_point(out) == clean


def _children(pid: int) -> set[int]:
    kids: set[int] = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as fh:
            kids |= {int(x) for x in fh.read().split()}
    return kids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    spec = _spec(tmp_path, 40)
    code = ("import sys, time; import scnn_sim.simulation as s; orig = s.simulate; "
            "s.simulate = lambda *a, **k: (time.sleep(0.5), orig(*a, **k))[1]; "
            "from scnn_sim.sweep import run_sweep\n"
            "if __name__ == '__main__':\n"
            "    run_sweep(sys.argv[1], sys.argv[2], workers=2, progress=False)\n")
    script = tmp_path / "parent.py"
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script), str(spec),
                             str(tmp_path / "w.sqlite")], stderr=subprocess.DEVNULL)
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kids = _children(proc.pid)
            workers = set()
            for k in kids:
                try:
                    cmd = Path(f"/proc/{k}/cmdline").read_bytes()
                except FileNotFoundError:
                    continue
                if b"spawn_main" in cmd:
                    workers.add(k)
            if len(workers) == 2 and (tmp_path / "w.sqlite").exists():
                break
            time.sleep(0.1)
        assert len(workers) == 2, "the pool never started"
        time.sleep(0.5)  # workers busy in a point
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers), "orphaned workers outlived the parent"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_worker_init_exits_when_parent_already_gone(monkeypatch):
    exits = []
    monkeypatch.setattr(os, "_exit", lambda code: exits.append(code))
    monkeypatch.setattr(sw_executors.threading, "Thread", lambda **kw: type(
        "T", (), {"start": lambda self: None})())
    sw_executors._worker_init(os.getppid() + 12345)
    assert exits == [1]
    exits.clear()
    sw_executors._worker_init(os.getppid())
    assert exits == []


# ---------------------------------------------------------------------------------------------
# Damaged and foreign files


@pytest.fixture(scope="module")
def good_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    spec = _spec(folder, 30)
    out = folder / "good.sqlite"
    run_sweep(spec, out, workers=1, progress=False)
    return spec, out


def _make_bad(kind: str, src: Path, dst: Path) -> None:
    data = src.read_bytes()
    if kind == "truncated-half":
        dst.write_bytes(data[: len(data) // 2])
    elif kind == "truncated-odd":
        dst.write_bytes(data[:-100])
    elif kind == "truncated-header":
        dst.write_bytes(data[:60])
    elif kind == "garbage":
        dst.write_bytes(os.urandom(8192))
    elif kind == "empty":
        dst.write_bytes(b"")
    elif kind == "text":
        dst.write_text("point_id,cycles\nabc,1\n")
    elif kind == "pages-zeroed":
        page = int.from_bytes(data[16:18], "big")
        dst.write_bytes(data[:page] + b"\0" * (len(data) - page))
    elif kind == "pages-scrambled":
        rng = np.random.default_rng(1)
        buf = bytearray(data)
        page = int.from_bytes(data[16:18], "big")
        for off in rng.integers(page, len(buf), 300):
            buf[int(off)] ^= 0xFF
        dst.write_bytes(bytes(buf))
    elif kind == "foreign-sqlite":
        with contextlib.closing(sqlite3.connect(dst, isolation_level=None)) as db:
            db.execute("CREATE TABLE t (x)")
    elif kind == "other-app-id":
        with contextlib.closing(sqlite3.connect(dst, isolation_level=None)) as db:
            db.execute("PRAGMA application_id = 42")
            db.execute("CREATE TABLE meta (key, value)")
    elif kind == "our-id-no-tables":
        with contextlib.closing(sqlite3.connect(dst, isolation_level=None)) as db:
            db.execute(f"PRAGMA application_id = {sw.APPLICATION_ID}")
            db.execute("CREATE TABLE t (x)")
    elif kind == "newer-version":
        dst.write_bytes(data)
        with contextlib.closing(sqlite3.connect(dst, isolation_level=None)) as db:
            db.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    elif kind == "newer-user-version":
        dst.write_bytes(data)
        with contextlib.closing(sqlite3.connect(dst, isolation_level=None)) as db:
            db.execute("PRAGMA user_version = 99")
    elif kind == "directory":
        dst.mkdir()
    elif kind == "hdf5":
        import h5py

        with h5py.File(dst, "w") as f:
            f.attrs["format"] = "scnn-sim-results"
    else:  # pragma: no cover
        raise AssertionError(kind)


BAD = ["truncated-half", "truncated-odd", "truncated-header", "garbage", "empty", "text",
       "pages-zeroed", "pages-scrambled", "foreign-sqlite", "other-app-id", "our-id-no-tables",
       "newer-version", "newer-user-version", "directory", "hdf5"]


@pytest.mark.parametrize("kind", BAD)
def test_bad_store_gets_one_line_at_once(good_store, tmp_path, kind):
    spec, src = good_store
    bad = tmp_path / "bad.sqlite"
    _make_bad(kind, src, bad)
    before = bad.read_bytes() if bad.is_file() else None
    for action in (lambda: run_sweep(spec, bad, workers=1, progress=False),
                   lambda: load_sweep_results(bad),
                   lambda: export_sweep(bad, tmp_path / "x.csv")):
        t0 = time.monotonic()
        with pytest.raises(ScnnSimError) as exc:
            action()
        assert time.monotonic() - t0 < 2.0
        msg = str(exc.value)
        assert msg.startswith(str(bad)) and "\n" not in msg, msg
    if bad.is_file():
        assert bad.read_bytes() == before  # refused, not "repaired" or overwritten
    assert not (tmp_path / "x.csv").exists()


def test_bad_store_from_the_cli_is_one_line_exit_2(good_store, tmp_path):
    spec, src = good_store
    bad = tmp_path / "bad.sqlite"
    _make_bad("truncated-half", src, bad)
    r = subprocess.run([sys.executable, "-m", "scnn_sim.cli", "sweep", str(spec), "-o", str(bad),
                        "--workers", "1", "--no-progress"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "truncated sweep store" in lines[0]


@pytest.mark.parametrize("name", ["r.h5", "r.hdf5", "r.csv"])
def test_store_named_like_an_export_is_refused(good_store, tmp_path, name):
    spec, _ = good_store
    with pytest.raises(ConfigError, match="the sweep store is an SQLite file"):
        run_sweep(spec, tmp_path / name, workers=1, progress=False)
    assert not (tmp_path / name).exists()


# ---------------------------------------------------------------------------------------------
# Exports


def test_exports_hold_the_store_table(good_store, tmp_path):
    pd = pytest.importorskip("pandas")
    _, src = good_store
    store = load_sweep_results(src)
    assert export_sweep(src, tmp_path / "e.h5") == len(store)
    h5 = load_sweep_results(tmp_path / "e.h5")
    pd.testing.assert_frame_equal(store, h5)
    assert export_sweep(src, tmp_path / "e.csv") == len(store)
    csv = pd.read_csv(tmp_path / "e.csv", keep_default_na=False, na_values=[""])
    assert list(csv.columns) == list(store.columns)
    for col in ("cycles", "energy_pj.total", "seed"):
        np.testing.assert_array_equal(csv[col].to_numpy(float), store[col].to_numpy(float))
    assert list(csv["point_id"]) == list(store["point_id"])
    with pytest.raises(ConfigError, match="unknown format"):
        export_sweep(src, tmp_path / "e.json")


def test_plot_reads_the_store(good_store):
    from scnn_sim.plot import load_results

    _, src = good_store
    d = load_results(src)
    assert d.kind == "sweep" and len(d.frame) == 60


def test_cli_export(good_store, tmp_path, capsys):
    import argparse

    from scnn_sim.commands import sweep

    spec, src = good_store
    parser = argparse.ArgumentParser(prog="scnn-sim")
    sweep.register(parser.add_subparsers())
    args = parser.parse_args(["sweep", str(spec), "-o", str(src), "--workers", "1",
                              "--no-progress", "--export", str(tmp_path / "cli.h5")])
    assert args.func(args) == 0
    assert "exported 60 rows" in capsys.readouterr().out
    assert len(load_sweep_results(tmp_path / "cli.h5")) == 60


def test_pool_workers_share_the_cores(monkeypatch):
    """Each of N pool workers runs the kernels on cores // N numba threads (at least 1)."""
    import numba

    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.setattr(sw_executors, "default_workers", lambda: 4)
    assert [sw_executors.worker_threads(n) for n in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one core: a worker has one numba thread with or without the split")
    # Two cores shared by two workers: one thread each (numba's default would be every core).
    monkeypatch.setattr(sw_executors, "default_workers", lambda: 2)
    pool = sw_executors._PoolExecutor(2)
    try:
        got = {pool.submit(numba.get_num_threads).result(timeout=60) for _ in range(4)}
    finally:
        pool.shutdown()
    assert got == {1}
