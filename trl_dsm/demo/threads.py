# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Torch threads for the miniature run, chosen to stay fast when other jobs share the CPU.

A tiny model's operators last microseconds, so torch's OpenMP threads spend much of a step waiting for each other.
By default the OpenMP runtime waits by spinning: a thread descheduled by another job's process holds up its
spinning sibling, and a step slows several times over (benchmarks/demo_threads.py; docs/demo.md has the figures).
``OMP_WAIT_POLICY=PASSIVE`` makes waiting threads sleep instead. The runtime reads it once, when torch loads, so
:func:`configure_process` sets it before torch is imported (the ``trl-dsm demo`` command calls it first thing)."""

from __future__ import annotations

import os
import sys

from trl_dsm._env import positive_int_env


#: Torch intra-op threads of a run whose ``DemoConfig.threads`` is 0, at most the CPU count (benchmarks/demo_threads.py).
DEFAULT_THREADS = 2

#: Environment of the run's process, each set only where the user has not set it: OpenMP threads sleep while they
#: wait, and the tokenizers library encodes in the calling thread (no pool of its own beside torch's threads).
PROCESS_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}


def configure_process() -> dict[str, str]:
    """Set :data:`PROCESS_ENV` in ``os.environ`` where unset; returns the settings in effect. Call it before torch is
    imported: a wait policy set afterwards does not reach the OpenMP runtime, and then the returned settings omit
    ``OMP_WAIT_POLICY`` unless the process started with it."""
    torch_loaded = "torch" in sys.modules
    effective = {}
    for name, value in PROCESS_ENV.items():
        if name == "OMP_WAIT_POLICY" and torch_loaded:
            if name in os.environ:
                effective[name] = os.environ[name]
            continue
        os.environ.setdefault(name, value)
        effective[name] = os.environ[name]
    return effective


def resolve_threads(requested: int) -> int:
    """The torch thread count of a run: ``requested`` when it is positive; for 0, ``$OMP_NUM_THREADS`` when the user
    set it, else :data:`DEFAULT_THREADS` capped at the CPU count.

    >>> resolve_threads(1)
    1
    """
    if requested > 0:
        return requested
    value = positive_int_env("OMP_NUM_THREADS")
    if value is not None:
        return value
    return max(1, min(DEFAULT_THREADS, os.cpu_count() or 1))


def describe(threads: int, effective: dict[str, str]) -> str:
    """The start banner's words for the thread count and the OpenMP wait policy in effect (``effective``: what
    :func:`configure_process` returned).

    >>> describe(2, {"OMP_WAIT_POLICY": "PASSIVE"})
    '2 torch threads, OMP_WAIT_POLICY PASSIVE'
    """
    policy = effective.get("OMP_WAIT_POLICY", "the OpenMP default (spinning)")
    return f"{threads} torch thread{'s' if threads != 1 else ''}, OMP_WAIT_POLICY {policy}"
