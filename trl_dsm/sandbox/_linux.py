# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Linux containment primitives used by the sandbox server: network namespaces and Landlock.

Both are optional layers: each function reports whether it took effect, and the server combines them with
resource limits, a separate user id and a Python audit hook (see :mod:`trl_dsm.sandbox._server`).
Landlock (Linux >= 5.13, unprivileged) confines the file system; ABI 4 adds TCP bind/connect rules and ABI 6
scopes signals and abstract UNIX sockets to the sandboxed process itself.
"""

from __future__ import annotations

import ctypes
import os
import platform


_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

# Landlock syscalls share numbers on x86_64 and the generic table (aarch64, riscv64...).
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

# File-system access rights (linux/landlock.h) and the ABI that introduced them.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _syscall_supported() -> bool:
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "aarch64", "riscv64", "loongarch64")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is unavailable (old kernel, disabled LSM, not Linux)."""
    if not _syscall_supported():
        return 0
    version = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), _LANDLOCK_CREATE_RULESET_VERSION)
    return max(int(version), 0)


def _all_fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def build_landlock_ruleset(read_paths: list[str], write_paths: list[str], abi: int) -> int | None:
    """A Landlock ruleset fd: read (and execute) beneath ``read_paths``, everything beneath ``write_paths``,
    no TCP bind/connect (ABI >= 4), signals and abstract sockets scoped to the domain (ABI >= 6).

    Returns None when Landlock is unavailable. The fd is applied in each sandboxed child with
    :func:`landlock_restrict_self`.
    """
    if abi <= 0:
        return None
    handled = _all_fs_rights(abi)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    fd = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if fd < 0:
        return None
    read_rights = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
    for paths, rights in ((read_paths, read_rights), (write_paths, handled)):
        for path in paths:
            try:
                path_fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                allowed = rights if os.path.isdir(path) else rights & _FILE_RIGHTS
                rule = _PathBeneathAttr(allowed, path_fd)
                if _libc.syscall(_SYS_LANDLOCK_ADD_RULE, fd, _LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0):
                    err = ctypes.get_errno()
                    os.close(fd)
                    raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
            finally:
                os.close(path_fd)
    return fd


def landlock_restrict_self(ruleset_fd: int) -> bool:
    """Confine the calling process (and its future children) to the ruleset; irreversible."""
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0) == 0


def set_parent_death_signal(signum: int) -> None:
    """Have the kernel send ``signum`` to this process when its parent dies."""
    _libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4


def drop_all_capabilities() -> bool:
    """Give up every capability (bounding, ambient, effective, permitted, inheritable) while keeping the user id:
    root without capabilities is subject to ``RLIMIT_NPROC`` and cannot override Landlock or other limits."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break  # EINVAL past the last capability the kernel knows
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    return _libc.capset(ctypes.byref(header), data) == 0


def readable_by_others(paths: list[str]) -> bool:
    """Whether a user other than the owner can reach and read every one of ``paths`` (each ancestor
    searchable by "other"): the condition for running programs under a separate user id."""
    for path in paths:
        path = os.path.realpath(path)
        if not os.path.exists(path):
            continue
        current = path
        while True:
            mode = os.stat(current).st_mode
            if not mode & 0o001 or (current == path and os.path.isdir(path) and not mode & 0o004):
                return False
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
    return True


# -- seccomp ---------------------------------------------------------------------------------------
# Syscalls a program never needs: new processes/threads, exec, sockets, namespaces, tracing, kernel facilities.
_DENIED = {
    "x86_64": {
        "fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "execve": 59, "execveat": 322,
        "socket": 41, "socketpair": 53, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "keyctl": 250, "add_key": 248, "request_key": 249, "pidfd_open": 434,
        "pidfd_send_signal": 424, "pidfd_getfd": 438, "kexec_load": 246, "init_module": 175,
        "finit_module": 313, "reboot": 169, "open_by_handle_at": 304, "name_to_handle_at": 303,
    },
    "aarch64": {
        "clone": 220, "clone3": 435, "execve": 221, "execveat": 281, "socket": 198, "socketpair": 199,
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "unshare": 97, "setns": 268,
        "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "bpf": 280, "perf_event_open": 241,
        "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "keyctl": 219, "add_key": 217, "request_key": 218, "pidfd_open": 434, "pidfd_send_signal": 424,
        "pidfd_getfd": 438, "kexec_load": 104, "init_module": 105, "finit_module": 273, "reboot": 142,
        "open_by_handle_at": 265, "name_to_handle_at": 264,
    },
}  # fmt: skip
# Signal syscalls: allowed only when the first argument (pid / tgid / tid) is the program itself.
_SIGNALS = {
    "x86_64": {"kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297},
    "aarch64": {"kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240},
}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_SYSCALL_BIT = 0x40000000
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_EPERM = 0x00050000 | 1
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_program(arch: str, pid: int) -> list[tuple[int, int, int, int]]:
    """The classic-BPF seccomp filter as (code, jt, jf, k) rows: EPERM for the denied syscalls, for any other
    architecture or ABI (i386 ``int 0x80``, x32), and for signals to any process but ``pid``; allow the rest."""
    denied = sorted(_DENIED[arch].values())
    signals = sorted(_SIGNALS[arch].values())
    rows: list[tuple[int, int, int, int]] = [(_LD_W_ABS, 0, 0, 4)]  # seccomp_data.arch
    body: list[tuple[int, int, int, int]] = [(_LD_W_ABS, 0, 0, 0)]  # seccomp_data.nr
    if arch == "x86_64":
        body.append((_JGE_K, 0, 0, _X32_SYSCALL_BIT))  # jt patched to "deny"
    body += [(_JEQ_K, 0, 0, nr) for nr in denied]  # jt patched to "deny"
    body += [(_JEQ_K, 0, 0, nr) for nr in signals]  # jt patched to "check the target"
    body.append((_RET_K, 0, 0, _RET_ALLOW))
    check = [(_LD_W_ABS, 0, 0, 16), (_JEQ_K, 0, 1, pid), (_RET_K, 0, 0, _RET_ALLOW)]  # args[0], low 32 bits
    deny = [(_RET_K, 0, 0, _RET_EPERM)]
    # Layout: [arch load, arch check] + body + check + deny.
    start = 2
    check_at = start + len(body)
    deny_at = check_at + len(check)
    rows.append((_JEQ_K, 0, deny_at - 2, _AUDIT_ARCH[arch]))  # wrong arch: jump to deny
    for i, (code, jt, jf, k) in enumerate(body):
        here = start + i
        if code in (_JEQ_K, _JGE_K):
            target = check_at if (code == _JEQ_K and k in signals) else deny_at
            jt = target - here - 1
        rows.append((code, jt, jf, k))
    rows += check + deny
    return rows


def seccomp_supported() -> bool:
    """Whether :func:`install_seccomp_filter` knows this machine's syscall table and the kernel has seccomp."""
    if platform.system() != "Linux" or platform.machine() not in _DENIED:
        return False
    try:
        with open("/proc/self/status") as f:
            return any(line.startswith("Seccomp:") for line in f)
    except OSError:
        return False


def install_seccomp_filter() -> bool:
    """Apply :func:`seccomp_program` to the calling process (needs no privilege once no_new_privs is set)."""
    arch = platform.machine()
    if platform.system() != "Linux" or arch not in _DENIED:
        return False
    rows = seccomp_program(arch, os.getpid())
    if any(not 0 <= jt <= 255 or not 0 <= jf <= 255 for _, jt, jf, _ in rows):
        return False
    filters = (_SockFilter * len(rows))(*[_SockFilter(*row) for row in rows])
    prog = _SockFprog(len(rows), filters)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0


def unshare_network() -> bool:
    """Move the calling process into a new, empty network namespace (only a down loopback).

    Needs CAP_SYS_ADMIN, or unprivileged user namespaces (then a user namespace is created too).
    """
    if platform.system() != "Linux":
        return False
    if _libc.unshare(CLONE_NEWNET) == 0:
        return True
    return _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0
