"""JSON Schemas of every input and JSON output, generated from the declared models.

Each kind's schema comes from the classes that also validate (inputs) or describe (outputs)
it, so the two cannot disagree; the package ships them as ``scnn_sim/data/schemas/KIND.json``
(``scnn-sim schema --write`` regenerates them, and a test checks the shipped files against the
models). ``scnn-sim schema KIND`` prints one.

========================== ============================================================
``arch``                   architecture YAML (``--arch``; :class:`scnn_sim.inputs.arch.ArchModel`)
``workload``               workload YAML (:class:`scnn_sim.workload.shapes.WorkloadModel`)
``energy``                 energy table YAML (:class:`scnn_sim.pricing.energy.EnergyTableModel`)
``ert-mapping``            Accelergy ERT mapping YAML
(:class:`scnn_sim.pricing.energy.ErtMappingModel`)
``sweep``                  sweep spec YAML (:class:`scnn_sim.sweep.spec.SweepSpecModel`)
``run-output``             ``scnn-sim run --json`` (:class:`scnn_sim.results.models.RunOutput`)
``granularity-output``     ``scnn-sim granularity --json``
========================== ============================================================
"""

from __future__ import annotations

import importlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from scnn_sim.errors import ConfigError

__all__ = ["KINDS", "schema", "schema_text", "shipped_schema_text", "write_schemas"]

#: The JSON Schema dialect of every schema.
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: kind -> (title, "module:Model", extra models its schema refers to by name).
KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "arch": ("scnn-sim architecture", "scnn_sim.inputs.arch:ArchModel", ()),
    "workload": ("scnn-sim workload", "scnn_sim.workload.shapes:WorkloadModel", ()),
    "energy": ("scnn-sim energy table", "scnn_sim.pricing.energy:EnergyTableModel", ()),
    "ert-mapping": ("scnn-sim Accelergy ERT mapping", "scnn_sim.pricing.energy:ErtMappingModel",
                    ("ErtRefModel", "WidthErtRefModel", "EntryModel", "WidthEntryModel")),
    "sweep": ("scnn-sim sweep spec", "scnn_sim.sweep.spec:SweepSpecModel", ()),
    "run-output": ("scnn-sim run --json result", "scnn_sim.results.models:RunOutput", ()),
    "granularity-output": ("scnn-sim granularity --json result",
                           "scnn_sim.results.models:GranularityOutput", ()),
}


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one kind, generated from its model.

    Parameters
    ----------
    kind
        One of :data:`KINDS`.

    Raises
    ------
    ConfigError
        An unknown kind.
    """
    import msgspec

    if kind not in KINDS:
        raise ConfigError(f"schema: unknown kind {kind!r} (kinds: {', '.join(KINDS)})")
    title, target, extra = KINDS[kind]
    module_name, name = target.split(":")
    module = importlib.import_module(module_name)
    model = getattr(module, name)
    _, defs = msgspec.json.schema_components([model, *(getattr(module, e) for e in extra)])
    root = defs.pop(name)
    root["title"] = title
    schema: dict[str, Any] = _one_line_descriptions({"$schema": DIALECT, **root, "$defs": defs})
    return schema


def _one_line_descriptions(node: Any) -> Any:
    """Docstrings wrap at 100 columns; a description reads better as one line."""
    if isinstance(node, dict):
        return {k: " ".join(v.split()) if k == "description" and isinstance(v, str)
                else _one_line_descriptions(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_one_line_descriptions(v) for v in node]
    return node


def schema_text(kind: str) -> str:
    """:func:`schema` as the text the package ships (indented JSON, one final newline)."""
    return json.dumps(schema(kind), indent=2) + "\n"


def shipped_schema_text(kind: str) -> str:
    """The schema file of ``kind`` as shipped in ``scnn_sim/data/schemas``."""
    return resources.files("scnn_sim").joinpath(f"data/schemas/{kind}.json").read_text()


def write_schemas(folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write every kind's schema to ``folder/KIND.json`` (default: the package's
    ``data/schemas``, which is what a source checkout ships); return the files written.

    Through the output gate: the folder is checked first, each file is written atomically,
    and a symbolic link planted in the folder is refused (:class:`~scnn_sim.errors.OutputError`).
    """
    from scnn_sim.outputs import atomic_write_text, check_output_dir, file_in_dir

    if folder is None:
        folder = Path(__file__).parent.parent / "data" / "schemas"
    check_output_dir(folder, "--write")  # before Path(): "" is refused, not "."
    out = Path(folder)
    paths = [file_in_dir(out, f"{kind}.json", "--write") for kind in KINDS]
    for kind, path in zip(KINDS, paths, strict=True):
        atomic_write_text(path, schema_text(kind), "--write")
    return paths
