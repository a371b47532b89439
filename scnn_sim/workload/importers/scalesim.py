"""Import a SCALE-Sim topology CSV (``topologies/conv_nets/*.csv`` of SCALE-Sim v2).

Columns (header row, names matched case- and space-insensitively)::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,
    Strides,

SCALE-Sim rows end in a comma; an optional ninth value is the column stride (SCNN needs one
stride, so it must equal the row stride). Mapping to a workload layer:

* ``IFMAP Height/Width`` already *include* padding in SCALE-Sim (its output size is
  ``ceil((IFMAP - Filter + Stride) / Stride)``), so they become ``H``/``W`` with
  ``padding: 0``. Where ``(IFMAP - Filter)`` is not a multiple of the stride, SCALE-Sim counts
  a last partial window that scnn-sim (``floor``) does not: the output is one row/column
  smaller; the importer names those layers in a comment.
* ``Channels`` -> ``C``, ``Num Filter`` -> ``K``, ``Filter Height/Width`` -> ``R``/``S``,
  ``Strides`` -> ``stride``.
* A layer whose name contains ``DP`` is depthwise in SCALE-Sim (one filter set per channel):
  it becomes a grouped conv with ``groups = C`` and ``K = C * Num Filter``.
* Densities are not in SCALE-Sim's format: every layer is dense unless ``weight_density`` /
  ``act_density`` are given (``--weight-density``, ``--act-density``).
"""

from __future__ import annotations

import os
from pathlib import Path

from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.limits import check_layer_memory
from scnn_sim.inputs.readers import as_path, csv_rows, read_text
from scnn_sim.workload.importers import ModelImportError
from scnn_sim.workload.shapes import Layer, Workload, validate_layer

__all__ = ["COLUMNS", "import_scalesim_csv", "read_scalesim_csv"]

COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
           "Channels", "Num Filter", "Strides")


def _key(text: str) -> str:
    return "".join(text.split()).lower()


def read_scalesim_csv(path: str | os.PathLike, *, weight_density: float = 1.0,
                      act_density: float = 1.0) -> tuple[list[Layer], list[str]]:
    """Parse a SCALE-Sim topology CSV into validated layers.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file.
    weight_density, act_density : float
        Densities given to every layer (SCALE-Sim topologies have none).

    Returns
    -------
    tuple
        The layers, and the names of layers whose output is one smaller than SCALE-Sim's
        (partial last window, see the module docstring).

    Raises
    ------
    ModelImportError
        Missing file, missing columns, a non-integer or impossible value, differing row and
        column strides, duplicate names: one line ``file:line:column: problem``.
    """
    p = as_path(path, "SCALE-Sim topology", ModelImportError)
    shown = str(p)
    for what, v in (("--weight-density", weight_density), ("--act-density", act_density)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise ModelImportError(f"{what}: must be in [0, 1], got {v!r}")
    # The reader policy: text size, UTF-8 and CSV field size limits, one line naming the file.
    text = read_text(p, ModelImportError, "topology file")
    rows = [(i, r) for i, r in csv_rows(text, shown, ModelImportError)
            if any(c.strip() for c in r)]
    col = _columns(rows, shown)
    layers: list[Layer] = []
    partial: list[str] = []
    seen: dict[str, int] = {}
    for line, row in rows[1:]:
        layer = _row_layer(f"{shown}:{line}", line, row, col, seen, weight_density, act_density)
        s = layer.stride
        if (layer.H - layer.R) % s or (layer.W - layer.S) % s:
            partial.append(layer.name)
        layers.append(layer)
    if not layers:
        raise ModelImportError(f"{shown}: no layer rows after the header")
    return layers, partial


def _columns(rows: list[tuple[int, list[str]]], shown: str) -> dict[str, int]:
    """The index of each of :data:`COLUMNS` in the header row (the first of ``rows``)."""
    if not rows:
        raise ModelImportError(f"{shown}: empty topology file; expected a header row "
                               f"{', '.join(COLUMNS)}")
    header_line, header = rows[0]
    keys = [_key(c) for c in header]
    missing = [c for c in COLUMNS if _key(c) not in keys]
    if missing:
        raise ModelImportError(f"{shown}:{header_line}: missing column(s) {', '.join(missing)} "
                               f"(SCALE-Sim header: {', '.join(COLUMNS)})")
    col = {c: keys.index(_key(c)) for c in COLUMNS}
    return col


def _row_layer(where: str, line: int, row: list[str], col: dict[str, int],
               seen: dict[str, int], weight_density: float, act_density: float) -> Layer:
    """The validated layer of one topology row; ``seen`` maps names to their line."""
    stride_col = col["Strides"]
    if len(row) <= max(col.values()):
        raise ModelImportError(f"{where}: {len(row)} values, expected at least "
                               f"{max(col.values()) + 1}")
    name = row[col["Layer name"]].strip()
    if not name:
        raise ModelImportError(f"{where}:Layer name: empty")
    vals = {}
    for c in COLUMNS[1:]:
        raw = row[col[c]].strip()
        try:
            vals[c] = int(raw)
        except ValueError:
            raise ModelImportError(f"{where}:{c}: must be an integer, got {raw!r}") from None
    extra = [v.strip() for v in row[stride_col + 1:] if v.strip()] \
        if stride_col == len(COLUMNS) - 1 else []
    if extra:
        try:
            col_stride = int(extra[0])
        except ValueError:
            raise ModelImportError(f"{where}: column stride must be an integer, got "
                                   f"{extra[0]!r}") from None
        if col_stride != vals["Strides"]:
            raise ModelImportError(f"{where}:Strides: row stride {vals['Strides']} != "
                                   f"column stride {col_stride}; SCNN layers have one "
                                   f"stride")
    if name in seen:
        raise ModelImportError(f"{where}:Layer name: duplicate {name!r} (line "
                               f"{seen[name]})")
    seen[name] = line
    C, nf = vals["Channels"], vals["Num Filter"]
    depthwise = "DP" in name
    layer = Layer(name=name, C=C, K=C * nf if depthwise else nf, R=vals["Filter Height"],
                  S=vals["Filter Width"], H=vals["IFMAP Height"], W=vals["IFMAP Width"],
                  stride=vals["Strides"], padding=0, groups=C if depthwise else 1,
                  kind="conv", weight_density=float(weight_density),
                  act_density=float(act_density), density_source="default")
    try:
        validate_layer(layer, f"{where}:{name}")
    except ScnnSimError as exc:
        raise ModelImportError(str(exc)) from None
    check_layer_memory(layer, f"{where}:{name}")  # the size gate `run` would apply
    return layer


def import_scalesim_csv(path: str | os.PathLike, out: str | os.PathLike, *,
                        weight_density: float = 1.0, act_density: float = 1.0) -> Workload:
    """Convert a SCALE-Sim topology CSV into a workload YAML file.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file.
    out : str or os.PathLike
        The workload YAML to write (loaded back before it is renamed into place).
    weight_density, act_density : float
        Densities written for every layer (default dense).

    Returns
    -------
    Workload
        The written workload.

    Raises
    ------
    ModelImportError
        See :func:`read_scalesim_csv`; also an unwritable output.
    """
    from scnn_sim.workload.importers.workload_yaml import workload_yaml_text, write_workload_yaml

    layers, partial = read_scalesim_csv(path, weight_density=weight_density,
                                        act_density=act_density)
    p = Path(path)
    header = [f"Imported from SCALE-Sim topology {p.name} by `scnn-sim import`.",
              "H/W = SCALE-Sim IFMAP Height/Width, which already include padding: padding 0.",
              "Layers named *DP* are depthwise: groups = C, K = C x Num Filter.",
              f"Densities are not part of SCALE-Sim topologies: weight {weight_density:g}, "
              f"act {act_density:g} for every layer."]
    notes = {n: ["SCALE-Sim counts a partial last window here (ceil); scnn-sim's output is "
                 "one row/column smaller (floor)"] for n in partial}
    text = workload_yaml_text(
        p.stem, layers, description=f"SCALE-Sim topology {p.name}: {len(layers)} conv layers.",
        provenance=f"scnn-sim import of {p.resolve()} (SCALE-Sim topology CSV columns "
        f"{', '.join(COLUMNS)}).", header=header, notes=notes)
    return write_workload_yaml(out, text)
