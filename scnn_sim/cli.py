"""The ``scnn-sim`` command line: one sub-command per module in ``scnn_sim.commands``.

Every user mistake (an :class:`~scnn_sim.errors.ScnnSimError`) becomes one line on stderr and
exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from scnn_sim import __version__
from scnn_sim.errors import ScnnSimError

# Each module exposes ``register(subparsers)``, which adds its parser and sets ``func``.
COMMAND_MODULES = ("workloads", "storage", "arch", "run", "granularity", "prune", "study", "sweep",
                   "plot", "importing", "compare")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="scnn-sim",
        description="Cycle-level simulator of the SCNN sparse CNN accelerator.",
    )
    parser.add_argument("--version", action="version", version=f"scnn-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"scnn_sim.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scnn-sim`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ScnnSimError as exc:
        print(f"scnn-sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scnn-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
