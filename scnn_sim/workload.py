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

Every mistake raises :class:`~scnn_sim.errors.WorkloadError` with a one-line message
``file:layer:field: problem``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from scnn_sim.errors import WorkloadError
from scnn_sim.yamlio import parse_yaml

__all__ = [
    "Layer",
    "POOL_KINDS",
    "Pool",
    "Workload",
    "builtin_dir",
    "builtin_names",
    "load_workload",
    "chain_producers",
    "validate_layer",
]

KINDS = ("conv", "fc")
DENSITY_SOURCES = ("published", "default", "measured")

_INT_FIELDS = ("C", "K", "R", "S", "H", "W", "stride", "groups")
_REQUIRED_LAYER_KEYS = ("name", "C", "K", "R", "S", "H", "W")
_OPTIONAL_LAYER_KEYS = (
    "kind",
    "stride",
    "padding",
    "groups",
    "weight_density",
    "act_density",
    "density_source",
    "pool",
    "input",
)
POOL_KINDS = ("max", "avg")
_POOL_KEYS = ("kind", "window", "stride", "padding", "ceil_mode")
_TOP_KEYS = ("name", "description", "provenance", "default_densities", "layers")
_DEFAULT_DENSITY_KEYS = ("weight", "act", "reason")


@dataclass(frozen=True)
class Pool:
    """A pooling layer applied by the PPU to a conv layer's (ReLU'd) outputs before OARAM.

    Parameters
    ----------
    kind : str
        ``"max"`` or ``"avg"``.
    window : int
        Square window size.
    stride : int
        Window stride (the YAML default is ``window``).
    padding : int
        Symmetric padding, at most ``window // 2``; padding never wins a max and is not
        counted by an average.
    ceil_mode : bool
        Round the output size up (Caffe's pooling; GoogLeNet's ``3x3_s2`` pools need it).
    """

    kind: str
    window: int
    stride: int
    padding: int = 0
    ceil_mode: bool = False

    def out_size(self, n: int) -> int:
        """Pooled extent of ``n`` inputs along one axis."""
        span = n + 2 * self.padding - self.window
        if not self.ceil_mode:
            return span // self.stride + 1
        out = -(-span // self.stride) + 1
        if (out - 1) * self.stride >= n + self.padding:
            out -= 1   # the last window would start in the right padding
        return out

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping of this pool."""
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """Short text, e.g. ``max 3x3/2 pad 0`` (``ceil`` appended in ceil mode)."""
        w = self.window
        return (f"{self.kind} {w}x{w}/{self.stride} pad {self.padding}"
                + (" ceil" if self.ceil_mode else ""))


@dataclass(frozen=True)
class Layer:
    """Shape and densities of one convolution or fully-connected layer.

    Parameters
    ----------
    name : str
        Layer name, unique within its workload.
    C, K : int
        Input channels (all groups) and output channels.
    R, S : int
        Kernel height (rows) and width (columns).
    H, W : int
        Input height and width, before padding.
    stride, padding, groups : int
        Convolution stride, symmetric zero padding and number of groups.
    kind : str
        ``"conv"`` or ``"fc"`` (an fc layer is a 1x1 convolution on a 1x1 input).
    weight_density, act_density : float
        Fraction of non-zero weights and of non-zero input activations, in [0, 1].
    density_source : str
        ``"published"`` or ``"default"``: where the densities came from.
    pool : Pool or None
        Pooling the PPU applies to the outputs before they are written to OARAM.
    inputs : tuple of str or None
        Explicit producers (YAML ``input``): the layers whose pooled outputs, concatenated
        along channels in this order, are this layer's input. ``None``: the previous layer
        (see :func:`chain_producers`).

    Notes
    -----
    No validation happens on construction; call :func:`validate_layer`.
    """

    name: str
    C: int
    K: int
    R: int
    S: int
    H: int
    W: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    kind: str = "conv"
    weight_density: float = 1.0
    act_density: float = 1.0
    density_source: str = "default"
    pool: Pool | None = None
    inputs: tuple[str, ...] | None = None

    @property
    def P(self) -> int:
        """Output height: ``(H + 2*padding - R) // stride + 1``."""
        return (self.H + 2 * self.padding - self.R) // self.stride + 1

    @property
    def Q(self) -> int:
        """Output width: ``(W + 2*padding - S) // stride + 1``."""
        return (self.W + 2 * self.padding - self.S) // self.stride + 1

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """Output shape after the PPU's pooling: ``(K, P', Q')`` (``(K, P, Q)`` unpooled)."""
        if self.pool is None:
            return (self.K, self.P, self.Q)
        return (self.K, self.pool.out_size(self.P), self.pool.out_size(self.Q))

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """Weight tensor shape ``(K, C // groups, R, S)``."""
        return (self.K, self.C // self.groups, self.R, self.S)

    @property
    def dense_macs(self) -> int:
        """Multiply-accumulates of the dense layer: ``K * (C//groups) * R * S * P * Q``."""
        return self.K * (self.C // self.groups) * self.R * self.S * self.P * self.Q

    def with_densities(self, weight_density: float, act_density: float, source: str) -> Layer:
        """Return a copy with other densities and density source.

        Parameters
        ----------
        weight_density, act_density : float
            New weight and input-activation densities.
        source : str
            New ``density_source`` (``"published"`` or ``"default"``).

        Returns
        -------
        Layer
            The modified copy (not validated).
        """
        return dataclasses.replace(
            self,
            weight_density=weight_density,
            act_density=act_density,
            density_source=source,
        )


@dataclass(frozen=True)
class Workload:
    """A network: its layers in order, and where it came from.

    Parameters
    ----------
    name : str
        Workload name.
    layers : tuple of Layer
        Conv and fc layers in network order.
    source : str
        Path of the file the workload was loaded from.
    provenance : str
        Where the shapes and densities come from.
    description : str
        Short human description (optional).
    """

    name: str
    layers: tuple[Layer, ...]
    source: str
    provenance: str
    description: str = ""

    @property
    def conv_layers(self) -> tuple[Layer, ...]:
        """The layers of kind ``conv``, in order."""
        return tuple(layer for layer in self.layers if layer.kind == "conv")

    @property
    def fc_layers(self) -> tuple[Layer, ...]:
        """The layers of kind ``fc``, in order."""
        return tuple(layer for layer in self.layers if layer.kind == "fc")

    @property
    def dense_macs(self) -> int:
        """Dense multiply-accumulates of the conv layers only."""
        return sum(layer.dense_macs for layer in self.conv_layers)

    def layer(self, name: str) -> Layer:
        """Return the layer called ``name``.

        Raises
        ------
        WorkloadError
            If there is no such layer.
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise WorkloadError(f"{self.source}: workload {self.name!r} has no layer {name!r}")


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
    here = Path(__file__).resolve().parent
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


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _density_problem(v: Any) -> str | None:
    if not _is_real(v):
        return f"must be a number in [0, 1], got {v!r}"
    f = float(v)
    if math.isnan(f):
        return "must be a number in [0, 1], got NaN"
    if not 0.0 <= f <= 1.0:
        return f"must be in [0, 1], got {v!r}"
    return None


def validate_layer(layer: Layer, where: str) -> None:
    """Check every field of ``layer``; raise on the first problem.

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

    def fail(field: str, problem: str) -> NoReturn:
        raise WorkloadError(f"{where}:{field}: {problem}")

    if not isinstance(layer.name, str) or not layer.name.strip():
        fail("name", f"must be a non-empty string, got {layer.name!r}")
    if layer.kind not in KINDS:
        fail("kind", f"must be one of {', '.join(KINDS)}, got {layer.kind!r}")
    for field in _INT_FIELDS:
        v = getattr(layer, field)
        if not _is_int(v) or v < 1:
            fail(field, f"must be a positive integer, got {v!r}")
    if not _is_int(layer.padding) or layer.padding < 0:
        fail("padding", f"must be a non-negative integer, got {layer.padding!r}")
    for field in ("C", "K"):
        v = getattr(layer, field)
        if v % layer.groups:
            fail(field, f"{v} is not divisible by groups={layer.groups}")
    for field in ("weight_density", "act_density"):
        problem = _density_problem(getattr(layer, field))
        if problem:
            fail(field, problem)
    if layer.density_source not in DENSITY_SOURCES:
        fail(
            "density_source",
            f"must be one of {', '.join(DENSITY_SOURCES)}, got {layer.density_source!r}",
        )
    if layer.kind == "fc":
        for field in ("R", "S", "H", "W"):
            v = getattr(layer, field)
            if v != 1:
                fail(field, f"must be 1 for an fc layer, got {v}")
        if layer.padding != 0:
            fail("padding", f"must be 0 for an fc layer, got {layer.padding}")
    if layer.pool is not None:
        _validate_pool(layer, where)
    if layer.inputs is not None:
        if (not isinstance(layer.inputs, tuple) or not layer.inputs
                or not all(isinstance(n, str) and n.strip() for n in layer.inputs)):
            fail("input", f"must be a layer name or a non-empty list of layer names, "
                          f"got {layer.inputs!r}")
        if layer.name in layer.inputs:
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


def _validate_pool(layer: Layer, where: str) -> None:
    pool = layer.pool

    def fail(field: str, problem: str) -> NoReturn:
        raise WorkloadError(f"{where}:pool.{field}: {problem}")

    if not isinstance(pool, Pool):
        raise WorkloadError(f"{where}:pool: must be a mapping with keys "
                            f"{', '.join(_POOL_KEYS)}, got {pool!r}")
    if layer.kind != "conv":
        fail("kind", "pooling is only allowed after a conv layer")
    if pool.kind not in POOL_KINDS:
        fail("kind", f"must be one of {', '.join(POOL_KINDS)}, got {pool.kind!r}")
    for field in ("window", "stride"):
        v = getattr(pool, field)
        if not _is_int(v) or v < 1:
            fail(field, f"must be a positive integer, got {v!r}")
    if not _is_int(pool.padding) or pool.padding < 0:
        fail("padding", f"must be a non-negative integer, got {pool.padding!r}")
    if pool.padding > pool.window // 2:
        fail("padding", f"{pool.padding} is more than half the window {pool.window}")
    if not isinstance(pool.ceil_mode, bool):
        fail("ceil_mode", f"must be true or false, got {pool.ceil_mode!r}")
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
        return Path(os.fspath(name_or_path))
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
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise WorkloadError(f"{shown}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise WorkloadError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    return parse_yaml(text, shown, WorkloadError)


def _check_keys(mapping: dict, where: str, required: tuple, allowed: tuple) -> None:
    for key in mapping:
        if not isinstance(key, str) or key not in allowed:
            raise WorkloadError(f"{where}:{key}: unknown key; allowed keys: {', '.join(allowed)}")
    for key in required:
        if key not in mapping:
            raise WorkloadError(f"{where}:{key}: missing required key")


def _text(top: dict, key: str, shown: str, default: str) -> str:
    v = top.get(key, default)
    if v is None:
        return default
    if not isinstance(v, str):
        raise WorkloadError(f"{shown}:{key}: must be text, got {v!r}")
    return v


def _default_densities(top: dict, shown: str) -> tuple[float, float]:
    dd = top.get("default_densities")
    if dd is None:
        return 1.0, 1.0
    where = f"{shown}:default_densities"
    if not isinstance(dd, dict):
        raise WorkloadError(f"{where}: must be a mapping with keys weight, act, reason")
    _check_keys(dd, where, ("weight", "act"), _DEFAULT_DENSITY_KEYS)
    for key in ("weight", "act"):
        problem = _density_problem(dd[key])
        if problem:
            raise WorkloadError(f"{where}:{key}: {problem}")
    if "reason" in dd and not isinstance(dd["reason"], str):
        raise WorkloadError(f"{where}:reason: must be text, got {dd['reason']!r}")
    return float(dd["weight"]), float(dd["act"])


def _layer_from_mapping(entry: Any, index: int, shown: str, defaults: tuple[float, float]) -> Layer:
    label = f"layers[{index}]"
    if not isinstance(entry, dict):
        raise WorkloadError(
            f"{shown}:{label}: each layer must be a mapping of name, kind, C, K, R, S, H, W, "
            f"..., got {entry!r}"
        )
    name = entry.get("name")
    if isinstance(name, str) and name.strip():
        label = name
    where = f"{shown}:{label}"
    _check_keys(entry, where, _REQUIRED_LAYER_KEYS, _REQUIRED_LAYER_KEYS + _OPTIONAL_LAYER_KEYS)
    # A null density (or density_source) means "not given": the default applies.
    fields = {
        k: v
        for k, v in entry.items()
        if not (v is None and k in ("weight_density", "act_density", "density_source"))
    }
    if "pool" in fields:
        fields["pool"] = _pool_from_mapping(fields["pool"], where)
    if "input" in fields:
        raw = fields.pop("input")
        fields["inputs"] = (raw,) if isinstance(raw, str) else (
            tuple(raw) if isinstance(raw, list) else raw)
    has_w = "weight_density" in fields
    has_a = "act_density" in fields
    fields.setdefault("weight_density", defaults[0])
    fields.setdefault("act_density", defaults[1])
    fields.setdefault("density_source", "published" if has_w and has_a else "default")
    layer = Layer(**fields)
    validate_layer(layer, where)
    # Normalise numeric types (an int density such as ``1`` becomes 1.0).
    return dataclasses.replace(
        layer,
        weight_density=float(layer.weight_density),
        act_density=float(layer.act_density),
    )


def _pool_from_mapping(entry: Any, where: str) -> Pool | None:
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise WorkloadError(f"{where}:pool: must be a mapping with keys "
                            f"{', '.join(_POOL_KEYS)}, got {entry!r}")
    for key in entry:
        if key not in _POOL_KEYS:
            raise WorkloadError(f"{where}:pool.{key}: unknown key; allowed keys: "
                                f"{', '.join(_POOL_KEYS)}")
    for key in ("kind", "window"):
        if key not in entry:
            raise WorkloadError(f"{where}:pool.{key}: missing required key")
    return Pool(kind=entry["kind"], window=entry["window"],
                stride=entry.get("stride", entry["window"]),
                padding=entry.get("padding", 0), ceil_mode=entry.get("ceil_mode", False))


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
    if not isinstance(top, dict):
        raise WorkloadError(
            f"{shown}: top level must be a mapping with a 'layers' list, got {type(top).__name__}"
        )
    _check_keys(top, shown, ("layers",), _TOP_KEYS)
    name = _text(top, "name", shown, path.stem)
    if not name.strip():
        raise WorkloadError(f"{shown}:name: must be a non-empty string")
    description = _text(top, "description", shown, "")
    provenance = _text(top, "provenance", shown, "")
    defaults = _default_densities(top, shown)
    entries = top["layers"]
    if not isinstance(entries, list) or not entries:
        raise WorkloadError(f"{shown}:layers: must be a non-empty list of layers, got {entries!r}")
    layers: list[Layer] = []
    first_index: dict[str, int] = {}
    for i, entry in enumerate(entries):
        layer = _layer_from_mapping(entry, i, shown, defaults)
        if layer.name in first_index:
            raise WorkloadError(
                f"{shown}:{layer.name}:name: duplicate layer name "
                f"(layers[{first_index[layer.name]}] and layers[{i}])"
            )
        first_index[layer.name] = i
        layers.append(layer)
    _check_chain(layers, shown)
    return Workload(
        name=name,
        layers=tuple(layers),
        source=shown,
        provenance=provenance.strip(),
        description=description.strip(),
    )
