"""``--scheduler`` (issue 20): addresses checked before connecting, a short connect timeout,
and a scheduler dying mid-sweep ends the sweep in one line saying the store is intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scnn_sim import cli
from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.sweep import executors
from scnn_sim.sweep.executors import SchedulerLost, check_scheduler_address

BAD = ["htp://x", "tcp://", "tcp://host", "tcp://host:99999", "tcp://host:abc", "", "  ",
       "tcp://a b:1", "tcp://:8786", "tcp://h:1/path", "http://h:80", 8786]
GOOD = ["tcp://127.0.0.1:8786", "localhost:8786", "tls://h.example:1", "inproc://x",
        "tcp://[::1]:8786"]


@pytest.mark.parametrize("address", BAD, ids=repr)
def test_malformed_addresses_are_refused_before_connecting(address):
    with pytest.raises(ConfigError, match="--scheduler .*expected tcp://HOST:PORT"):
        check_scheduler_address(address)


@pytest.mark.parametrize("address", GOOD)
def test_well_formed_addresses_pass(address):
    assert check_scheduler_address(address) == address


def test_cli_refuses_a_bad_scheme_at_once(tmp_path, capsys):
    t0 = time.monotonic()
    status = cli.main(["sweep", "example", "-o", str(tmp_path / "s.sqlite"),
                       "--scheduler", "htp://x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "unknown scheme 'htp'" in err[0]
    assert time.monotonic() - t0 < 10
    assert not (tmp_path / "s.sqlite").exists()


def test_unreachable_scheduler_is_one_line_after_the_connect_timeout(tmp_path, capsys,
                                                                   monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "SCHEDULER_CONNECT_TIMEOUT_S", 1)
    t0 = time.monotonic()
    status = cli.main(["sweep", "example", "-o", str(tmp_path / "s.sqlite"), "--no-progress",
                       "--scheduler", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and err and "cannot connect within 1 s" in err[-1], err
    assert "Traceback" not in "\n".join(err)
    assert time.monotonic() - t0 < 30


class _FakeClient:
    status = "closed"


def test_lost_scheduler_says_the_store_is_intact_and_how_to_resume(monkeypatch):
    pytest.importorskip("distributed")
    ex = object.__new__(executors._DaskExecutor)
    ex.client, ex.address, ex.own = _FakeClient(), "tcp://h:1", False
    with pytest.raises(SchedulerLost) as exc:
        ex.submit(print)
    msg = str(exc.value)
    assert "lost the scheduler" in msg and "store is intact" in msg and "re-run" in msg
    assert isinstance(exc.value, ScnnSimError) and "\n" not in msg


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals, subprocesses")
def test_scheduler_killed_mid_sweep_ends_in_one_line(tmp_path):
    """A real scheduler (no workers: the points wait, nothing computes) killed with -9."""
    pytest.importorskip("distributed")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    sched_file = tmp_path / "sched.json"
    log = tmp_path / "scheduler.log"
    sched = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
        stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env)
    try:
        for _ in range(200):
            if sched_file.exists() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        import json

        address = json.loads(sched_file.read_text())["address"]
        store = tmp_path / "s.sqlite"
        sweep = subprocess.Popen(
            [sys.executable, "-m", "scnn_sim", "sweep", "example", "-o", str(store),
             "--no-progress", "--scheduler", address],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(1200):   # until the sweep's client is connected (a shared machine)
            if "Receive client connection" in log.read_text() or sweep.poll() is not None:
                break
            time.sleep(0.1)
        time.sleep(1)   # its points submitted, waiting for a worker
        sched.send_signal(signal.SIGKILL)
        out, err = sweep.communicate(timeout=120)
    finally:
        sched.kill()
        sched.wait()
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert sweep.returncode != 0
    assert len(lines) == 1 and "lost the scheduler" in lines[0] and "intact" in lines[0], err
    assert store.exists()
