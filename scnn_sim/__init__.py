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
    "SparsityError",
    "WorkloadError",
]
