"""Real-data granularity study on digits: schedule, structured masks, export, determinism.

One small study (digits, schedule 1 / 0.5 / 0.25, 4 dense epochs, 1 fine-tuning epoch per
step, the four granularities, SCNN simulation of the exports) is shared by most tests; the
determinism test runs an even smaller configuration twice.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scnn_sim.errors import ScnnSimError
from scnn_sim.sparsity.pruning import block_shape_for, blockify
from scnn_sim.studies.real import (
    RealStudyError,
    cumulative_mask,
    load_fashion_mnist,
    no_loss_density,
    parse_granularities,
    parse_schedule,
    read_idx,
    run_study,
)
from scnn_sim.workload.h5io import read_stored

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

SCHEDULE = (1.0, 0.5, 0.25)
GRANS = ("fine", "vector", "kernel", "filter")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("real_study")
    result = run_study("digits", schedule=SCHEDULE, epochs=4, finetune_epochs=1,
                       granularities=GRANS, out_dir=out, seed=0)
    return result, out


def test_accuracy_points_follow_the_schedule(study: tuple[dict, Path]) -> None:
    result, _ = study
    assert list(result["accuracy"]) == list(GRANS)
    dense = result["dense"]["accuracy"]
    assert isinstance(dense, float) and dense > 0.8  # the dense model learns
    for g, points in result["accuracy"].items():
        assert [p["target"] for p in points] == list(SCHEDULE)
        prev_kept = None
        for p in points:
            for key in ("accuracy", "accuracy_before_finetune"):
                assert isinstance(p[key], float) and 0.0 <= p[key] <= 1.0
            kept = [ly["kept"] for ly in p["layers"]]
            for ly in p["layers"]:
                # Achieved density within one group of the target, in every layer.
                assert ly["group_size"] == math.prod(block_shape_for(ly["shape"], g))
                assert abs(ly["kept"] - p["target"] * ly["weights"]) <= ly["group_size"]
                assert ly["kept"] % ly["group_size"] == 0
            total = sum(ly["weights"] for ly in p["layers"])
            assert p["density"] == pytest.approx(sum(kept) / total)
            if prev_kept is not None:
                assert all(a <= b for a, b in zip(kept, prev_kept, strict=True))
            prev_kept = kept
        assert points[0]["accuracy"] == dense
    control = result["dense_control"]
    assert [c["target"] for c in control] == list(SCHEDULE)
    assert control[0]["accuracy"] == dense
    assert all(isinstance(c["accuracy"], float) and 0 <= c["accuracy"] <= 1 for c in control)
    for g in GRANS:
        nl = result["no_loss_vs_control"][g]
        i = SCHEDULE.index(nl["target"])
        assert nl["accuracy"] >= control[i]["accuracy"] - 0.005 - 1e-12
    fine_layers = result["accuracy"]["fine"][1]["layers"]
    assert [ly["name"] for ly in fine_layers] == ["conv1", "conv2", "conv3", "conv4"]
    for g in GRANS:
        nl = result["no_loss"][g]
        assert nl["target"] in SCHEDULE
        assert nl["accuracy"] >= dense - 0.005 - 1e-12


def test_exports_are_structured_and_simulated(study: tuple[dict, Path]) -> None:
    result, out = study
    entries = result["scnn"]
    assert entries[0]["granularity"] == "dense"
    common = result["common_density"]
    assert common in SCHEDULE[1:]
    for g in GRANS:  # every granularity exported at the common density
        assert any(e["granularity"] == g and "common" in e["roles"] for e in entries)
    for e in entries:
        path = out / e["file"]
        assert path.is_file()
        attrs, stored = read_stored(path)
        g = e["granularity"]
        point = None if g == "dense" else next(
            p for p in result["accuracy"][g] if p["target"] == e["target"])
        assert e["accuracy"] == (result["dense"]["accuracy"] if point is None
                                 else point["accuracy"])
        for i, s in enumerate(stored):
            w = s.tensors.weights
            if g == "dense":
                assert s.mask is None and np.count_nonzero(w) == w.size
                continue
            mask = s.mask
            assert mask is not None and not np.any(w[~mask])
            # Every group entirely kept or entirely zero, in the exported weights.
            rows, valid = blockify(mask, block_shape_for(mask.shape, g), fill=False)
            assert valid.all()
            assert np.all(rows.all(axis=1) | ~rows.any(axis=1))
            nz_rows, _ = blockify(w != 0, block_shape_for(w.shape, g), fill=False)
            assert np.all(~nz_rows.any(axis=1) | rows.all(axis=1))
            # The file's (and SCNN's) layer densities are the pruned model's.
            model_density = point["layers"][i]["density"]
            assert np.count_nonzero(mask) / mask.size == pytest.approx(model_density, abs=0)
            assert e["layers"][i]["weight_density"] == pytest.approx(model_density, abs=0)
            assert s.tensors.layer.name == point["layers"][i]["name"]
        t = e["totals"]
        assert t["cycles"] > 0 and 0 < t["multiplier_utilization"] <= 1
        assert t["products"] > 0 and t["dram_bits"] > 0 and t["energy_pj"]["total"] > 0
        acc = t["accumulator_accesses"]
        assert acc["per_product"] == t["products"]
        assert acc["wide"] <= acc["same_address"] <= acc["per_product"]
        assert all(v > 0 for v in t["memory_references"].values())
        if "common" in e["roles"] and g != "dense":
            assert e["ratios_vs_fine"] is not None
    dense_products = entries[0]["totals"]["products"]
    assert all(e["totals"]["products"] < dense_products for e in entries[1:])


def test_outputs_written(study: tuple[dict, Path]) -> None:
    result, out = study
    assert json.loads((out / "study.json").read_text()) == json.loads(json.dumps(result))
    assert (out / "accuracy_vs_density.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(result["files"]["h5"]) == sorted(p.name for p in out.glob("*.h5"))
    prov = result["provenance"]
    assert prov["seed"] == 0 and prov["schedule"] == list(SCHEDULE)
    assert prov["torch_version"] == torch.__version__
    assert prov["dataset"]["name"] == "digits" and prov["dataset"]["image_shape"] == [1, 16, 16]


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    kw = dict(schedule="1,0.5", epochs=1, finetune_epochs=1, granularities="fine,kernel",
              simulate_scnn=False, seed=3)
    a = run_study("digits", out_dir=tmp_path / "a", **kw)
    b = run_study("digits", out_dir=tmp_path / "b", **kw)
    # Same thread count, deterministic algorithms, seeded shuffling: bit-identical.
    for g in ("fine", "kernel"):
        assert [p["accuracy"] for p in a["accuracy"][g]] == \
            [p["accuracy"] for p in b["accuracy"][g]]
        assert [p["layers"] for p in a["accuracy"][g]] == [p["layers"] for p in b["accuracy"][g]]
    assert a["dense_control"] == b["dense_control"]
    assert a["scnn"] == [] and a["files"]["h5"] == []
    # Global torch settings are restored.
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det


def test_cumulative_mask_only_shrinks() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    for g, size in (("fine", 1), ("vector", 3), ("kernel", 9), ("filter", 36)):
        kept = np.ones(w.shape, dtype=bool)
        cur = w.copy()
        for d in (0.8, 0.5, 0.3, 0.1):
            cur[0, 0] = 0.0 if g != "fine" else cur[0, 0]  # a kept group of exact zeros
            new = cumulative_mask(cur, kept, d, g)
            assert not np.any(new & ~kept)
            assert abs(np.count_nonzero(new) - d * w.size) <= size
            kept = new
            cur = np.where(kept, cur * 1.7 - 0.3, 0).astype(np.float32)  # "fine-tuned"


def test_no_loss_density() -> None:
    pts = [{"target": 1.0, "density": 1.0, "accuracy": 0.90},
           {"target": 0.5, "density": 0.5, "accuracy": 0.897},
           {"target": 0.3, "density": 0.3, "accuracy": 0.88},
           {"target": 0.2, "density": 0.2, "accuracy": 0.896}]
    assert no_loss_density(pts, 0.90)["target"] == 0.2
    assert no_loss_density(pts[:3], 0.90)["target"] == 0.5
    assert no_loss_density(pts, 0.95)["target"] == 1.0
    # Against per-point references (a dense control with the same training budget).
    nl = no_loss_density(pts, 0.90, references=[0.90, 0.90, 0.88, 0.905])
    assert nl["target"] == 0.3 and nl["loss_points"] == pytest.approx(0.0)
    with pytest.raises(RealStudyError, match="references"):
        no_loss_density(pts, 0.90, references=[0.9])


@pytest.mark.parametrize("bad", ["", "1", "1,0.5,0.7", "1,1", "0", "1.5", "0.5,-0.1", "abc",
                                 "nan", [0.5, 0.0]])
def test_bad_schedules(bad: object, tmp_path: Path) -> None:
    with pytest.raises(RealStudyError, match="schedule"):
        parse_schedule(bad)  # type: ignore[arg-type]
    with pytest.raises(ScnnSimError, match="schedule"):
        run_study("digits", schedule=bad, out_dir=tmp_path)  # type: ignore[arg-type]


def test_schedule_and_granularity_parsing() -> None:
    assert parse_schedule("0.5, 0.25") == (1.0, 0.5, 0.25)
    assert parse_schedule([1, 0.1]) == (1.0, 0.1)
    assert parse_granularities("kernel,fine") == ["fine", "kernel"]
    assert parse_granularities(["vector"]) == ["fine", "vector"]
    for bad in ("", "bogus", "nm:2:4", "fine,fine"):
        with pytest.raises(RealStudyError, match="granularities"):
            parse_granularities(bad)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ScnnSimError, match="unknown dataset 'mnist'"):
        run_study("mnist", out_dir=tmp_path)
    with pytest.raises(ScnnSimError, match="apt-get install dataset-fashion-mnist"):
        run_study("fashion-mnist", data_root=tmp_path / "missing", out_dir=tmp_path)
    with pytest.raises(ScnnSimError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)  # a directory without the IDX files
    with pytest.raises(ScnnSimError, match="epochs"):
        run_study("digits", epochs=0, out_dir=tmp_path)
    for common in (0.3, 1.0):
        with pytest.raises(ScnnSimError, match="common density"):
            run_study("digits", schedule="1,0.5", common_density=common, out_dir=tmp_path)
    with pytest.raises(ScnnSimError, match="granularities"):
        run_study("digits", granularities="nm:2:4", out_dir=tmp_path)


def _write_idx(path: Path, arr: np.ndarray) -> None:
    data = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data += arr.astype(np.uint8).tobytes()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)


def test_fashion_loader_reads_gzip_and_raw_idx(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x_tr = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    x_te = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", x_tr)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 2, 3, 9]))
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", x_te)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([4, 5, 6]))
    ds = load_fashion_mnist(tmp_path)
    assert ds.x_train.shape == (5, 1, 28, 28) and ds.x_train.dtype == np.float32
    np.testing.assert_array_equal(ds.x_train[:, 0] * 255, x_tr.astype(np.float32))
    assert ds.y_test.tolist() == [4, 5, 6] and ds.y_train.dtype == np.int64
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03\x00")
    with pytest.raises(RealStudyError, match="truncated|IDX"):
        load_fashion_mnist(tmp_path)
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x02\x00")
    with pytest.raises(RealStudyError, match="not an unsigned-byte IDX"):
        read_idx(tmp_path / "bad")


def test_without_torch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(ScnnSimError, match=r"pip install 'scnn-sim\[torch\]'"):
        run_study("digits", out_dir=tmp_path)
    # The module and the command import without torch.
    code = ("import sys; sys.modules['torch'] = None; "
            "import scnn_sim.studies.real, scnn_sim.commands.study")
    subprocess.run([sys.executable, "-c", code], check=True)


def _parser() -> argparse.ArgumentParser:
    from scnn_sim.commands import study as cmd

    parser = argparse.ArgumentParser(prog="scnn-sim")
    sub = parser.add_subparsers(dest="command")
    cmd.register(sub)
    return parser


def test_study_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args([
        "study", "--dataset", "digits", "--schedule", "1,0.5", "--granularities",
        "fine,filter", "--epochs", "1", "--finetune-epochs", "1", "-o", str(tmp_path / "o")])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    for needle in ("test accuracy vs density", "no-loss density", "SCNN", "filter",
                   "study.json"):
        assert needle in text
    assert (tmp_path / "o" / "study.json").is_file()
    bad = _parser().parse_args(["study", "--dataset", "digits", "--schedule", "0.5,0.9",
                                "-o", str(tmp_path / "x")])
    with pytest.raises(ScnnSimError, match="strictly decreasing"):
        bad.func(bad)
    with pytest.raises(SystemExit):
        _parser().parse_args(["study", "--dataset", "cifar"])


# --------------------------------------------------------------------------------------------
# Output formats: the shared format_table path of every command


def _study_cli(argv: list[str], result: dict | None, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[int, str, str]:
    """``scnn-sim study --dataset digits ARGV`` with run_study answering ``result`` (or
    failing the test when it is reached, for checks that must come before any training)."""
    from scnn_sim.cli import main
    from scnn_sim.commands import study as cmd

    def fake(*_a: object, **_k: object) -> dict:
        assert result is not None, "run_study reached: the check came too late"
        return result

    monkeypatch.setattr(cmd, "run_study", fake)
    code = main(["study", "--dataset", "digits", "-o", str(tmp_path / "o"), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_study_formats_through_the_shared_formatter(study: tuple[dict, Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from scnn_sim.results.tables import column_key, format_table
    from scnn_sim.studies.real import SCNN_HEADERS, accuracy_table, no_loss_table, text_report

    result = json.loads(json.dumps(study[0]))
    run = lambda *argv: _study_cli(list(argv), result, monkeypatch, capsys, tmp_path)  # noqa: E731
    code, out, err = run("--format", "csv")
    assert code == 0 and out.rstrip("\n") == format_table(*accuracy_table(result), "csv")
    header = out.splitlines()[0].split(",")
    assert header[:3] == ["target", "fine_acc", "fine_dens"] and header[-1] == "dense_plus_ft_acc"
    assert len(out.splitlines()) == 1 + len(SCHEDULE) and "wrote" in err  # note on stderr
    code, out, _ = run("--format", "markdown")
    assert out.rstrip("\n") == format_table(*accuracy_table(result), "markdown")
    assert out.splitlines()[1].startswith("|--")
    code, out, _ = run("--format", "json")
    assert json.loads(out) == result
    code, out, _ = run()
    assert out.startswith(text_report(result)) and "wrote" in out
    code, out, _ = run("--table", "scnn", "--format", "csv")
    lines = out.splitlines()
    assert lines[0].split(",") == [column_key(h) for h in SCNN_HEADERS]
    assert len(lines) == 1 + len(result["scnn"])
    code, out, _ = run("--table", "no-loss", "--format", "markdown", "--columns",
                       "dense+ft target,loss_pt")
    cells = [c.strip() for c in out.splitlines()[0].split("|")[1:-1]]
    assert cells == ["granularity", "dense+ft target", "loss [pt]"]
    assert len(out.splitlines()) == 2 + len(GRANS)
    # Every table has unique CSV / JSON column names.
    for headers, _ in (accuracy_table(result), no_loss_table(result)):
        keys = [column_key(h) for h in headers]
        assert len(set(keys)) == len(keys)


def test_study_table_options_fail_before_training(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _study_cli(["--columns", "target,nope"], None, monkeypatch, capsys,
                                tmp_path)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "scnn-sim: error: --columns: unknown column 'nope'; allowed: target, fine_acc, "
        "fine_dens, vector_acc, vector_dens, kernel_acc, kernel_dens, filter_acc, filter_dens, "
        "dense_plus_ft_acc"]
    code, _, err = _study_cli(["--table", "scnn", "--no-simulate", "--format", "csv"], None,
                              monkeypatch, capsys, tmp_path)
    assert code == 2 and "--table scnn: the SCNN table needs the simulation" in err
    code, _, err = _study_cli(["--table", "scnn", "--columns", "model,cycles/fine"], None,
                              monkeypatch, capsys, tmp_path)
    assert code == 1 and "run_study reached" in err  # valid columns: the study would run


def test_markdown_summary_uses_the_shared_formatter(study: tuple[dict, Path]) -> None:
    import scnn_sim.studies.real.report as report
    from scnn_sim.results.tables import format_table
    from scnn_sim.studies.real import accuracy_table, markdown_summary, no_loss_table, scnn_table

    md = markdown_summary(study[0])
    for table in (accuracy_table, no_loss_table, scnn_table):
        assert format_table(*table(study[0]), "markdown") in md
    assert not hasattr(report, "_markdown_table")
