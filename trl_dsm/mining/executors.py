# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Where the tasks of a mining stage (§2.1) run: in this process, in a local process pool, or on datatrove's
executors (local multiprocess, Slurm, Ray) for clusters.

The executor receives the work: a picklable callable ``work(task)`` (the pipeline passes a
:class:`trl_dsm.mining.stages.StageTask`) and the task ids. Each task reads what it needs from the run directory
and writes its output atomically, so tasks can repeat after a crash, and the driver checks completion by looking
at the outputs (``is_done``). This module knows nothing of the pipeline.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


KINDS = ("local", "datatrove-local", "datatrove-slurm", "datatrove-ray")
#: Short names accepted in YAML and on the command line.
ALIASES = {"ray": "datatrove-ray", "slurm": "datatrove-slurm"}


@dataclass
class ExecutorConfig:
    """``kind``: ``local`` (this process, or a process pool when ``workers`` > 1), ``datatrove-local``,
    ``datatrove-slurm`` (or ``slurm``) or ``datatrove-ray`` (or ``ray``). ``tasks`` caps the datatrove tasks per
    stage (default: one per shard); ``options`` go to the datatrove executor (e.g. Slurm ``partition``, ``time``,
    ``max_array_size``, ``env_command``; Ray ``cpus_per_task``, ``mem_per_cpu_gb``). Slurm's sbatch scripts
    activate the running interpreter's virtualenv or conda environment unless ``options`` say how
    (:func:`slurm_environment`)."""

    kind: str = "local"
    workers: int = 1
    tasks: int | None = None
    options: dict = field(default_factory=dict)
    #: Hard bound on a stage's tasks, seconds: waiting for Slurm's asynchronous jobs, and the local pool's stage (its
    #: workers are killed when it passes).
    timeout_s: float = 7 * 24 * 3600
    poll_s: float = 10.0
    #: Ray: the cluster ``ray.init`` connects to (e.g. ``127.0.0.1:6379``); None: ``$RAY_ADDRESS`` when set, else a
    #: Ray instance started in this process.
    ray_address: str | None = None

    def __post_init__(self):
        self.kind = ALIASES.get(self.kind, self.kind)
        if self.kind not in KINDS:
            raise ValueError(f"executor.kind must be one of {KINDS + tuple(ALIASES)}, got {self.kind!r}")
        if self.workers < 1:
            raise ValueError(f"executor.workers must be >= 1, got {self.workers}")


#: ``executor.options`` that tell datatrove's sbatch script how to activate the Python environment.
SLURM_ENV_OPTIONS = ("env_command", "venv_path", "condaenv")


def slurm_environment(options: dict | None = None) -> dict:
    """The environment activation of the sbatch scripts (datatrove writes none without one of
    :data:`SLURM_ENV_OPTIONS`): ``options``' own if given, else the running interpreter's virtualenv
    (``venv_path``: its ``bin/activate``) or conda environment (``env_command``: ``conda activate`` of its prefix).
    Raises ``ValueError`` naming the fields when the interpreter is in neither."""
    options = options or {}
    given = {k: options[k] for k in SLURM_ENV_OPTIONS if options.get(k)}
    if given:
        return given
    prefix = Path(sys.prefix)
    if sys.prefix != sys.base_prefix and (prefix / "bin" / "activate").is_file():
        return {"venv_path": str(prefix / "bin" / "activate")}
    if (prefix / "conda-meta").is_dir():
        return {"env_command": f'eval "$(conda shell.bash hook)" && conda activate {shlex.quote(str(prefix))}'}
    raise ValueError(
        f"executor.kind slurm: the sbatch scripts must activate the Python environment that has trl-dsm, and "
        f"{sys.executable} is in no virtualenv or conda environment to activate by default; set "
        "executor.options.env_command (a shell line, e.g. 'source /path/to/venv/bin/activate' or "
        "'module load python/3.11 && source ...'), executor.options.venv_path (a venv's bin/activate) or "
        "executor.options.condaenv"
    )


def slurm_options(config: ExecutorConfig, job_name: str) -> dict:
    """``SlurmPipelineExecutor`` keyword arguments from ``config.options`` with our defaults: ``job_name``, 24 h,
    partition ``cpu``, the environment activation (:func:`slurm_environment`)."""
    options = {k: v for k, v in config.options.items() if k not in SLURM_ENV_OPTIONS}
    options.setdefault("job_name", job_name)
    options.setdefault("time", "24:00:00")
    options.setdefault("partition", "cpu")
    options.update(slurm_environment(config.options))
    return options


def ray_init(config: ExecutorConfig) -> None:
    """Connect to the Ray cluster at ``config.ray_address`` (or ``$RAY_ADDRESS``), or start a local Ray instance,
    unless this process is connected already."""
    import ray

    if ray.is_initialized():
        return
    address = config.ray_address or os.environ.get("RAY_ADDRESS") or None
    ray.init(address=address, log_to_driver=False)


def datatrove_executor(config: ExecutorConfig, pipeline: list, tasks: int, logging_dir: str, job_name: str):
    """The datatrove executor of ``config.kind`` for ``pipeline`` (any datatrove steps) with ``tasks`` tasks."""
    options = dict(config.options)
    if config.kind == "datatrove-local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(
            pipeline=pipeline, tasks=tasks, workers=config.workers, logging_dir=logging_dir, **options
        )
    if config.kind == "datatrove-slurm":
        from datatrove.executor import SlurmPipelineExecutor

        options = slurm_options(config, job_name)
        return SlurmPipelineExecutor(pipeline=pipeline, tasks=tasks, logging_dir=logging_dir, **options)
    if config.kind == "datatrove-ray":
        from datatrove.executor import RayPipelineExecutor

        ray_init(config)
        return RayPipelineExecutor(
            pipeline=pipeline, tasks=tasks, workers=config.workers, logging_dir=logging_dir, **options
        )
    raise ValueError(f"{config.kind!r} is not a datatrove executor")


_POOLS: dict[tuple[int, int], object] = {}


def local_pool(workers: int):
    """The ``local`` executor's process pool of ``workers`` processes, forked once per driver process and reused by
    every stage: its workers keep their imports, loaded kernels and models between stages (a pool per stage paid
    those again at each stage). :func:`close_pools` ends it."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    key = (os.getpid(), workers)
    if key not in _POOLS:
        _POOLS[key] = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
    return _POOLS[key]


def close_pools(kill: bool = False) -> None:
    """Shut down this process's pools (the pipeline calls it when a run ends or fails); ``kill`` terminates their
    workers first (a stage that timed out or was interrupted must not wait for a task that may never end)."""
    for key in [k for k in _POOLS if k[0] == os.getpid()]:
        pool = _POOLS.pop(key)
        if kill:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
        pool.shutdown(wait=not kill, cancel_futures=True)


def run_tasks(
    config: ExecutorConfig,
    work: Callable[[int], None],
    tasks: Sequence[int],
    is_done: Callable[[int], bool],
    logging_root: str | Path,
    name: str,
    desc: str = "",
) -> None:
    """Run ``work(task)`` for the tasks that are not ``is_done`` yet on the configured engine; wait until all are
    done. ``logging_root`` holds datatrove's logs (one folder per attempt)."""
    from tqdm.auto import tqdm

    todo = [t for t in tasks if not is_done(t)]
    if not todo:
        return
    if config.kind == "local":
        if config.workers == 1:
            for task in tqdm(todo, desc=desc or name, unit="task"):
                work(task)
        else:
            pool = local_pool(config.workers)
            try:
                list(
                    tqdm(
                        pool.map(work, todo, timeout=config.timeout_s), total=len(todo), desc=desc or name, unit="task"
                    )
                )
            except BaseException as exc:
                close_pools(kill=True)  # a broken, timed-out or interrupted pool is not reused
                if isinstance(exc, TimeoutError):
                    raise TimeoutError(
                        f"{name}: tasks still running after executor.timeout_s={config.timeout_s} s"
                    ) from None
                raise
    else:
        from trl_dsm.mining.steps import TaskStep

        n_tasks = min(config.tasks or len(todo), len(todo))
        # A fresh logging dir per attempt: datatrove skips ranks it logged as complete, and the set of tasks
        # (hence what a rank means) differs between attempts.
        logging_dir = os.path.join(str(logging_root), f"{name}-{time.time_ns()}")
        executor = datatrove_executor(config, [TaskStep(work, todo)], n_tasks, logging_dir, f"trl-dsm-{name}")
        executor.run()
    deadline = time.monotonic() + config.timeout_s
    while True:  # Slurm returns after submitting; the others after finishing
        missing = [t for t in todo if not is_done(t)]
        if not missing:
            return
        if config.kind != "datatrove-slurm" or time.monotonic() > deadline:
            raise RuntimeError(
                f"{name}: {len(missing)} task(s) did not finish (first: {missing[:5]}); "
                f"see the logs under {logging_root} and rerun to resume"
            )
        time.sleep(config.poll_s)
