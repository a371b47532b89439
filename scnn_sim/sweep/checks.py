"""Checks of single sweep-spec values, each failing with one line ``file:field: problem``.

Also resolves workload names and paths (recording the conv layer shapes of each, for the
up-front checks of :func:`scnn_sim.sweep.spec.spec_from_dict`) and the canonical JSON that point
ids hash.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.errors import ConfigError, ScnnSimError

H5_SUFFIXES = (".h5", ".hdf5")


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _unique(values: list, where: str, shown: str) -> list:
    """``values`` (a non-empty list the model has checked), refusing a repeated value."""
    seen: dict[str, int] = {}
    for i, item in enumerate(values):
        try:
            c = _canon(item)
        except TypeError:
            c = repr(item)
        if c in seen:
            raise ConfigError(f"{where}:{shown}[{i}]: duplicate of {shown}[{seen[c]}] "
                              f"({item!r})")
        seen[c] = i
    return values


def _check_granularity(v: Any, where: str) -> str | None:
    if v is None:
        return None
    from scnn_sim.sparsity.pruning import parse_granularity

    try:
        return parse_granularity(v).spec
    except ScnnSimError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _resolve_path(value: str, base_dir: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base_dir / p


def _resolve_workload(name: Any, where: str, base_dir: Path) -> tuple[str, list[str] | None]:
    """(path or name to simulate, conv layer names or None when unknown)."""
    from scnn_sim.workload.shapes import builtin_names, load_workload

    if Path(name).suffix.lower() in H5_SUFFIXES:
        path = _resolve_path(name, base_dir)
        if not path.is_file():
            raise ConfigError(f"{where}: no such exported-layer file {str(path)!r}")
        try:
            from scnn_sim.workload.h5io import read_attrs

            names = list(read_attrs(path)["layers"])
        except ImportError:  # pragma: no cover - h5io ships with scnn-sim
            names = None
        except ScnnSimError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return str(path), names
    if Path(name).suffix.lower() == ".npz":
        from scnn_sim.workload.npzio import read_npz_layer

        path = _resolve_path(name, base_dir)
        try:
            wl, _ = read_npz_layer(path)  # validated now, before any point runs
        except ScnnSimError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return str(path), [wl.layers[0].name]
    path = _resolve_path(name, base_dir)
    looks_like_path = ("/" in name or os.sep in name
                       or Path(name).suffix.lower() in (".yaml", ".yml") or path.exists())
    if name.lower() in builtin_names() or not looks_like_path:
        target = name  # a built-in name (load_workload lists them when unknown)
    else:
        target = str(path)
    try:
        wl = load_workload(target)
    except ScnnSimError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    _SHAPES[target] = list(wl.conv_layers)
    return target, [lay.name for lay in wl.conv_layers]


#: Conv layer shapes of the YAML / built-in workloads resolved by the last spec load.
_SHAPES: dict[str, list[Any]] = {}


def _check_reachable(granularity: str | None, density: float | None, where: str) -> None:
    """A granularity that fixes the density (``nm:N:M``) crossed with another density."""
    from scnn_sim.inputs.limits import check_fixed_density

    try:
        check_fixed_density(granularity, density)
    except ScnnSimError as exc:
        msg = str(exc).replace("--density", "density", 1)
        raise ConfigError(f"{where}: {msg} (granularities x densities)") from None


def _parse_layers(value: list[str] | dict[str, list[str]] | None,
                  resolved: Mapping[str, tuple[str, list[str] | None]],
                  where: str) -> dict[str, tuple[str, ...]]:
    """The spec's ``layers`` (checked by the model) -> workload -> conv layer names, each a
    layer of its workload."""
    if value is None:
        return {}
    if isinstance(value, list):
        per = {w: value for w in resolved}
        label = lambda w: "layers"  # noqa: E731
    else:
        for w in value:
            if w not in resolved:
                raise ConfigError(f"{where}:layers.{w}: not one of workloads")
        per = dict(value)
        label = lambda w: f"layers.{w}"  # noqa: E731
    out: dict[str, tuple[str, ...]] = {}
    for w, names in per.items():
        known = resolved[w][1]
        for i, n in enumerate(_unique(names, where, label(w))):
            if known is not None and n not in known:
                raise ConfigError(f"{where}:{label(w)}[{i}]: workload {w} has no conv layer "
                                  f"{n!r}")
        out[w] = tuple(names)
    return out
