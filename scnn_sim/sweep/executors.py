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

from scnn_sim.errors import ScnnSimError


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

            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
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


class _DaskExecutor:
    def __init__(self, scheduler: Any):
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise ScnnSimError("--scheduler needs dask.distributed: pip install "
                               "'scnn-sim[distributed]'") from exc
        if isinstance(scheduler, Client):
            self.client, self.own = scheduler, False
        else:
            try:
                self.client = Client(scheduler, timeout="20s", set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ScnnSimError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
            self.own = True
        self.workers = max(1, sum(self.client.nthreads().values()))
        self.broken = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def wait_first(self, futs: set[Any]) -> set[Any]:
        from dask.distributed import wait as dwait

        with self.client.as_current():
            done, _ = dwait(list(futs), return_when="FIRST_COMPLETED")
        return set(done)

    def restart(self) -> None:  # pragma: no cover - never broken
        pass

    def shutdown(self) -> None:
        if self.own:
            self.client.close()


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
