"""The output gate (issue 20): every CLI option that writes a file is checked before work,
refused in one line for the same bad paths, and written atomically.

The options are found by introspecting the parser :mod:`scnn_sim.cli` builds, so a new
command with an output option fails :func:`test_every_output_option_has_a_recipe` until it is
added to :data:`RECIPES` and runs the bad-path cases below.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scnn_sim import cli
from scnn_sim.errors import OutputError
from scnn_sim.outputs import atomic_output, atomic_write_text, check_output_path, file_in_dir
from scnn_sim.studies.real.data import DATASETS

#: Option destinations that name an output; any other option whose help says it writes or
#: saves a file is flagged too (see :func:`output_options`).
OUTPUT_DESTS = {"json", "h5", "output", "export", "plot", "write"}
_WRITES = re.compile(r"\b(write|writes|save|saves|export)\b", re.I)

#: A command line for each output option: ``{out}`` is replaced by the path under test;
#: ``{tiny}`` is a two-layer workload. Other inputs may be missing: the gate runs first.
RECIPES = {
    ("run", "--json"): ["run", "{tiny}", "--json", "{out}"],
    ("run", "--h5"): ["run", "{tiny}", "--h5", "{out}"],
    ("granularity", "--json"): ["granularity", "{tiny}", "--density", "0.35", "--json",
                                "{out}"],
    ("storage", "--json"): ["storage", "{tiny}", "--json", "{out}"],
    ("sweep", "-o"): ["sweep", "example", "-o", "{out}"],
    ("sweep", "--export"): ["sweep", "example", "-o", "{tmp}/s.sqlite", "--export", "{out}"],
    ("plot", "-o"): ["plot", "{tmp}/missing.json", "--kind", "cycles", "-o", "{out}"],
    ("compare", "--json"): ["compare", "{tmp}/a.json", "{tmp}/b.json", "--json", "{out}"],
    ("compare", "--plot"): ["compare", "{tmp}/a.json", "{tmp}/b.json", "--plot", "{out}"],
    ("schema", "--write"): ["schema", "--write", "{out}"],
    ("import", "-o"): ["import", "{tmp}/missing.onnx", "-o", "{out}"],
    ("prune", "-o"): ["prune", "{tmp}/missing.h5", "-o", "{out}", "--granularity", "fine",
                      "--density", "0.5"],
    ("study", "-o"): ["study", "--dataset", "{dataset}", "-o", "{out}"],
    ("sensitivity", "--json"): ["sensitivity", "{tiny}", "--choices", "crossbar_energy",
                                "--json", "{out}"],
    ("sensitivity", "--plot"): ["sensitivity", "{tiny}", "--choices", "crossbar_energy",
                                "--plot", "{out}"],
}
#: Options that take a directory (the rest take a file).
DIRECTORY_OPTIONS = {("schema", "--write"), ("study", "-o")}
#: The file suffix each file option expects.
SUFFIX = {("run", "--h5"): ".h5", ("sweep", "-o"): ".sqlite", ("sweep", "--export"): ".csv",
          ("plot", "-o"): ".png", ("compare", "--plot"): ".png", ("import", "-o"): ".h5",
          ("prune", "-o"): ".h5", ("sensitivity", "--plot"): ".png"}


def output_options() -> dict[tuple[str, str], object]:
    """(command, option string) -> argparse action, for every option that names an output."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    found = {}
    for name, p in sub.choices.items():
        for a in p._actions:
            if not a.option_strings or a.nargs == 0:
                continue
            if a.dest in OUTPUT_DESTS or (_WRITES.search(a.help or "")
                                          and a.dest not in ("format", "columns")):
                found[(name, a.option_strings[0])] = a
    return found


def test_every_output_option_has_a_recipe():
    found = output_options()
    assert set(found) == set(RECIPES), (
        f"output options without a bad-path recipe: {sorted(set(found) - set(RECIPES))}; "
        f"recipes for options that are gone: {sorted(set(RECIPES) - set(found))}")


def _run(argv: list[str], capsys) -> tuple[int, str]:
    status = cli.main(argv)
    err = capsys.readouterr().err
    return status, err


def _argv(key, out: str, tmp: Path, tiny: Path) -> list[str]:
    return [x.format(out=out, tmp=tmp, tiny=tiny, dataset=DATASETS[0]) for x in RECIPES[key]]


def _bad_paths(key, tmp: Path) -> list[tuple[str, str]]:
    """(case, path) pairs every output option must refuse before work."""
    suffix = SUFFIX.get(key, ".json")
    afile = tmp / "afile"
    afile.write_text("x")
    cases = [("empty", ""), ("under a file", str(afile / f"out{suffix}")),
             ("pseudo fs", f"/proc/self/scnn-out{suffix}"),
             ("sys", f"/sys/scnn-out{suffix}")]
    if key in DIRECTORY_OPTIONS:
        cases.append(("a file for a directory", str(afile)))
    else:
        (tmp / f"adir{suffix}").mkdir()
        cases += [("an existing directory", str(tmp / f"adir{suffix}")),
                  ("trailing slash", str(tmp / f"newdir{suffix}") + "/")]
    return cases


@pytest.mark.parametrize("key", sorted(RECIPES), ids=lambda k: " ".join(k))
def test_every_output_option_refuses_bad_paths_before_work(key, tmp_path, tiny_workload,
                                                          capsys):
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(tiny_workload)
    for case, bad in _bad_paths(key, tmp_path):
        status, err = _run(_argv(key, bad, tmp_path, tiny), capsys)
        assert status == 2, (case, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("scnn-sim: error: "), (case, err)
        assert key[1] in lines[0] or "output" in lines[0], (case, err)
        assert "internal error" not in err
    assert not list(tmp_path.rglob("*.tmp*")), "a temporary file was left behind"


@pytest.mark.parametrize("key", sorted(DIRECTORY_OPTIONS), ids=lambda k: " ".join(k))
def test_directory_outputs_refuse_a_planted_symlink(key, tmp_path, tiny_workload, capsys):
    outdir = tmp_path / "out"
    outdir.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    name = "arch.json" if key[0] == "schema" else "study.json"
    (outdir / name).symlink_to(victim)
    status, err = _run(_argv(key, str(outdir), tmp_path, tmp_path), capsys)
    assert status == 2 and "symbolic link" in err, err
    assert victim.read_text() == "keep me"
    assert sorted(p.name for p in outdir.iterdir()) == [name]  # nothing else written


def test_schema_write_writes_every_kind_atomically(tmp_path, capsys):
    status, _ = _run(["schema", "--write", str(tmp_path / "s")], capsys)
    assert status == 0
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert "arch.json" in files and not [f for f in files if f.startswith(".")]


def test_file_in_dir_refuses_symlink_and_directory(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "l").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match="symbolic link"):
        file_in_dir(tmp_path, "l")
    with pytest.raises(OutputError, match="not a regular file"):
        file_in_dir(tmp_path, "d")
    assert file_in_dir(tmp_path, "new.json") == tmp_path / "new.json"


def test_atomic_output_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []
    atomic_write_text(target, "whole\n")
    assert target.read_text() == "whole\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_check_output_path_cases(tmp_path):
    with pytest.raises(OutputError, match="is a directory"):
        check_output_path(str(tmp_path / "x") + "/", "--json")
    with pytest.raises(OutputError, match="cannot write in /proc .a pseudo file system"):
        check_output_path("/proc/self/out.json", "--json")
    with pytest.raises(OutputError, match="expected a path"):
        check_output_path(3, "--json")  # type: ignore[arg-type]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_write_removes_the_temporary_file(sig, tmp_path):
    """A CSV export interrupted mid-write leaves neither the output nor its ``.tmp``."""
    code = textwrap.dedent(f"""\
        import os, sys, time
        from scnn_sim.outputs import atomic_output, interrupts_raise
        try:
            with interrupts_raise(), atomic_output({str(tmp_path / 'export.csv')!r}) as tmp:
                with open(tmp, 'w') as fh:
                    fh.write('a,b\\n')
                    fh.flush()
                    print('writing', flush=True)
                    time.sleep(30)
        except KeyboardInterrupt:
            sys.exit(7)
        """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.PIPE,
                            env=env)
    assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 7
    assert list(tmp_path.iterdir()) == []
