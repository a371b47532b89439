"""What every JSON and HDF5 result records about how it was made (one function for all).

A result can be reproduced from its provenance alone: the scnn-sim version, the full
architecture, the energy table's values (not only its name, since a YAML table can change),
the workload and where it came from, the layer subset and every simulation option.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from scnn_sim import __version__
from scnn_sim.inputs.arch import ArchConfig
from scnn_sim.inputs.options import DEFAULT_WEIGHT_FORMAT, WEIGHT_FORMATS  # noqa: F401 (re-export)
from scnn_sim.pricing.energy import EnergyTable

#: Version of the result layouts (run JSON/HDF5, granularity JSON, the real-data study.json);
#: raised when a field changes meaning or disappears, not when one is added.
FormatVersion = Literal[1]
FORMAT_VERSION: FormatVersion = 1



def energy_provenance(table: EnergyTable) -> dict[str, Any]:
    """The energy table as recorded in results: name, node, pJ per action and entry widths."""
    return {"name": table.name, "technology_node": table.technology_node,
            "energy_pj": dict(table.energy_pj), "bits": dict(table.bits)}


def provenance(
    kind: str,
    *,
    workload: str,
    workload_source: str | None,
    arch: ArchConfig,
    energy: EnergyTable,
    seed: int,
    weight_format: str,
    clustered: float,
    pointwise_group: int,
    layers: Sequence[str] | None,
    **fields: Any,
) -> dict[str, Any]:
    """The provenance block shared by run, granularity, sweep and study results.

    Parameters
    ----------
    kind
        The result's ``format``: ``scnn-sim-results`` (run), ``scnn-sim-granularity``...
    workload, workload_source
        The workload's name and the file (or description) it was read from.
    arch, energy
        The architecture (recorded in full) and the energy table (recorded with its values).
    seed, weight_format, clustered, pointwise_group
        The simulation options.
    layers
        The conv layers simulated, or None for all of them.
    **fields
        Further fields of this kind of result (``granularity``, ``density``...).

    Returns
    -------
    dict
        ``format``, ``format_version``, ``scnn_sim_version``, ``workload``,
        ``workload_source``, ``arch``, ``energy_table`` (name), ``energy`` (values), ``seed``,
        ``weight_format``, ``clustered``, ``pointwise_group``, ``layer_subset`` (the
        ``layers`` argument), then ``fields``.
    """
    return {
        "format": kind,
        "format_version": FORMAT_VERSION,
        "scnn_sim_version": __version__,
        "workload": workload,
        "workload_source": workload_source,
        "arch": arch.to_dict(),
        "energy_table": energy.name,
        "energy": energy_provenance(energy),
        "seed": seed,
        "weight_format": weight_format,
        "clustered": clustered,
        "pointwise_group": pointwise_group,
        "layer_subset": list(layers) if layers is not None else None,
        **fields,
    }
