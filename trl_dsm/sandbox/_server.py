# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Sandbox server: a trusted process that forks one contained child per program (started by
:mod:`trl_dsm.sandbox.executor`; never runs model-written code itself).

Protocol over two pipes wrapped as ``multiprocessing.connection.Connection``: the server sends
``("ready", capabilities)`` once its imports are done, then answers each ``(job_id, code, timeout)`` with
``(job_id, result_dict)``. End of input ends the server.

Containment layers, each applied when the machine allows it (``capabilities`` says which did):

1. the server lives in its own empty network namespace, created once at start;
2. each program runs in a fresh ``fork`` of the server (imports of math/numpy/sympy are already done, so
   programs start in about a millisecond, and no state leaks from one program to the next) with its own session,
   a private working directory, an empty environment, and ``RLIMIT_AS`` / ``CPU`` / ``FSIZE`` / ``NOFILE`` /
   ``CORE`` limits;
3. as root, the child switches to an unprivileged user id of its own with ``RLIMIT_NPROC`` = 1 (no fork or
   thread can be created: fork bombs fail at once) and cannot signal the server or the caller;
4. Landlock confines the file system (read beneath the Python installation and system libraries, write only in
   the working directory), forbids TCP bind/connect and scopes signals to the child (Linux >= 6.12);
5. a Python audit hook refuses sockets, process creation, signals, ``ctypes`` and writes outside the working
   directory, so the guarantees hold in a degraded form where 1-4 are unavailable (no root, old kernel).

The server enforces the wall-clock deadline itself (``pidfd`` + ``SIGKILL`` of the child's process group).

Over 400 lines on purpose: this module is the whole trusted side of the sandbox (the loop, the fork, and the
containment layers applied in the forked child before it runs the program); one file keeps what
runs in the contained child auditable in one place (only :mod:`trl_dsm.sandbox._linux`'s syscalls live apart).
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import io
import json
import os
import resource
import select
import shutil
import signal
import stat
import sys
import sysconfig
import time
import traceback
from multiprocessing.connection import Connection

from trl_dsm.sandbox import _linux


_AUDIT_BLOCKED = frozenset(
    {
        "socket.__new__",
        "socket.bind",
        "socket.connect",
        "socket.getaddrinfo",
        "os.fork",
        "os.forkpty",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "subprocess.Popen",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.call_function",
        "ctypes.cdata",
        "sys.remote_exec",
    }
)
# Events whose first argument is a path the program changes.
_AUDIT_PATH_EVENTS = frozenset(
    {
        "os.remove",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.utime",
        "os.chflags",
        "os.mkfifo",
        "os.mknod",
        "shutil.rmtree",
    }
)
_AUDIT_TWO_PATH_EVENTS = frozenset({"os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.move"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _install_audit_hook(workdir: str) -> None:
    """Refuse, from Python, what the program must not do (a second layer over the OS limits).

    The program runs in this interpreter, so the hook holds no state the program could change: everything it uses
    is bound at install time as a *default argument* (no closure cells, whose contents are writable, and no
    globals or builtins looked up at call time), and replacing a function's ``__code__``, ``__defaults__`` or
    ``__kwdefaults__`` is refused. A program that reaches the hook's frame (through the traceback of an error the
    hook raised, or from a ``__fspath__``/``__repr__`` the hook calls) finds only immutable values there. Paths are
    resolved by :func:`_resolver` from ``posix`` functions, not ``os.path``; ``os.chdir`` and opening a directory
    outside the working directory are refused, since the "open" event does not carry the ``dir_fd`` a path is
    relative to; ``gc`` introspection is refused.
    """
    resolve = _resolver()
    root = resolve(workdir)
    blocked = _AUDIT_BLOCKED | {"os.chdir", "gc.get_objects", "gc.get_referrers", "gc.get_referents"}
    encoding, proc_self, is_dir = sys.getfilesystemencoding(), f"/proc/{os.getpid()}/", _is_dir_function()

    def real(
        path, _resolve=resolve, _denied=PermissionError, _str=str, _bytes=bytes, _int=int, _type=type,
        _fspath=os.fspath, _encoding=encoding,
    ) -> str | None:  # fmt: skip
        """The resolved path as a str, None for an fd the program already holds."""
        kind = _type(path)
        if kind is _int:
            return None
        if kind is not _str and kind is not _bytes:
            path = _fspath(path)  # a PathLike: its __fspath__ runs again here
            kind = _type(path)
        if kind is _bytes:
            path = _bytes.decode(path, _encoding, "surrogateescape")
        elif kind is not _str:
            raise _denied("sandbox: a path is not a str or bytes")
        return _resolve(path)

    def inside(path, _real=real, _root=root, _prefix=root + "/", _startswith=str.startswith) -> bool:
        resolved = _real(path)
        return resolved is None or resolved == _root or _startswith(resolved, _prefix)

    def hook(
        event: str, args: tuple, _blocked=blocked, _path_events=_AUDIT_PATH_EVENTS,
        _two_path_events=_AUDIT_TWO_PATH_EVENTS, _write_flags=_WRITE_FLAGS, _real=real, _inside=inside, _root=root,
        _prefix=root + "/", _proc_self=proc_self, _is_dir=is_dir, _denied=PermissionError,
        _str=str, _type=type, _startswith=str.startswith, _len=len,
        _function_attributes=frozenset({"__code__", "__defaults__", "__kwdefaults__"}),
    ) -> None:  # fmt: skip
        if event in _blocked:
            raise _denied(f"sandbox: {event} is not allowed")
        if event == "object.__setattr__":
            if _len(args) >= 2 and _type(args[1]) is _str and args[1] in _function_attributes:
                raise _denied(f"sandbox: replacing a function's {args[1]} is not allowed")
        elif event == "open":
            path, mode, flags = args
            if path is None:
                return
            writing = ((flags or 0) & _write_flags) != 0
            if _type(mode) is _str:
                writing = writing or "w" in mode or "a" in mode or "x" in mode or "+" in mode
            resolved = _real(path)
            if resolved is None or resolved == _root or _startswith(resolved, _prefix):
                return
            if writing:
                raise _denied("sandbox: writing outside the working directory is not allowed")
            if mode is None and _is_dir(resolved):  # an fd a later os.open(..., dir_fd=fd) would write through
                raise _denied("sandbox: opening a directory outside the working directory is not allowed")
            if _startswith(resolved, "/proc/") and not _startswith(resolved, _proc_self):
                raise _denied("sandbox: reading another process's /proc entries is not allowed")  # environ...
        elif event in _path_events:
            if args and not _inside(args[0]):
                raise _denied(f"sandbox: {event} outside the working directory is not allowed")
        elif event in _two_path_events and _len(args) >= 2 and not (_inside(args[0]) and _inside(args[1])):
            raise _denied(f"sandbox: {event} outside the working directory is not allowed")

    sys.addaudithook(hook)


def _resolver():
    """``os.path.realpath`` (non-strict) built only from ``posix`` functions, every name bound as a default
    argument: immune to a program rebinding ``os``, ``os.path`` or builtins."""
    import posix

    def resolve(
        path: str, _lstat=posix.lstat, _readlink=posix.readlink, _getcwd=posix.getcwd, _oserror=OSError,
        _reversed=reversed, _list=list, _link_bits=stat.S_IFLNK, _max_links=40, _str=str,
    ) -> str:  # fmt: skip
        if not _str.startswith(path, "/"):
            path = _getcwd() + "/" + path
        pending = _list(_reversed(_str.split(path, "/")))
        resolved, links = "", 0
        while pending:
            name = pending.pop()
            if name == "" or name == ".":
                continue
            if name == "..":
                resolved = _str.rpartition(resolved, "/")[0]
                continue
            candidate = resolved + "/" + name
            try:
                mode = _lstat(candidate).st_mode
            except _oserror:
                resolved = candidate  # does not exist (yet): the rest is taken as written
                continue
            if mode & 0o170000 != _link_bits:
                resolved = candidate
                continue
            links += 1
            if links > _max_links:
                return "/\0loop"  # never inside the working directory
            target = _readlink(candidate)
            if _str.startswith(target, "/"):
                resolved = ""
            pending.extend(_reversed(_str.split(target, "/")))
        return resolved or "/"

    return resolve


def _is_dir_function():
    import posix

    def is_dir(path: str, _stat=posix.stat, _oserror=OSError, _dir_bits=stat.S_IFDIR) -> bool:
        try:
            return _stat(path).st_mode & 0o170000 == _dir_bits
        except _oserror:
            return False

    return is_dir


class _Server:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.timeout_grace = 0.05
        is_root = os.geteuid() == 0
        self.network_isolated = False
        if config.get("isolate_network", True):
            self.network_isolated = _linux.unshare_network()
        python_paths = sorted({p for p in sysconfig.get_paths().values() if p} | {sys.prefix, sys.base_prefix})
        # A separate user needs a Python installation others can read (not the case under a 0700 /root);
        # otherwise root's children keep uid 0 but give up every capability.
        self.uid = None
        if is_root and config.get("uid") is not None and _linux.readable_by_others(python_paths):
            self.uid = int(config["uid"])
        self.drop_capabilities = is_root and self.uid is None
        self.base = os.path.realpath(config["base_dir"])
        os.makedirs(self.base, mode=0o711, exist_ok=True)
        self.workdir = os.path.join(self.base, "work")
        self.outdir = os.path.join(self.base, "out")
        os.makedirs(self.outdir, mode=0o700, exist_ok=True)
        self._reset_workdir()
        self.landlock_fd = None
        self.landlock_abi = 0
        if config.get("landlock", True):
            self.landlock_abi = _linux.landlock_abi()
            read_paths = python_paths + list(config.get("read_paths", ()))
            read_paths += ["/usr/lib", "/usr/lib64", "/lib", "/lib64"]
            read_paths += ["/usr/share/zoneinfo", "/dev/null", "/dev/zero", "/dev/urandom"]
            self.landlock_fd = _linux.build_landlock_ruleset(read_paths, [self.workdir], self.landlock_abi)
        self.seccomp = bool(config.get("seccomp", True)) and _linux.seccomp_supported()
        self._preload(config.get("preload", ()))
        self.base_vm = self._vm_size()
        gc.collect()
        gc.freeze()  # children never scan (and so never copy) the server's pre-imported objects

    def capabilities(self) -> dict:
        return {
            "network_namespace": self.network_isolated,
            "separate_user": self.uid is not None,
            "capabilities_dropped": self.drop_capabilities,
            "seccomp": self.seccomp,
            "landlock_abi": self.landlock_abi if self.landlock_fd is not None else 0,
            "audit_hook": bool(self.config.get("audit_hook", True)),
            "preloaded": sorted(m for m in self.config.get("preload", ()) if m in sys.modules),
        }

    @staticmethod
    def _preload(modules) -> None:
        for name in modules:
            try:
                __import__(name)
            except Exception:  # noqa: BLE001 - "pre-imported when available"
                continue
        if "sympy" in sys.modules:  # warm SymPy's caches and lazy submodules once, not in every program
            sympy = sys.modules["sympy"]
            x = sympy.Symbol("x")
            sympy.solve(x**2 - 1, x)
            sympy.simplify(sympy.sin(x) ** 2 + sympy.cos(x) ** 2)
            sympy.Rational(1, 3) + sympy.sqrt(2)

    @staticmethod
    def _vm_size() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")

    def _reset_workdir(self) -> None:
        """Empty the working directory in place: the Landlock rule refers to this very directory (inode)."""
        if not os.path.isdir(self.workdir) or os.path.islink(self.workdir):
            if os.path.lexists(self.workdir):
                os.unlink(self.workdir)
            os.mkdir(self.workdir, 0o700)
        os.chmod(self.workdir, 0o700)
        with os.scandir(self.workdir) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    _rmtree(entry.path)
                else:
                    os.unlink(entry.path)
        if self.uid is not None:
            os.chown(self.workdir, self.uid, self.uid)

    # -- one program ---------------------------------------------------------------------------------
    def run(self, code: str, timeout: float) -> dict:
        max_output = int(self.config["max_output_bytes"])
        out_path = os.path.join(self.outdir, "stdout")
        err_path = os.path.join(self.outdir, "stderr")
        out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        started = time.monotonic()
        exit_now = os._exit  # bound before the program can rebind os._exit: the child never returns to serve()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child; its exit status is what the tests observe
            try:
                self._child(code, timeout, out_fd, err_fd, exit_now)
            finally:
                exit_now(70)
        os.close(out_fd)
        os.close(err_fd)
        status, exit_code = self._wait(pid, started + timeout)
        duration = time.monotonic() - started
        stdout, out_truncated = self._read_capped(out_path, max_output)
        stderr, err_truncated = self._read_capped(err_path, max_output)
        self._reset_workdir()
        return {
            "stdout": stdout,
            "stderr": stderr,
            "status": status,
            "exit_code": exit_code,
            "duration": duration,
            "truncated": out_truncated or err_truncated,
        }

    def _wait(self, pid: int, deadline: float) -> tuple[str, int | None]:
        pidfd = os.pidfd_open(pid)
        timed_out = False
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                if poller.poll(remaining * 1000):
                    break
        finally:
            os.close(pidfd)
        if timed_out:
            for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                with contextlib.suppress(ProcessLookupError):
                    kill()
        _, wait_status = os.waitpid(pid, 0)
        if timed_out:
            return "timeout", None
        if os.WIFSIGNALED(wait_status):
            signum = os.WTERMSIG(wait_status)
            return ("timeout" if signum == signal.SIGXCPU else "killed"), -signum
        code = os.WEXITSTATUS(wait_status)
        return ("ok" if code == 0 else "error"), code

    @staticmethod
    def _read_capped(path: str, limit: int) -> tuple[str, bool]:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        truncated = len(data) > limit
        return data[:limit].decode("utf-8", errors="replace"), truncated

    def _child(self, code: str, timeout: float, out_fd: int, err_fd: int, exit_now) -> None:  # pragma: no cover
        cfg = self.config
        os.setsid()
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.chdir(self.workdir)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes fail with EFBIG instead of killing
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        cpu = max(1, int(timeout) + 1)
        limits = [
            (resource.RLIMIT_CPU, (cpu, cpu + 1)),
            (resource.RLIMIT_FSIZE, (int(cfg["max_file_bytes"]),) * 2),
            (resource.RLIMIT_NOFILE, (int(cfg["max_open_files"]),) * 2),
            (resource.RLIMIT_CORE, (0, 0)),
        ]
        if cfg.get("memory_bytes"):
            limits.append((resource.RLIMIT_AS, (self.base_vm + int(cfg["memory_bytes"]),) * 2))
        # No new process or thread: counted per user, enforced for any user without CAP_SYS_RESOURCE/ADMIN.
        limits.append((resource.RLIMIT_NPROC, (1, 1)))
        for which, value in limits:
            resource.setrlimit(which, value)
        if self.uid is not None:
            os.setgroups([])
            os.setgid(self.uid)
            os.setuid(self.uid)
        elif self.drop_capabilities and not _linux.drop_all_capabilities():
            os.write(2, b"sandbox: could not drop capabilities\n")
            os._exit(71)
        _linux.set_parent_death_signal(signal.SIGKILL)  # after setuid, which clears it
        if self.landlock_fd is not None and not _linux.landlock_restrict_self(self.landlock_fd):
            os.write(2, b"sandbox: could not apply the Landlock ruleset\n")
            os._exit(71)
        if cfg.get("seccomp", True) and self.seccomp and not _linux.install_seccomp_filter():
            os.write(2, b"sandbox: could not install the seccomp filter\n")
            os._exit(71)
        os.closerange(3, 1 << 16)
        os.environ.clear()
        os.environ.update({"HOME": self.workdir, "TMPDIR": self.workdir, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
        )
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
        )
        sys.argv = ["<program>"]
        if cfg.get("audit_hook", True):
            _install_audit_hook(self.workdir)
        exit_now(_execute(code))

    def serve(self, inbox: Connection, outbox: Connection) -> int:
        outbox.send(("ready", self.capabilities()))
        while True:
            try:
                job_id, code, timeout = inbox.recv()
            except (EOFError, OSError):
                return 0
            try:
                result = self.run(code, timeout)
            except Exception as exc:  # noqa: BLE001 - a server fault is reported, never silently dropped
                result = {"stdout": "", "stderr": f"sandbox server error: {exc!r}", "status": "killed",
                          "exit_code": None, "duration": 0.0, "truncated": False}  # fmt: skip
            try:
                outbox.send((job_id, result))
            except (BrokenPipeError, OSError):
                return 0


def _rmtree(path: str) -> None:
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_force_remove)
    else:
        shutil.rmtree(path, onerror=_force_remove)


def _force_remove(func, path, _exc) -> None:
    """rmtree error handler: a program may have taken the permissions off its own directories."""
    parent = os.path.dirname(path)
    os.chmod(parent, stat.S_IRWXU)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, stat.S_IRWXU)
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)


def _execute(code: str) -> int:  # pragma: no cover - runs in the child
    """Run ``code`` as ``__main__`` in fresh globals; print a traceback without our own frames on failure."""
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(code, "<program>", "exec"), namespace)  # noqa: S102 - this is the sandbox
    except SystemExit as exc:
        code_ = exc.code
        if code_ is None:
            return 0
        if isinstance(code_, int):
            return code_ & 0xFF
        print(code_, file=sys.stderr)
        return 1
    except BaseException as exc:  # noqa: BLE001
        tb = exc.__traceback__
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next  # drop this function's frame
        with contextlib.suppress(BaseException):  # e.g. stderr at its size limit
            traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
    return 0


def main(argv: list[str]) -> int:
    """Entry point of a sandbox server process: run the programs read from the ``argv[0]`` pipe under the JSON
    configuration ``argv[2]``, answering on ``argv[1]``; returns the exit code."""
    read_fd, write_fd = int(argv[0]), int(argv[1])
    config = json.loads(argv[2])
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    server = _Server(config)
    return server.serve(inbox, outbox)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
