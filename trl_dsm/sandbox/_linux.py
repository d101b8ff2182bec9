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


def unshare_network() -> bool:
    """Move the calling process into a new, empty network namespace (only a down loopback).

    Needs CAP_SYS_ADMIN, or unprivileged user namespaces (then a user namespace is created too).
    """
    if platform.system() != "Linux":
        return False
    if _libc.unshare(CLONE_NEWNET) == 0:
        return True
    return _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0
