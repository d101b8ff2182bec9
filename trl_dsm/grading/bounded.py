# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Hard time bounds for symbolic grading: a pool of reusable worker processes.

Why processes: math-verify bounds its SymPy calls with ``signal.alarm``, which only works in the main
thread of the main interpreter, and no signal can interrupt C code such as a 10^(10^10) integer power.
A separate process can always be killed. Workers are started with :mod:`subprocess` (a fresh
interpreter), not :mod:`multiprocessing`, so they can be started from any thread, from daemonic
``DataLoader`` workers (which ``multiprocessing`` forbids to have children) and from every rank of an
``accelerate`` launch, and no lock held by another thread at fork time can deadlock them.

Each job gets a **CPU-time** budget, counted in the worker (:mod:`trl_dsm.grading._worker`): a soft interval timer
interrupts Python work shortly before it, and the kernel ends the worker at it (``SIGPROF``) when C code holds
the interpreter. CPU time, not wall time, so that a grade does not depend on how busy the machine is: a GRPO
run tokenizing and loading data on every core must not turn slow-but-correct comparisons into silent 0 rewards.
A **wall-clock backstop** :data:`WALL_BACKSTOP_FACTOR` times the pair's bound catches a worker that is stuck
without using CPU (stopped, swapping); the parent kills it with ``SIGKILL``. A worker that is only slow (a busy
machine gives it a small share of a core) is not stuck: at the backstop the parent reads the worker's CPU time
(Linux ``/proc``) and, while the worker got at least :data:`MIN_CPU_SHARE` of a core since the last look, waits
another backstop, up to the hard wall-clock limit :data:`WALL_LIMIT_FACTOR` times the bound, by which a worker
with that share has spent its CPU budget. A timed-out job reports which limit fired (``limit="cpu"`` or
``"wall"``). A killed or crashed worker is replaced by a fresh one and costs
the job a ``False`` grade, never the run.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from trl_dsm._env import positive_int_env
from trl_dsm._pipeworker import PACKAGE_ROOT, PipeWorker, ProcessLocal


logger = logging.getLogger(__name__)

#: Seconds a new worker may take to import SymPy and math-verify before we give up with an error.
STARTUP_TIMEOUT_S = 120.0
#: Address-space limit of a worker, so a pathological expression fails with MemoryError instead of swapping.
DEFAULT_WORKER_MEMORY_BYTES = 4 * 1024**3
#: The wall-clock backstop of a pair is this many times its CPU-time bound: large enough that a worker which gets
#: a tenth of a core still finishes any job its CPU budget allows, small enough that a stopped worker is noticed.
WALL_BACKSTOP_FACTOR = 10.0
#: Share of a core below which a worker counts as stuck at a backstop (above it, it is slow and gets another one).
MIN_CPU_SHARE = 0.01
#: The hard wall-clock limit of a job is this many times its backstop (by then a worker with MIN_CPU_SHARE of a core
#: has spent a CPU budget of the job's bound).
WALL_LIMIT_FACTOR = 10.0


def wall_backstop(timeout: float) -> float:
    """Wall-clock seconds after which a job with a CPU-time bound of ``timeout`` seconds is killed when its worker
    used (almost) no CPU time meanwhile."""
    return WALL_BACKSTOP_FACTOR * timeout


def wall_limit(timeout: float) -> float:
    """The hard wall-clock limit of a job with a CPU-time bound of ``timeout`` seconds, however busy its worker."""
    return WALL_LIMIT_FACTOR * wall_backstop(timeout)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc/<pid>/stat``); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


@dataclass(frozen=True)
class SymbolicJob:
    """One symbolic comparison: is ``pred`` equal to ``gold`` (both already-extracted answer strings)?"""

    pred: str
    gold: str
    options: dict
    timeout: float  # CPU seconds the worker may spend on this job
    wall_timeout: float = 0.0  # wall seconds from dispatch (waits for a free worker included); 0: the backstop

    @property
    def wall(self) -> float:
        """The wall-clock bound: ``wall_timeout`` when set, else the backstop (:func:`wall_backstop`) of ``timeout``."""
        return self.wall_timeout if self.wall_timeout > 0 else wall_backstop(self.timeout)


@dataclass(frozen=True)
class JobResult:
    """The answer to a :class:`SymbolicJob`: ``value`` (equal or not), ``status`` (``"ok"``, ``"timeout"`` or
    ``"error"``, with ``detail``), the wall and CPU seconds it took, and which bound (``"cpu"`` / ``"wall"``) a
    timeout hit."""

    value: bool
    status: str  # "ok" | "timeout" | "error"
    detail: str = ""
    seconds: float = 0.0  # wall seconds from dispatch to answer (or to the kill), waits for a worker included
    cpu_seconds: float = 0.0  # CPU seconds the worker spent on the job
    limit: str = ""  # for a timeout: "cpu" (the CPU-time bound) or "wall" (the wall-clock backstop)


class WorkerStartupError(RuntimeError):
    """A grading worker process could not be started."""


class _Worker(PipeWorker):
    """One child process running :mod:`trl_dsm.grading._worker`."""

    startup_error = WorkerStartupError
    debug_env = "TRL_DSM_GRADER_DEBUG"

    def __init__(self, max_memory_bytes: int) -> None:
        env = dict(os.environ)
        # The child must import this very package, wherever the parent imported it from.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        super().__init__("trl_dsm.grading._worker", [str(max_memory_bytes)], env)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        super().wait_ready(timeout)


class WorkerPool:
    """Thread-safe pool of grading workers; one job at a time per worker.

    A spare worker is kept warm so that a worker killed at a deadline is replaced at once: the next
    job never pays the ~1 s start of a new interpreter inside its own time bound.
    """

    def __init__(self, max_workers: int | None = None, max_memory_bytes: int = DEFAULT_WORKER_MEMORY_BYTES) -> None:
        self.max_workers = max(1, max_workers or (os.cpu_count() or 1))
        self.max_memory_bytes = max_memory_bytes
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False
        self._startup = threading.local()
        self.kills = 0

    # -- checkout ---------------------------------------------------------------------------------
    def _acquire(self, block: bool = True, timeout: float | None = None) -> _Worker | None:
        """An idle (or new) worker; with ``block``, waits for one at most ``timeout`` seconds (None: no limit).
        Seconds spent waiting for the worker's own start-up are added to ``self._startup.seconds`` (this thread's)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the grading worker pool is closed")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        break
                    worker.kill()
                    self._count -= 1
                else:
                    worker = None
                if worker is not None:
                    break
                if self._count < self.max_workers:
                    self._count += 1
                    try:
                        worker = _Worker(self.max_memory_bytes)
                    except Exception:
                        self._count -= 1
                        raise
                    break
                if not block:
                    return None
                if deadline is None:
                    self._cond.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
        tic = time.monotonic()
        try:
            worker.wait_ready()
        except WorkerStartupError:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        finally:
            self._startup.seconds = getattr(self._startup, "seconds", 0.0) + time.monotonic() - tic
        return worker

    def _timed_acquire(self, block: bool = True, timeout: float | None = None) -> tuple[_Worker | None, float]:
        """:meth:`_acquire` and the wall seconds it waited for other threads' jobs, the start-up of a worker
        excluded (a start has its own bound, :data:`STARTUP_TIMEOUT_S`, and is no pair's cost)."""
        self._startup.seconds = 0.0
        tic = time.monotonic()
        worker = self._acquire(block, timeout)
        return worker, max(time.monotonic() - tic - self._startup.seconds, 0.0)

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed:
                worker.kill()
                self._count -= 1
                return
            self._idle.append(worker)
            self._cond.notify()

    def _discard(self, worker: _Worker) -> None:
        """Kill a worker that overran its deadline and start its replacement in the background."""
        worker.kill()
        with self._cond:
            self.kills += 1
            self._count -= 1
            if not self._closed and self._count < self.max_workers:
                self._count += 1
                try:
                    self._idle.append(_Worker(self.max_memory_bytes))
                except Exception:  # noqa: BLE001 - the next checkout will retry and report
                    self._count -= 1
            self._cond.notify()

    def _discard_unstarted(self, workers: list[_Worker]) -> None:
        for worker in workers:
            worker.kill()
        with self._cond:
            self._count -= len(workers)
            self._cond.notify_all()

    def warm_up(self, n: int = 1) -> None:
        """Start ``n`` workers now (they import SymPy in parallel) instead of on first use."""
        workers = []
        error: BaseException | None = None
        with self._cond:
            while self._count < min(n, self.max_workers):
                try:
                    workers.append(_Worker(self.max_memory_bytes))
                except BaseException as exc:  # noqa: BLE001 - re-raised below, after the started ones are released
                    error = exc
                    break
                self._count += 1
        for i, worker in enumerate(workers):  # every worker is waited for, then released or retired
            try:
                worker.wait_ready()
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others are waited for
                error = error or exc
                self._discard_unstarted([worker])
                continue
            except BaseException:  # Ctrl-C: do not wait for the others' startup
                self._discard_unstarted(workers[i:])
                raise
            self._release(worker)
        if error is not None:
            raise error

    # -- running ----------------------------------------------------------------------------------
    def run(self, jobs: Sequence[SymbolicJob], max_parallel: int | None = None) -> list[JobResult]:
        """Run ``jobs`` on up to ``max_parallel`` workers; each job is bounded by its own CPU ``timeout`` in the
        worker and by its wall-clock backstop (``wall``) from dispatch, time spent waiting for a free worker
        included; a worker still using CPU at its backstop gets more, up to :data:`WALL_LIMIT_FACTOR` backstops."""
        results: list[JobResult | None] = [None] * len(jobs)
        if not jobs:
            return []
        want = max(1, min(len(jobs), max_parallel or 1, self.max_workers))
        # Waiting for a free worker (other threads hold them all) is spent from every job's wall-clock backstop.
        first, waited = self._timed_acquire(block=True, timeout=max(j.wall for j in jobs))
        if first is None:
            return [_no_worker(waited) for _ in jobs]
        workers = [first]
        try:
            while len(workers) < want:
                extra = self._acquire(block=False)
                if extra is None:
                    break
                workers.append(extra)
        except WorkerStartupError:  # a spare that fails to start is not fatal while one worker runs
            logger.warning("a spare grading worker failed to start; continuing with %d", len(workers))

        pending = list(range(len(jobs)))[::-1]
        running: dict[int, tuple[_Worker, int, float]] = {}  # inbox fd -> (worker, job index, wall deadline)
        dispatched: dict[int, float] = {}  # job index -> dispatch time
        hard_deadline: dict[int, float] = {}  # job index -> the wall-clock limit (a slow worker's last backstop)
        last_look: dict[int, tuple[float, float | None]] = {}  # job index -> (time, worker CPU seconds) at a backstop

        def dispatch(worker: _Worker) -> bool:
            """Send the next pending job to ``worker``; False if the worker's pipe is broken."""
            while pending and jobs[pending[-1]].wall - waited <= 0:  # its backstop went on waiting
                results[pending.pop()] = _no_worker(waited)
            if not pending:
                return True
            index = pending.pop()
            job = jobs[index]
            wall = job.wall - waited
            try:
                worker.send((index, job.pred, job.gold, job.options, job.timeout), wall)
            except TimeoutError:  # the worker did not take the job and was killed: the job's backstop is spent
                results[index] = JobResult(
                    False, "timeout", "the grading worker did not take the job in time", job.wall, limit="wall"
                )
                return False
            except (BrokenPipeError, OSError):
                pending.append(index)
                return False
            dispatched[index] = time.monotonic()
            running[worker.inbox.fileno()] = (worker, index, dispatched[index] + wall)
            hard_deadline[index] = dispatched[index] + wall + (WALL_LIMIT_FACTOR - 1) * job.wall
            last_look[index] = (dispatched[index], process_cpu_seconds(worker.proc.pid))
            return True

        def still_busy(worker: _Worker, index: int, now: float) -> bool:
            """At a backstop: did the worker get at least MIN_CPU_SHARE of a core since the last look?"""
            then, cpu_then = last_look[index]
            cpu_now = process_cpu_seconds(worker.proc.pid)
            last_look[index] = (now, cpu_now)
            if cpu_then is None or cpu_now is None:
                return False
            return cpu_now - cpu_then >= MIN_CPU_SHARE * (now - then)

        def took(index: int) -> float:
            return time.monotonic() - dispatched[index] + waited

        def feed(worker: _Worker | None) -> None:
            """Give ``worker`` more work, replacing it while it is broken; return it to the pool when done."""
            while worker is not None and not dispatch(worker):
                self._discard(worker)
                worker = replacement()
            if worker is not None and worker.inbox.fileno() not in running:
                self._release(worker)

        def replacement() -> _Worker | None:
            """A worker for the pending jobs; blocks only when this call has no other worker running,
            so two threads that each lost a worker can never wait on each other."""
            nonlocal waited
            if not pending:
                return None
            worker = self._acquire(block=False)
            if worker is not None or running:
                return worker
            worker, more = self._timed_acquire(block=True, timeout=max(jobs[i].wall for i in pending) - waited)
            waited += more
            if worker is None:
                while pending:
                    results[pending.pop()] = _no_worker(waited)
            return worker

        for worker in workers:
            feed(worker)
        try:
            while running:
                now = time.monotonic()
                next_deadline = min(deadline for _, _, deadline in running.values())
                ready = wait([w.inbox for w, _, _ in running.values()], timeout=max(next_deadline - now, 0.0))
                for conn in ready:
                    worker, index, _deadline = running.pop(conn.fileno())
                    try:
                        _job_id, status, value, cpu = conn.recv()
                    except (EOFError, OSError):
                        self._discard(worker)
                        if worker.proc.returncode in (-signal.SIGPROF, -signal.SIGXCPU):  # the kernel's CPU limit
                            results[index] = JobResult(
                                False,
                                "timeout",
                                "killed at the CPU-time limit",
                                took(index),
                                jobs[index].timeout,
                                "cpu",
                            )
                        else:
                            results[index] = JobResult(False, "error", "worker process died", took(index))
                        feed(replacement())
                        continue
                    if status == "ok":
                        results[index] = JobResult(bool(value), "ok", seconds=took(index), cpu_seconds=cpu)
                    elif status == "timeout":
                        results[index] = JobResult(False, status, "CPU-time limit", took(index), cpu, "cpu")
                    else:
                        results[index] = JobResult(False, status, str(value), took(index), cpu)
                    feed(worker)
                now = time.monotonic()
                for fd, (worker, index, deadline) in list(running.items()):
                    if deadline <= now:
                        if now < hard_deadline[index] and still_busy(worker, index, now):  # slow, not stuck
                            running[fd] = (worker, index, min(now + jobs[index].wall, hard_deadline[index]))
                            continue
                        running.pop(fd)
                        detail = "killed at the wall-clock " + ("limit" if now >= hard_deadline[index] else "backstop")
                        results[index] = JobResult(False, "timeout", detail, took(index), limit="wall")
                        self._discard(worker)
                        feed(replacement())
            return [r if r is not None else JobResult(False, "error", "not run") for r in results]
        finally:
            for worker, _, _ in running.values():  # only on an exception: never return a busy worker
                self._discard(worker)

    def close(self) -> None:
        """Stop accepting jobs and kill the idle workers (busy ones are killed when their job returns)."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.kill()


def _no_worker(waited: float) -> JobResult:
    return JobResult(False, "timeout", "no grading worker became free in time", waited, limit="wall")


def default_max_workers() -> int:
    """``$TRL_DSM_GRADER_WORKERS``, else this rank's share of the node's cores (``accelerate`` and
    ``torchrun`` set ``LOCAL_WORLD_SIZE``), at most 8: symbolic pairs are a small part of a batch."""
    configured = positive_int_env("TRL_DSM_GRADER_WORKERS")
    if configured is not None:
        return configured
    local_world = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, min(8, (os.cpu_count() or 1) // local_world))


_POOL: ProcessLocal[WorkerPool] = ProcessLocal(lambda: WorkerPool(max_workers=default_max_workers()))


def get_pool() -> WorkerPool:
    """The process-wide pool (re-created in a forked child: pipes must not be shared across processes)."""
    return _POOL.get()
