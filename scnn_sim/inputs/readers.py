"""The reader policy: every JSON, CSV and ``.npy``/``.npz`` input is read within explicit limits.

* JSON (results given to ``compare`` and ``plot``, sweep-store rows, HDF5 provenance): at most
  :func:`max_text_bytes` of text and :data:`MAX_JSON_DEPTH` levels of nesting; malformed,
  too deep, too large or non-UTF-8 text is one line naming the file (and the line).
* CSV: fields up to :data:`MAX_CSV_FIELD` characters, the same text size limit; a problem is
  one line ``FILE:LINE: ...``.
* ``.npy`` / ``.npz``: never unpickled (``allow_pickle=False``), and the declared dtype and
  shape of every array are read from its header and checked (real numbers, the size gate of
  :mod:`scnn_sim.inputs.limits`) *before* the array is read.

Every problem raises the caller's :class:`~scnn_sim.errors.ScnnSimError` subclass.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import select
import signal
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.limits import check_array_bytes, memory_limit_bytes

__all__ = ["MAX_CSV_FIELD", "MAX_JSON_DEPTH", "as_path", "csv_rows", "max_text_bytes", "npy_header",
           "npz_headers", "parse_json", "read_json", "read_text"]

#: Deepest nesting of a JSON document (scnn-sim's own results nest 4 levels).
MAX_JSON_DEPTH = 64
#: Longest CSV field, in characters (the csv module's default limit, stated).
MAX_CSV_FIELD = 131072


def as_path(value: Any, what: str, error: type[ScnnSimError]) -> Path:
    """``value`` as a file path, or one line saying what was expected: the type check every
    public loader applies to its path argument (the API contract: only ScnnSimError)."""
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, (str, os.PathLike)):
        raise error(f"{what}: expected a file path, got {type(value).__name__} "
                    f"{_shown(value)}")
    text = os.fspath(value)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip() or "\0" in text:
        raise error(f"{what}: expected a file path, got {text!r}")
    return Path(text)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: Seconds a C library (libhdf5) may spend on one read of an input file in a CLI command
#: before :func:`stuck_guard` ends the command: a corrupt variable-length string can send
#: libhdf5 into a loop that no Python signal can interrupt.
STUCK_READ_S = 120.0


@contextlib.contextmanager
def stuck_guard(where: str, seconds: float | None = None) -> Iterator[None]:
    """In a CLI command, end the process with one line (killed: exit 137) if the block is still
    running after ``seconds`` (default :data:`STUCK_READ_S`): stuck in C code that holds
    the interpreter, where signals cannot reach it. A forked watchdog process waits on a pipe
    the block closes when it ends. Library use (no command running) is not guarded."""
    from scnn_sim.outputs import in_command

    if not in_command() or not hasattr(os, "fork"):
        yield
        return
    limit = STUCK_READ_S if seconds is None else seconds
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the watchdog: only system calls, then _exit
        try:
            os.close(w)
            ready, _, _ = select.select([r], [], [], limit)
            if not ready:
                os.write(2, f"scnn-sim: error: {where}: still reading after {limit:g} s, "
                            f"stuck in the HDF5 library (a corrupt file?); stopped\n".encode())
                os.kill(os.getppid(), signal.SIGKILL)
        finally:
            os._exit(0)
    os.close(r)
    try:
        yield
    finally:
        os.close(w)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def max_text_bytes() -> int:
    """Largest text file read whole: an eighth of the memory limit (parsed JSON takes several
    times its text), so 1 GB under the default 8 GB."""
    return max(1, memory_limit_bytes() // 8)


def read_text(path: str | os.PathLike, error: type[ScnnSimError], what: str = "file") -> str:
    """The UTF-8 text of ``path``, refused in one line if missing, too large or not text."""
    p = as_path(path, what, error)
    try:
        size = p.stat().st_size
        if size > max_text_bytes():
            raise error(f"{p}: cannot read {what}: {size:,} bytes is larger than the limit "
                        f"of {max_text_bytes():,} (an eighth of SCNN_SIM_MAX_MEMORY_GB)")
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{p}: cannot read {what} (no such file)") from None
    except IsADirectoryError:
        raise error(f"{p}: cannot read {what} (a directory)") from None
    except UnicodeDecodeError:
        raise error(f"{p}: cannot read {what} (not UTF-8 text)") from None
    except OSError as exc:
        raise error(f"{p}: cannot read {what} ({exc.strerror or exc})") from None


def _depth_ok(obj: Any, limit: int) -> bool:
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return False
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict)
                                                  else value))
    return True


def parse_json(text: str | bytes, where: str, error: type[ScnnSimError]) -> Any:
    """Parse JSON text within :data:`MAX_JSON_DEPTH`; one line ``where[:LINE]: problem``."""
    try:
        obj = json.loads(text)
    except RecursionError:
        raise error(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise error(f"{where}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    except (UnicodeDecodeError, TypeError, ValueError) as exc:
        raise error(f"{where}: not JSON text ({type(exc).__name__})") from None
    if not _depth_ok(obj, MAX_JSON_DEPTH):
        raise error(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return obj


def read_json(path: str | os.PathLike, error: type[ScnnSimError], what: str = "JSON file"
              ) -> Any:
    """Read and parse a JSON file under the reader policy (size, depth, UTF-8)."""
    return parse_json(read_text(path, error, what), str(path), error)


def csv_rows(text: str, where: str, error: type[ScnnSimError]) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of CSV text, fields up to :data:`MAX_CSV_FIELD` characters."""
    old = csv.field_size_limit(MAX_CSV_FIELD)
    reader = csv.reader(text.splitlines())
    rows = []
    try:
        for i, row in enumerate(reader):
            rows.append((i + 1, row))
    except csv.Error as exc:
        raise error(f"{where}:{reader.line_num}: malformed CSV ({exc}; fields are limited to "
                    f"{MAX_CSV_FIELD:,} characters)") from None
    finally:
        csv.field_size_limit(old)
    return rows


def npy_header(fh: IO[bytes], where: str, error: type[ScnnSimError]
               ) -> tuple[tuple[int, ...], np.dtype]:
    """The declared ``(shape, dtype)`` of a ``.npy`` stream, read from its header only.

    Raises ``error`` for a malformed header, an object (pickled) dtype, or a non-real dtype.
    """
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(fh)
        if version == (1, 0):
            shape, _fortran, dtype = npformat.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _fortran, dtype = npformat.read_array_header_2_0(fh)
        else:  # 3.0 (UTF-8 field names): numpy's private reader, if this numpy has it
            reader = getattr(npformat, "_read_array_header", None)
            if reader is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _fortran, dtype = reader(fh, version)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise error(f"{where}: not a readable .npy array header ({exc})") from None
    if dtype.hasobject:
        raise error(f"{where}: holds Python objects (dtype {dtype}); only numeric arrays "
                    f"are read (pickles never are)")
    if dtype.kind not in "biuf":
        raise error(f"{where}: expected real numbers, got dtype {dtype}")
    return tuple(int(d) for d in shape), dtype


def npz_headers(path: str | os.PathLike, error: type[ScnnSimError]
                ) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Declared shape and dtype of every array of a ``.npz`` archive, read from the headers
    alone, each checked against the size gate before anything is loaded."""
    p = Path(path)
    out = {}
    try:
        with zipfile.ZipFile(p) as zf:
            for info in zf.infolist():
                name = info.filename.removesuffix(".npy")
                with zf.open(info) as fh:
                    shape, dtype = npy_header(fh, f"{p}: {name}", error)
                check_array_bytes(shape, dtype.itemsize, f"{p}: {name}", error)
                out[name] = (shape, dtype)
    except FileNotFoundError:
        raise error(f"{p}: no such file") from None
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise error(f"{p}: cannot read as .npz ({exc})") from None
    return out
