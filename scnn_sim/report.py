"""Plain-text tables, output-path checks, atomic file writes and interruption handling shared
by every command."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim.errors import OutputError


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render rows as an aligned text table; numbers right-aligned, text left-aligned.

    Put units in the headers (``"cycles"``, ``"energy [uJ]"``).
    """
    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v != 0 and (abs(v) >= 1e7 or abs(v) < 1e-3):
                return f"{v:.3e}"
            return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    text = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    numeric = [
        all(isinstance(r[i], (int, float)) for r in rows) if rows else False
        for i in range(len(headers))
    ]

    def line(vals: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(vals)
        ).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in text]
    return "\n".join(out)


def table_records(table: Any) -> list[dict[str, Any]]:
    """The rows of a results table as plain dicts, with or without pandas.

    Parameters
    ----------
    table
        A pandas DataFrame, a numpy structured array (what
        :func:`scnn_sim.sweep.load_sweep_results` returns without pandas), or an iterable of
        mappings.

    Returns
    -------
    list of dict
        One dict per row, column name -> value (numpy scalars as Python numbers).
    """
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        return [dict(r) for r in table.to_dict("records")]
    if isinstance(table, np.ndarray) and table.dtype.names:
        names = table.dtype.names
        return [{n: _py(row[n]) for n in names} for row in table]
    return [dict(r) for r in table]


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# --------------------------------------------------------------------------------------------
# Output paths


def _nearest_existing(p: Path) -> Path:
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def _probe(where: Path, shown: str) -> None:
    """Create and remove a temporary directory in ``where``: the real test of writability
    (permissions, read-only file systems, /proc), also for root."""
    if not where.is_dir():
        raise OutputError(f"{shown}: {where} is not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(dir=where, prefix=".scnn-sim-probe-"))
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write in {where} "
                          f"({exc.strerror or exc})") from None


def check_output_path(path: str | os.PathLike, option: str = "output") -> Path:
    """Check, before any work, that a result file can be written at ``path``.

    Files are written atomically (a temporary file in the same directory, then a rename), so
    what matters is the directory; missing directories are created when the file is written.

    Parameters
    ----------
    path
        The output file given by the user.
    option
        The option it came from (``--json``, ``-o``...), named in the error.

    Returns
    -------
    Path
        The path to write: symbolic links resolved, so writing replaces the link's target
        rather than the link.

    Raises
    ------
    OutputError
        One line: an empty path, an existing directory or other non-regular file (a device,
        a FIFO), a path under a regular file, or a directory this process cannot write in.
    """
    shown = f"{option} {os.fspath(path)}"
    if not os.fspath(path):
        raise OutputError(f"{option}: empty path")
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise OutputError(f"{shown}: is a directory; give a file name")
    if os.path.lexists(target) and not target.is_file():
        raise OutputError(f"{shown}: exists and is not a regular file")
    _probe(_nearest_existing(target.parent), shown)
    return target


def check_output_dir(path: str | os.PathLike, option: str = "output") -> Path:
    """Check, before any work, that files can be written into directory ``path``.

    Returns the directory (symbolic links resolved); it is created when written to.

    Raises
    ------
    OutputError
        One line: an empty path, an existing non-directory, or no permission to write there.
    """
    shown = f"{option} {os.fspath(path)}"
    if not os.fspath(path):
        raise OutputError(f"{option}: empty path")
    target = Path(os.path.realpath(path))
    if os.path.lexists(target) and not target.is_dir():
        raise OutputError(f"{shown}: exists and is not a directory")
    _probe(_nearest_existing(target), shown)
    return target


# --------------------------------------------------------------------------------------------
# Interruptions


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM received while a command runs; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_pending: list[int] = []


def interrupted_by() -> int | None:
    """The signal received by :func:`interrupts_raise`, if any (even if its exception was
    swallowed by C code such as HDF5's)."""
    return _pending[0] if _pending else None


def check_interrupted() -> None:
    """Raise :class:`Interrupted` if a signal arrived; call it before committing an output.

    A signal's exception can be lost inside library C code (h5py ignores exceptions raised in
    some callbacks); checking the recorded signal before the final rename means an interrupted
    write never becomes the output file.
    """
    if _pending:
        raise Interrupted(_pending[0])


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` (and are recorded) inside the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        _pending.append(signum)
        raise Interrupted(signum)

    def unraisable(info: Any) -> None:
        # The handler's exception, lost in a C callback (h5py), is recorded in _pending and
        # acted on by check_interrupted: do not also print its traceback.
        if not isinstance(info.exc_value, Interrupted):
            old_hook(info)

    _pending.clear()
    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    old_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
        sys.unraisablehook = old_hook
        _pending.clear()


# --------------------------------------------------------------------------------------------
# Atomic writes


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written.

    A symbolic link at ``path`` is followed: its target is replaced, the link stays.
    """
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        check_interrupted()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())
