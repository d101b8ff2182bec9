# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Run model-written Python (program-of-thought and tool-integrated reasoning, DeepSeekMath §3 and §5) in
contained processes, quickly.

:class:`SandboxPool` keeps a few sandbox *servers* (:mod:`trl_dsm.sandbox._server`): fresh interpreters with
``math``, ``numpy`` and ``sympy`` already imported, each in its own empty network namespace. A server forks a
contained child per program, so a program starts in about a millisecond with a clean state and can never
damage the server, let alone the caller. The caller only waits on a pipe, with a backstop deadline: a server
that fails to answer is killed and replaced, and the program is reported ``killed``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from trl_dsm._pipeworker import PACKAGE_ROOT, PipeWorker, ProcessLocal, check_timeout


#: Default wall-clock limit of one program, seconds.
DEFAULT_TIMEOUT = 5.0
#: Seconds a new server may take to import numpy and sympy before it is declared broken.
STARTUP_TIMEOUT_S = 120.0
#: Extra seconds the caller waits for a server's answer past the program's own deadline.
_BACKSTOP_GRACE_S = 5.0
_STATUSES = ("ok", "error", "timeout", "killed")


@dataclass(frozen=True)
class ExecutionResult:
    """What one program did. ``status``: ``ok`` (exit 0), ``error`` (an exception or non-zero exit),
    ``timeout`` (wall-clock or CPU limit) or ``killed`` (a signal, e.g. a crash, or the sandbox failing).
    ``exit_code`` is the exit status, negative for a signal, None after a timeout."""

    stdout: str
    stderr: str
    status: str
    duration: float
    exit_code: int | None = None
    truncated: bool = False  # stdout or stderr was cut at ``max_output_bytes``

    @property
    def ok(self) -> bool:
        """Whether the program ran to completion (``status == "ok"``), whatever its output."""
        return self.status == "ok"

    def error_line(self) -> str:
        """The last line of stderr (``ZeroDivisionError: division by zero``), or the status."""
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else self.status


@dataclass(frozen=True)
class SandboxConfig:
    """Limits of every program run by a pool (all enforced per program)."""

    memory_mb: int = 1024  # address space a program may add on top of the pre-imported modules
    max_output_bytes: int = 64 * 1024  # stdout and stderr are each cut to this
    max_file_bytes: int = 16 * 1024 * 1024  # largest file (and stdout file) a program may write
    max_open_files: int = 64
    preload: tuple[str, ...] = ("math", "fractions", "itertools", "numpy", "sympy")
    isolate_network: bool = True  # a new network namespace per server, where the kernel allows it
    landlock: bool = True  # file-system, TCP and signal confinement, where the kernel supports Landlock
    seccomp: bool = True  # a syscall filter: no process, thread, exec, socket or signal to another process
    audit_hook: bool = True  # the in-process layer; only tests of the OS layers turn it off
    uid_base: int | None = 61000  # as root, server k runs its programs as user id uid_base + k (None: don't)
    read_paths: tuple[str, ...] = field(default_factory=tuple)  # extra directories programs may read


class SandboxError(RuntimeError):
    """The sandbox itself could not run (a server failed to start)."""


class _Server(PipeWorker):
    """One sandbox server process and its two pipes."""

    startup_error = SandboxError
    debug_env = "TRL_DSM_SANDBOX_DEBUG"

    def __init__(self, config: SandboxConfig, slot: int, base_dir: str) -> None:
        payload = asdict(config)
        payload.update(
            memory_bytes=config.memory_mb * 1024 * 1024,
            uid=None if config.uid_base is None else config.uid_base + slot,
            base_dir=os.path.join(base_dir, f"server-{slot}-{os.getpid()}-{time.monotonic_ns()}"),
        )
        self.base_dir = payload["base_dir"]
        # A clean environment: nothing of the caller's (tokens, credentials) reaches a server or its programs.
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": PACKAGE_ROOT,
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            **{k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")},
        }
        super().__init__("trl_dsm.sandbox._server", [json.dumps(payload)], env, cwd="/")
        self.jobs = 0

    @property
    def capabilities(self) -> dict[str, Any] | None:
        return self.ready_payload

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        super().wait_ready(timeout)

    def execute(self, code: str, timeout: float) -> ExecutionResult:
        """Run one program; a server that breaks or overruns is killed (the caller replaces it)."""
        self.jobs += 1
        tic = time.monotonic()
        try:
            self.send((self.jobs, code, float(timeout)), timeout + _BACKSTOP_GRACE_S)
            if self.inbox.poll(max(tic + timeout + _BACKSTOP_GRACE_S - time.monotonic(), 0.0)):
                job_id, result = self.inbox.recv()
                if job_id == self.jobs:
                    return ExecutionResult(**result)
            detail = "sandbox server did not answer in time; it was killed and replaced"
        except TimeoutError:
            detail = "sandbox server did not take the program in time; it was killed and replaced"
        except (EOFError, OSError) as exc:
            detail = f"sandbox server died ({exc.__class__.__name__}); it was replaced"
        except BaseException:  # e.g. KeyboardInterrupt mid-wait: its late answer would go to the next program
            self.kill()
            raise
        self.kill()
        return ExecutionResult("", detail, "killed", time.monotonic() - tic, None)

    def kill(self) -> None:
        super().kill()
        shutil.rmtree(self.base_dir, ignore_errors=True)


class SandboxPool:
    """A thread-safe pool of sandbox servers; each runs one program at a time.

    >>> with SandboxPool(max_workers=2) as pool:
    ...     pool.run("print(6 * 7)").stdout
    '42\\n'
    """

    def __init__(
        self, max_workers: int | None = None, config: SandboxConfig | None = None, base_dir: str | None = None
    ) -> None:
        self.max_workers = max(1, max_workers or default_max_workers())
        self.config = config or SandboxConfig()
        self._base_dir = base_dir or tempfile.mkdtemp(prefix="trl-dsm-sandbox-")
        os.chmod(self._base_dir, 0o711)  # programs run as other users must reach their own directories
        self._idle: list[_Server] = []
        self._free_slots = list(range(self.max_workers))[::-1]
        self._slots: dict[int, int] = {}  # id(server) -> slot
        self._cond = threading.Condition()
        self._closed = False
        self._pid = os.getpid()  # the servers' pipes belong to this process; a forked child must not use them
        self.replaced = 0  # servers killed and replaced (a program that broke its server, or a server crash)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- checkout ----------------------------------------------------------------------------------
    def _acquire(self) -> _Server:
        if os.getpid() != self._pid:
            raise SandboxError(
                f"this SandboxPool belongs to process {self._pid}; a forked child (e.g. a DataLoader worker) "
                "must create its own pool or use default_pool()"
            )
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("the sandbox pool is closed")
                while self._idle:
                    server = self._idle.pop()
                    if server.alive():
                        return server
                    self._retire(server)
                if self._free_slots:
                    slot = self._free_slots.pop()
                    break
                self._cond.wait()
        try:
            server = _Server(self.config, slot, self._base_dir)
            server.wait_ready()
        except BaseException:
            with self._cond:
                self._free_slots.append(slot)
                self._cond.notify()
            raise
        with self._cond:
            self._slots[id(server)] = slot
        return server

    def _retire(self, server: _Server) -> None:
        """Forget a dead server and free its slot (call with the lock held)."""
        server.kill()
        self._free_slots.append(self._slots.pop(id(server)))
        self._cond.notify()

    def _release(self, server: _Server, started: bool = True) -> None:
        with self._cond:
            if server.alive() and started and not self._closed:
                self._idle.append(server)
                self._cond.notify()
            else:
                if not self._closed and started:
                    self.replaced += 1
                self._retire(server)

    def warm_up(self, n: int | None = None) -> SandboxPool:
        """Start ``n`` servers now (default: all) instead of on first use; they start in parallel."""
        servers = []
        error: BaseException | None = None
        with self._cond:
            while len(servers) < min(n or self.max_workers, len(self._free_slots)):
                slot = self._free_slots.pop()
                try:
                    server = _Server(self.config, slot, self._base_dir)
                except BaseException as exc:  # noqa: BLE001 - re-raised below, after the started ones are released
                    self._free_slots.append(slot)
                    error = exc
                    break
                self._slots[id(server)] = slot
                servers.append(server)
        for i, server in enumerate(servers):  # every server is waited for and released, even after one failed
            try:
                server.wait_ready()
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others are waited for
                error = error or exc
            except BaseException:  # Ctrl-C: do not wait for the others' startup
                for rest in servers[i:]:
                    self._release(rest, started=False)  # killed, slot freed
                raise
            self._release(server, started=server.capabilities is not None)
        if error is not None:
            raise error
        return self

    @property
    def capabilities(self) -> dict[str, Any]:
        """Which containment layers the servers could apply on this machine (starts a server if needed)."""
        server = self._acquire()
        try:
            return dict(server.capabilities or {})
        finally:
            self._release(server)

    # -- running -----------------------------------------------------------------------------------
    def run(self, code: str, timeout: float = DEFAULT_TIMEOUT) -> ExecutionResult:
        """Run one program and return what it printed and how it ended."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        timeout = check_timeout(timeout)
        server = self._acquire()
        try:
            return server.execute(code, timeout)
        finally:
            self._release(server)

    def map(self, codes: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> list[ExecutionResult]:
        """Run many programs on all servers at once; results in input order."""
        codes = list(codes)
        timeout = check_timeout(timeout)
        for i, code in enumerate(codes):
            if not isinstance(code, str):
                raise TypeError(f"codes[{i}] must be a str, got {type(code).__name__}")
        results: list[ExecutionResult | None] = [None] * len(codes)
        if not codes:
            return []
        next_index = iter(range(len(codes)))
        lock = threading.Lock()
        errors: list[BaseException] = []

        def drain() -> None:
            try:
                while True:
                    with lock:
                        i = next(next_index, None)
                    if i is None:
                        return
                    results[i] = self.run(codes[i], timeout)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                errors.append(exc)

        threads = [threading.Thread(target=drain, daemon=True) for _ in range(min(self.max_workers, len(codes)) - 1)]
        for thread in threads:
            thread.start()
        drain()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Stop accepting programs and kill the idle servers (a forked child's copy only marks itself closed)."""
        if os.getpid() != self._pid:  # a forked child's copy: the servers and directory are the parent's, and
            self._closed = True  # the lock may have been held by another thread at fork time: do not take it
            return
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for server in idle:
            server.kill()
        shutil.rmtree(self._base_dir, ignore_errors=True)


def default_max_workers() -> int:
    """``$TRL_DSM_SANDBOX_WORKERS``, else this rank's share of the node's cores (``LOCAL_WORLD_SIZE``)."""
    configured = os.environ.get("TRL_DSM_SANDBOX_WORKERS", "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ValueError(f"TRL_DSM_SANDBOX_WORKERS must be a positive integer, got {configured!r}")
        return int(configured)
    local_world = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, (os.cpu_count() or 1) // local_world)


_POOL: ProcessLocal[SandboxPool] = ProcessLocal(SandboxPool)


def default_pool() -> SandboxPool:
    """The process-wide pool, started lazily (and anew in a forked child: pipes are not shared)."""
    return _POOL.get()


def run_python(code: str, timeout: float = DEFAULT_TIMEOUT) -> ExecutionResult:
    """Run ``code`` in the process-wide sandbox pool.

    >>> run_python("import sympy; print(sympy.factorint(360))").stdout
    '{2: 3, 3: 2, 5: 1}\\n'
    """
    return default_pool().run(code, timeout)
