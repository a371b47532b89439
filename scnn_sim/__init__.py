"""scnn-sim: a cycle-level simulator of the SCNN sparse CNN accelerator.

See README.md for the user's manual.
"""

__version__ = "0.1.0"

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
]

_LAZY = ("simulate", "SimulationResult")


def __getattr__(name: str):
    # Lazy: importing scnn_sim stays cheap (no numba compile) until simulate is used.
    if name == "simulate":
        from scnn_sim.simulation import simulate

        return simulate
    if name == "SimulationResult":
        from scnn_sim.results import SimulationResult

        return SimulationResult
    raise AttributeError(f"module 'scnn_sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
