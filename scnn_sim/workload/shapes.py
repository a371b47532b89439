"""Workloads: a network as an ordered list of conv/fc layer shapes with per-layer densities.

A workload is a YAML file (the built-ins live in ``workloads/`` at the top of the repository)::

    name: alexnet                  # optional, defaults to the file stem
    description: ...               # optional text
    provenance: ...                # optional text: where shapes and densities come from
    default_densities:             # optional, defaults to weight 1.0, act 1.0 (dense)
      weight: 0.46
      act: 0.66
      reason: why these values     # optional text
    layers:                        # required, non-empty, in network order
      - {name: conv1, kind: conv, C: 3, K: 96, R: 11, S: 11, H: 227, W: 227,
         stride: 4, padding: 0, groups: 1, weight_density: 0.845, act_density: 1.0}

Per layer ``name C K R S H W`` are required; ``kind`` (``conv``), ``stride`` (1), ``padding``
(0) and ``groups`` (1) are optional with those defaults. ``weight_density`` and ``act_density``
(density of the layer's *input* activations) are optional; a missing one is taken from
``default_densities``. ``density_source`` is optional: when absent it is ``published`` if the
file gives both densities of the layer and ``default`` otherwise.

A conv layer may carry ``pool: {kind: max|avg, window: N, stride: N, padding: N,
ceil_mode: false}`` (the PPU pools its outputs before OARAM) and ``input: NAME`` or
``input: [A, B]`` (the earlier layers whose pooled outputs, concatenated, are its input; by
default the previous layer when shapes match). The loader checks that chains are consistent.

The YAML form is declared once (:class:`WorkloadModel`, :class:`LayerModel`,
:class:`PoolModel`): it gives the field checks, the defaults and the JSON Schema (``scnn-sim
schema workload``); shapes, groups, pooling and chains are checked by code after it. Every
mistake raises :class:`~scnn_sim.errors.WorkloadError` with a one-line message
``file:layer:field: problem``.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import msgspec
from msgspec import Meta

from scnn_sim.errors import WorkloadError
from scnn_sim.inputs.filekind import refuse_other_kind
from scnn_sim.inputs.readers import as_path, read_text
from scnn_sim.inputs.validation import (
    FieldPath,
    Fraction,
    NonEmptyStr,
    NonNegativeInt,
    PositiveInt,
    convert,
    dotted,
)
from scnn_sim.inputs.yamlio import parse_yaml
from scnn_sim.workload.layers import (
    POOL_KINDS,
    DensitySource,
    Layer,
    LayerKind,
    Pool,
    PoolKind,
    Workload,
)

__all__ = [
    "Layer",
    "LayerModel",
    "POOL_KINDS",
    "Pool",
    "PoolModel",
    "Workload",
    "WorkloadModel",
    "builtin_dir",
    "builtin_names",
    "load_workload",
    "chain_producers",
    "validate_layer",
]


# --------------------------------------------------------------------------- declared model
# The YAML form of a workload, declared once: validation, defaults and the JSON Schema
# (``scnn-sim schema workload``) come from these classes. Checks between fields (shapes,
# groups, pooling on the conv output, chains of inputs) are code, after them.


class _Model(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class PoolModel(_Model, frozen=True):
    """Pooling the PPU applies to a conv layer's (ReLU'd) outputs before OARAM."""

    kind: PoolKind
    window: Annotated[PositiveInt, Meta(description="square window size")]
    stride: Annotated[PositiveInt | None, Meta(description="window stride (default: "
                                               "window)")] = None
    padding: Annotated[NonNegativeInt, Meta(description="symmetric padding, at most "
                                            "window // 2")] = 0
    ceil_mode: Annotated[bool, Meta(description="round the output size up (Caffe's "
                                    "pooling)")] = False


class LayerModel(_Model, frozen=True):
    """One conv or fc layer of a workload file."""

    name: Annotated[NonEmptyStr, Meta(description="layer name, unique in the file")]
    C: Annotated[PositiveInt, Meta(description="input channels (all groups)")]
    K: Annotated[PositiveInt, Meta(description="output channels")]
    R: Annotated[PositiveInt, Meta(description="kernel height")]
    S: Annotated[PositiveInt, Meta(description="kernel width")]
    H: Annotated[PositiveInt, Meta(description="input height, before padding")]
    W: Annotated[PositiveInt, Meta(description="input width, before padding")]
    kind: Annotated[LayerKind, Meta(description="fc: a 1x1 convolution on a 1x1 "
                                    "input")] = "conv"
    stride: PositiveInt = 1
    padding: Annotated[NonNegativeInt, Meta(description="symmetric zero padding")] = 0
    groups: PositiveInt = 1
    weight_density: Annotated[Fraction | None, Meta(
        description="fraction of non-zero weights (null or absent: default_densities)")] = None
    act_density: Annotated[Fraction | None, Meta(
        description="fraction of non-zero input activations (null or absent: "
                    "default_densities)")] = None
    density_source: Annotated[DensitySource | None, Meta(
        description="where the densities come from (absent: published when the layer gives "
                    "both, else default)")] = None
    pool: PoolModel | None = None
    input: Annotated[NonEmptyStr | Annotated[list[NonEmptyStr], Meta(min_length=1)] | None,
                     Meta(description="the earlier conv layers whose pooled outputs, "
                          "concatenated, are this layer's input (absent: the previous "
                          "layer)")] = None


class DefaultDensities(_Model, frozen=True):
    """Densities of the layers that do not give their own."""

    weight: Fraction
    act: Fraction
    reason: Annotated[str | None, Meta(description="why these values")] = None


class WorkloadModel(_Model, frozen=True):
    """A workload file: a network as conv/fc layer shapes with per-layer densities."""

    layers: Annotated[list[LayerModel], Meta(min_length=1, description="in network order")]
    name: Annotated[NonEmptyStr | None, Meta(description="default: the file stem")] = None
    description: str | None = None
    provenance: Annotated[str | None, Meta(description="where shapes and densities come "
                                           "from")] = None
    default_densities: Annotated[DefaultDensities | None, Meta(
        description="default: dense (weight 1.0, act 1.0)")] = None


def builtin_dir() -> Path:
    """Return the directory that holds the built-in workload YAML files.

    An installed wheel or sdist ships the repository's ``workloads/`` folder as the data
    package ``scnn_sim/workloads``; a source checkout (and an editable install) reads the
    folder itself.

    Returns
    -------
    Path
        ``<package>/workloads`` when it exists, else ``<repository>/workloads`` (which may
        not exist: then there are no built-in workloads).
    """
    here = Path(__file__).resolve().parent.parent  # the scnn_sim package
    installed = here / "workloads"
    return installed if installed.is_dir() else here.parent / "workloads"


def builtin_names() -> list[str]:
    """Return the names of the built-in workloads.

    Returns
    -------
    list of str
        Sorted stems of ``builtin_dir()/*.yaml``.
    """
    d = builtin_dir()
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.yaml"))


# --------------------------------------------------------------------------- validation


def _plain(v: Any) -> Any:
    """A numpy scalar as the Python number it holds (the model takes Python types only)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return v
    return int(v) if isinstance(v, numbers.Integral) else float(v)


def validate_layer(layer: Layer, where: str) -> None:
    """Check every field of ``layer``; raise on the first problem.

    The fields are checked by the declared model (:class:`LayerModel`), then the shape by code.

    Parameters
    ----------
    layer : Layer
        The layer to check.
    where : str
        Location prefix of the message, e.g. ``"workloads/x.yaml:conv2"``.

    Raises
    ------
    WorkloadError
        With message ``f"{where}:{field}: {problem}"``, e.g.
        ``workloads/x.yaml:conv2:stride: must be a positive integer, got 0``.
    """
    fields = {f.name: _plain(getattr(layer, f.name)) for f in dataclasses.fields(Layer)}
    pool, inputs = fields.pop("pool"), fields.pop("inputs")
    fields["pool"] = pool.to_dict() if isinstance(pool, Pool) else pool
    fields["input"] = list(inputs) if isinstance(inputs, tuple) else inputs
    for key in ("weight_density", "act_density", "density_source"):
        if fields[key] is None:   # the model's null means "not given": a Layer must have it
            raise WorkloadError(f"{where}:{key}: must be set on a Layer, got None (null means "
                                "'not given' only in a workload file)")
    convert(fields, LayerModel, where, WorkloadError, what="the layer")
    _check_layer(layer, where)


def _check_layer(layer: Layer, where: str) -> None:
    """What the declared model cannot say: one field against another."""

    def fail(field: str, problem: str) -> NoReturn:
        raise WorkloadError(f"{where}:{field}: {problem}")

    for field in ("C", "K"):
        v = getattr(layer, field)
        if v % layer.groups:
            fail(field, f"{v} is not divisible by groups={layer.groups}")
    if layer.kind == "fc":
        for field in ("R", "S", "H", "W"):
            v = getattr(layer, field)
            if v != 1:
                fail(field, f"must be 1 for an fc layer, got {v}")
        if layer.padding != 0:
            fail("padding", f"must be 0 for an fc layer, got {layer.padding}")
    if layer.pool is not None:
        _check_pool(layer, where)
    if layer.inputs is not None and layer.name in layer.inputs:
        fail("input", "a layer cannot be its own input")
    for field, size, k, out in (
        ("R", layer.H, layer.R, "P"),
        ("S", layer.W, layer.S, "Q"),
    ):
        padded = size + 2 * layer.padding
        if k > padded:
            fail(
                field,
                f"kernel {k} is larger than the padded input {padded} "
                f"({'H' if field == 'R' else 'W'}={size} + 2*padding={layer.padding}): "
                f"output {out} would be < 1",
            )


def _check_pool(layer: Layer, where: str) -> None:
    pool = layer.pool
    if pool is None:
        return

    def fail(field: str, problem: str) -> NoReturn:
        raise WorkloadError(f"{where}:pool.{field}: {problem}")

    if layer.kind != "conv":
        fail("kind", "pooling is only allowed after a conv layer")
    if pool.padding > pool.window // 2:
        fail("padding", f"{pool.padding} is more than half the window {pool.window}")
    if layer.P >= 1 and layer.Q >= 1:
        small = min(layer.P, layer.Q) + 2 * pool.padding
        if pool.window > small:
            fail("window", f"{pool.window} is larger than the padded conv output "
                           f"{layer.P}x{layer.Q} + 2*padding={pool.padding}")


def chain_producers(layers: tuple[Layer, ...] | list[Layer]) -> dict[str, tuple[str, ...] | None]:
    """Which layers' outputs are each conv layer's input (README "layer chaining").

    Parameters
    ----------
    layers : sequence of Layer
        A network's layers in order (fc layers are skipped).

    Returns
    -------
    dict
        Per conv layer name: the explicit ``input`` producers if given, else the previous conv
        layer when its pooled output shape ``out_shape`` is this layer's input ``(C, H, W)``,
        else ``None`` (the input's producer is unknown: the network's first layer, or a branch
        or concatenation input without an ``input`` field).
    """
    out: dict[str, tuple[str, ...] | None] = {}
    prev: Layer | None = None
    for layer in layers:
        if layer.kind != "conv":
            continue
        if layer.inputs is not None:
            out[layer.name] = tuple(layer.inputs)
        elif prev is not None and prev.out_shape == (layer.C, layer.H, layer.W):
            out[layer.name] = (prev.name,)
        else:
            out[layer.name] = None
        prev = layer
    return out


def _check_chain(layers: list[Layer], shown: str) -> None:
    """Explicit inputs must name earlier conv layers whose pooled outputs, concatenated, are the
    layer's input; a pooled layer whose next layer reads its K channels must match it."""
    by_name = {lay.name: (i, lay) for i, lay in enumerate(layers)}
    for i, layer in enumerate(layers):
        where = f"{shown}:{layer.name}"
        if layer.inputs is not None:
            if layer.kind != "conv":
                raise WorkloadError(f"{where}:input: only conv layers take an input field")
            for name in layer.inputs:
                if name not in by_name:
                    raise WorkloadError(f"{where}:input: no layer named {name!r}")
                j, src = by_name[name]
                if j >= i:
                    raise WorkloadError(f"{where}:input: {name!r} comes after this layer; "
                                        "inputs must be earlier layers")
                if src.kind != "conv":
                    raise WorkloadError(f"{where}:input: {name!r} is not a conv layer")
                plane = src.out_shape[1:]
                if plane != (layer.H, layer.W):
                    raise WorkloadError(
                        f"{where}:input: {name!r} outputs {plane[0]}x{plane[1]} (after its "
                        f"pool), this layer's input is {layer.H}x{layer.W}")
            channels = sum(by_name[n][1].K for n in layer.inputs)
            if channels != layer.C:
                raise WorkloadError(
                    f"{where}:input: the inputs' channels add up to {channels}, C is {layer.C}")
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if (layer.pool is not None and nxt is not None and nxt.kind == "conv"
                and nxt.inputs is None and nxt.C == layer.K
                and (nxt.H, nxt.W) != layer.out_shape[1:]):
            _, pp, pq = layer.out_shape
            raise WorkloadError(
                f"{where}:pool: pooled output {pp}x{pq} (from {layer.P}x{layer.Q}) does not "
                f"match the next layer {nxt.name!r}'s input {nxt.H}x{nxt.W}")


# --------------------------------------------------------------------------- YAML loading


def _resolve(name_or_path: str | os.PathLike) -> Path:
    if not isinstance(name_or_path, str):
        return as_path(name_or_path, "workload", WorkloadError)
    names = builtin_names()
    if name_or_path.lower() in names:
        return builtin_dir() / f"{name_or_path.lower()}.yaml"
    p = Path(name_or_path)
    looks_like_path = (
        "/" in name_or_path
        or os.sep in name_or_path
        or p.suffix.lower() in (".yaml", ".yml")
        or p.exists()
    )
    if looks_like_path:
        return p
    raise WorkloadError(
        f"unknown workload {name_or_path!r}; built-in workloads: "
        f"{', '.join(names) if names else '(none found)'}; or give a path to a .yaml file"
    )


def _read_yaml(path: Path, shown: str) -> Any:
    if not path.exists():
        raise WorkloadError(f"{shown}: no such workload file")
    if not path.is_file():
        raise WorkloadError(f"{shown}: not a file")
    refuse_other_kind(path, shown, "workload", WorkloadError)
    text = read_text(path, WorkloadError, "workload file")  # the reader policy
    return parse_yaml(text, shown, WorkloadError)


def _layer_label(entry: Any, index: int) -> str:
    """How messages name a layer: its name, or ``layers[i]`` while it has none."""
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) and name.strip() else f"layers[{index}]"


def _path_renderer(top: dict):
    """Field paths as workload messages print them: ``conv2:pool.kind``,
    ``default_densities:weight``."""

    def render(path: FieldPath) -> str:
        head, rest = path[0], path[1:]
        if head == "layers" and rest and isinstance(rest[0], int):
            head, rest = _layer_label(top["layers"][rest[0]], rest[0]), rest[1:]
        return str(head) + (f":{dotted(rest)}" if rest else "")

    return render


def _layer(m: LayerModel, defaults: tuple[float, float]) -> Layer:
    """The Layer of one validated YAML entry (missing densities from the file's defaults)."""
    pool = None
    if m.pool is not None:
        p = m.pool
        pool = Pool(kind=p.kind, window=p.window, stride=p.window if p.stride is None
                    else p.stride, padding=p.padding, ceil_mode=p.ceil_mode)
    given = m.weight_density is not None and m.act_density is not None
    return Layer(
        name=m.name, C=m.C, K=m.K, R=m.R, S=m.S, H=m.H, W=m.W, stride=m.stride,
        padding=m.padding, groups=m.groups, kind=m.kind,
        weight_density=defaults[0] if m.weight_density is None else m.weight_density,
        act_density=defaults[1] if m.act_density is None else m.act_density,
        density_source=m.density_source or ("published" if given else "default"),
        pool=pool,
        inputs=None if m.input is None else ((m.input,) if isinstance(m.input, str)
                                             else tuple(m.input)),
    )


def load_workload(name_or_path: str | os.PathLike) -> Workload:
    """Load and validate a built-in workload or a workload YAML file.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A built-in name (see :func:`builtin_names`) or the path of a YAML file.

    Returns
    -------
    Workload
        The validated workload; missing per-layer densities are filled from the file's
        ``default_densities`` (dense if the file has none).

    Raises
    ------
    WorkloadError
        Unknown name, missing or unreadable file, malformed YAML, or any invalid field; the
        message is one line of the form ``file:layer:field: problem``.
    """
    path = _resolve(name_or_path)
    shown = str(path)
    top = _read_yaml(path, shown)
    if top is None:
        raise WorkloadError(f"{shown}: empty file; expected a mapping with a 'layers' list")
    model = convert(top, WorkloadModel, shown, WorkloadError, what="top level",
                    render=_path_renderer(top))
    dd = model.default_densities
    defaults = (1.0, 1.0) if dd is None else (dd.weight, dd.act)
    layers: list[Layer] = []
    first_index: dict[str, int] = {}
    for i, entry in enumerate(model.layers):
        layer = _layer(entry, defaults)
        _check_layer(layer, f"{shown}:{layer.name}")
        if layer.name in first_index:
            raise WorkloadError(
                f"{shown}:{layer.name}:name: duplicate layer name "
                f"(layers[{first_index[layer.name]}] and layers[{i}])"
            )
        first_index[layer.name] = i
        layers.append(layer)
    _check_chain(layers, shown)
    return Workload(
        name=model.name or path.stem,
        layers=tuple(layers),
        source=shown,
        provenance=(model.provenance or "").strip(),
        description=(model.description or "").strip(),
    )
