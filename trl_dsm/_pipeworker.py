# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""A child Python process that talks over two pipes: the base of the grader's SymPy workers
(:mod:`trl_dsm.grading.bounded`) and of the sandbox servers (:mod:`trl_dsm.sandbox.executor`).

The child is started with :mod:`subprocess` (a fresh interpreter, from any thread or daemonic worker) as
``python -m <module> <read_fd> <write_fd> *args``, wraps the fds as ``multiprocessing.connection.Connection`` and
sends ``("ready", payload)`` once it is ready for work.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any


#: The directory holding the ``trl_dsm`` package, put on the child's ``PYTHONPATH``.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Messages up to this size fit in any pipe buffer (Linux: 64 KiB; macOS: 16 KiB), so writing them cannot block.
PIPE_SAFE_BYTES = 16 * 1024


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
        except OSError as exc:  # the interpreter or cwd cannot be used: no fd may leak
            os.close(parent_read)
            os.close(parent_write)
            raise self.startup_error(f"could not start {sys.executable} -m {module}: {exc}") from exc
        finally:
            os.close(child_read)
            os.close(child_write)
        self.inbox = Connection(parent_read, writable=False)
        self.outbox = Connection(parent_write, readable=False)
        self.ready_payload: Any = None
        self.ready = False
        self.started_at = time.monotonic()

    def wait_ready(self, timeout: float) -> Any:
        """Wait for the child's ``("ready", payload)``; kill it and raise ``startup_error`` after ``timeout`` s."""
        if self.ready:
            return self.ready_payload
        remaining = self.started_at + timeout - time.monotonic()
        closed = False
        try:
            if self.inbox.poll(max(remaining, 0.0)):
                message = self.inbox.recv()
                if isinstance(message, tuple) and len(message) == 2 and message[0] == "ready":
                    self.ready, self.ready_payload = True, message[1]
                    return self.ready_payload
        except (EOFError, OSError):
            closed = True  # the child closed its end: it is exiting
        code = self.proc.poll()
        if code is None and closed:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout=2)
        self.kill()
        what = f"exited with code {code}" if code is not None else f"did not start within {timeout:.0f}s"
        raise self.startup_error(
            f"the worker process ({sys.executable} -m {self.module}) {what}; set {self.debug_env}=1 to see its stderr"
        )

    def send(self, obj: Any, timeout: float) -> None:
        """Send ``obj`` as ``Connection.send`` would, within ``timeout`` s: a message larger than a pipe buffer is
        written from a helper thread, and a child that does not read it in time is killed (``TimeoutError``)."""
        data = bytes(ForkingPickler.dumps(obj))
        if len(data) <= PIPE_SAFE_BYTES:
            self.outbox.send_bytes(data)
            return
        errors: list[BaseException] = []

        def write() -> None:
            try:
                self.outbox.send_bytes(data)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

        writer = threading.Thread(target=write, name="trl-dsm-pipe-send", daemon=True)
        writer.start()
        writer.join(max(timeout, 0.0))
        if writer.is_alive():
            if self.proc.poll() is None:  # the child's death closes the pipe's only reader: the write fails
                with contextlib.suppress(OSError):
                    self.proc.kill()
            writer.join(5)
            self.kill()
            raise TimeoutError(f"the worker process did not read a {len(data)}-byte message within {timeout:.1f}s")
        if errors:
            raise errors[0]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        for conn in (self.inbox, self.outbox):
            with contextlib.suppress(OSError):
                conn.close()
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored; 5 s is a safety net
            self.proc.wait(timeout=5)
