"""Tests of the storage report (scnn_sim.studies.storage) and the ``storage`` sub-command."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from scnn_sim.commands import storage as storage_cmd
from scnn_sim.errors import ScnnSimError, SparsityError, WorkloadError
from scnn_sim.sparsity.pruning import block_shape_for
from scnn_sim.studies.storage import ROW_KEYS, storage_report
from scnn_sim.workload.shapes import Layer, Workload

TOP_KEYS = [
    "workload",
    "density",
    "weights",
    "value_bits",
    "index_bits_per_index",
    "seed",
    "scnn_sim_version",
    "granularities",
    "layers",
]


def small_workload() -> Workload:
    layers = (
        Layer(name="c1", C=3, K=16, R=5, S=5, H=20, W=20),
        Layer(name="c2", C=16, K=24, R=3, S=3, H=10, W=10, padding=1),
        Layer(name="pw", C=24, K=20, R=1, S=1, H=10, W=10),
        Layer(name="dw", C=20, K=20, R=3, S=3, H=10, W=10, groups=20),
        Layer(name="fc", C=20, K=10, R=1, S=1, H=1, W=1, kind="fc"),
    )
    return Workload(name="tiny", layers=layers, source="test", provenance="test")


def test_report_keys_and_totals() -> None:
    wl = small_workload()
    r = storage_report(wl, 0.3)
    assert list(r) == TOP_KEYS
    assert r["workload"] == "tiny" and r["density"] == 0.3 and r["value_bits"] == 16
    assert r["index_bits_per_index"] == 4 and r["seed"] == 0
    assert [g["granularity"] for g in r["granularities"]] == ["fine", "vector", "kernel", "filter"]
    for row in r["granularities"]:
        assert list(row) == list(ROW_KEYS)
        assert row["total_bits"] == row["value_bits"] + row["index_bits"]
        assert row["compression_ratio"] == pytest.approx(
            row["total_weights"] * 16 / row["total_bits"]
        )
    conv_names = ["c1", "c2", "pw", "dw"]  # the fc layer is not reported
    assert [x["layer"] for x in r["layers"]] == [n for n in conv_names for _ in range(4)]
    for row in r["layers"]:
        assert list(row) == ["layer", *ROW_KEYS]
    total = sum(math.prod(lay.weight_shape) for lay in wl.conv_layers)
    for g in r["granularities"]:
        assert g["total_weights"] == total
        per = [x for x in r["layers"] if x["granularity"] == g["granularity"]]
        for k in ("kept_weights", "value_bits", "index_bits", "placeholders", "csr_bits"):
            assert g[k] == sum(x[k] for x in per)
    json.dumps(r)  # serialisable


@pytest.mark.parametrize("density", [0.05, 0.35, 0.8])
def test_kept_within_one_group_per_layer(density: float) -> None:
    wl = small_workload()
    r = storage_report(wl, density, granularities="fine,vector,kernel,filter,block:2x1x1x1")
    shapes = {lay.name: lay.weight_shape for lay in wl.conv_layers}
    for row in r["layers"]:
        group = math.prod(block_shape_for(shapes[row["layer"]], row["granularity"]))
        assert abs(row["kept_weights"] - density * row["total_weights"]) <= group


def test_kernel_index_far_below_fine() -> None:
    r = storage_report("alexnet", 0.35)
    rows = {g["granularity"]: g for g in r["granularities"]}
    fine, kernel, flt = rows["fine"], rows["kernel"], rows["filter"]
    assert kernel["index_bits"] * 5 < fine["index_bits"]
    assert flt["index_bits"] < kernel["index_bits"]
    # fine stores its values with SCNN's per-weight index, so the comparison column agrees
    assert fine["index_bits"] == fine["index_bits_scnn_rle"]
    assert kernel["compression_ratio"] > fine["compression_ratio"]
    for g in r["granularities"]:
        assert g["achieved_density"] == pytest.approx(0.35, abs=0.01)
        assert g["bitmask_bits"] == g["total_weights"]


def test_report_deterministic_and_seeded() -> None:
    wl = small_workload()
    assert storage_report(wl, 0.3, seed=4) == storage_report(wl, 0.3, seed=4)
    a = storage_report(wl, 0.3, seed=4)["layers"]
    b = storage_report(wl, 0.3, seed=5)["layers"]
    # Other weights give other zero-run patterns (fixed seeds: deterministic test).
    assert [x["index_bits_scnn_rle"] for x in a] != [x["index_bits_scnn_rle"] for x in b]


def test_report_options() -> None:
    wl = small_workload()
    r = storage_report(
        wl, 0.5, value_bits=8, index_bits=2, granularities=["fine", "nm:2:4", "channel"],
        pointwise_group=4, norm="l2", kc=4,
    )
    rows = {g["granularity"]: g for g in r["granularities"]}
    assert rows["nm:2:4"]["index_bits"] == rows["nm:2:4"]["kept_weights"] * 2
    assert rows["fine"]["value_bits"] == 8 * (
        rows["fine"]["kept_weights"] + rows["fine"]["placeholders"]
    )
    assert r["value_bits"] == 8 and r["index_bits_per_index"] == 2


def test_density_zero_ratio_is_null() -> None:
    r = storage_report(small_workload(), 0.0, granularities="kernel")
    assert r["granularities"][0]["total_bits"] == 0
    assert r["granularities"][0]["compression_ratio"] is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"density": -0.1}, "density"),
        ({"density": 1.5}, "density"),
        ({"density": float("nan")}, "density"),
        ({"density": "lots"}, "density"),
        ({"value_bits": 12}, "value bits"),
        ({"value_bits": True}, "value bits"),
        ({"index_bits": 0}, "index bits"),
        ({"index_bits": 17}, "index bits"),
        ({"granularities": "fine,bogus"}, "unknown granularity 'bogus'"),
        ({"granularities": "block:1x99x1x1"}, "exceeds the tensor"),
        ({"granularities": ""}, "no granularity"),
        ({"granularities": ["kernel", "kernel"]}, "given twice"),
        ({"seed": -1}, "seed"),
        ({"norm": "l7"}, "norm"),
        ({"pointwise_group": 0}, "pointwise_group"),
        ({"kc": 0}, "kc"),
    ],
)
def test_report_bad_inputs(kwargs: dict, match: str) -> None:
    args = {"density": 0.3}
    args.update(kwargs)
    with pytest.raises(SparsityError, match=match):
        storage_report(small_workload(), **args)


def test_report_bad_workloads(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError):
        storage_report("no-such-net", 0.3)
    with pytest.raises(WorkloadError):
        storage_report(tmp_path / "missing.yaml", 0.3)
    only_fc = Workload(
        name="fc-only",
        layers=(Layer(name="fc", C=8, K=4, R=1, S=1, H=1, W=1, kind="fc"),),
        source="test",
        provenance="test",
    )
    with pytest.raises(SparsityError, match="no conv layers"):
        storage_report(only_fc, 0.3)
    with pytest.raises(ScnnSimError, match="workload must be"):
        storage_report(42, 0.3)  # type: ignore[arg-type]


def test_report_from_yaml_path(tmp_path: Path) -> None:
    p = tmp_path / "net.yaml"
    p.write_text(
        "name: net\nlayers:\n"
        "  - {name: a, C: 4, K: 8, R: 3, S: 3, H: 8, W: 8}\n"
        "  - {name: b, C: 8, K: 8, R: 1, S: 1, H: 8, W: 8}\n"
    )
    r = storage_report(str(p), 0.5, granularities="fine,kernel")
    assert r["workload"] == "net" and len(r["layers"]) == 4


# ---------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scnn-sim")
    sub = parser.add_subparsers(dest="command")
    storage_cmd.register(sub)
    return parser


def test_cli_storage_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "storage.json"
    args = _parser().parse_args(
        ["storage", "alexnet", "--density", "0.35", "--json", str(out), "--per-layer"]
    )
    assert args.func(args) == 0
    text = capsys.readouterr().out
    for header in (
        "non-zero weights",
        "stored values",
        "value bits [Mbit]",
        "index bits [Mbit]",
        "placeholders",
        "total [Mbit]",
        "compression ratio [x]",
        "SCNN-RLE index bits [Mbit]",
    ):
        assert header in text
    assert "granularity kernel, per layer" in text
    data = json.loads(out.read_text())
    assert list(data) == TOP_KEYS
    assert data["workload"] == "alexnet" and data["density"] == 0.35
    assert [g["granularity"] for g in data["granularities"]] == [
        "fine", "vector", "kernel", "filter"
    ]
    assert not list(out.parent.glob(".*.tmp"))


def test_cli_storage_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "net.yaml"
    p.write_text("name: net\nlayers:\n  - {name: a, C: 4, K: 8, R: 3, S: 3, H: 8, W: 8}\n")
    args = _parser().parse_args(
        ["storage", str(p), "--density", "0.5", "--value-bits", "8", "--index-bits", "3",
         "--granularities", "fine,kernel,nm:1:2", "--seed", "3"]
    )
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "nm:1:2" in text and "8-bit values" in text and "3-bit indices" in text


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--density", "2"], "density"),
        (["--density", "0.3", "--value-bits", "12"], "value bits"),
        (["--density", "0.3", "--index-bits", "20"], "index bits"),
        (["--density", "0.3", "--granularities", "fine,huge"], "huge"),
    ],
)
def test_cli_storage_errors(argv: list[str], match: str) -> None:
    args = _parser().parse_args(["storage", "alexnet", *argv])
    with pytest.raises(ScnnSimError, match=match):
        args.func(args)


def test_cli_main_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scnn_sim import cli

    # Only the storage command: the other sub-commands are not needed here.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("storage",))
    assert cli.main(["storage", "alexnet", "--density", "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "density" in err[0]
    assert cli.main(["storage", "alexnet", "--density", "0.35", "--granularities", "kernel"]) == 0
