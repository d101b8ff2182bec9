# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Child process that runs the SymPy half of the grader (started by :mod:`trl_dsm.grading.bounded`).

Protocol, over two pipes wrapped as ``multiprocessing.connection.Connection``:
the child sends ``("ready", pid)`` once its imports are done, then answers each
``(job_id, pred, gold, options, cpu_budget)`` with ``(job_id, status, value, cpu_seconds)`` where status is
``"ok"``, ``"timeout"`` or ``"error"`` and ``cpu_seconds`` is the CPU time (user + system) this process spent
on the job. End of input (the parent closed the pipe or died) ends the child.

The bound is CPU time, so that a grade never depends on how busy the machine is:

* soft: ``ITIMER_VIRTUAL`` (this process's user CPU time) fires ``SIGVTALRM`` shortly before the budget; its
  handler interrupts pure-Python SymPy work cleanly, the job answers ``timeout`` and the worker lives on;
* hard: ``ITIMER_PROF`` (user + system CPU time) fires ``SIGPROF`` at the budget, with its default disposition:
  the kernel terminates the process even inside C code (a huge integer power), where no Python handler runs.
  The parent sees the worker die by ``SIGPROF`` and reports a CPU timeout.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import sys
import time
from multiprocessing.connection import Connection


#: The soft (user-time) interrupt fires this much CPU time before the hard limit, leaving time to unwind and answer.
SOFT_MARGIN_S = 0.1


class _SoftTimeout(BaseException):
    """Raised by the interval timer; a BaseException so library ``except Exception`` blocks don't swallow it."""


def _on_soft_timer(signum, frame):  # noqa: ARG001
    raise _SoftTimeout


def _limit_memory(max_bytes: int) -> None:
    if max_bytes <= 0:
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = max_bytes if hard == resource.RLIM_INFINITY else min(max_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):  # pragma: no cover - platform without RLIMIT_AS
        pass


def soft_budget(cpu_budget: float) -> float:
    """CPU seconds after which the soft interrupt fires: the budget less a margin (at most a quarter of it)."""
    return max(cpu_budget - min(SOFT_MARGIN_S, cpu_budget / 4), 0.001)


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    signal.setitimer(signal.ITIMER_PROF, 0)


def main(argv: list[str]) -> int:
    """Entry point of a grading worker process: serve symbolic comparisons read from the ``argv[0]`` pipe, answering
    on ``argv[1]``, under an address-space cap of ``argv[2]`` bytes; returns the exit code."""
    read_fd, write_fd, max_bytes = int(argv[0]), int(argv[1]), int(argv[2])
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    _limit_memory(max_bytes)
    logging.disable(logging.CRITICAL)  # math-verify logs every failed parse at WARNING

    from trl_dsm.grading.symbolic import symbolic_equal  # heavy imports (sympy, math-verify) happen here

    # Initialize the LaTeX parser and SymPy's caches now, so no job pays for it inside its time bound.
    symbolic_equal("\\frac{1}{2}", "0.5")
    symbolic_equal("(x+1)^2", "x^2+2x+1")
    symbolic_equal("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\{1,2\\}")
    signal.signal(signal.SIGVTALRM, _on_soft_timer)
    signal.signal(signal.SIGPROF, signal.SIG_DFL)  # the hard limit: the kernel ends this process
    # A signal mask is inherited through fork and exec: a parent thread that blocked these must not disarm the bound.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGVTALRM, signal.SIGPROF})
    outbox.send(("ready", os.getpid()))
    while True:
        try:
            job_id, pred, gold, options, cpu_budget = inbox.recv()
        except (EOFError, OSError):
            return 0
        status, value = "ok", False
        options = dict(options)
        soft = options.pop("_soft_limit", True)  # False: only the kernel's hard limit (tests of that path)
        start = time.process_time()
        try:
            signal.setitimer(signal.ITIMER_PROF, max(cpu_budget, 0.001))
            if soft:
                signal.setitimer(signal.ITIMER_VIRTUAL, soft_budget(cpu_budget))
            try:
                value = bool(symbolic_equal(pred, gold, **options))
            finally:
                _disarm()
        except _SoftTimeout:
            status = "timeout"
        except MemoryError:
            status, value = "error", "MemoryError"
        except RecursionError:
            status, value = "error", "RecursionError"
        except Exception as exc:  # noqa: BLE001 - anything SymPy raises means "not shown equal"
            status, value = "error", type(exc).__name__
        cpu = time.process_time() - start
        try:
            outbox.send((job_id, status, value, cpu))
        except (BrokenPipeError, OSError):
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
