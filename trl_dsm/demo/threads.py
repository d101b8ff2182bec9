# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Torch threads for the miniature run, chosen to stay fast when other jobs share the CPU.

A tiny model's operators last microseconds, so torch's OpenMP threads spend much of a step waiting for each other.
On 2 idle cores 2 threads train a step fastest; beside two CPU-bound jobs 1 thread is fastest (a descheduled
thread holds up its sibling), and no fixed setting is both: waiting passively (``OMP_WAIT_POLICY=PASSIVE``) or
with a bounded spin (``GOMP_SPINCOUNT``) loses 20-60% at idle (benchmarks/demo_threads.py; docs/demo.md has the
figures). So by default the run measures: :class:`ThreadTuner` times a few training steps with each thread count,
interleaved, keeps the faster, and measures again later (sooner after a change), as the machine's load changes.
Sampling outside the trainers (evaluation) uses the last choice."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Iterator

from trl_dsm._env import positive_int_env


#: The largest torch thread count the default run tries, at most the CPU count (benchmarks/demo_threads.py).
DEFAULT_THREADS = 2

#: Training steps between the first two probes of :class:`ThreadTuner` in the run, and the largest gap between two
#: (the gap doubles while the choice holds).
PERIOD, MAX_PERIOD = 50, 400

#: Environment of the run's process, each set only where the user has not set it: the tokenizers library encodes
#: in the calling thread (no pool of its own beside torch's threads).
PROCESS_ENV = {"TOKENIZERS_PARALLELISM": "false"}


def configure_process() -> dict[str, str]:
    """Set :data:`PROCESS_ENV` in ``os.environ`` where unset; returns it with the OpenMP wait settings the user set
    (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``: the runtime reads them when torch loads)."""
    effective = {}
    for name, value in PROCESS_ENV.items():
        os.environ.setdefault(name, value)
        effective[name] = os.environ[name]
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        if name in os.environ:
            effective[name] = os.environ[name]
    return effective


def resolve_threads(requested: int) -> int:
    """The torch thread count of a run: ``requested`` when it is positive; for 0, ``$OMP_NUM_THREADS`` when the user
    set it, else :data:`DEFAULT_THREADS` capped at the CPU count (the most :class:`ThreadTuner` tries).

    >>> resolve_threads(1)
    1
    """
    if requested > 0:
        return requested
    value = positive_int_env("OMP_NUM_THREADS")
    if value is not None:
        return value
    return max(1, min(DEFAULT_THREADS, os.cpu_count() or 1))


def tuned(requested: int) -> bool:
    """Whether the run measures its thread count: the configuration asks for none (0) and ``$OMP_NUM_THREADS`` is
    unset, so there is no fixed count to honour."""
    return requested <= 0 and positive_int_env("OMP_NUM_THREADS") is None


class ThreadTuner:
    """Chooses torch's intra-op thread count by timing units of work (training steps) as they run.

    A probe: ``warmup`` units untimed, then ``probe`` units with each candidate, interleaved (``threads``, 1,
    ``threads``, 1, ...) so a load change during the probe hits both; the candidate with the smaller median runs
    until the next probe. Probes start ``period`` units apart; each probe that keeps the choice doubles the gap (up
    to ``max_period``), one that changes it resets the gap, so a steady machine pays for few probes (a probe of 2
    threads beside busy jobs costs several steps' time). ``choices`` records ``(unit, threads, {candidate: median
    seconds})`` per probe.

    >>> tuner = ThreadTuner(2, period=10, probe=2, warmup=1, set_threads=lambda n: None)
    >>> [tuner.threads_for(i) for i in range(6)]
    [2, 2, 1, 2, 1, 2]
    """

    def __init__(
        self,
        threads: int,
        period: int = PERIOD,
        probe: int = 2,
        warmup: int = 1,
        max_period: int = MAX_PERIOD,
        set_threads=None,
    ):
        if threads < 1 or probe < 1 or period < warmup + 2 * probe or max_period < period:
            raise ValueError(f"ThreadTuner: need threads >= 1, probe >= 1, period >= warmup + 2 probe, max_period >= "
                             f"period; got threads={threads}, period={period}, probe={probe}, warmup={warmup}, "
                             f"max_period={max_period}")  # fmt: skip
        self.candidates = [threads, 1] if threads > 1 else [1]
        self.period, self.probe, self.warmup, self.max_period = period, probe, warmup, max_period
        self.current = self.candidates[0]
        self.choices: list[tuple[int, int, dict[int, float]]] = []
        if set_threads is None:
            import torch

            set_threads = torch.set_num_threads
        self._set_threads = set_threads
        self.restart()

    def restart(self) -> None:
        """Probe again from the next unit (a new trainer: its steps are not comparable with the last one's)."""
        self._units, self._times, self._start, self._gap = 0, {}, 0, None

    def _position(self, unit: int) -> int | None:
        """The unit's place among the probe's timed units, or None outside a probe."""
        position = unit - self._start - self.warmup
        probing = self.probe * len(self.candidates)
        return position if len(self.candidates) > 1 and 0 <= position < probing else None

    def threads_for(self, unit: int) -> int:
        """The thread count unit ``unit`` runs with (probing, or the current choice)."""
        position = self._position(unit)
        return self.current if position is None else self.candidates[position % len(self.candidates)]

    @contextlib.contextmanager
    def unit(self) -> Iterator[int]:
        """Run one unit of work (a training step) under the tuner; yields its thread count."""
        unit, threads = self._units, self.threads_for(self._units)
        self._set_threads(threads)
        tic = time.perf_counter()
        try:
            yield threads
        finally:
            self._record(unit, threads, time.perf_counter() - tic)

    def _record(self, unit: int, threads: int, seconds: float) -> None:
        self._units = unit + 1
        position = self._position(unit)
        if position is None:
            return
        self._times.setdefault(threads, []).append(seconds)
        if position == self.probe * len(self.candidates) - 1:
            medians = {n: statistics.median(self._times[n]) for n in self.candidates}
            previous, self.current = self.current, min(self.candidates, key=lambda n: (medians[n], -n))
            self.choices.append((unit, self.current, medians))
            self._times = {}
            self._set_threads(self.current)
            kept = self.current == previous and self._gap is not None  # (a trainer's first probe sets the gap)
            self._gap = min(2 * self._gap, self.max_period) if kept else self.period
            self._start += self._gap

    @contextlib.contextmanager
    def fixed(self, threads: int) -> Iterator[None]:
        """Run a block with ``threads``, then go back to the current choice."""
        self._set_threads(threads)
        try:
            yield
        finally:
            self._set_threads(self.current)

    def summary(self) -> str:
        """How often each thread count was chosen, e.g. ``'2 threads 12x, 1 thread 3x'``."""
        counts: dict[int, int] = {}
        for _, threads, _ in self.choices:
            counts[threads] = counts.get(threads, 0) + 1
        return ", ".join(f"{n} thread{'s' if n != 1 else ''} {c}x" for n, c in sorted(counts.items(), reverse=True))


def tuner_callback(tuner: ThreadTuner):
    """A ``transformers.TrainerCallback`` that runs each optimizer step (generation included, for GRPO) as one unit
    of ``tuner``, measuring afresh at the start of each training."""
    from transformers import TrainerCallback

    class ThreadTunerCallback(TrainerCallback):
        def __init__(self):
            self._step = None

        def on_train_begin(self, args, state, control, **kwargs):
            tuner.restart()

        def on_step_begin(self, args, state, control, **kwargs):
            self._step = tuner.unit()
            self._step.__enter__()

        def on_step_end(self, args, state, control, **kwargs):
            if self._step is not None:
                self._step.__exit__(None, None, None)
                self._step = None

    return ThreadTunerCallback()


#: The run's tuner (None: a fixed thread count), set by :func:`install` at the start of ``run_demo``.
_ACTIVE: ThreadTuner | None = None


def install(tuner: ThreadTuner | None) -> None:
    """Make ``tuner`` the run's (the stages' trainers get its callback through :func:`trainer_callbacks`)."""
    global _ACTIVE
    _ACTIVE = tuner


def trainer_callbacks() -> list:
    """The callbacks every trainer of the run gets: the tuner's, when the run measures its thread count."""
    return [tuner_callback(_ACTIVE)] if _ACTIVE is not None else []


def sampling_threads():
    """A context for sampling outside the trainers (evaluation, RFT, PRM labelling): the count the last probe chose
    when the run measures its thread count (the machine's load changes slowly against a stage), else no change."""
    return _ACTIVE.fixed(_ACTIVE.current) if _ACTIVE is not None else contextlib.nullcontext()


def describe(threads: int, effective: dict[str, str], tuning: bool = False) -> str:
    """The start banner's words for the thread count (``tuning``: chosen by measurement between 1 and
    ``threads``) and any OpenMP wait setting the user gave.

    >>> describe(2, {}, tuning=True)
    'torch threads measured while training (1 or 2, again after 50-400 steps)'
    >>> describe(1, {"OMP_WAIT_POLICY": "PASSIVE"})
    '1 torch thread, OMP_WAIT_POLICY PASSIVE'
    """
    if tuning and threads > 1:
        text = f"torch threads measured while training (1 or {threads}, again after {PERIOD}-{MAX_PERIOD} steps)"
    else:
        text = f"{threads} torch thread{'s' if threads != 1 else ''}"
    waits = [f"{k} {effective[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in effective]
    return ", ".join([text, *waits])
