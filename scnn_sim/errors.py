"""Exceptions of scnn-sim: one base class, so the CLI can turn any user mistake into one line."""


class ScnnSimError(Exception):
    """Base class for every error scnn-sim raises on bad input or impossible configurations."""


class ConfigError(ScnnSimError):
    """A malformed or impossible architecture, energy or sweep configuration."""


class WorkloadError(ScnnSimError):
    """A malformed workload file or an impossible layer shape."""


class SparsityError(ScnnSimError):
    """A bad density, granularity, block shape or tensor given to pruning or encoding."""


class FormatError(ScnnSimError):
    """A malformed compressed stream or exported-layer file."""


class SimulationError(ScnnSimError):
    """A layer that cannot be mapped on the configured accelerator."""


class OutputError(ScnnSimError):
    """An output path that cannot be written (a directory, under a file, not writable)."""
