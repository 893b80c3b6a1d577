"""Executors on this machine: in the driver's process, or a pool of worker processes.

A pool worker is a spawned process (nothing inherited from the driver) that
runs one unit at a time; one that dies (out of memory, killed) fails its
unit, not the sweep, and is replaced. A worker ends with the driver, even
when the driver is killed.

A pool that closes normally leaves its idle workers warm for the next pool
of the same process (:data:`_WARM`): a search trains one small sweep after
another, and each fresh worker paid seconds to start (spawning, importing
torch, parsing its data set) before its first unit. A unit's result does not
depend on the process that runs it (the in-process executor runs them all in
one), so reusing a worker changes when a run starts, not what it computes; a
warm worker is reused only while what it was spawned with (the environment,
the working directory, ``sys.path``, its thread count) is still the driver's,
and it hands back the GPU memory it cached after each unit.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections import deque

from symscape.sweep.executors.base import Executor, Finished, _failed, default_workers
from symscape.sweep.spec import Unit
from symscape.sweep.work import execute_unit

__all__ = ["InProcessExecutor", "PoolExecutor"]


class InProcessExecutor(Executor):
    """Runs each unit in the driver's process, when :meth:`wait` is called."""

    name = "inprocess"

    def __init__(self, threads: int = 1):
        self.threads = threads
        self.queue: deque[Unit] = deque()

    def submit(self, unit: Unit) -> None:
        self.queue.append(unit)

    def has_room(self) -> bool:
        return not self.queue

    def in_flight(self) -> int:
        return len(self.queue)

    def wait(self, timeout: float) -> Finished:
        if not self.queue:
            return []
        from symscape.runtime import torch_threads

        unit = self.queue[0]
        with torch_threads(self.threads):
            outcomes = execute_unit(unit)
        self.queue.popleft()
        return outcomes


def _die_with_parent() -> None:
    """End this worker when the driver dies, even by SIGKILL (Linux: PR_SET_PDEATHSIG)."""
    parent = os.getppid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:  # the driver died before prctl took effect
        os._exit(1)

    def watch() -> None:  # elsewhere (or if prctl failed): notice the new parent
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="symscape-parent-watch").start()


def _worker_main(connection, threads: int) -> None:
    """A pool worker: receive a unit, send its outcomes back, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what Ctrl-C does
    _die_with_parent()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)
    while True:
        try:
            unit = connection.recv()
        except (EOFError, OSError):
            return
        outcomes = execute_unit(unit)
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()  # an idle (warm) worker holds no GPU memory
        try:
            connection.send(outcomes)
        except (BrokenPipeError, OSError):  # the driver is gone
            return


def _spawned_with(threads: int) -> tuple:
    """What a spawned worker takes from the driver at its start: a warm worker serves a
    later pool only while this is unchanged."""
    return threads, dict(os.environ), os.getcwd(), list(sys.path)


class _Worker:
    def __init__(self, context, threads: int):
        self.threads = threads
        self.spawned_with = _spawned_with(threads)
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, threads), name="symscape-worker", daemon=True
        )
        self.process.start()
        child.close()
        self.unit: Unit | None = None
        self.started = 0.0

    def stop(self, force: bool) -> None:
        with contextlib.suppress(OSError):
            self.connection.close()
        if force and self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=None if force else 5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


_WARM: list[_Worker] = []
"""Idle workers that closed pools left for the next pool of this process."""
_WARM_LOCK = threading.Lock()
_WARM_OWNER = os.getpid()  # a forked child does not own its parent's workers


def _owned() -> list[_Worker]:
    """:data:`_WARM`, emptied first in a forked child (its workers are the parent's
    children); call with :data:`_WARM_LOCK` held."""
    global _WARM_OWNER
    if os.getpid() != _WARM_OWNER:
        _WARM.clear()
        _WARM_OWNER = os.getpid()
    return _WARM


def _warm_worker(threads: int) -> _Worker | None:
    """An idle warm worker with ``threads`` threads, or ``None``; dead ones are dropped."""
    now = _spawned_with(threads)
    with _WARM_LOCK:
        warm = _owned()
        while warm:
            worker = warm.pop()
            if worker.spawned_with == now and worker.process.is_alive():
                return worker
            worker.stop(force=True)
    return None


def _keep_warm(workers: list[_Worker], at_most: int) -> None:
    """Keep ``workers`` (idle and alive) for the next pool: the ``at_most`` most recent."""
    with _WARM_LOCK:
        warm = _owned()
        warm.extend(workers)
        while len(warm) > at_most:
            warm.pop(0).stop(force=False)


@atexit.register
def _stop_warm() -> None:
    """At exit, let the warm workers end (their pipe closes) before multiprocessing's own
    clean-up would terminate them."""
    with _WARM_LOCK:
        workers = list(_WARM) if os.getpid() == _WARM_OWNER else []
        _WARM.clear()
    for worker in workers:
        worker.stop(force=False)


class PoolExecutor(Executor):
    """``workers`` local processes (spawned, so nothing but the environment, the working
    directory and ``sys.path`` comes from the driver; warm ones from an earlier pool of
    this process when those are unchanged)."""

    name = "pool"

    def __init__(self, workers: int | None = None, threads: int = 1):
        self.workers = workers or default_workers()
        self.threads = threads
        self.context = multiprocessing.get_context("spawn")
        self.pool: list[_Worker] = []

    def _idle(self) -> _Worker | None:
        for worker in list(self.pool):
            if worker.unit is None and not worker.process.is_alive():  # died while idle
                worker.stop(force=True)
                self.pool.remove(worker)
        for worker in self.pool:
            if worker.unit is None:
                return worker
        if len(self.pool) < self.workers:
            self.pool.append(_warm_worker(self.threads) or _Worker(self.context, self.threads))
            return self.pool[-1]
        return None

    def has_room(self) -> bool:
        return any(w.unit is None for w in self.pool) or len(self.pool) < self.workers

    def in_flight(self) -> int:
        return sum(w.unit is not None for w in self.pool)

    def submit(self, unit: Unit) -> None:
        worker = self._idle()
        if worker is None:
            raise RuntimeError("no idle worker: check has_room() before submit()")
        worker.unit, worker.started = unit, time.time()
        # if it died just now, wait() sees its sentinel and reports the unit failed
        with contextlib.suppress(BrokenPipeError, OSError):
            worker.connection.send(unit)

    def wait(self, timeout: float) -> Finished:
        busy = [w for w in self.pool if w.unit is not None]
        if not busy:
            return []
        handles = [w.connection for w in busy] + [w.process.sentinel for w in busy]
        ready = set(multiprocessing.connection.wait(handles, timeout))
        finished: Finished = []
        for worker in busy:
            unit = worker.unit
            if worker.connection in ready:
                try:
                    outcomes = worker.connection.recv()
                except (EOFError, OSError):
                    outcomes = None
                if outcomes is not None:
                    worker.unit = None
                    finished.extend(outcomes)
                    continue
            if worker.connection in ready or worker.process.sentinel in ready:
                worker.process.join(timeout=1)
                code = worker.process.exitcode
                why = (
                    f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
                )
                hint = " (out of memory?)" if code == -signal.SIGKILL else ""
                finished.extend(_failed(unit, f"worker process died ({why}){hint}", worker.started))
                worker.stop(force=True)
                self.pool.remove(worker)
        return finished

    def close(self, abort: bool = False) -> None:
        """Stop the workers; without ``abort``, the idle ones stay warm for the next pool."""
        warm = []
        for worker in self.pool:
            if not abort and worker.unit is None and worker.process.is_alive():
                warm.append(worker)
            else:
                worker.stop(force=abort or worker.unit is not None)
        self.pool.clear()
        if warm:
            _keep_warm(warm, self.workers)
