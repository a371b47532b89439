"""Where points run: in this process, in a pool of spawned processes, or on dask workers.

Each executor submits jobs and waits for the first to finish; a pool whose worker died is
restarted. Worker processes die with the sweep that started them (:func:`_worker_init`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from scnn_sim.errors import ConfigError, ScnnSimError


class _InlineExecutor:
    """Runs each job at submission in this process (``workers=1``)."""

    workers = 1
    broken = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        fut: Future = Future()
        fut.set_result(fn(*args))  # an interrupt propagates from here
        return fut

    def wait_first(self, futs: set[Future]) -> set[Future]:
        return set(futs)

    def restart(self) -> None:  # pragma: no cover - never broken
        pass

    def shutdown(self) -> None:
        pass


class _PoolExecutor:
    def __init__(self, workers: int):
        import multiprocessing

        self.workers = workers
        self.broken = False
        self.ctx = multiprocessing.get_context("spawn")
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self.ctx,
                                   initializer=_worker_init,
                                   initargs=(os.getpid(), worker_threads(self.workers)))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.pool.submit(fn, *args)

    def wait_first(self, futs: set[Future]) -> set[Future]:
        done, _ = wait(futs, return_when=FIRST_COMPLETED)
        return done

    def restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._new_pool()
        self.broken = False

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


#: Seconds between two checks of the parent's pid by a worker's watchdog thread.
WATCHDOG_PERIOD_S = 0.5


def worker_threads(workers: int) -> int:
    """Numba threads of each of ``workers`` pool workers: the cores shared out among them.

    The engine's kernels run their tiles in parallel on every core by default; ``workers``
    processes each doing so would run ``workers`` times more threads than cores.
    """
    return max(1, default_workers() // max(1, workers))


def _worker_init(parent_pid: int, threads: int | None = None) -> None:
    """Pool initializer: a worker dies with the sweep process that started it, and its kernels
    use ``threads`` numba threads (unless ``NUMBA_NUM_THREADS`` is set by the user).

    On Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes the kernel kill the worker when its
    parent dies (even by ``kill -9``); everywhere a daemon thread also polls ``os.getppid()``
    and exits the worker once it changes (the parent died and the worker was re-parented).
    The thread count changes no result (tiles are independent), only the time.
    """
    if threads is not None and "NUMBA_NUM_THREADS" not in os.environ:
        if "numba" in sys.modules:
            import numba

            from scnn_sim.engine.kernels import numba_default_threads

            numba.set_num_threads(min(threads, numba_default_threads()))
        else:
            os.environ["NUMBA_NUM_THREADS"] = str(threads)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os._exit(1)

    def watchdog() -> None:
        while True:
            time.sleep(WATCHDOG_PERIOD_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watchdog, name="scnn-sim-parent-watchdog", daemon=True).start()


#: Seconds to wait for a dask scheduler to answer before giving up (dask's default is 30).
SCHEDULER_CONNECT_TIMEOUT_S = 10
#: Address schemes a dask.distributed scheduler listens on.
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")
_RESUME = ("the results store is intact (every finished point is committed); re-run the same "
           "command to resume")


def check_scheduler_address(address: Any) -> str:
    """Check a ``--scheduler`` address before connecting: ``SCHEME://HOST:PORT`` (schemes
    :data:`SCHEDULER_SCHEMES`) or ``HOST:PORT``; returns it.

    Raises
    ------
    ConfigError
        One line naming the address and what is expected.
    """
    from urllib.parse import urlsplit

    want = "expected tcp://HOST:PORT (or tls://, ws://, wss://, ucx://, inproc://)"
    if not isinstance(address, str) or not address.strip():
        raise ConfigError(f"--scheduler {address!r}: {want}")
    text = address.strip()
    if any(c.isspace() for c in text) or "\0" in text:
        raise ConfigError(f"--scheduler {text!r}: contains white space; {want}")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme not in SCHEDULER_SCHEMES:
        raise ConfigError(f"--scheduler {text}: unknown scheme {scheme!r}; {want}")
    if scheme == "inproc":
        return text
    try:
        parts = urlsplit(f"//{rest}")
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"--scheduler {text}: {exc}; {want}") from None
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"--scheduler {text}: no host name; {want}")
    if port is None or not 0 < port < 65536:
        raise ConfigError(f"--scheduler {text}: needs a port in 1..65535; {want}")
    return text


class SchedulerLost(ScnnSimError):
    """The dask scheduler went away during a sweep (the store keeps what was committed)."""


class _DaskExecutor:
    def __init__(self, scheduler: Any):
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise ScnnSimError("--scheduler needs dask.distributed: pip install "
                               "'scnn-sim[distributed]'") from exc
        if isinstance(scheduler, Client):
            self.client, self.own, self.address = scheduler, False, str(scheduler.scheduler)
        else:
            self.address = check_scheduler_address(scheduler)
            # dask's own log lines (connection tracebacks, a dying scheduler's asyncio noise)
            # stay off stderr while this executor lives: failures are reported as one line.
            self._quiet: Any = _quiet_dask()
            self._quiet.__enter__()
            try:
                self.client = Client(self.address, set_as_default=False,
                                     timeout=f"{SCHEDULER_CONNECT_TIMEOUT_S}s")
            except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError...
                self._quiet.__exit__(None, None, None)
                raise ScnnSimError(f"--scheduler {scheduler}: cannot connect within "
                                   f"{SCHEDULER_CONNECT_TIMEOUT_S} s "
                                   f"({type(exc).__name__}: {_short(exc)})") from None
            self.own = True
        try:
            self.workers = max(1, sum(self.client.nthreads().values()))
        except Exception as exc:  # noqa: BLE001 - the scheduler died right after connecting
            raise self.lost(exc) from None
        self.broken = False

    def lost(self, exc: BaseException) -> SchedulerLost:
        """The one-line error of a scheduler that stopped answering."""
        return SchedulerLost(f"--scheduler {self.address}: lost the scheduler "
                             f"({type(exc).__name__}: {_short(exc)}); {_RESUME}")

    def _check_running(self) -> None:
        status = getattr(self.client, "status", "running")
        if status not in ("running", "connecting", "newly-created"):
            raise self.lost(ConnectionError(f"client status {status!r}"))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        self._check_running()
        try:
            return self.client.submit(fn, *args, pure=False)
        except Exception as exc:  # noqa: BLE001 - CommClosedError, OSError, ...
            raise self.lost(exc) from None

    def wait_first(self, futs: set[Any]) -> set[Any]:
        from dask.distributed import wait as dwait

        try:
            with self.client.as_current():
                done, _ = dwait(list(futs), return_when="FIRST_COMPLETED")
        except Exception as exc:  # noqa: BLE001 - CommClosedError, CancelledError, ...
            raise self.lost(exc) from None
        # Futures the scheduler dropped when it died are "cancelled"/"lost": that is the
        # scheduler's failure, not the points' (they are not recorded as errors).
        if any(getattr(f, "status", "") in ("cancelled", "lost") for f in done):
            self._check_running()
            raise self.lost(ConnectionError("the scheduler dropped the running points"))
        return set(done)

    def restart(self) -> None:  # pragma: no cover - never broken
        pass

    def shutdown(self) -> None:
        if self.own:
            with contextlib.suppress(Exception):
                self.client.close(timeout=SCHEDULER_CONNECT_TIMEOUT_S)
            self._quiet.__exit__(None, None, None)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextlib.contextmanager
def _quiet_dask() -> Any:
    """Keep dask's own log lines (tracebacks of failed connections) off stderr: the failure
    is reported as one line."""
    import logging

    loggers = [logging.getLogger(n) for n in ("distributed", "distributed.client",
                                              "distributed.core", "asyncio", "tornado")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, old, strict=True):
            lg.setLevel(level)


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
