"""The ``scnn-sim`` command line: one sub-command per module in ``scnn_sim.commands``.

Exit status (docs/errors.md): 0 success; 1 an internal error (a bug: one line,
``SCNN_SIM_DEBUG=1`` shows the traceback) or a documented failure (a sweep with failed points,
``run --verify`` mismatches); 2 a user mistake (an :class:`~scnn_sim.errors.ScnnSimError` or a
bad command line: one line ``scnn-sim: error: ...`` on stderr, no traceback); 130 / 143
interrupted by SIGINT (Ctrl-C) / SIGTERM, with no partial output file left; 141 stdout closed
early (``scnn-sim ... | head``), quietly.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import re
import signal
import sys
from collections.abc import Iterable
from typing import NoReturn

from scnn_sim import __version__
from scnn_sim.errors import ScnnSimError
from scnn_sim.outputs import check_interrupted, interrupts_raise

# Each module exposes ``register(subparsers)``, which adds its parser and sets ``func``.
COMMAND_MODULES = ("workloads", "storage", "arch", "energy", "run", "granularity",
                   "sensitivity", "prune", "study", "sweep", "plot", "importing", "compare",
                   "schema")
#: Sub-commands of the modules whose commands are not named after the module.
COMMANDS_OF = {"workloads": ("workloads", "show"), "importing": ("import",)}

#: Exit status of a stdout closed by its reader (128 + SIGPIPE, what a shell reports for a
#: program killed by the signal).
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the candidate closest to a mistyped ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")


class _Parser(argparse.ArgumentParser):
    """argparse with command-line mistakes reported as one line, like every other error,
    and the closest option, choice or command suggested for a typo."""

    def error(self, message: str) -> NoReturn:
        m = _INVALID_CHOICE.search(message)
        if m:
            choices = [f"'{c}'" for c in re.findall(r"'([^']*)'", m.group(2))]
            message += did_you_mean(f"'{m.group(1)}'", choices)
        where = self.prog.removeprefix("scnn-sim").strip()
        hint = f"scnn-sim {where} --help" if where else "scnn-sim --help"
        print(f"scnn-sim: error: {where + ': ' if where else ''}{message} (see {hint})",
              file=sys.stderr)
        sys.exit(2)


def command_modules(argv: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs: the named command's alone, else all.

    Importing a command's module imports what it runs (numba, h5py, matplotlib, ...), so a
    process registers only the command it runs; help, ``--version`` and a mistyped command
    get every command (argparse lists them).
    """
    first = next((a for a in argv if not a.startswith("-")), None)
    for name in COMMAND_MODULES:
        if first in COMMANDS_OF.get(name, (name,)):
            return (name,)
    return COMMAND_MODULES


def build_parser(modules: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser with the sub-commands of ``modules`` (default: all)."""
    parser = _Parser(
        prog="scnn-sim",
        description="Cycle-level simulator of the SCNN sparse CNN accelerator.",
        epilog="Exit status: 0 ok, 1 internal error or failed points/verification, 2 user "
        "error, 130/143 interrupted (SIGINT/SIGTERM), 141 output pipe closed. "
        "SCNN_SIM_DEBUG=1 shows the traceback of an internal error.",
    )
    parser.add_argument("--version", action="version", version=f"scnn-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES if modules is None else modules:
        importlib.import_module(f"scnn_sim.commands.{name}").register(sub)
    return parser


def _unrecognized(parser: argparse.ArgumentParser, args: argparse.Namespace,
                  extra: list[str]) -> NoReturn:
    """Refuse unknown arguments in the sub-command's name, suggesting its closest option."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cmd = sub.choices.get(getattr(args, "command", None) or "", parser)
    options = [o for a in cmd._actions for o in a.option_strings if o.startswith("--")]
    hint = next((h for h in (did_you_mean(e.split("=")[0], options)
                             for e in extra if e.startswith("--")) if h), "")
    cmd.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    raise SystemExit(2)  # not reached: error() exits (the sub-parser's type is not known)


def _debug() -> bool:
    return os.environ.get("SCNN_SIM_DEBUG", "").strip() not in ("", "0")


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scnn-sim`` console script; returns the exit status."""
    parser = build_parser(command_modules(sys.argv[1:] if argv is None else argv))
    args, extra = parser.parse_known_args(argv)
    if extra:
        _unrecognized(parser, args, extra)
    try:
        with interrupts_raise():
            status = int(args.func(args) or 0)
            sys.stdout.flush()
            check_interrupted()  # a signal whose exception library C code swallowed
        return status
    except ScnnSimError as exc:
        msg = " ".join(str(exc).split("\n"))
        print(f"scnn-sim: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", None)
        if signum is None:  # the sweep's own SIGTERM handler raises KeyboardInterrupt too
            signum = signal.SIGTERM if str(exc) == "terminated" else signal.SIGINT
        what = "terminated" if signum == signal.SIGTERM else "interrupted"
        print(f"scnn-sim: {what}", file=sys.stderr)
        return 128 + int(signum)
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if _debug():
            raise
        msg = " ".join(str(exc).split())
        print(f"scnn-sim: internal error: {type(exc).__name__}: {msg[:300]} (a bug: please "
              f"report it; SCNN_SIM_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
