# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Where the per-shard steps of the mining pipeline run: in this process, in a local process pool, or on
datatrove's executors (local multiprocess, Slurm, Ray) for clusters.

A task is ``(stage, iteration, shard)``; :func:`trl_dsm.mining.pipeline.run_shard_task` reads everything it needs
from the run directory and writes its output atomically, so any engine that can call a function on a worker can
run it, tasks can repeat after a crash, and the driver checks completion by looking at the outputs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


KINDS = ("local", "datatrove-local", "datatrove-slurm", "datatrove-ray")


@dataclass
class ExecutorConfig:
    """``kind``: ``local`` (this process, or a process pool when ``workers`` > 1), ``datatrove-local``,
    ``datatrove-slurm`` or ``datatrove-ray``. ``tasks`` caps the datatrove tasks per stage (default: one per
    shard); ``options`` go to the datatrove executor (e.g. Slurm ``partition``, ``time``, ``sbatch_args``)."""

    kind: str = "local"
    workers: int = 1
    tasks: int | None = None
    options: dict = field(default_factory=dict)
    #: Hard bound on waiting for a stage's tasks (Slurm jobs are asynchronous), seconds.
    timeout_s: float = 7 * 24 * 3600
    poll_s: float = 10.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"executor.kind must be one of {KINDS}, got {self.kind!r}")
        if self.workers < 1:
            raise ValueError(f"executor.workers must be >= 1, got {self.workers}")


def _run_one(args: tuple) -> None:
    from trl_dsm.mining.pipeline import run_shard_task

    run_shard_task(*args)


def _datatrove_step_class():
    from datatrove.pipeline.base import PipelineStep

    class MiningShardStep(PipelineStep):
        """Runs mining shard tasks ``rank, rank + world_size, ...`` of one stage."""

        name = "trl-dsm mining shards"
        type = "trl-dsm"

        def __init__(self, run_dir: str, stage: str, iteration: int, shards: Sequence[int]):
            super().__init__()
            self.run_dir, self.stage, self.iteration, self.shards = run_dir, stage, iteration, list(shards)

        def run(self, data=None, rank: int = 0, world_size: int = 1):
            for shard in self.shards[rank::world_size]:
                with self.track_time():
                    _run_one((self.run_dir, self.stage, self.iteration, shard))
                self.stat_update("shards")
            if data:
                yield from data

    return MiningShardStep


def run_tasks(
    config: ExecutorConfig,
    run_dir: str | Path,
    stage: str,
    iteration: int,
    shards: Sequence[int],
    is_done: Callable[[int], bool],
    desc: str = "",
) -> None:
    """Run the not-yet-done shards of a stage on the configured engine and wait until all are done."""
    from tqdm.auto import tqdm

    todo = [s for s in shards if not is_done(s)]
    if not todo:
        return
    run_dir = str(run_dir)
    if config.kind == "local":
        if config.workers == 1:
            for shard in tqdm(todo, desc=desc or stage, unit="shard"):
                _run_one((run_dir, stage, iteration, shard))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(config.workers, mp_context=mp.get_context("fork")) as pool:
                jobs = [(run_dir, stage, iteration, s) for s in todo]
                list(tqdm(pool.map(_run_one, jobs), total=len(jobs), desc=desc or stage, unit="shard"))
    else:
        step = _datatrove_step_class()(run_dir, stage, iteration, todo)
        tasks = min(config.tasks or len(todo), len(todo))
        # A fresh logging dir per attempt: datatrove skips ranks it logged as complete, and the set of shards
        # (hence what a rank means) differs between attempts.
        logging_dir = os.path.join(run_dir, "datatrove", f"{stage}-{iteration}-{time.time_ns()}")
        options = dict(config.options)
        if config.kind == "datatrove-local":
            from datatrove.executor import LocalPipelineExecutor

            executor = LocalPipelineExecutor(
                pipeline=[step], tasks=tasks, workers=config.workers, logging_dir=logging_dir, **options
            )
        elif config.kind == "datatrove-slurm":
            from datatrove.executor import SlurmPipelineExecutor

            options.setdefault("job_name", f"trl-dsm-{stage}")
            options.setdefault("time", "24:00:00")
            options.setdefault("partition", "cpu")
            executor = SlurmPipelineExecutor(pipeline=[step], tasks=tasks, logging_dir=logging_dir, **options)
        else:
            from datatrove.executor import RayPipelineExecutor

            executor = RayPipelineExecutor(
                pipeline=[step], tasks=tasks, workers=config.workers, logging_dir=logging_dir, **options
            )
        executor.run()
    deadline = time.monotonic() + config.timeout_s
    while True:  # Slurm returns after submitting; the others after finishing
        missing = [s for s in todo if not is_done(s)]
        if not missing:
            return
        if config.kind != "datatrove-slurm" or time.monotonic() > deadline:
            raise RuntimeError(
                f"{stage}: {len(missing)} shard task(s) did not finish (first: {missing[:5]}); "
                f"see the logs under {run_dir}/datatrove and rerun to resume"
            )
        time.sleep(config.poll_s)
