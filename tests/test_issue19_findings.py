"""Issue 19's small findings of the new-user trial, one test each (written before the fix)."""

from __future__ import annotations

import io
import re

from conftest import TINY_WORKLOAD

from scnn_sim import cli


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse refusals exit from the parser
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# Progress: a bar only on a terminal; one line per point in a log (no "\r" frames).


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sweep_progress_bar_only_on_a_terminal():
    from scnn_sim.commands.sweep import progress_mode

    assert progress_mode(False, _Tty()) is True
    assert progress_mode(False, io.StringIO()) == "lines"
    assert progress_mode(True, _Tty()) is False


def test_sweep_into_a_log_writes_one_line_per_point(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY_WORKLOAD)
    (tmp_path / "s.yaml").write_text("workloads: [tiny.yaml]\nvary: {pe_array.rows: [2, 4]}\n")
    code, _, err = _cli(["sweep", "s.yaml", "-o", "s.sqlite", "--workers", "1"], capsys)
    assert code == 0, err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("sweep: point ")]
    assert [line.split()[2] for line in lines] == ["1/2", "2/2"]
    assert all(line.endswith(" ok") for line in lines)


# ---------------------------------------------------------------------------------------------
# storage FILE --granularities kernel: non-zero weights and stored value slots, both named.


def test_storage_reports_non_zeros_and_stored_slots(tmp_path, capsys):
    import csv
    import json

    import numpy as np

    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    w[rng.random((16, 8)) < 0.75] = 0.0            # keep a quarter of the kernels ...
    w[0, :, 0, 0] = 0.0                            # ... some with zeros inside
    a = np.ones((8, 6, 6), np.float32)
    np.savez(tmp_path / "mine.npz", weights=w, activations=a, C=8, K=16, R=3, S=3, H=6, W=6,
             stride=1, padding=1, groups=1)
    code, out, err = _cli(["storage", str(tmp_path / "mine.npz"), "--granularities",
                           "fine,kernel", "--format", "json"], capsys)
    assert code == 0, err
    rows = {g["granularity"]: g for g in json.loads(out)["granularities"]}
    nnz = int(np.count_nonzero(w))
    kept_kernels = int(np.count_nonzero(w.any(axis=(2, 3))))
    assert rows["kernel"]["kept_weights"] == nnz                # non-zeros
    assert rows["kernel"]["stored_values"] == kept_kernels * 9  # slots: whole kernels
    assert rows["kernel"]["stored_values"] * 16 == rows["kernel"]["value_bits"]
    assert rows["fine"]["stored_values"] == nnz + rows["fine"]["placeholders"]
    code, out, _ = _cli(["storage", str(tmp_path / "mine.npz"), "--granularities",
                         "fine,kernel"], capsys)
    assert "non-zero weights" in out and "stored values" in out and "kept weights" not in out
    code, out, _ = _cli(["storage", str(tmp_path / "mine.npz"), "--granularities", "kernel",
                         "--format", "csv"], capsys)
    row = next(csv.DictReader(out.splitlines()))
    assert int(row["non_zero_weights"]) == nnz and int(row["stored_values"]) == kept_kernels * 9


# ---------------------------------------------------------------------------------------------
# "did you mean" for option, choice and command typos.


def test_mistyped_option_gets_a_suggestion(capsys):
    code, _, err = _cli(["run", "alexnet", "--lyers", "conv5"], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        "scnn-sim: error: run: unrecognized arguments: --lyers conv5 (did you mean --layers?) "
        "(see scnn-sim run --help)"]


def test_mistyped_choice_and_command_get_a_suggestion(capsys):
    code, _, err = _cli(["run", "alexnet", "--format", "cvs"], capsys)
    assert code == 2 and "did you mean 'csv'?" in err and len(err.strip().splitlines()) == 1
    code, _, err = _cli(["rnu", "alexnet"], capsys)
    assert code == 2 and "did you mean 'run'?" in err


def test_no_suggestion_when_nothing_is_close(capsys):
    code, _, err = _cli(["run", "alexnet", "--zzzzzz"], capsys)
    assert code == 2 and "did you mean" not in err and "--zzzzzz" in err


# ---------------------------------------------------------------------------------------------
# study --help states the epoch defaults the study uses (one source: DATASET_DEFAULTS).


def test_study_help_shows_the_epoch_defaults_used(capsys):
    from scnn_sim.studies.real.arguments import DATASET_DEFAULTS

    code, out, _ = _cli(["study", "--help"], capsys)
    assert code == 0
    text = re.sub(r"-\s+", "-", " ".join(out.split()))  # argparse wraps at hyphens
    for key, option in (("epochs", "--epochs"), ("finetune_epochs", "--finetune-epochs")):
        want = ", ".join(f"{name} {d[key]}" for name, d in DATASET_DEFAULTS.items())
        assert f"(default: {want})" in text, (option, want)


# ---------------------------------------------------------------------------------------------
# The example sweep names the default energy table the code uses.


def test_example_sweep_names_the_default_energy_table():
    from pathlib import Path

    from scnn_sim.pricing.energy import DEFAULT_TABLE

    text = (Path(__file__).resolve().parent.parent / "workloads" / "sweeps"
            / "example.yaml").read_text()
    line = next(line for line in text.splitlines() if line.startswith("# energy:"))
    assert re.search(r"\(default (\w+)\)", line).group(1) == DEFAULT_TABLE


# ---------------------------------------------------------------------------------------------
# from_torch records the pooling modules (by module name) after the conv they pool.


def test_from_torch_records_pooling_by_module_name(tmp_path):
    from collections import OrderedDict

    import pytest

    torch = pytest.importorskip("torch")
    from torch import nn

    from scnn_sim.workload.export import from_torch
    from scnn_sim.workload.h5io import read_attrs

    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 4, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(4, 4, 3, padding=1), pool2=nn.AvgPool2d(3, stride=2, padding=1),
        conv3=nn.Conv2d(4, 4, 1)))
    path = tmp_path / "p.h5"
    assert from_torch(model, torch.rand(1, 3, 16, 16), path) == ["conv1", "conv2", "conv3"]
    assert read_attrs(path)["pooling"] == (
        "pool1 after conv1: max window 2 stride 2 padding 0; "
        "pool2 after conv2: avg window 3 stride 2 padding 1")
    plain = tmp_path / "plain.h5"
    from_torch(nn.Sequential(nn.Conv2d(3, 4, 3)), torch.rand(1, 3, 8, 8), plain)
    assert "pooling" not in read_attrs(plain)


# ---------------------------------------------------------------------------------------------
# A wrong kind of file is named, with the command that takes it (recognised by content).


def _write_kinds(folder):
    import zipfile

    import numpy as np

    (folder / "tiny.yaml").write_text(TINY_WORKLOAD)
    (folder / "spec.yaml").write_text("workloads: [tiny.yaml]\nvary: {pe_array.rows: [2]}\n")
    np.save(folder / "x.npy", np.zeros((1, 3, 8, 8), np.float32))
    # An ONNX ModelProto starts with field 1 (ir_version, a varint): 0x08 0x08, then bytes.
    (folder / "model.onnx").write_bytes(b"\x08\x08\x12\x07pytorch\x1a\x052.0\xff\xfe\x80")
    (folder / "store.sqlite").write_bytes(b"SQLite format 3\x00" + bytes(100))
    with zipfile.ZipFile(folder / "ckpt.pth", "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")


def test_sniff_recognises_kinds_by_content(tmp_path):
    from scnn_sim.inputs.filekind import sniff

    _write_kinds(tmp_path)
    (tmp_path / "renamed.yaml").write_bytes((tmp_path / "x.npy").read_bytes())
    (tmp_path / "arch.yaml").write_text("pe_array: {rows: 4, cols: 4}\n")
    kinds = {name: sniff(tmp_path / name) for name in (
        "tiny.yaml", "spec.yaml", "x.npy", "model.onnx", "store.sqlite", "ckpt.pth",
        "renamed.yaml", "arch.yaml")}
    assert kinds == {"tiny.yaml": "workload", "spec.yaml": "sweep", "x.npy": "npy",
                     "model.onnx": "onnx", "store.sqlite": "sqlite", "ckpt.pth": "torch",
                     "renamed.yaml": "npy", "arch.yaml": "arch"}
    assert sniff(tmp_path / "missing.yaml") is None


def test_wrong_kind_of_file_is_named_with_the_command_that_takes_it(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_kinds(tmp_path)
    cases = [
        (["run", "model.onnx"], "scnn-sim: error: model.onnx: an ONNX model, not a workload; "
         "convert it first: scnn-sim import model.onnx -o NET.h5"),
        (["run", "x.npy"], "scnn-sim: error: x.npy: a NumPy array (.npy), not a workload; "
         "scnn-sim import takes it as --images"),
        (["run", "spec.yaml"], "scnn-sim: error: spec.yaml: a sweep spec, not a workload; "
         "run it with scnn-sim sweep spec.yaml"),
        (["run", "store.sqlite"], "scnn-sim: error: store.sqlite: an SQLite file (a sweep "
         "store), not a workload; scnn-sim plot store.sqlite"),
        (["run", "ckpt.pth"], "scnn-sim: error: ckpt.pth: a PyTorch checkpoint, not a "
         "workload; scnn-sim import torchvision:NAME --weights ckpt.pth"),
        (["sweep", "tiny.yaml"], "scnn-sim: error: tiny.yaml: a workload, not a sweep spec; "
         "simulate it with scnn-sim run tiny.yaml"),
        (["sweep", "x.npy"], "scnn-sim: error: x.npy: a NumPy array (.npy), not a sweep spec"),
    ]
    for argv, expected in cases:
        code, _, err = _cli(argv, capsys)
        assert code == 2, (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), (argv, err)


# ---------------------------------------------------------------------------------------------
# A pruned exported file shows the granularity it records, not "as exported".


def test_run_of_pruned_file_shows_its_recorded_granularity(tmp_path, capsys):
    import numpy as np

    from scnn_sim.workload.h5io import write_layers
    from scnn_sim.workload.shapes import Layer
    from scnn_sim.workload.tensors import LayerTensors

    rng = np.random.default_rng(0)
    layer = Layer("c1", C=4, K=8, R=3, S=3, H=8, W=8, padding=1)
    lt = LayerTensors(layer, rng.standard_normal((8, 4, 3, 3)).astype(np.float32),
                      np.maximum(rng.standard_normal((4, 8, 8)), 0).astype(np.float32))
    write_layers(tmp_path / "net.h5", [lt], source_model="net")
    code, _, err = _cli(["prune", str(tmp_path / "net.h5"), "--granularity", "kernel",
                         "--density", "0.5", "-o", str(tmp_path / "k.h5")], capsys)
    assert code == 0, err
    code, out, err = _cli(["run", str(tmp_path / "k.h5")], capsys)
    assert code == 0, err
    assert "granularity=kernel" in out.splitlines()[0]
    code, out, _ = _cli(["run", str(tmp_path / "net.h5")], capsys)  # records "dense"
    assert "granularity=as exported" in out.splitlines()[0]
