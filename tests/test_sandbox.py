# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The sandbox: benign programs give the right output; hostile programs are contained.

The hostile suite runs three times: with every layer, with the OS layers only (no audit hook) and with the audit
hook only (no network namespace, Landlock or separate user), so each layer is shown to contain on its own.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from trl_dsm.sandbox import ExecutionResult, SandboxConfig, SandboxError, SandboxPool, run_python


SECRET = f"s3cr3t-{uuid.uuid4().hex}"
os.environ["TRL_DSM_TEST_SECRET"] = SECRET  # in the caller's environment before any sandbox starts

LAYERS = {
    "all": SandboxConfig(memory_mb=512),
    "os_only": SandboxConfig(memory_mb=512, audit_hook=False),
    "audit_only": SandboxConfig(memory_mb=512, isolate_network=False, landlock=False, seccomp=False, uid_base=None),
}


@pytest.fixture(scope="module", params=sorted(LAYERS))
def pool(request):
    with SandboxPool(max_workers=2, config=LAYERS[request.param]) as pool:
        caps = pool.warm_up().capabilities
        if request.param == "os_only" and not (caps["seccomp"] and caps["landlock_abi"] >= 6):
            pytest.skip(f"the OS layers need seccomp and Landlock ABI >= 6 here: {caps}")
        pool.layer = request.param
        yield pool


@pytest.fixture(scope="module")
def full_pool():
    with SandboxPool(max_workers=2) as pool:
        yield pool.warm_up()


def _sandbox_processes(pool: SandboxPool) -> list[int]:
    """Live processes working in the pool's directories: the programs (whatever user they run as)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if cwd.startswith(pool._base_dir) and state not in ("Z", "X"):  # a zombie runs nothing
            found.append(int(entry.name))
    return found


def _no_sandbox_processes(pool: SandboxPool, wait: float = 3.0) -> bool:
    """True once no process runs as the pool's program users (a killed process takes a moment to exit)."""
    deadline = time.monotonic() + wait
    while _sandbox_processes(pool):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# -- benign programs -------------------------------------------------------------------------------


def test_benign_programs(full_pool):
    cases = {
        "print(6 * 7)": "42\n",
        "import math\nprint(math.comb(10, 3))": "120\n",
        "import sympy as sp\nx = sp.symbols('x')\nprint(sp.solve(x**2 - 5*x + 6, x))": "[2, 3]\n",
        "import numpy as np\nprint(int(np.arange(101).sum()))": "5050\n",
        "from fractions import Fraction\nprint(Fraction(1, 3) + Fraction(1, 6))": "1/2\n",
        "print('答案是', 3)": "答案是 3\n",
        "import sys\nprint(sys.stdin.read() == '')": "True\n",
        "for i in range(3):\n    print(i)": "0\n1\n2\n",
        "with open('data.txt', 'w') as f:\n    f.write('7')\nprint(open('data.txt').read())": "7\n",
        "import threading\nprint(threading.active_count())": "1\n",
        "# " + "x" * 200_000 + "\nprint('long')": "long\n",  # larger than a pipe buffer: sent from a thread
    }
    results = full_pool.map(list(cases))
    for (code, expected), result in zip(cases.items(), results):
        assert result.status == "ok", (code, result)
        assert result.stdout == expected, code
        assert result.exit_code == 0 and not result.truncated


def test_errors_and_exit_codes(full_pool):
    r = full_pool.run("x = 1\n1 / 0")
    assert r.status == "error" and r.exit_code == 1
    assert r.error_line() == "ZeroDivisionError: division by zero"
    assert 'File "<program>", line 2' in r.stderr and "_server.py" not in r.stderr  # no frames of ours
    assert full_pool.run("import sys\nsys.exit(3)").exit_code == 3
    assert full_pool.run("import sys\nsys.exit(0)").status == "ok"
    r = full_pool.run("print('a')\nimport os\nos._exit(4)")
    assert (r.status, r.exit_code, r.stdout) == ("error", 4, "a\n")  # output written before _exit is kept
    r = full_pool.run("def f(:\n  pass")
    assert r.status == "error" and "SyntaxError" in r.error_line()
    r = full_pool.run("raise KeyboardInterrupt")
    assert r.status == "error" and r.error_line() == "KeyboardInterrupt"


def test_programs_do_not_share_state(full_pool):
    assert full_pool.run("import math\nmath.pi = 3\nopen('left.txt', 'w').write('x')\nprint(math.pi)").stdout == "3\n"
    for _ in range(3):  # whichever server runs it: a fresh fork, an empty directory
        r = full_pool.run("import math, os\nprint(math.pi, os.listdir('.'))")
        assert r.stdout == f"{__import__('math').pi} []\n"


def test_run_python_default_pool_and_validation():
    assert run_python("print(sum(range(10)))").stdout == "45\n"
    with pytest.raises(TypeError, match="code must be a str"):
        run_python(b"print(1)")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        run_python("print(1)", timeout=0)


def test_map_keeps_order_across_servers(full_pool):
    results = full_pool.map([f"print({i} ** 2)" for i in range(40)])
    assert [r.stdout for r in results] == [f"{i * i}\n" for i in range(40)]
    assert full_pool.map([]) == []


def test_capabilities_report_layers(full_pool):
    caps = full_pool.capabilities
    assert set(caps) >= {"network_namespace", "separate_user", "landlock_abi", "audit_hook", "preloaded"}
    assert {"math", "numpy", "sympy"} <= set(caps["preloaded"])


# -- hostile programs ------------------------------------------------------------------------------


def test_write_outside_sandbox_dir(pool, tmp_path):
    tmp_path.chmod(0o777)  # even a world-writable directory is out of reach
    target = tmp_path / "escaped.txt"
    programs = [
        f"open({str(target)!r}, 'w').write('pwned')",
        f"import os\nfd = os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)\nos.write(fd, b'pwned')",
        f"import shutil\nopen('a.txt', 'w').write('pwned')\nshutil.copy('a.txt', {str(target)!r})",
        f"import os\nopen('a.txt', 'w').write('pwned')\nos.rename('a.txt', {str(target)!r})",
        f"import os\nos.symlink({str(target)!r}, 'link')\nopen('link', 'w').write('pwned')",
        "open('../../escaped.txt', 'w').write('pwned')",
    ]
    for code in pool.map(programs):
        assert code.status == "error", code
    assert not target.exists()
    assert not list(tmp_path.iterdir())
    assert not Path(pool._base_dir, "escaped.txt").exists()


def test_audit_hook_cannot_be_disarmed_from_python(pool, tmp_path):
    """The program shares the interpreter with the audit hook: rebinding what the hook uses (the server module's
    globals, builtins, os.path), dir_fd-relative paths, chdir and gc introspection must not open a way out."""
    tmp_path.chmod(0o777)
    t = str(tmp_path)
    escaped_base = Path(pool._base_dir, "escaped-dirfd")
    disarm = (
        "import sys\nm = sys.modules['__main__']\n"
        "m._AUDIT_BLOCKED = m._AUDIT_PATH_EVENTS = m._AUDIT_TWO_PATH_EVENTS = frozenset()\nm._WRITE_FLAGS = 0\n"
    )
    frames = (  # the functions in the frames of the traceback of a refused write
        "import types\ntry:\n    open('/outside-probe', 'w')\nexcept PermissionError as e:\n    tb = e.__traceback__\n"
        "functions = []\nwhile tb is not None:\n"
        "    functions += [v for v in tb.tb_frame.f_locals.values() if isinstance(v, types.FunctionType)]\n"
        "    tb = tb.tb_next\n"
    )
    programs = [
        disarm + f"open({t!r} + '/globals', 'w').write('pwned')",
        disarm + "import socket\ns = socket.socket()\nprint('socket', s)",
        disarm + "import ctypes, os\nassert ctypes.CDLL(None).kill(os.getppid(), 9) == 0, 'refused'\nprint('ctypes')",
        f"import os.path\nos.path.realpath = lambda p, strict=False: os.getcwd()\nopen({t!r} + '/realpath', 'w')",
        f"import builtins\nbuiltins.any = lambda it: False\nopen({t!r} + '/builtins', 'w').write('pwned')",
        f"import os\nfd = os.open({t!r}, os.O_RDONLY)\nos.write(os.open('dirfd', os.O_WRONLY | os.O_CREAT, dir_fd=fd), b'x')",
        f"import os\nos.mkdir('mkdir', dir_fd=os.open({t!r}, os.O_RDONLY))",
        "import os\nos.makedirs('a/b')\nfd = os.open('.', os.O_RDONLY)\nos.chdir('a/b')\n"
        "os.write(os.open('../../escaped-dirfd', os.O_WRONLY | os.O_CREAT, dir_fd=fd), b'x')",
        "import gc\nfor f in gc.get_objects():\n    if getattr(f, '__name__', '') == 'hook':\n"
        "        print('found the hook')\n"
        f"open({t!r} + '/gc', 'w').write('pwned')",
        f"import os\nos.symlink({t!r}, 'l')\nos.write(os.open('l/symlink', os.O_WRONLY | os.O_CREAT), b'x')",
        # builtins the hook would look up at call time
        "import builtins\nbuiltins.bool = lambda x: False\nbuiltins.len = lambda x: 0\nbuiltins.list = lambda x: []\n"
        f"open({t!r} + '/bool', 'w').write('pwned')",
        # the hook's own frame, reached through the traceback of the error it raised: empty its closure cells
        frames + "cells = 0\nfor value in functions:\n    cells += len(value.__closure__ or ())\n"
        "    for cell in value.__closure__ or ():\n        cell.cell_contents = ''\n"
        f"print('cells', cells)\nopen({t!r} + '/cells', 'w').write('pwned')",
        # ... or replace its default arguments
        frames + "for value in functions:\n"
        "    value.__defaults__ = tuple(lambda *a: True for _ in value.__defaults__ or ())\n"
        f"print('replaced', len(functions))\nopen({t!r} + '/defaults', 'w').write('pwned')",
    ]
    replaced = pool.replaced
    results = pool.map(programs)
    for code, r in zip(programs, results):
        assert r.status == "error", (code, r)
        assert "socket <" not in r.stdout and "ctypes" not in r.stdout and "found the hook" not in r.stdout, r
    assert results[-2].stdout == "cells 0\n"  # the hook holds no closure cell (the write above is still refused)
    if pool.layer != "os_only":  # the hook's frame is reachable, and its defaults cannot be replaced
        assert results[-1].stdout == "" and "replacing a function's __defaults__ is not allowed" in results[-1].stderr
    assert not list(tmp_path.iterdir())
    assert not escaped_base.exists()
    assert pool.replaced == replaced and pool.run("print('alive')").stdout == "alive\n"


def test_a_program_cannot_return_into_the_server(pool):
    """Rebinding os._exit must not let the forked child fall back into the server loop."""
    r = pool.run("import sys, types\nsys.modules['__main__'].os = types.SimpleNamespace()\nprint('done')")
    assert r.stdout == "done\n" and r.status == "ok"
    r = pool.run("import os\nos._exit = lambda code: None\nraise SystemExit(5)")
    assert r.exit_code == 5
    assert pool.run("print('alive')").stdout == "alive\n"


def test_environment_secrets_do_not_leak(pool):
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "for pid in (os.getppid(), CALLER, 'self/../1'):\n"
        "    try:\n"
        "        print(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "    except Exception as e:\n"
        "        print('denied', type(e).__name__)\n"
    ).replace("CALLER", str(os.getpid()))
    r = pool.run(code)
    assert SECRET not in r.stdout + r.stderr
    assert "TRL_DSM_TEST_SECRET" not in r.stdout
    assert r.stdout.count("denied") == 3


def test_sockets_cannot_reach_anything(pool):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    code = (
        "import socket\n"
        "for family, addr in ((socket.AF_INET, ('127.0.0.1', PORT)), (socket.AF_INET, ('1.1.1.1', 80))):\n"
        "    try:\n"
        "        s = socket.socket(family)\n"
        "        s.settimeout(1)\n"
        "        s.connect(addr)\n"
        "        print('connected', addr)\n"
        "    except Exception as e:\n"
        "        print('blocked', type(e).__name__)\n"
        "try:\n"
        "    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "    u.sendto(b'x', ('127.0.0.1', PORT))\n"
        "    print('sent udp')\n"
        "except Exception as e:\n"
        "    print('blocked', type(e).__name__)\n"
    ).replace("PORT", str(port))
    r = pool.run(code)
    assert "connected" not in r.stdout
    if pool.layer != "os_only":  # the audit hook refuses the socket itself
        assert r.stdout.count("blocked") == 3, r
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()


def test_fork_bomb_and_process_creation(pool):
    programs = [
        "import os\nwhile True:\n    os.fork()",
        "import subprocess\nprint(subprocess.run(['echo', 'hi'], capture_output=True).stdout)",
        "import multiprocessing as mp\np = mp.Process(target=print, args=('child',))\np.start()\np.join()",
        "import os\nos.execv('/bin/sh', ['sh', '-c', 'echo hi'])",
        "import os\nstatus = os.system('echo hi')\nassert status == 0, status",  # fork fails: -1, no exception
    ]
    for r in pool.map(programs, timeout=10):  # each fails at once; the margin is for a busy machine
        assert r.status == "error", r
        assert "hi" not in r.stdout and "child" not in r.stdout
    assert _no_sandbox_processes(pool)


def test_memory_limit(pool):
    for code in ("x = bytearray(10 * 1024**3)", "import numpy as np\nx = np.ones(10 * 1024**3 // 8)",
                 "x = []\nwhile True:\n    x.append(' ' * 10**7)"):  # fmt: skip
        r = pool.run(code, timeout=10)
        assert r.status == "error" and "MemoryError" in r.error_line(), (code, r)


def test_infinite_loops_time_out(pool):
    programs = [
        "while True:\n    pass",
        "import time\ntime.sleep(100)",
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass",
        "x = 10 ** (10 ** 10)",  # stuck in C code
    ]
    tic = time.monotonic()
    results = pool.map(programs, timeout=1.0)
    elapsed = time.monotonic() - tic
    assert [r.status for r in results] == ["timeout"] * 4
    assert all(r.exit_code is None for r in results)
    assert elapsed < 60  # two servers, four one-second programs (one sleeps 100 s): a "did not hang" check


def test_cannot_kill_parent_or_caller(pool):
    caller = os.getpid()
    programs = [
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        f"import os, signal\nos.kill({caller}, signal.SIGKILL)",
        "import os, signal\nos.kill(-1, signal.SIGKILL)",
        "import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)",
        f"import ctypes\nctypes.CDLL(None).kill({caller}, 9)",
    ]
    replaced = pool.replaced
    results = pool.map(programs)
    for r in results:
        assert r.status != "ok" or pool.layer == "os_only", r  # os_only: kill(-1) "succeeds" on nothing
    assert pool.replaced == replaced  # the servers survived
    assert pool.run("print('alive')").stdout == "alive\n"


def test_huge_output_is_capped(pool):
    limit = pool.config.max_output_bytes
    r = pool.run("print('x' * 10**8)", timeout=10)
    assert r.truncated and len(r.stdout.encode()) <= limit
    r = pool.run("while True:\n    print('y' * 1000)", timeout=3)
    assert r.truncated and len(r.stdout.encode()) <= limit
    assert r.status in ("error", "timeout")  # stopped by the file-size limit (EFBIG) or the clock
    r = pool.run("import os\nwhile True:\n    os.write(2, b'z' * 65536)", timeout=3)
    assert r.truncated and len(r.stderr.encode()) <= limit


def test_exit_tricks(pool):
    r = pool.run("import os\nprint('partial')\nos._exit(0)")
    assert (r.status, r.stdout) == ("ok", "partial\n")
    r = pool.run("import faulthandler\nfaulthandler._sigsegv()")
    assert r.status in ("killed", "error")  # a crash (or, with the audit hook, nothing to crash with)
    assert pool.run("print(1)").stdout == "1\n"


def test_a_server_that_dies_is_replaced(full_pool):
    results: list[ExecutionResult] = []
    program = "import time\ntime.sleep(60)"  # outlives any delay in finding and killing its server
    thread = threading.Thread(target=lambda: results.append(full_pool.run(program, timeout=120)))
    thread.start()
    deadline = time.monotonic() + 10
    busy = []
    while not busy and time.monotonic() < deadline:  # the server running the sleep is not idle
        idle = {id(s) for s in full_pool._idle}
        busy = [s for s in list(full_pool._slots) if s not in idle]
        time.sleep(0.05)
    time.sleep(0.3)
    # this pool's servers (other pools of this test process are alive too), minus the idle ones
    pids = [p for p in _server_pids(full_pool._base_dir) if p not in {s.proc.pid for s in full_pool._idle}]
    assert pids, "no busy sandbox server found"
    os.kill(pids[0], 9)
    thread.join(30)
    assert results and results[0].status == "killed"
    assert full_pool.run("print('next')").stdout == "next\n"
    assert _no_sandbox_processes(full_pool)  # the orphaned program died with its server


def test_a_forked_child_cannot_use_or_close_the_parents_pool(full_pool):
    full_pool.warm_up()
    servers = {s.proc.pid for s in full_pool._idle}
    pid = os.fork()
    if pid == 0:  # the child: a clear error, and closing its copy leaves the parent's servers alone
        status = 3
        try:
            try:
                full_pool.run("print(1)")
            except SandboxError as exc:
                status = 0 if "forked child" in str(exc) else 2
            full_pool.close()
        finally:
            os._exit(status)
    deadline = time.monotonic() + 60  # a hang in the child must fail the test, not stall the suite
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    wait_status = done[1]
    assert os.WIFEXITED(wait_status) and os.WEXITSTATUS(wait_status) == 0
    assert {s.proc.pid for s in full_pool._idle} == servers and all(s.alive() for s in full_pool._idle)
    assert Path(full_pool._base_dir).is_dir()
    assert full_pool.run("print('parent')").stdout == "parent\n"


def test_servers_that_fail_to_start_free_their_slots(monkeypatch):
    with SandboxPool(max_workers=2) as pool:
        monkeypatch.setattr(sys, "executable", "/nonexistent/python")  # cannot even be spawned
        with pytest.raises(SandboxError, match="could not start /nonexistent/python"):
            pool.warm_up()
        assert sorted(pool._free_slots) == [0, 1] and not pool._slots and not pool._idle
        monkeypatch.setattr(sys, "executable", "/bin/false")  # spawned, exits at once
        with pytest.raises(SandboxError, match="exited with code 1"):
            pool.warm_up()
        with pytest.raises(SandboxError, match="exited with code 1"):
            pool.run("print(1)")
        assert sorted(pool._free_slots) == [0, 1] and not pool._slots and not pool._idle
        assert pool.replaced == 0
        monkeypatch.undo()
        assert pool.map(["print(1)", "print(2)"])[1].stdout == "2\n"
        assert len(pool._idle) <= 2 and sorted(pool._free_slots + list(pool._slots.values())) == [0, 1]


def _server_pids(base_dir: str = "") -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if (
                b"trl_dsm.sandbox._server" in cmdline
                and base_dir.encode() in cmdline
                and int(entry.name) != os.getpid()
            ):
                try:
                    if int((entry / "stat").read_text().split()[3]) == os.getpid():  # our own servers only
                        pids.append(int(entry.name))
                except (OSError, IndexError, ValueError):
                    continue
    return pids


# -- the seccomp program, run by a small classic-BPF interpreter --------------------------------------


def _run_bpf(rows, nr: int, arch: int, arg0: int = 0) -> int:
    data = {0: nr, 4: arch, 16: arg0 & 0xFFFFFFFF}
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = rows[pc]
        if code == 0x20:  # ld [k]
            acc = data[k]
        elif code == 0x15:  # jeq
            pc += jt if acc == k else jf
        elif code == 0x35:  # jge
            pc += jt if acc >= k else jf
        elif code == 0x06:  # ret
            return k
        else:
            raise AssertionError(f"unexpected BPF opcode {code:#x}")
        pc += 1


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_seccomp_program_decisions(arch):
    from trl_dsm.sandbox import _linux

    allow, eperm = 0x7FFF0000, 0x00050001
    audit_arch = _linux._AUDIT_ARCH[arch]
    rows = _linux.seccomp_program(arch, pid=4321)
    for name, nr in _linux._DENIED[arch].items():
        assert _run_bpf(rows, nr, audit_arch) == eperm, name
    for name, nr in _linux._SIGNALS[arch].items():
        assert _run_bpf(rows, nr, audit_arch, arg0=4321) == allow, name  # to itself
        for target in (1, 0, -1, 4320):
            assert _run_bpf(rows, nr, audit_arch, arg0=target) == eperm, (name, target)
    blocked = set(_linux._DENIED[arch].values()) | set(_linux._SIGNALS[arch].values())
    for nr in set(range(0, 460)) - blocked:  # read, write, mmap, openat... everything else
        assert _run_bpf(rows, nr, audit_arch) == allow, nr
    assert _run_bpf(rows, 0, 0x40000003) == eperm  # i386 syscalls through int 0x80
    if arch == "x86_64":
        assert _run_bpf(rows, 0x40000000 | 1, audit_arch) == eperm  # x32 ABI


def test_readable_by_others():
    import shutil
    import tempfile

    from trl_dsm.sandbox import _linux

    root = Path(tempfile.mkdtemp(dir="/tmp"))  # not under pytest's 0700 tmp_path
    try:
        (root / "private" / "lib").mkdir(parents=True)
        root.chmod(0o755)
        (root / "private").chmod(0o700)
        assert not _linux.readable_by_others([str(root / "private" / "lib")])
        (root / "private").chmod(0o755)
        (root / "private" / "lib").chmod(0o711)  # searchable but not listable
        assert not _linux.readable_by_others([str(root / "private" / "lib")])
        (root / "private" / "lib").chmod(0o755)
        assert _linux.readable_by_others([str(root / "private" / "lib")])
    finally:
        shutil.rmtree(root)
