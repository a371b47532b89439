"""The crash-safe results store of a sweep: one SQLite file, one transaction per point.

The tables, the opening checks and the atomicity rules are described in :mod:`scnn_sim.sweep`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scnn_sim import __version__
from scnn_sim.errors import ConfigError, ScnnSimError
from scnn_sim.inputs.readers import as_path, parse_json
from scnn_sim.results.h5table import columns_of, json_default
from scnn_sim.sweep.signals import _signals_deferred

FORMAT = "scnn-sim-sweep"
FORMAT_VERSION = 2

#: SQLite ``PRAGMA application_id`` of a sweep store (ASCII ``"SCSW"``).
APPLICATION_ID = 0x53435357
SQLITE_MAGIC = b"SQLite format 3\x00"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


#: Suffixes refused for the store itself (they name export formats).
EXPORT_SUFFIXES = (".h5", ".hdf5", ".csv")
#: Columns every stored row holds as text (sweep/point.py writes them); checked on read.
ROW_TEXT_KEYS = ("point_id", "workload", "layer", "status", "arch_json")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE points (
    seq INTEGER PRIMARY KEY,            -- commit order
    point_id TEXT NOT NULL UNIQUE,
    point_index INTEGER,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error TEXT NOT NULL,
    params_json TEXT NOT NULL,          -- SweepPoint.key: what the point id hashes
    n_rows INTEGER NOT NULL,
    finished_at REAL NOT NULL
);
CREATE TABLE rows (
    point_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    data TEXT NOT NULL,                 -- one row of the table as a JSON object
    PRIMARY KEY (point_id, idx)
);
"""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _sniff(path: Path) -> str:
    """``"sqlite"``, ``"hdf5"``, ``"empty"`` or ``"other"`` from the file's first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return "empty"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    return "other"


def _sniff_existing(path: Path, cannot_read: str) -> str:
    """:func:`_sniff` of a file that must exist; one line naming it if it is missing or
    cannot be read (``cannot_read``: what the message says could not be done)."""
    if not path.is_file():
        raise ScnnSimError(f"{path}: no such sweep results file")
    try:
        return _sniff(path)
    except OSError as exc:
        raise ScnnSimError(f"{path}: {cannot_read} ({exc.strerror or exc})") from None


def _check_sqlite_header(path: Path) -> None:
    """Refuse a truncated database file from its 100-byte header, before SQLite reads it."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100:
        raise ScnnSimError(f"{path}: truncated sweep store ({size} bytes, shorter than an "
                           f"SQLite header)")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise ScnnSimError(f"{path}: corrupt sweep store (bad SQLite page size {page})")
    n_pages = int.from_bytes(head[28:32], "big")
    valid = head[24:28] == head[92:96] and n_pages > 0
    if size % page or (valid and size < n_pages * page):
        raise ScnnSimError(f"{path}: truncated sweep store ({size} bytes; the header declares "
                           f"{n_pages} pages of {page} bytes)")


class SweepStore:
    """The crash-safe results store of a sweep: one SQLite database in WAL mode.

    Every finished point is one transaction (its ``points`` row: id, parameters, status and
    error, plus its per-layer and total rows), so a kill at any instant leaves the committed
    points intact and no part of the point being written. See :mod:`scnn_sim.sweep`.

    Parameters
    ----------
    path
        The store file (``.sqlite`` by convention); created on first :meth:`ensure`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = as_path(path, "sweep store", ScnnSimError)
        self._db: Any = None

    # -- opening ---------------------------------------------------------------------------

    def _connect(self):
        import sqlite3

        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        # WAL + NORMAL: a killed process never loses or tears a committed transaction (a
        # power cut may lose the last few commits, never consistency).
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _open(self):
        """A checked connection to an existing store (raises one line otherwise)."""
        import sqlite3

        p = self.path
        if p.exists() and not p.is_file():
            raise ScnnSimError(f"{p}: not a file (a sweep store is one SQLite file)")
        kind = _sniff_existing(p, "cannot read sweep store")
        if kind == "hdf5":
            raise ScnnSimError(f"{p}: an HDF5 file, not a sweep store (the store is an SQLite "
                               f"file; HDF5 is an export format: --export FILE.h5)")
        if kind == "empty":
            raise ScnnSimError(f"{p}: empty file, not a sweep store")
        if kind != "sqlite":
            raise ScnnSimError(f"{p}: not an scnn-sim sweep store (not an SQLite database)")
        _check_sqlite_header(p)
        try:
            conn = self._connect()
        except UnicodeDecodeError as exc:  # flipped bytes in text SQLite hands back
            raise ScnnSimError(f"{p}: corrupt sweep store (text that is not UTF-8: "
                               f"{_one_line(exc)})") from None
        except sqlite3.Error as exc:
            raise ScnnSimError(f"{p}: cannot open sweep store ({exc})") from None
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            if app != APPLICATION_ID:
                raise ScnnSimError(f"{p}: an SQLite database of another application "
                                   f"(application_id {app:#x}), not an scnn-sim sweep store")
            uv = conn.execute("PRAGMA user_version").fetchone()[0]
            if uv > FORMAT_VERSION:
                raise ScnnSimError(f"{p}: sweep store format version {uv} is newer than this "
                                   f"scnn-sim reads ({FORMAT_VERSION})")
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                first = " ".join(problems[0].split())
                raise ScnnSimError(f"{p}: corrupt sweep store (sqlite quick_check: {first}"
                                   f"{'; ...' if len(problems) > 1 else ''})")
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "points", "rows"} <= tables:
                raise ScnnSimError(f"{p}: not an scnn-sim sweep store (tables "
                                   f"{sorted(tables)})")
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            if meta.get("format") != FORMAT:
                raise ScnnSimError(f"{p}: not an scnn-sim sweep store (format "
                                   f"{meta.get('format')!r})")
            ver = int(meta.get("format_version", "0"))
            if ver > FORMAT_VERSION:
                raise ScnnSimError(f"{p}: sweep store format version {ver} is newer than this "
                                   f"scnn-sim reads ({FORMAT_VERSION})")
        except ScnnSimError:
            conn.close()
            raise
        except (sqlite3.Error, ValueError) as exc:
            conn.close()
            raise ScnnSimError(f"{p}: corrupt sweep store ({_one_line(exc)})") from None
        return conn

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        import sqlite3

        own = self._db is None
        conn = self._open() if own else self._db
        try:
            yield conn
        except sqlite3.OperationalError as exc:  # read-only file, disk full, locked, ...
            raise ScnnSimError(f"{self.path}: cannot use sweep store ({_one_line(exc)})") \
                from None
        except sqlite3.DatabaseError as exc:
            raise ScnnSimError(f"{self.path}: corrupt sweep store ({_one_line(exc)})") from None
        except UnicodeDecodeError as exc:  # flipped bytes in a text column
            raise ScnnSimError(f"{self.path}: corrupt sweep store (text that is not UTF-8: "
                               f"{_one_line(exc)})") from None
        finally:
            if own:
                conn.close()

    @contextlib.contextmanager
    def session(self) -> Iterator[SweepStore]:
        """Keep one checked connection open for the calls inside (what a sweep run uses).

        Within one process, do not open the store file by other means meanwhile: closing any
        descriptor of it drops the connection's POSIX locks (an SQLite rule).
        """
        if self._db is not None:
            yield self
            return
        self._db = self._open()
        try:
            yield self
        finally:
            db, self._db = self._db, None
            db.close()

    def _create(self) -> None:
        """Create the store atomically: build it under a temporary name, then rename."""
        import sqlite3

        if self.path.suffix.lower() in EXPORT_SUFFIXES:
            raise ConfigError(f"{self.path}: the sweep store is an SQLite file: name it "
                              f".sqlite (HDF5 and CSV are exports: --export FILE.h5|.csv)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        for extra in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{tmp}{extra}")
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("BEGIN")
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", FORMAT), ("format_version", str(FORMAT_VERSION)),
                    ("created_at", repr(time.time())), ("scnn_sim_version", __version__)])
                conn.execute("COMMIT")
            finally:
                conn.close()
            with _signals_deferred():
                os.replace(tmp, self.path)
        except sqlite3.Error as exc:
            raise ScnnSimError(f"{self.path}: cannot create sweep store ({exc})") from None
        except OSError as exc:
            raise ScnnSimError(f"{self.path}: cannot create sweep store "
                               f"({exc.strerror or exc})") from None
        finally:
            for extra in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{tmp}{extra}")

    def ensure(self, spec_json: str | None = None) -> None:
        """Create the store if missing; check it; record the spec being run.

        Raises
        ------
        ScnnSimError
            The file exists but is not a sweep store (foreign, HDF5, truncated, corrupt).
        """
        if not self.path.exists():
            self._create()
        with self._conn() as conn, _signals_deferred():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('scnn_sim_version', ?)",
                         (__version__,))
            if spec_json is not None:
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('spec_json', ?)",
                             (spec_json,))
            conn.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------

    def statuses(self) -> dict[str, str]:
        """``point_id -> status`` of every committed point."""
        with self._conn() as conn:
            return dict(conn.execute("SELECT point_id, status FROM points"))

    def meta(self) -> dict[str, str]:
        """The ``meta`` table (``format``, ``format_version``, ``spec_json``, ...)."""
        with self._conn() as conn:
            return dict(conn.execute("SELECT key, value FROM meta"))

    def read_rows(self) -> list[dict[str, Any]]:
        """Every committed row, as dicts, in commit order (a point's rows in their order)."""
        with self._conn() as conn:
            # One read transaction: a concurrent writer's half-done point is invisible.
            conn.execute("BEGIN")
            data = conn.execute("SELECT r.point_id, r.idx, r.data FROM rows r JOIN points p "
                                "USING (point_id) ORDER BY p.seq, r.idx").fetchall()
            conn.execute("COMMIT")
        return [self._row(pid, idx, d) for pid, idx, d in data]

    def _row(self, pid: Any, idx: Any, data: Any) -> dict[str, Any]:
        """One stored row, validated (the reader policy): a JSON object of scalar or JSON
        values whose ``point_id`` is its point's. A damaged row is one line naming it."""
        where = f"{self.path}: row {idx} of point {str(pid)[:16]}"
        if not isinstance(data, (str, bytes)):
            raise ScnnSimError(f"{where}: stored as {type(data).__name__}, not JSON text "
                               f"(damaged store)")
        row = parse_json(data, where, ScnnSimError)
        if not isinstance(row, dict):
            raise ScnnSimError(f"{where}: not a JSON object (damaged store)")
        if row.get("point_id") != pid:
            raise ScnnSimError(f"{where}: its point_id {row.get('point_id')!r} is not its "
                               f"point's (damaged store)")
        for k in ROW_TEXT_KEYS:
            if k in row and not isinstance(row[k], str):
                raise ScnnSimError(f"{where}: {k} must be text, got {row[k]!r:.40} "
                                   f"(damaged store)")
        return row

    def read_columns(self) -> dict[str, np.ndarray]:
        """Every committed column: float64 arrays and object arrays of ``str``."""
        return columns_of(self.read_rows())

    # -- writing ---------------------------------------------------------------------------

    def append(self, rows: Sequence[Mapping[str, Any]],
               _before_commit: Callable[[], None] | None = None,
               params: Mapping[str, Any] | None = None) -> None:
        """Commit one point (its rows, all with the same ``point_id``) in one transaction.

        A point already in the store (a retried error point) is replaced in the same
        transaction, so the store holds every point at most once and never none of a point
        it held before.
        """
        if not rows:
            return
        first = rows[0]
        pid = str(first["point_id"])
        if any(str(r.get("point_id")) != pid for r in rows):
            raise ValueError("append: the rows of one point only")
        status = str(first.get("status", "ok"))
        index = first.get("point_index")
        texts = [json.dumps(dict(r), default=json_default) for r in rows]
        with self._conn() as conn, _signals_deferred():
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM rows WHERE point_id = ?", (pid,))
                conn.execute("DELETE FROM points WHERE point_id = ?", (pid,))
                conn.execute(
                    "INSERT INTO points (point_id, point_index, status, error, params_json, "
                    "n_rows, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (pid, None if index is None else int(index), status,
                     str(first.get("error") or ""),
                     json.dumps(dict(params or {}), sort_keys=True, default=json_default),
                     len(rows), float(first.get("finished_at") or time.time())))
                conn.executemany("INSERT INTO rows VALUES (?, ?, ?)",
                                 [(pid, i, t) for i, t in enumerate(texts)])
                if _before_commit is not None:
                    _before_commit()
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise

    def drop_points(self, point_ids: set[str]) -> int:
        """Remove these points (one transaction); returns the number of rows removed."""
        ids = sorted(point_ids)
        if not ids:
            return 0
        with self._conn() as conn, _signals_deferred():
            conn.execute("BEGIN IMMEDIATE")
            n = 0
            for pid in ids:
                n += conn.execute("DELETE FROM rows WHERE point_id = ?", (pid,)).rowcount
                conn.execute("DELETE FROM points WHERE point_id = ?", (pid,))
            conn.execute("COMMIT")
        return n
