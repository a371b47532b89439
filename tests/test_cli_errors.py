"""Every user mistake is one line and exit 2 before any work; interruptions, closed pipes and
internal errors have their documented exit codes and leave no partial output behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from scnn_sim.cli import EXIT_BROKEN_PIPE, main
from scnn_sim.errors import OutputError
from scnn_sim.outputs import atomic_write_json, check_output_dir, check_output_path

TINY = textwrap.dedent("""\
    name: tiny
    layers:
      - {name: c1, kind: conv, C: 8, K: 16, R: 3, S: 3, H: 12, W: 12, stride: 1, padding: 1,
         groups: 1, weight_density: 0.5, act_density: 0.6}
    """)


def one_error_line(capsys, prefix: str = "scnn-sim: error: ") -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    return lines[0]


@pytest.fixture()
def tiny(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p


# ------------------------------------------------------------------------------ argparse


@pytest.mark.parametrize("argv, expected", [
    (["frobnicate"], "scnn-sim: error: argument COMMAND: invalid choice: 'frobnicate'"),
    ([], "scnn-sim: error: the following arguments are required: COMMAND"),
    (["run"], "scnn-sim: error: run: the following arguments are required: WORKLOAD"),
    (["run", "alexnet", "--seed", "-1"],
     "scnn-sim: error: run: argument --seed: must be a non-negative integer, got -1"),
    (["run", "alexnet", "--seed", "x"], "scnn-sim: error: run: argument --seed: not an integer"),
    (["storage", "alexnet", "--density", "0.5", "--seed", "-3"],
     "scnn-sim: error: storage: argument --seed: must be a non-negative integer"),
    (["granularity", "alexnet", "--bogus"],
     "scnn-sim: error: granularity: unrecognized arguments: --bogus"),
])
def test_command_line_mistakes_are_one_line(argv, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert one_error_line(capsys).startswith(expected)


# ------------------------------------------------------------------------------ output paths


def _bad_outputs(tmp_path: Path, suffix: str) -> dict[str, tuple[str, str]]:
    (tmp_path / "afile").write_text("x")
    (tmp_path / f"adir{suffix}").mkdir()
    return {
        "directory": (str(tmp_path / f"adir{suffix}"), "is a directory"),
        "under a file": (str(tmp_path / "afile" / f"out{suffix}"), "is not a directory"),
        "/proc": (f"/proc/scnn-sim-no-such/out{suffix}", "cannot write in /proc"),
        "device": ("/dev/null", "exists and is not a regular file"),
    }


def _forbid(monkeypatch, target: str, attr: str) -> None:
    def boom(*_a, **_k):
        raise AssertionError("the work started before the output path was checked")
    monkeypatch.setattr(target + "." + attr, boom)


COMMANDS = {
    "run --json": (["run", "{tiny}", "--json", "{out}"], "--json", ("scnn_sim.simulation",
                                                                    "simulate")),
    "run --h5": (["run", "{tiny}", "--h5", "{out}"], "--h5", ("scnn_sim.simulation",
                                                             "simulate")),
    "granularity --json": (["granularity", "{tiny}", "--density", "0.5", "--json", "{out}"],
                           "--json", ("scnn_sim.studies.granularity", "granularity_study")),
    "storage --json": (["storage", "{tiny}", "--density", "0.5", "--json", "{out}"], "--json",
                       ("scnn_sim.commands.storage", "storage_report")),
    "sweep -o": (["sweep", "example", "-o", "{out}", "--workers", "1"], "-o",
                 ("scnn_sim.sweep", "run_sweep")),
    "plot -o": (["plot", "{tiny}", "--kind", "cycles", "-o", "{out}"], "-o",
                ("scnn_sim.plot", "plot")),
    "prune -o": (["prune", "{tiny}", "-g", "fine", "-d", "0.5", "-o", "{out}"], "-o",
                 ("scnn_sim.commands.prune", "prune_file")),
}


@pytest.mark.parametrize("case", ["directory", "under a file", "/proc", "device"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_output_path_refused_before_the_work(command, case, tiny, tmp_path, monkeypatch,
                                                 capsys):
    argv, option, (module, attr) = COMMANDS[command]
    if command == "plot -o" and case == "device":
        pytest.skip("plot refuses /dev/null for its suffix already (no .png/.pdf/.svg)")
    out, expected = _bad_outputs(tmp_path, ".png" if command == "plot -o" else ".json")[case]
    _forbid(monkeypatch, module, attr)
    argv = [a.format(tiny=tiny, out=out) for a in argv]
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert f"{option} {argv[argv.index(option) + 1]}: " in line and expected in line, line


def test_study_output_dir_refused_before_the_work(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    _forbid(monkeypatch, "scnn_sim.commands.study", "run_study")
    assert main(["study", "--dataset", "digits", "-o", str(tmp_path / "afile")]) == 2
    assert "-o " in one_error_line(capsys) and "exists and is not a directory"
    assert main(["study", "--dataset", "digits", "-o", "/proc/scnn-sim-no-such"]) == 2
    assert "cannot write in /proc" in one_error_line(capsys)


def test_missing_directories_are_created(tmp_path):
    target = check_output_path(tmp_path / "a" / "b" / "out.json", "--json")
    assert not (tmp_path / "a").exists()  # the check creates nothing
    atomic_write_json(target, {"x": 1})
    assert (tmp_path / "a" / "b" / "out.json").read_text().strip() == '{\n  "x": 1\n}'
    assert check_output_dir(tmp_path / "new" / "dir") == (tmp_path / "new" / "dir").resolve()


def test_writing_through_a_symlink_writes_its_target(tiny, tmp_path, capsys):
    real = tmp_path / "results" / "real.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert main(["run", str(tiny), "--json", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert '"layers"' in real.read_text()
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.json"]  # no .tmp left


def test_empty_output_path():
    with pytest.raises(OutputError, match="^--json: empty path$"):
        check_output_path("", "--json")


def test_read_only_directory_as_an_unprivileged_user():
    if os.geteuid() != 0:
        ro = Path(tempfile.mkdtemp())
        try:
            ro.chmod(0o555)
            with pytest.raises(OutputError, match="cannot write in"):
                check_output_path(ro / "out.json", "--json")
        finally:
            ro.chmod(0o755)
            shutil.rmtree(ro)
        return
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: chmod does not restrict root")
    base = Path(tempfile.mkdtemp(prefix="scnn-sim-ro-"))
    try:
        base.chmod(0o755)
        ro = base / "ro"
        ro.mkdir(mode=0o555)
        ro.chmod(0o555)
        code = textwrap.dedent(f"""\
            import os, sys
            try:
                open({str(ro / 'probe')!r}, 'w')
                print('SKIP chmod does not bite for this user'); sys.exit(0)
            except OSError:
                pass
            from scnn_sim.outputs import check_output_path, check_output_dir
            from scnn_sim.errors import OutputError
            for f, p in ((check_output_path, {str(ro / 'out.json')!r}),
                         (check_output_path, {str(ro / 'new' / 'out.json')!r}),
                         (check_output_dir, {str(ro / 'outdir')!r})):
                try:
                    f(p, '--json')
                    print('NOT REFUSED', p)
                except OutputError as exc:
                    print('REFUSED', exc)
            """)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, cwd="/", timeout=120)
        if out.stdout.startswith("SKIP") or "Permission denied" in out.stderr:
            pytest.skip(out.stdout.strip() or out.stderr.strip()[-200:])
        if "ModuleNotFoundError" in out.stderr:
            # The checkout or its venv lies under a directory the unprivileged user cannot
            # read (e.g. a clone inside a 0700 mktemp directory): nothing to test as that user.
            pytest.skip("the checkout or venv is not readable by uid 65534: "
                        + out.stderr.strip().splitlines()[-1])
        assert out.returncode == 0, out.stderr
        lines = out.stdout.strip().splitlines()
        assert len(lines) == 3 and all(ln.startswith("REFUSED --json ") for ln in lines), lines
        assert all("cannot write in " + str(ro) in ln for ln in lines), lines
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------------ pipes, bugs


def test_closed_stdout_exits_quietly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "scnn_sim", "workloads"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # like `| head` having exited: every write fails with EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_BROKEN_PIPE == 141
    assert err == ""


def test_internal_error_is_one_line_unless_debugging(monkeypatch, capsys):
    import scnn_sim.commands.workloads as wl

    def bug(_args):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(wl, "run_workloads", bug)
    monkeypatch.delenv("SCNN_SIM_DEBUG", raising=False)
    assert main(["workloads"]) == 1
    line = one_error_line(capsys, "scnn-sim: internal error: RuntimeError: something broke")
    assert "SCNN_SIM_DEBUG=1" in line
    monkeypatch.setenv("SCNN_SIM_DEBUG", "1")
    with pytest.raises(RuntimeError, match="something"):
        main(["workloads"])


# ------------------------------------------------------------------------------ signals


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import numpy as np

    from scnn_sim.workload.h5io import write_layers
    from scnn_sim.workload.shapes import Layer
    from scnn_sim.workload.tensors import LayerTensors

    rng = np.random.default_rng(0)
    lts = []
    for i in range(3):
        layer = Layer(f"c{i}", C=8, K=8, R=3, S=3, H=8, W=8, stride=1, padding=1, groups=1)
        w = rng.standard_normal(layer.weight_shape).astype(np.float32)
        a = np.maximum(rng.standard_normal((8, 8, 8)), 0).astype(np.float32)
        lts.append(LayerTensors(layer, w, a))
    path = tmp_path_factory.mktemp("exported") / "in.h5"
    write_layers(path, lts, source_model="toy")
    return path


# The child slows every dataset write so the signal lands mid-write. With swallow=True the
# slowed write also swallows the KeyboardInterrupt, as h5py does inside HDF5 callbacks.
CHILD = textwrap.dedent("""\
    import sys, time, h5py
    swallow = sys.argv[1] == "1"
    orig = h5py.Group.create_dataset
    def slow(*a, **k):
        try:
            open(sys.argv[2], "w").close()
            time.sleep(0.4)
        except KeyboardInterrupt:
            if not swallow:
                raise
        return orig(*a, **k)
    h5py.Group.create_dataset = slow
    from scnn_sim.cli import main
    sys.exit(main(sys.argv[3:]))
    """)


@pytest.mark.parametrize("swallow", [False, True], ids=["raised", "swallowed"])
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_prune_write_leaves_nothing(exported, tmp_path, sig, code, swallow):
    outdir = tmp_path / "out"
    outdir.mkdir()
    started = tmp_path / "writing"
    argv = ["prune", str(exported), "-g", "fine", "-d", "0.5", "-o", str(outdir / "p.h5")]
    proc = subprocess.Popen([sys.executable, "-c", CHILD, "1" if swallow else "0",
                             str(started), *argv], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert started.exists(), "the write never started"
        time.sleep(0.1)
        proc.send_signal(sig)
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == code, err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert err.strip() == ("scnn-sim: interrupted" if sig == signal.SIGINT
                           else "scnn-sim: terminated")
    assert list(outdir.iterdir()) == []  # neither the output nor a hidden .tmp
