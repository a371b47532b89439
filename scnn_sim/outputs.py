"""The output gate: every file scnn-sim writes is checked before work and written atomically.

One gate for every command and every writer (JSON, HDF5, CSV, YAML, figures, schemas):

* :func:`check_output_path` / :func:`check_output_dir` run before any long work and refuse,
  in one line naming the option and the path: an empty path, a file option given an existing
  directory or a name ending in ``/``, an existing non-regular file (a device, a FIFO), a
  path under a regular file, a pseudo file system (``/proc``, ``/sys``, ``/dev``), and a
  directory this process cannot create files in (probed for real, so read-only mounts and
  root-owned directories are caught even for root).
* :func:`atomic_output` (and :func:`atomic_write_bytes`, :func:`atomic_write_text`,
  :func:`atomic_write_json` built on it) writes to a temporary file in the target's
  directory, fsyncs it, checks that no SIGINT/SIGTERM arrived, and renames it into place:
  the output is whole or absent. The temporary file is removed on any error and on
  SIGINT/SIGTERM (:func:`interrupts_raise`, which the CLI installs, also removes it from the
  signal handler itself, in case library C code swallows the exception).
* A file the user names may be a symbolic link: its target is replaced (documented, the link
  stays). A file a command creates *inside* an output directory (:func:`file_in_dir`) must not
  be a symbolic link planted there: that is refused, so a directory output never writes
  outside its directory.

Errors are :class:`~scnn_sim.errors.OutputError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scnn_sim.errors import OutputError

__all__ = ["Interrupted", "PSEUDO_FS", "atomic_output", "atomic_write_bytes",
           "atomic_write_json", "atomic_write_text", "check_interrupted", "check_output_dir",
           "check_output_path", "file_in_dir", "interrupted_by", "interrupts_raise",
           "json_text"]

#: Pseudo file systems: never a place for a result file.
PSEUDO_FS = ("/proc", "/sys", "/dev")


# --------------------------------------------------------------------------------------------
# Checks before work


def _nearest_existing(p: Path) -> Path:
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def _probe(where: Path, shown: str) -> None:
    """Create and remove a temporary directory in ``where``: the real test of writability
    (permissions, read-only file systems, /proc), also for root."""
    if not where.is_dir():
        raise OutputError(f"{shown}: {where} is not a directory (a path under a file?)")
    try:
        os.rmdir(tempfile.mkdtemp(dir=where, prefix=".scnn-sim-probe-"))
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write in {where} "
                          f"({exc.strerror or exc})") from None


def _start(path: str | os.PathLike, option: str) -> tuple[str, str, Path]:
    if not isinstance(path, (str, os.PathLike)):
        raise OutputError(f"{option}: expected a path, got {type(path).__name__}")
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text or not text.strip():
        raise OutputError(f"{option}: empty path")
    if "\0" in text:
        raise OutputError(f"{option}: the path contains a NUL character")
    shown = f"{option} {text}"
    return text, shown, Path(os.path.realpath(text))


def _not_pseudo(target: Path, shown: str) -> None:
    for fs in PSEUDO_FS:
        if target == Path(fs) or Path(fs) in target.parents:
            raise OutputError(f"{shown}: cannot write in {fs} (a pseudo file system, not a "
                              f"place for a result file)")


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
        One line: an empty path, a name ending in ``/``, an existing directory or other
        non-regular file (a device, a FIFO), a path under a regular file, a pseudo file
        system, or a directory this process cannot write in.
    """
    text, shown, target = _start(path, option)
    if text.endswith(("/", os.sep)) or target.is_dir():
        raise OutputError(f"{shown}: is a directory; give a file name")
    if os.path.lexists(target) and not target.is_file():
        raise OutputError(f"{shown}: exists and is not a regular file")
    _not_pseudo(target, shown)
    _probe(_nearest_existing(target.parent), shown)
    return target


def check_output_dir(path: str | os.PathLike, option: str = "output") -> Path:
    """Check, before any work, that files can be written into directory ``path``.

    Returns the directory (symbolic links resolved); it is created when written to.

    Raises
    ------
    OutputError
        One line: an empty path, an existing non-directory, a pseudo file system, or no
        permission to write there.
    """
    _, shown, target = _start(path, option)
    if os.path.lexists(target) and not target.is_dir():
        raise OutputError(f"{shown}: exists and is not a directory")
    _not_pseudo(target, shown)
    _probe(_nearest_existing(target), shown)
    return target


def file_in_dir(folder: str | os.PathLike, name: str, option: str = "output") -> Path:
    """The path of file ``name`` that a command creates inside output directory ``folder``.

    Raises
    ------
    OutputError
        ``name`` is a symbolic link (planted in the directory: writing would go outside it),
        or a directory or other non-regular file.
    """
    p = Path(folder) / name
    if p.is_symlink():
        raise OutputError(f"{option} {folder}: {p} is a symbolic link; refusing to write "
                          f"through it (remove it first)")
    if os.path.lexists(p) and not p.is_file():
        raise OutputError(f"{option} {folder}: {p} exists and is not a regular file")
    return p


# --------------------------------------------------------------------------------------------
# Interruptions


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM received while a command runs; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_pending: list[int] = []
#: True while a command runs under :func:`interrupts_raise` (the CLI), not in library use.
_in_command: list[bool] = []


def in_command() -> bool:
    """Whether a CLI command is running (:func:`interrupts_raise` is active)."""
    return bool(_in_command)
#: Temporary files being written by :func:`atomic_output` (removed on a signal).
_temps: set[str] = set()


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


def _remove_temps() -> None:
    for tmp in list(_temps):
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` (and are recorded) inside the block; the
    temporary files of writes under way are removed at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        _pending.append(signum)
        _remove_temps()
        raise Interrupted(signum)

    def unraisable(info: Any) -> None:
        # The handler's exception, lost in a C callback (h5py), is recorded in _pending and
        # acted on by check_interrupted: do not also print its traceback.
        if not isinstance(info.exc_value, Interrupted):
            old_hook(info)

    _pending.clear()
    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    old_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    _in_command.append(True)
    try:
        yield
    finally:
        _in_command.pop()
        for sig, h in old.items():
            signal.signal(sig, h)
        sys.unraisablehook = old_hook
        _pending.clear()


# --------------------------------------------------------------------------------------------
# Atomic writes


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, option: str = "output") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally it is fsynced and
    renamed onto ``path``, otherwise (an error, SIGINT/SIGTERM) removed.

    For writers that need a file name (h5py, matplotlib, csv). A symbolic link at ``path`` is
    followed: its target is replaced, the link stays.

    Raises
    ------
    OutputError
        The directory cannot be created or written (one line naming ``option`` and ``path``).
    """
    shown = f"{option} {os.fspath(path)}"
    target = check_output_path(path, option)
    suffix = target.suffix
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.",
                                   suffix=f".tmp{suffix}")
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write: {exc.strerror or exc}") from None
    _temps.add(tmp)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        check_interrupted()
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write: {exc.strerror or exc}") from None
    finally:
        _temps.discard(tmp)
        if os.path.lexists(tmp):
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, option: str = "output") -> None:
    """Write ``data`` to ``path`` through :func:`atomic_output`: never half-written."""
    with atomic_output(path, option) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, option: str = "output") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), option)


def json_text(obj: Any) -> str:
    """The JSON text :func:`atomic_write_json` writes, without its final newline."""
    return json.dumps(obj, indent=2, sort_keys=False)


def atomic_write_json(path: str | os.PathLike, obj: Any, option: str = "output") -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(path, (json_text(obj) + "\n").encode(), option)
