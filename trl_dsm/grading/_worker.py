# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Child process that runs the SymPy half of the grader (started by :mod:`trl_dsm.grading.bounded`).

Protocol, over two pipes wrapped as ``multiprocessing.connection.Connection``:
the child sends ``("ready", pid)`` once its imports are done, then answers each
``(job_id, pred, gold, options, soft_timeout)`` with ``(job_id, status, value)`` where status is
``"ok"``, ``"timeout"`` or ``"error"``. End of input (the parent closed the pipe or died) ends the child.

The soft timeout is a ``SIGALRM`` interval timer in this process's main thread, which interrupts
pure-Python SymPy work cleanly; work stuck inside C code (huge integer powers) cannot be interrupted
that way, so the parent kills this process at the hard deadline.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import sys
from multiprocessing.connection import Connection


class _SoftTimeout(BaseException):
    """Raised by the interval timer; a BaseException so library ``except Exception`` blocks don't swallow it."""


def _on_alarm(signum, frame):  # noqa: ARG001
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


def main(argv: list[str]) -> int:
    read_fd, write_fd, max_bytes = int(argv[0]), int(argv[1]), int(argv[2])
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    _limit_memory(max_bytes)
    logging.disable(logging.CRITICAL)  # math-verify logs every failed parse at WARNING

    from trl_dsm.grading.symbolic import symbolic_equal  # heavy imports (sympy, math-verify) happen here

    # Initialize the LaTeX parser and SymPy's caches now, so no job pays for it inside its time bound.
    symbolic_equal("\\frac{1}{2}", "0.5")
    symbolic_equal("(x+1)^2", "x^2+2x+1")
    signal.signal(signal.SIGALRM, _on_alarm)
    outbox.send(("ready", os.getpid()))
    while True:
        try:
            job_id, pred, gold, options, soft_timeout = inbox.recv()
        except (EOFError, OSError):
            return 0
        status, value = "ok", False
        try:
            signal.setitimer(signal.ITIMER_REAL, max(soft_timeout, 0.001))
            try:
                value = bool(symbolic_equal(pred, gold, **options))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _SoftTimeout:
            status = "timeout"
        except MemoryError:
            status, value = "error", "MemoryError"
        except RecursionError:
            status, value = "error", "RecursionError"
        except Exception as exc:  # noqa: BLE001 - anything SymPy raises means "not shown equal"
            status, value = "error", type(exc).__name__
        try:
            outbox.send((job_id, status, value))
        except (BrokenPipeError, OSError):
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
