"""What a plain install must offer: shipped workloads and sweep, every command without pandas,
``python -m scnn_sim``, and the lazy top-level API. The wheel itself is checked by
``.ci/wheel-check`` (called by ``make test``)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import scnn_sim
from scnn_sim.cli import main
from scnn_sim.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

SPEC = textwrap.dedent("""\
    workloads: [tiny.yaml]
    mode: list
    points:
      - {label: "2x2 PEs", pe_array.rows: 2, pe_array.cols: 2}
      - {label: "4x4 PEs", pe_array.rows: 4, pe_array.cols: 4}
    granularities: [fine, kernel]
    densities: [0.4, 0.6]
    """)


def test_setup_ships_workloads_and_sweeps_from_the_one_workloads_folder():
    # setup.py maps the data package onto workloads/; setup.cfg lists the files to ship.
    setup_py = (REPO / "setup.py").read_text()
    assert '"scnn_sim.workloads": "workloads"' in setup_py
    cfg = (REPO / "setup.cfg").read_text()
    assert "scnn_sim.workloads = *.yaml" in cfg and "scnn_sim.workloads.sweeps = *.yaml" in cfg
    assert "license_files = LICENSE" in cfg and "MIT" in (REPO / "LICENSE").read_text()
    assert not (REPO / "scnn_sim" / "workloads").exists(), "a second copy of workloads/"


def test_builtin_dir_prefers_the_installed_package_copy(tmp_path, monkeypatch, tiny_workload):
    import scnn_sim.workload.shapes as wl

    pkg = tmp_path / "site" / "scnn_sim"
    (pkg / "workloads" / "sweeps").mkdir(parents=True)
    (pkg / "workloads" / "mini.yaml").write_text(tiny_workload)
    (pkg / "workloads" / "sweeps" / "demo.yaml").write_text(SPEC)
    monkeypatch.setattr(wl, "__file__", str(pkg / "workload" / "shapes.py"))
    assert wl.builtin_dir() == pkg / "workloads"
    assert wl.builtin_names() == ["mini"]
    from scnn_sim.sweep import builtin_sweeps, resolve_spec

    assert builtin_sweeps() == ["demo"]
    assert resolve_spec("demo") == pkg / "workloads" / "sweeps" / "demo.yaml"


def test_checkout_reads_the_top_level_workloads_folder():
    from scnn_sim.workload.shapes import builtin_dir, builtin_names

    assert builtin_dir() == REPO / "workloads"
    assert "alexnet" in builtin_names()


def test_no_builtin_workloads_is_an_error(tmp_path, monkeypatch, capsys):
    import scnn_sim.workload.shapes as wl

    monkeypatch.setattr(wl, "builtin_dir", lambda: tmp_path / "nothing")
    assert main(["workloads"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("scnn-sim: error: ") and "no built-in workloads found" in err
    assert len(err.splitlines()) == 1


def test_sweep_spec_by_shipped_name():
    from scnn_sim.sweep import builtin_sweeps, load_spec, resolve_spec

    assert "example" in builtin_sweeps()
    assert resolve_spec("example") == REPO / "workloads" / "sweeps" / "example.yaml"
    assert load_spec("example").name == "example"
    with pytest.raises(ConfigError, match="nosuch: no such sweep spec file or shipped sweep "
                       r"\(shipped: .*example"):
        resolve_spec("nosuch")


def test_python_dash_m_scnn_sim(tmp_path):
    out = subprocess.run([sys.executable, "-m", "scnn_sim", "--version"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"scnn-sim {scnn_sim.__version__}"


def test_simulate_is_listed_and_lazy():
    assert "simulate" in scnn_sim.__all__ and "simulate" in dir(scnn_sim)
    assert "SimulationResult" in dir(scnn_sim)
    from scnn_sim.simulation import simulate

    assert scnn_sim.simulate is simulate
    with pytest.raises(AttributeError):
        scnn_sim.no_such_thing  # noqa: B018


# ----------------------------------------------------------------------------- without pandas


@pytest.fixture()
def sweep_file(tmp_path, tiny_workload):
    (tmp_path / "tiny.yaml").write_text(tiny_workload)
    (tmp_path / "spec.yaml").write_text(SPEC)
    out = tmp_path / "spec.sqlite"
    assert main(["sweep", str(tmp_path / "spec.yaml"), "-o", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    return tmp_path / "spec.yaml", out


def test_sweep_table_is_the_same_without_pandas(sweep_file, monkeypatch):
    pytest.importorskip("pandas")
    from scnn_sim.commands.sweep import render
    from scnn_sim.sweep import load_spec, load_sweep_results

    spec_path, out = sweep_file
    spec = load_spec(spec_path)
    ids = [p.point_id for p in spec.points()]
    with_pandas = render(load_sweep_results(out), ids, spec.varied)
    monkeypatch.setitem(sys.modules, "pandas", None)
    table = load_sweep_results(out)
    assert isinstance(table, np.ndarray)
    without = render(table, ids, spec.varied)
    assert without == with_pandas
    assert without.count(" ok") == 8


def test_sweep_and_plot_commands_without_pandas(sweep_file, monkeypatch, capsys, tmp_path):
    pytest.importorskip("pandas")
    from matplotlib.image import imread

    spec_path, out = sweep_file
    kinds = ("pe-sweep", "energy-breakdown", "cycles")
    for k in kinds:
        assert main(["plot", str(out), "--kind", k, "-o", str(tmp_path / f"pd-{k}.png")]) == 0
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError):
        import pandas  # noqa: F401
    # The whole command again (resume: nothing to run) and each plot, without pandas.
    assert main(["sweep", str(spec_path), "-o", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    assert "8 already done" in capsys.readouterr().out
    for k in kinds:
        png = tmp_path / f"np-{k}.png"
        assert main(["plot", str(out), "--kind", k, "-o", str(png)]) == 0
        assert np.array_equal(imread(png), imread(tmp_path / f"pd-{k}.png")), k


def test_torch_is_a_range_pinned_only_by_the_ci_constraints():
    from packaging.requirements import Requirement

    cfg = (REPO / "setup.cfg").read_text()
    reqs = [Requirement(line.strip()) for line in cfg.splitlines()
            if re.match(r"\s+torch\s*[<>=!~]", line)]
    assert len(reqs) == 2  # the torch extra and the test extra
    pinned = next(line for line in (REPO / ".ci" / "constraints.txt").read_text().splitlines()
                  if line.startswith("torch=="))
    local = pinned.split("==")[1]
    for r in reqs:
        assert not any(s.operator == "==" for s in r.specifier), r
        assert r.specifier.contains(local) and r.specifier.contains("2.2.0"), r
    assert "-c .ci/constraints.txt" in (REPO / "Makefile").read_text()
