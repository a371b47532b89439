"""The notebooks run headless (SMALL mode) without errors and print their key numbers.

Also checks that the committed notebooks carry no outputs and match their generator, that
they build no result dicts by hand (they call the public API), and the titles of the figures
they draw: made from the results' own provenance (workload, density, energy table), never
"unknown" or a guessed "per-layer".
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from scnn_sim.pricing.energy import DEFAULT_TABLE

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("01_scnn_reproduction.ipynb", "02_granularity_study.ipynb", "03_pe_sweep.ipynb")


def kernel_name() -> str:
    """The ``python3`` kernel, after checking it runs this interpreter (the venv's)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:  # pragma: no cover - ipykernel ships the native spec
        pytest.skip("no python3 kernelspec; run: python -m ipykernel install --sys-prefix")
    exe = spec.argv[0]
    # jupyter_client runs a spec's bare "python" as sys.executable.
    if exe not in ("python", "python3", sys.executable) and \
            Path(exe).resolve() != Path(sys.executable).resolve():
        pytest.skip(f"python3 kernel runs {exe}, not {sys.executable}; run: "
                    f"{sys.executable} -m ipykernel install --sys-prefix")
    return "python3"


def load(name: str):
    return nbformat.read(NOTEBOOKS / name, as_version=4)


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    nb = load(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "SCNN_SIM_NOTEBOOK_SMALL" in code[0].source


def test_generator_matches_committed():
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import make_notebooks
    finally:
        sys.path.remove(str(NOTEBOOKS))
    built = make_notebooks.build()
    assert sorted(built) == sorted(NAMES)
    for name, nb in built.items():
        assert [c.source for c in nb.cells] == [c.source for c in load(name).cells], name


def test_notebooks_call_the_api_rather_than_build_result_dicts():
    for name in NAMES:
        source = "\n".join(c.source for c in load(name).cells if c.cell_type == "code")
        # The shape of a `granularity --json` or `run --json` document, built by hand, loses
        # the provenance (density, energy table) the figures' titles are made from.
        for shape in ('"granularities": {}', '"layers": [lr.record', '.totals.record'):
            assert shape not in source, (name, shape)
    nb02 = "\n".join(c.source for c in load("02_granularity_study.ipynb").cells)
    assert "granularity_study(" in nb02


def run(name: str, workdir: Path, monkeypatch) -> tuple[dict, list]:
    monkeypatch.setenv("SCNN_SIM_NOTEBOOK_SMALL", "1")
    nb = load(name)
    client = nbclient.NotebookClient(nb, kernel_name=kernel_name(), timeout=180,
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()  # raises CellExecutionError on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    lines = [ln for ln in text.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, text[-2000:]
    return json.loads(lines[0][len("RESULT "):]), outputs


def images(outputs) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs
               if o.output_type in ("display_data", "execute_result"))


def test_01_scnn_reproduction(tmp_path, monkeypatch):
    result, outputs = run("01_scnn_reproduction.ipynb", tmp_path, monkeypatch)
    assert result["small"] is True
    speed = result["density_speedup"]
    assert set(speed) == {"0.1", "0.3", "0.5", "0.7", "0.85", "1.0"}
    assert speed["0.1"] > 5 > speed["1.0"]  # big win when sparse, none when dense
    assert speed["1.0"] < 1.2
    assert set(result["network_speedup"]) == {"alexnet", "googlenet", "vgg16"}
    assert all(v > 1 for v in result["network_speedup"].values())
    assert result["paper"]["network_speedup"]["vgg16"] == 3.52
    assert images(outputs) >= 4
    titles = result["titles"]
    # Published per-layer densities: each result records density null, i.e. per-layer.
    for net in ("alexnet", "googlenet", "vgg16"):
        assert titles[f"cycles {net}"] == f"{net} | density per-layer (fine) | energy " \
                                          f"{DEFAULT_TABLE}"
    assert titles["density_sweep"].startswith("googlenet | weight = activation density 0.1-1")


def test_02_granularity_study(tmp_path, monkeypatch):
    result, outputs = run("02_granularity_study.ipynb", tmp_path, monkeypatch)
    saving = result["index_saving_pct"]
    assert saving["fine"] == 0 and saving["kernel"] > saving["vector"] > 0
    rel = result["relative_to_fine"]
    assert rel["weight storage [Mbit]"]["fine"] == 1
    assert rel["weight storage [Mbit]"]["kernel"] < 1
    assert set(rel["energy [uJ]"]) == {"fine", "vector", "kernel", "filter"}
    assert images(outputs) >= 2
    # Both figures are titled with the study's density and energy table (issue 19: they were
    # titled "density per-layer | energy ?" from a dict built by hand).
    want = f"alexnet | density 0.35 (fine, vector, kernel, filter) | energy {DEFAULT_TABLE}"
    assert result["titles"] == {"granularity": want, "energy-breakdown": want}


def test_03_pe_sweep(tmp_path, monkeypatch):
    result, outputs = run("03_pe_sweep.ipynb", tmp_path, monkeypatch)
    assert set(result["cycles"]) == {"256 PEs of 2x2", "64 PEs of 4x4", "16 PEs of 8x8",
                                     "4 PEs of 16x16"}
    assert all(v > 0 for v in result["cycles"].values())
    assert result["speedup_64x4x4_vs_4x16x16"] > 0
    # Area per configuration (scnn_sim.pricing.area): SCNN's own design is Table 4's 7.9 mm2,
    # and the
    # 16x16 PEs' crossbars (F*I x 2*F*I each) make that design the largest.
    area = result["area_mm2"]
    assert area["64 PEs of 4x4"] == pytest.approx(7.9, rel=0.01)
    assert max(area, key=area.get) == "4 PEs of 16x16"
    for name, ppa in result["perf_per_area"].items():
        assert ppa == pytest.approx(1e9 / result["cycles"][name] / area[name], rel=0.01)
    assert (tmp_path / "results" / "03_pe_sweep.sqlite").is_file()
    assert images(outputs) >= 1
    # No density axis: every point ran at each layer's own density, as the table records.
    assert result["titles"] == {"pe-sweep": f"googlenet | density per-layer | energy "
                                            f"{DEFAULT_TABLE}"}


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch):
    # Keep kernels from picking up a user's IPython start-up files.
    monkeypatch.setenv("IPYTHONDIR", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                  "scnn-sim-ipython"))
