# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Running a benchmark in its own scheduling group (Linux ``sched_autogroup``): the kernel shares the CPU between
sessions first, so other sessions' jobs take a core from a benchmark whatever their nice; an autogroup nice of -20
for the benchmark's session leaves them little (negative values need CAP_SYS_NICE)."""

from __future__ import annotations

import os
import subprocess
import sys


def own_autogroup(nice: int) -> None:
    """Make this process a new session with autogroup nice ``nice`` (a ``preexec_fn``)."""
    os.setsid()
    with open("/proc/self/autogroup", "w") as f:
        f.write(str(nice))


def rerun_in_own_autogroup(nice: int | None) -> None:
    """With ``nice`` given, run this script again (same arguments) in its own session with that autogroup nice and
    exit with its status; in that re-run, or without ``nice``, return."""
    if nice is None or os.environ.get("TRL_DSM_BENCH_OWN_AUTOGROUP"):
        return
    env = {**os.environ, "TRL_DSM_BENCH_OWN_AUTOGROUP": "1"}
    argv = [sys.executable, sys.argv[0], *sys.argv[1:]]
    sys.exit(subprocess.run(argv, env=env, preexec_fn=lambda: own_autogroup(nice)).returncode)
