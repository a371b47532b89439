"""One options model (scnn_sim.inputs.options.SimOptions): the API, the CLI, the sweep spec
and the granularity study take its defaults, allowed values and error messages."""

from __future__ import annotations

import argparse
import inspect

import msgspec
import numpy as np
import pytest

from scnn_sim.commands import run as run_cmd
from scnn_sim.commands.options import add_cli_options, options_from_args
from scnn_sim.errors import ConfigError
from scnn_sim.inputs.options import OPTION_DEFAULTS, OptionError, SimOptions, sim_options
from scnn_sim.simulation import simulate
from scnn_sim.studies.granularity import STUDY_OPTIONS, granularity_study
from scnn_sim.sweep.spec import POINT_ID_DEFAULTS, SweepSpecModel


@pytest.mark.parametrize(("values", "message"), [
    ({"density": 1.5}, "density: must be a number in [0, 1] or null, got 1.5"),
    ({"density": float("nan")}, "density: must be a number in [0, 1] or null, got NaN"),
    ({"seed": -1}, "seed: must be a non-negative integer, got -1"),
    ({"seed": True}, "seed: must be a non-negative integer, got True"),
    ({"clustered": 2.0}, "clustered: must be a number in [0, 1], got 2.0"),
    ({"pointwise_group": 0}, "pointwise_group: must be a positive integer, got 0"),
    ({"weight_format": "csr"}, "weight_format: must be one of group, scnn, got 'csr'"),
    ({"bogus": 1}, "bogus: unknown key (allowed: "),
])
def test_a_bad_option_is_one_error_naming_it(values, message):
    with pytest.raises(OptionError) as info:
        sim_options(**values)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ConfigError)


def test_numpy_scalars_paths_and_objects_are_accepted(tmp_path, arch):
    opts = sim_options(seed=np.int64(3), density=np.float64(0.5), layers=("a", "b"),
                       arch=arch, energy=tmp_path / "t.yaml")
    assert (opts.seed, opts.density, opts.layers) == (3, 0.5, ["a", "b"])
    assert opts.arch is arch and opts.energy == str(tmp_path / "t.yaml")


def test_simulate_keywords_are_the_options_with_their_defaults():
    params = inspect.signature(simulate).parameters
    for name in SimOptions.__struct_fields__:
        assert params[name].default == OPTION_DEFAULTS[name], name
    assert set(STUDY_OPTIONS) <= set(SimOptions.__struct_fields__)


def test_simulate_refuses_before_any_work(monkeypatch):
    def boom(*_a, **_k):
        raise AssertionError("the workload was loaded before the options were checked")
    monkeypatch.setattr("scnn_sim.simulation.resolve_workload", boom)
    with pytest.raises(OptionError, match="^pointwise_group: "):
        simulate("alexnet", pointwise_group=0)


def test_study_checks_options_by_the_model():
    with pytest.raises(OptionError, match="^weight_format: must be one of group, scnn"):
        granularity_study("alexnet", density=0.5, weight_format="csr")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_cli_options(p, SimOptions.__struct_fields__)
    return p


def test_cli_options_are_generated_from_the_fields():
    p = _parser()
    flags = {a.dest: a for a in p._actions if a.dest != "help"}
    assert list(flags) == list(SimOptions.__struct_fields__)
    hints = msgspec.inspect.type_info(SimOptions).fields
    for f in hints:
        assert flags[f.name].default == f.default, f.name
        assert flags[f.name].help, f.name
    assert run_cmd.RUN_OPTIONS == SimOptions.__struct_fields__


def test_cli_arguments_become_the_same_options():
    args = _parser().parse_args(["--seed", "4", "--layers", "c1,c2", "--count-merges",
                                 "--arch", "dnnsim", "--arch", "scnn", "--density", "0.25"])
    opts = options_from_args(args)
    assert opts == sim_options(seed=4, layers=["c1", "c2"], count_merges=True,
                               arch=["dnnsim", "scnn"], density=0.25)
    assert options_from_args(_parser().parse_args([])) == SimOptions()


def test_cli_density_out_of_range_is_the_model_error():
    args = _parser().parse_args(["--density", "1.5"])
    with pytest.raises(OptionError, match=r"^density: must be a number in \[0, 1\]"):
        options_from_args(args)


def test_cli_seed_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--seed", "-2"])
    assert "argument --seed: must be a non-negative integer, got -2" in capsys.readouterr().err


def test_sweep_spec_options_are_the_models():
    spec = {f.name: f for f in msgspec.structs.fields(SweepSpecModel)}
    for name in POINT_ID_DEFAULTS:
        assert spec[name].default == OPTION_DEFAULTS[name], name
    hints = {f.name: f.type for f in msgspec.inspect.type_info(SweepSpecModel).fields}
    opts = {f.name: f.type for f in msgspec.inspect.type_info(SimOptions).fields}
    for name in POINT_ID_DEFAULTS:
        assert hints[name] == opts[name], name
