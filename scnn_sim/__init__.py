"""scnn-sim: a cycle-level simulator of the SCNN sparse CNN accelerator.

The user's manual is the docs site (docs/, ``make docs``); README.md is its front door.
"""

__version__ = "0.1.0"

import importlib  # noqa: E402
import importlib.abc  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from scnn_sim.errors import (  # noqa: E402
    ConfigError,
    FormatError,
    ScnnSimError,
    SimulationError,
    SparsityError,
    WorkloadError,
)

__all__ = [
    "__version__",
    "ConfigError",
    "FormatError",
    "ScnnSimError",
    "SimulationError",
    "SimulationResult",
    "SparsityError",
    "WorkloadError",
    "simulate",
    "sensitivity",
]

_LAZY = ("simulate", "SimulationResult", "sensitivity")


def __getattr__(name: str):
    # Lazy: importing scnn_sim stays cheap (no numba compile) until simulate is used.
    if name == "simulate":
        from scnn_sim.simulation import simulate

        return simulate
    if name == "sensitivity":
        from scnn_sim.studies.sensitivity import sensitivity

        return sensitivity
    if name == "SimulationResult":
        from scnn_sim.results.records import SimulationResult

        return SimulationResult
    raise AttributeError(f"module 'scnn_sim' has no attribute {name!r}")


#: Modules that moved into the stage folders: the old import path still works (the module is
#: the same object under both names), so documented imports such as
#: ``from scnn_sim.export import from_torch`` keep working. ``workload``, ``sparsity`` and
#: ``results`` became packages that resolve their old names themselves.
MOVED = {
    "arch": "scnn_sim.inputs.arch",
    "validation": "scnn_sim.inputs.validation",
    "yamlio": "scnn_sim.inputs.yamlio",
    "limits": "scnn_sim.inputs.limits",
    "formats": "scnn_sim.sparsity.formats",
    "rle_kernel": "scnn_sim.sparsity.rle_kernel",
    "tensors": "scnn_sim.workload.tensors",
    "h5io": "scnn_sim.workload.h5io",
    "npzio": "scnn_sim.workload.npzio",
    "export": "scnn_sim.workload.export",
    "importers": "scnn_sim.workload.importers",
    "energy": "scnn_sim.pricing.energy",
    "area": "scnn_sim.pricing.area",
    "result_models": "scnn_sim.results.models",
    "results_h5": "scnn_sim.results.h5table",
    "compare": "scnn_sim.results.compare",
    "provenance": "scnn_sim.results.provenance",
    "schemas": "scnn_sim.results.schemas",
    "storage": "scnn_sim.studies.storage",
    "study": "scnn_sim.studies.granularity",
    "study_real": "scnn_sim.studies.real",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolve ``scnn_sim.<old name>`` to the module's place in the stage folders."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        prefix, _, rest = fullname.partition(".")
        head = rest.split(".")[0]
        if prefix != "scnn_sim" or head not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> types.ModuleType:
        head, _, tail = spec.name.removeprefix("scnn_sim.").partition(".")
        return importlib.import_module(MOVED[head] + ("." + tail if tail else ""))

    def exec_module(self, module: types.ModuleType) -> None:
        pass


if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())


def forward_names(package: str, module: str) -> Callable[[str], Any]:
    """The ``__getattr__`` of a package that was one module before the stage folders: its old
    names resolve (lazily) in ``module``, where they live now."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(importlib.import_module(module), name)
        except AttributeError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    return __getattr__


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
