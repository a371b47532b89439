"""Write a list of layers as a workload YAML file that :func:`load_workload` accepts."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from scnn_sim.errors import ScnnSimError
from scnn_sim.outputs import atomic_output
from scnn_sim.workload.importers import ModelImportError
from scnn_sim.workload.shapes import Layer, Workload, load_workload

__all__ = ["workload_yaml_text", "write_workload_yaml"]


def _q(text: str) -> str:
    """A YAML scalar for any text (JSON strings are valid YAML flow scalars)."""
    return json.dumps(text, ensure_ascii=False)


def _block(key: str, text: str) -> list[str]:
    lines = [f"{key}: >-"]
    lines += [f"  {line}" if line else "" for line in text.strip().splitlines()]
    return lines


def _layer_line(layer: Layer, densities: bool) -> str:
    fields = [f"name: {_q(layer.name)}", f"kind: {layer.kind}"]
    fields += [f"{k}: {getattr(layer, k)}" for k in ("C", "K", "R", "S", "H", "W", "stride",
                                                      "padding", "groups")]
    if layer.pool is not None:
        p = layer.pool
        fields.append(f"pool: {{kind: {p.kind}, window: {p.window}, stride: {p.stride}, "
                      f"padding: {p.padding}, ceil_mode: {str(p.ceil_mode).lower()}}}")
    if densities:
        fields += [f"weight_density: {layer.weight_density:.6g}",
                   f"act_density: {layer.act_density:.6g}",
                   f"density_source: {layer.density_source}"]
    return "  - {" + ", ".join(fields) + "}"


def workload_yaml_text(
    name: str,
    layers: Sequence[Layer],
    *,
    description: str,
    provenance: str,
    header: Sequence[str] = (),
    notes: Mapping[str, Sequence[str]] | None = None,
    densities: bool = True,
) -> str:
    """The YAML text of a workload: header comments, then one flow mapping per layer.

    Parameters
    ----------
    name : str
        Workload name.
    layers : sequence of Layer
        Layers in network order.
    description, provenance : str
        Free text for the ``description`` and ``provenance`` keys.
    header : sequence of str
        Comment lines written at the top (without ``#``).
    notes : mapping, optional
        Layer name -> comment lines written right after that layer's line.
    densities : bool
        Write each layer's ``weight_density``, ``act_density`` and ``density_source``; when
        False the loader's defaults (dense) apply.

    Returns
    -------
    str
        YAML text ending in a newline.
    """
    notes = notes or {}
    lines = [f"# {h}" if h else "#" for h in header]
    lines += [f"name: {_q(name)}", *_block("description", description),
              *_block("provenance", provenance), "layers:"]
    for layer in layers:
        lines.append(_layer_line(layer, densities))
        lines += [f"  # {n}" for n in notes.get(layer.name, ())]
    return "\n".join(lines) + "\n"


def write_workload_yaml(path: str | os.PathLike, text: str) -> Workload:
    """Write ``text`` to ``path`` atomically after checking that it loads as a workload.

    Returns
    -------
    Workload
        The workload as :func:`load_workload` reads the written file.

    Raises
    ------
    ModelImportError
        If the text does not load (an importer bug or an impossible layer, named in the
        message) or the file cannot be written.
    """
    target = Path(path)
    with atomic_output(path, "-o") as tmp:
        tmp.write_text(text, encoding="utf-8")
        try:
            load_workload(tmp)
        except ScnnSimError as exc:
            raise ModelImportError(f"{target}: imported workload does not load: "
                                   f"{str(exc).replace(str(tmp), str(target))}") from None
    return load_workload(target)
