"""The declared-model helper (scnn_sim.inputs.validation): one-line errors worded from the model."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import pytest
from msgspec import Meta

from scnn_sim.errors import ConfigError, WorkloadError
from scnn_sim.inputs.arch import (
    ArchConfig,
    ArchModel,
    arch_field_types,
    arch_fields,
    arch_from_dict,
)
from scnn_sim.inputs.validation import Fraction, NonEmptyStr, PositiveInt, convert, describe, shown


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    """An inner mapping."""

    size: Annotated[PositiveInt, Meta(description="how big")]
    mode: Literal["a", "b"] = "a"


class Outer(msgspec.Struct, forbid_unknown_fields=True):
    inner: Inner
    items: Annotated[list[PositiveInt], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: [1])
    share: Fraction | None = None
    label: NonEmptyStr = "x"
    pick: Literal["auto"] | PositiveInt = "auto"


def _error(data: Any, **kw: Any) -> str:
    with pytest.raises(ConfigError) as exc:
        convert(data, Outer, "f.yaml", **kw)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(("data", "expected"), [
    ({"inner": {"size": 0}}, "f.yaml:inner.size: must be a positive integer, got 0"),
    ({"inner": {"size": True}}, "f.yaml:inner.size: must be a positive integer, got True"),
    ({"inner": {"size": 1, "mode": "c"}}, "f.yaml:inner.mode: must be one of a, b, got 'c'"),
    ({"inner": {}}, "f.yaml:inner.size: missing required key (how big)"),
    ({"inner": {"size": 1, "colour": 2}},
     "f.yaml:inner.colour: unknown key (allowed: size, mode)"),
    ({}, "f.yaml:inner: missing required key"),
    ({"inner": 3}, "f.yaml:inner: must be a mapping (keys: size, mode), got 3"),
    ({"inner": {"size": 1}, "items": []}, "f.yaml:items: must be a non-empty list, got []"),
    ({"inner": {"size": 1}, "items": [2, -1]},
     "f.yaml:items[1]: must be a positive integer, got -1"),
    ({"inner": {"size": 1}, "share": float("nan")},
     "f.yaml:share: must be a number in [0, 1] or null, got NaN"),
    ({"inner": {"size": 1}, "label": " "}, "f.yaml:label: must be a non-empty string, got ' '"),
    ({"inner": {"size": 1}, "pick": "big"},
     "f.yaml:pick: must be auto or a positive integer, got 'big'"),
    ({"inner": {"size": 1}, 7: 1}, "f.yaml: keys must be text, got 7"),
    ([1, 2], "f.yaml: the file must be a mapping (keys: inner, items, share, label, pick), "
             "got list"),
])
def test_messages_name_file_path_value_and_what_is_allowed(data, expected):
    assert _error(data) == expected


def test_prefix_render_and_error_class():
    with pytest.raises(WorkloadError) as exc:
        convert({"inner": {"size": 0}}, Outer, "w.yaml", WorkloadError, prefix=("top", 2),
                render=lambda p: ":".join(map(str, p)))
    assert str(exc.value) == "w.yaml:top:2:inner:size: must be a positive integer, got 0"


def test_defaults_come_from_the_model():
    out = convert({"inner": {"size": 3}}, Outer, "f.yaml")
    assert (out.items, out.share, out.label, out.pick, out.inner.mode) == ([1], None, "x",
                                                                           "auto", "a")


@pytest.mark.parametrize(("tp", "words"), [
    (Annotated[int, Meta(ge=0)], "a non-negative integer"),
    (Annotated[int, Meta(ge=1, le=2 ** 40)], "a positive integer up to 2**40"),
    (Annotated[int, Meta(ge=2, le=9)], "an integer in [2, 9]"),
    (Annotated[float, Meta(gt=0)], "a positive number"),
    (Annotated[float, Meta(ge=0)], "a number >= 0"),
    (Annotated[float, Meta(ge=1e-6, le=1e9)], "a number in [1e-06, 1e+09]"),
    (bool, "true or false"),
    (str, "text"),
    (str | None, "text or null"),
    (Annotated[tuple[int, int], Meta(extra={"allowed": "[rows, cols]"})], "[rows, cols]"),
])
def test_describe(tp, words):
    import msgspec.inspect as mi

    assert describe(mi.type_info(tp)) == words


def test_shown_cuts_long_values():
    assert shown(float("nan")) == "NaN"
    assert shown("x" * 200).endswith("...") and len(shown("x" * 200)) == 80


# ------------------------------------------------------------------------------ architecture


def test_arch_defaults_come_from_the_model():
    """ArchConfig's defaults are the model's (SCNN Table 3); scnn.yaml restates them."""
    model = ArchModel()
    arch = arch_from_dict({})
    assert (arch.pe_rows, arch.F, arch.acc_banks, arch.kc, arch.subtiles) == (
        model.pe_array.rows, model.multiplier.F, model.accumulator.banks, None, None)
    # a partial section keeps the model's default for the keys it leaves out
    assert arch_from_dict({"pe_array": {"rows": 2}}).pe_cols == model.pe_array.cols


def test_arch_fields_are_the_model_paths():
    """The flat ArchConfig fields and the dotted paths cover the model, one to one."""
    assert list(arch_field_types()) == arch_fields()
    assert len(arch_fields()) == len(ArchConfig.__dataclass_fields__)
    f_type = arch_field_types()["multiplier.F"]
    assert msgspec.convert(4, f_type) == 4
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(0, f_type)


def test_arch_cross_field_checks_stay_one_line():
    with pytest.raises(ConfigError, match=r"^a\.yaml:pe_array: 256x256 = 65536 PEs is beyond"):
        arch_from_dict({"pe_array": {"rows": 256, "cols": 256}}, where="a.yaml")
    with pytest.raises(ConfigError, match=r"^a\.yaml:buffers\.iaram_bytes: 8 B cannot hold"):
        arch_from_dict({"buffers": {"iaram_bytes": 8}}, where="a.yaml")


# ------------------------------------------------------------------------------ workload


def test_layer_defaults_are_the_models():
    """The runtime Layer / Pool dataclasses default to what the declared model does."""
    import dataclasses

    from scnn_sim.workload.shapes import Layer, LayerModel, Pool, PoolModel

    for cls, model in ((Layer, LayerModel), (Pool, PoolModel)):
        defaults = {f.name: f.default for f in dataclasses.fields(cls)
                    if f.default is not dataclasses.MISSING}
        for f in msgspec.structs.fields(model):
            if f.name in defaults and f.default is not None:
                assert defaults[f.name] == f.default, (cls.__name__, f.name)


def test_yaml_layer_takes_model_and_file_defaults(tmp_path):
    from scnn_sim.workload.shapes import load_workload

    p = tmp_path / "w.yaml"
    p.write_text("default_densities: {weight: 0.5, act: 0.25}\nlayers:\n"
                 "  - {name: a, C: 4, K: 8, R: 3, S: 3, H: 8, W: 8, padding: 1,\n"
                 "     pool: {kind: max, window: 2}}\n")
    (layer,) = load_workload(p).layers
    assert (layer.kind, layer.stride, layer.groups) == ("conv", 1, 1)
    assert (layer.weight_density, layer.act_density, layer.density_source) == (0.5, 0.25,
                                                                               "default")
    assert (layer.pool.stride, layer.pool.padding, layer.pool.ceil_mode) == (2, 0, False)


def test_validate_layer_takes_numpy_scalars_and_refuses_unset_densities():
    import numpy as np

    from scnn_sim.workload.shapes import Layer, validate_layer

    validate_layer(Layer("c", C=np.int64(4), K=4, R=3, S=3, H=np.int32(5), W=5,
                         weight_density=np.float64(0.5)), "w")
    with pytest.raises(WorkloadError, match=r"^w:act_density: must be set on a Layer"):
        validate_layer(Layer("c", C=4, K=4, R=3, S=3, H=5, W=5, act_density=None), "w")
    with pytest.raises(WorkloadError, match=r"^w:pool: must be a mapping \(keys: kind, window"):
        validate_layer(Layer("c", C=4, K=4, R=3, S=3, H=5, W=5, pool="max"), "w")
    with pytest.raises(WorkloadError, match=r"^w:R: must be a positive integer, got 2\.0$"):
        validate_layer(Layer("c", C=4, K=4, R=np.float64(2.0), S=3, H=5, W=5), "w")


# ------------------------------------------------------------------------------ energy


def test_energy_models_follow_the_action_constants():
    """One required key per energy.ACTIONS entry; bits required exactly for WIDTH_ACTIONS."""
    from scnn_sim.pricing.energy import (
        ACTIONS,
        WIDTH_ACTIONS,
        ErtMappingActions,
        TableActions,
        WidthEntryModel,
    )

    for model in (TableActions, ErtMappingActions):
        fields = msgspec.structs.fields(model)
        assert [f.name for f in fields] == list(ACTIONS)
        assert all(f.required for f in fields)
    for f in msgspec.structs.fields(TableActions):
        assert (f.type is WidthEntryModel) == (f.name in WIDTH_ACTIONS), f.name


def test_energy_defaults_come_from_the_model(tmp_path):
    import yaml

    from scnn_sim.pricing.energy import ACTIONS, WIDTH_ACTIONS, table_from_dict

    actions = {a: {"energy_pj": 1, "source": "s", **({"bits": 8} if a in WIDTH_ACTIONS else {})}
               for a in ACTIONS}
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump({"actions": actions}))
    t = table_from_dict(yaml.safe_load(p.read_text()), str(p))
    assert (t.name, t.technology_node) == ("mine", "unknown")
    assert t.fixed_pj == {} and set(t.per.values()) == {""}
    assert t.energy_pj["multiply"] == 1.0 and isinstance(t.energy_pj["multiply"], float)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["actions"]["ppu_op"].update(colour="red"),
     ":actions.ppu_op.colour: unknown key (allowed: component, action, arguments, bits, "),
    (lambda d: d["actions"]["ppu_op"].pop("action"),
     ":actions.ppu_op.action: missing required key (the ERT action of that component"),
    (lambda d: d["actions"]["multiply"].update(scale=-1),
     ":actions.multiply.scale: must be a finite number >= 0, got -1"),
    (lambda d: d["actions"].update(multiply=3), ":actions.multiply: must be a mapping, got 3"),
    (lambda d: d.update(ert=5), ":ert: must be text or null, got 5"),
])
def test_ert_mapping_errors(tmp_path, mutate, expected):
    from importlib import resources

    import yaml

    from scnn_sim.pricing.energy import load_ert_table

    folder = resources.files("scnn_sim").joinpath("data/ert")
    d = yaml.safe_load(folder.joinpath("example_mapping.yaml").read_text())
    d["actions"]["ppu_op"] = {"component": "system.PE[0..63].PPU", "action": "process"}
    mutate(d)
    p = tmp_path / "map.yaml"
    p.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError) as exc:
        load_ert_table(str(folder.joinpath("example_ERT.yaml")), p)
    assert str(exc.value).startswith(f"{p}{expected}"), str(exc.value)


class Named(msgspec.Struct, forbid_unknown_fields=True):
    groups: dict[str, Annotated[list[PositiveInt], Meta(min_length=1)]]


def test_a_bad_dict_value_is_named_by_its_key():
    """msgspec reports ``$.groups[...][1]``; the message names the key."""
    with pytest.raises(ConfigError) as exc:
        convert({"groups": {"a": [1], "b c": [2, 0], "d": [0]}}, Named, "f.yaml")
    assert str(exc.value) == "f.yaml:groups.b c[1]: must be a positive integer, got 0"
    with pytest.raises(ConfigError, match=r"^f\.yaml:groups\.d: must be a non-empty list"):
        convert({"groups": {"a": [1], "d": []}}, Named, "f.yaml")


def test_long_lists_of_allowed_keys_are_cut():
    model = msgspec.defstruct("Many", [(f"f{i}", int, 0) for i in range(30)],
                              forbid_unknown_fields=True)
    with pytest.raises(ConfigError) as exc:
        convert({"zz": 1}, model, "f.yaml")
    assert str(exc.value).endswith("f14, f15, ... and 14 more)")


# ------------------------------------------------------------------------------ sweep spec


def test_sweep_vary_and_points_take_the_architecture_types():
    from scnn_sim.sweep.spec import POINT_KEYS, PointModel, VaryModel

    assert [f.encode_name for f in msgspec.structs.fields(VaryModel)] == arch_fields()
    assert [f.encode_name for f in msgspec.structs.fields(PointModel)] == [*POINT_KEYS,
                                                                           *arch_fields()]


@pytest.mark.parametrize(("body", "expected"), [
    ("layers: {tiny.yaml: [c1, 3]}", "layers.tiny.yaml[1]: must be a non-empty string, got 3"),
    ("layers: {tiny.yaml: [c1, c1]}", "layers.tiny.yaml[1]: duplicate of layers.tiny.yaml[0]"),
    ("vary: {accumulator.contention: [fifo]}",
     "vary.accumulator.contention[0]: must be one of lockstep, queued, got 'fifo'"),
    ("vary: {dataflow.subtiles: [[2, 2], [1]]}",
     "vary.dataflow.subtiles[1]: must be auto or [rows, cols] (positive integers), got [1]"),
    ("mode: list\npoints: [{label: 3, pe_array.rows: 2}]", "points[0].label: must be text"),
    ("mode: list\npoints: [{}]", "points[0]: must be a non-empty mapping"),
    ("arch: [dnnsim, 3]", "arch[1]: must be a non-empty string, got 3"),
    ("clustered: 2", "clustered: must be a number in [0, 1], got 2"),
    ("seeds: [0.5]", "seeds[0]: must be a non-negative integer, got 0.5"),
])
def test_sweep_spec_errors(tmp_path, body, expected):
    from scnn_sim.sweep import load_spec

    (tmp_path / "tiny.yaml").write_text(
        "layers:\n  - {name: c1, C: 8, K: 16, R: 3, S: 3, H: 12, W: 12, padding: 1}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"workloads: [tiny.yaml]\n{body}\n")
    with pytest.raises(ConfigError) as exc:
        load_spec(spec)
    assert str(exc.value).startswith(f"{spec}:{expected}"), str(exc.value)


def test_sweep_point_ids_did_not_change(tmp_path):
    """The model normalises values as the hand-written checks did (int densities to float,
    architecture values as written), so stores written before it resume: these ids are the
    ones the previous loader gave this spec."""
    from scnn_sim.sweep import load_spec

    (tmp_path / "tiny.yaml").write_text(
        "layers:\n  - {name: c1, C: 8, K: 16, R: 3, S: 3, H: 12, W: 12, padding: 1}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text("workloads: [tiny.yaml]\n"
                    "vary: {clock_ghz: [1, 2.5], dataflow.subtiles: [[2, 2], auto]}\n"
                    "densities: [1, 0.5]\nseeds: [3]\nclustered: 0.5\npointwise_group: 2\n")
    ids = [p.point_id for p in load_spec(spec).points()]
    assert ids[:3] == ["e15530f3a959f8a1", "46542e558464b137", "f5d6baf93ad8cd03"]
    assert ids[-1] == "dc19f87a2351aa90" and len(ids) == 8


def test_sweep_defaults_come_from_the_model(tmp_path):
    from scnn_sim.sweep.spec import SweepSpecModel

    m = msgspec.convert({"workloads": ["alexnet"]}, SweepSpecModel)
    assert (m.granularities, m.densities, m.seeds, m.mode, m.clustered, m.pointwise_group) == (
        [None], [None], [0], "product", 0.0, 1)
