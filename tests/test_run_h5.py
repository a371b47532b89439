"""Exported layers (HDF5) through `simulate` and `scnn-sim run`, like a built-in workload."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scnn_sim.cli import main
from scnn_sim.engine.layer import reference_conv
from scnn_sim.simulation import simulate
from scnn_sim.sparsity.pruning import prune
from scnn_sim.workload.h5io import write_layers
from scnn_sim.workload.shapes import Layer
from scnn_sim.workload.tensors import LayerTensors


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """Two chained conv layers: the second one's input is the ReLU of the first's output."""
    rng = np.random.default_rng(3)
    l1 = Layer("conv1", C=3, K=8, R=3, S=3, H=12, W=12, padding=1)
    l2 = Layer("conv2", C=8, K=6, R=3, S=3, H=12, W=12, padding=1)
    w1, _ = prune(rng.standard_normal(l1.weight_shape).astype(np.float32), 0.5, "kernel")
    w2, _ = prune(rng.standard_normal(l2.weight_shape).astype(np.float32), 0.4, "fine")
    a1 = np.maximum(rng.standard_normal((3, 12, 12)), 0).astype(np.float32)
    a2 = np.maximum(reference_conv(w1, a1, l1), 0).astype(np.float32)
    path = tmp_path_factory.mktemp("h5") / "tiny_net.h5"
    write_layers(path, [LayerTensors(l1, w1, a1), LayerTensors(l2, w2, a2)],
                 source_model="test chain")
    return path, (w1, a1), (w2, a2)


def test_simulate_h5_verifies_and_measures_densities(chain):
    path, (w1, a1), (w2, a2) = chain
    res = simulate(path, verify=True)
    assert res.meta["workload"] == "tiny_net"
    assert res.meta["granularity"] == "as exported"
    recs = [lr.record for lr in res.layers]
    assert [r["name"] for r in recs] == ["conv1", "conv2"]
    assert all(r["verified"] is True for r in recs)
    assert recs[0]["weight_density"] == pytest.approx(np.count_nonzero(w1) / w1.size)
    assert recs[1]["act_density"] == pytest.approx(np.count_nonzero(a2) / a2.size)
    # The exported weights are used as they are: products = sum_c nnz(W[:, c]) * nnz(A[c]).
    expect = sum(int(np.count_nonzero(w2[:, c])) * int(np.count_nonzero(a2[c]))
                 for c in range(8))
    assert recs[1]["products"] == expect


def test_next_layer_real_input_counts_oaram_writes(chain):
    path, _, _ = chain
    plain = simulate(path).layers[0].record
    checked = simulate(path, verify=True).layers[0].record
    # Without --verify, conv1's OARAM writes come from conv2's exported input, which is
    # exactly conv1's ReLU output: the same count as with the computed outputs.
    assert plain["accesses"]["oaram_writes"] == checked["accesses"]["oaram_writes"] > 0


def test_simulate_h5_repruned(chain):
    """--granularity/--density prune the exported weights (already kernel-pruned here)."""
    path, (w1, _), _ = chain
    rec = simulate(path, granularity="filter", density=0.5).layers[0].record
    kept = np.abs(w1).sum(axis=(1, 2, 3)).argsort()[4:]  # the 4 filters of largest L1 norm
    assert rec["weight_density"] == pytest.approx(np.count_nonzero(w1[kept]) / w1.size)
    assert rec["weight_density"] < np.count_nonzero(w1) / w1.size


def test_cli_run_h5(chain, tmp_path, capsys):
    path, _, _ = chain
    out = tmp_path / "r.json"
    assert main(["run", str(path), "--verify", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "conv2" in text and "yes" in text
    data = json.loads(out.read_text())
    assert data["workload"] == "tiny_net" and len(data["layers"]) == 2


def test_cli_run_damaged_h5(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scnn-sim: error:") and "bad.h5" in err[0]
