# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""A child Python process that talks over two pipes: the base of the grader's SymPy workers
(:mod:`trl_dsm.grading.bounded`) and of the sandbox servers (:mod:`trl_dsm.sandbox.executor`).

The child is started with :mod:`subprocess` (a fresh interpreter, from any thread or daemonic worker) as
``python -m <module> <read_fd> <write_fd> *args``, wraps the fds as ``multiprocessing.connection.Connection`` and
sends ``("ready", payload)`` once it is ready for work.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Generic, TypeVar


#: The directory holding the ``trl_dsm`` package, put on the child's ``PYTHONPATH``.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Messages up to this size (plus the 4-byte length header) fit in one page, the least any pipe holds (a Linux user
#: over ``fs.pipe-user-pages-soft`` gets pipes of one or two pages), so writing them cannot block.
PIPE_SAFE_BYTES = 4096 - 4
#: The longest time bound accepted anywhere (one day): larger values overflow the OS's poll timeouts.
MAX_TIMEOUT_S = 86400.0


def check_timeout(value: object, name: str = "timeout") -> float:
    """``value`` as a time bound in seconds: a real number with 0 < value <= one day, else one ValueError naming
    ``name`` (``inf`` and ``nan`` would mean no bound, or crash the waits)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if not 0 < value <= MAX_TIMEOUT_S:  # also false for nan
        raise ValueError(f"{name} must be a positive number of seconds, at most {MAX_TIMEOUT_S:.0f}, got {value!r}")
    return float(value)


#: (connection, thread) pairs whose write never returned: kept open so their fd number cannot be reused under them.
_ABANDONED: list[tuple[Connection, threading.Thread]] = []


class PipeWorker:
    """One child process and its two pipes (``inbox`` from the child, ``outbox`` to it)."""

    #: Raised when the child does not announce itself in time.
    startup_error: type[Exception] = RuntimeError
    #: Environment variable that, when set, lets the child's stderr through.
    debug_env: str = "TRL_DSM_DEBUG"

    def __init__(self, module: str, args: list[str], env: dict[str, str], cwd: str | None = None) -> None:
        parent_read, child_write = os.pipe()
        try:
            child_read, parent_write = os.pipe()
        except OSError:
            os.close(parent_read)
            os.close(child_write)
            raise
        self.module = module
        debug = os.environ.get(self.debug_env, "") not in ("", "0")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, str(child_read), str(child_write), *args],
                pass_fds=(child_read, child_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if debug else subprocess.DEVNULL,
                env=env,
                close_fds=True,
                cwd=cwd,
            )
        except (OSError, ValueError) as exc:  # the interpreter or cwd cannot be used (or holds a NUL): no fd leaks
            os.close(parent_read)
            os.close(parent_write)
            raise self.startup_error(f"could not start {sys.executable} -m {module}: {exc}") from exc
        finally:
            os.close(child_read)
            os.close(child_write)
        self.inbox = Connection(parent_read, writable=False)
        self.outbox: Connection | None = Connection(parent_write, readable=False)
        self.ready_payload: Any = None
        self.ready = False
        self.started_at = time.monotonic()

    def wait_ready(self, timeout: float) -> Any:
        """Wait for the child's ``("ready", payload)``; kill it and raise ``startup_error`` after ``timeout`` s."""
        if self.ready:
            return self.ready_payload
        remaining = self.started_at + timeout - time.monotonic()
        closed = False
        what = None
        try:
            if self.inbox.poll(max(remaining, 0.0)):
                message = self.inbox.recv()
                if isinstance(message, tuple) and len(message) == 2 and message[0] == "ready":
                    self.ready, self.ready_payload = True, message[1]
                    return self.ready_payload
                what = f"sent {str(message)[:80]!r} instead of its ready message"
        except (EOFError, OSError):
            closed = True  # the child closed its end: it is exiting
        except Exception as exc:  # noqa: BLE001 - an unreadable first message (e.g. garbage on the pipe)
            what = f"sent an unreadable first message ({exc.__class__.__name__}: {exc})"
        code = self.proc.poll()
        if code is None and closed:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=2)
        self.kill()
        if what is None:
            what = f"exited with code {code}" if code is not None else f"did not start within {timeout:.0f}s"
        raise self.startup_error(
            f"the worker process ({sys.executable} -m {self.module}) {what}; set {self.debug_env}=1 to see its stderr"
        )

    def send(self, obj: Any, timeout: float) -> None:
        """Send ``obj`` as ``Connection.send`` would, within ``timeout`` s: a message larger than a pipe buffer is
        written from a helper thread, and a child that does not read it in time is killed (``TimeoutError`` after
        ``timeout`` s, plus at most ~10 s to reap the child)."""
        outbox = self.outbox
        if outbox is None or outbox.closed:
            raise BrokenPipeError("the worker process was killed")
        data = bytes(ForkingPickler.dumps(obj))
        if len(data) <= PIPE_SAFE_BYTES:
            outbox.send_bytes(data)
            return
        errors: list[BaseException] = []

        def write() -> None:
            try:
                outbox.send_bytes(data)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

        writer = threading.Thread(target=write, name="trl-dsm-pipe-send", daemon=True)
        writer.start()
        writer.join(max(0.0, min(timeout, 2 * MAX_TIMEOUT_S)))  # callers check their bound; join(inf) raises
        if writer.is_alive():
            if self.proc.poll() is None:  # the child's death closes the pipe's reader: the blocked write fails
                with contextlib.suppress(OSError):
                    self.proc.kill()
            writer.join(5)
            if writer.is_alive():  # another process holds the read end (a fork taken while it was open)
                _ABANDONED.append((self.outbox, writer))  # never close an fd a thread is still writing to
                self.outbox = None
            self.kill()
            raise TimeoutError(f"the worker process did not read a {len(data)}-byte message within {timeout:.1f}s")
        if errors:
            raise errors[0]

    def alive(self) -> bool:
        """Whether the child process is still running."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """Close both pipes and kill the child (SIGKILL), waiting at most 5 s for it to exit; safe to call twice."""
        for conn in (self.inbox, self.outbox):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored; 5 s is a safety net
            self.proc.wait(timeout=5)


T = TypeVar("T")


class ProcessLocal(Generic[T]):
    """One lazily built object per process, shared by its threads: built anew in a forked child (pipes to worker
    processes must not be shared across processes), with a lock renewed after fork (another thread may have held
    it at fork time). Holds the process-wide grader and sandbox pools, which are closed at exit (``close()``) by
    the process that built them."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._renew_lock)
        atexit.register(self._close)

    def _close(self) -> None:
        value = self.current()
        if value is not None and hasattr(value, "close"):
            value.close()

    def _renew_lock(self) -> None:
        self._lock = threading.Lock()

    def get(self) -> T:
        """This process's object, built on first use (and anew in a forked child)."""
        with self._lock:
            if self._value is None or self._pid != os.getpid():
                self._value, self._pid = self._factory(), os.getpid()
            return self._value

    def current(self) -> T | None:
        """The object built in this process, if any (a parent's, inherited through fork, is not this process's)."""
        return self._value if self._pid == os.getpid() else None
