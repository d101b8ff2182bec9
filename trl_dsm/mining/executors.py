# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The datatrove executors that run the stages of a mining run (§2.1): local (this machine, in this process or a
process pool), Slurm and Ray.

:func:`run_stage` runs one stage, a list of datatrove steps, with as many tasks as it has units to do (at most
``executor.tasks``); the steps tell a unit done by its output, so a stage can repeat after a crash and the driver
checks completion by looking at the outputs. This module knows nothing of the pipeline.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path


KINDS = ("local", "datatrove-slurm", "datatrove-ray")
#: Other names accepted in YAML and on the command line.
ALIASES = {"datatrove-local": "local", "ray": "datatrove-ray", "slurm": "datatrove-slurm"}


@dataclass
class ExecutorConfig:
    """``kind``: ``local`` (or ``datatrove-local``: datatrove's ``LocalPipelineExecutor``, in this process, or a
    forked process pool when ``workers`` > 1), ``datatrove-slurm`` (or ``slurm``) or ``datatrove-ray`` (or ``ray``).
    ``tasks`` caps the datatrove tasks per stage (default: one per unit, e.g. shard); ``options`` go to the datatrove executor (e.g. Slurm ``partition``, ``time``,
    ``max_array_size``, ``env_command``; Ray ``cpus_per_task``, ``mem_per_cpu_gb``). Slurm's sbatch scripts
    activate the running interpreter's virtualenv or conda environment unless ``options`` say how
    (:func:`slurm_environment`)."""

    kind: str = "local"
    workers: int = 1
    tasks: int | None = None
    options: dict = field(default_factory=dict)
    #: Hard bound on a stage, seconds: waiting for Slurm's asynchronous jobs, and a local stage (its pool's workers
    #: are killed when it passes).
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


def _cached_lib_dirs() -> None:
    """Memoize loguru's list of library folders (``ExceptionFormatter._get_lib_dirs``, keyed by ``sys.path``).

    datatrove adds and removes loguru handlers three times per task, and every handler recomputes that list from
    ``sysconfig`` (~12 ms on Python 3.11): 0.5 s of a 40-task stage that does nothing, and ~5 s of a 100k-page run
    (benchmarks/mining_executor.py). The list depends only on ``sys.path`` and the interpreter's install scheme, so
    the cached list is the same list. Where loguru has no such method (another version), nothing changes."""
    from loguru import _better_exceptions

    formatter = getattr(_better_exceptions, "ExceptionFormatter", None)
    compute = getattr(formatter, "_get_lib_dirs", None)
    if compute is None or getattr(compute, "_trl_dsm_cached", False):
        return
    cache: dict[tuple[str, ...], list[str]] = {}

    def lib_dirs() -> list[str]:
        key = tuple(sys.path)
        if key not in cache:
            cache[key] = compute()
        return list(cache[key])

    lib_dirs._trl_dsm_cached = True
    formatter._get_lib_dirs = staticmethod(lib_dirs)


#: The forked process pool shared by the stages of a run: ``(driver pid, workers, pool)``.
_POOL: tuple | None = None
#: This pool worker's local rank (0 logs at INFO to stderr, the others at ERROR, as datatrove's own pool).
_LOCAL_RANK = 0
#: The executor of the stage this pool worker last ran a rank of: ``(stage key, executor)``.
_WORKER_STAGE: tuple | None = None
#: The index of the next rank of the pool's current stage, shared by the driver and its workers (shared memory
#: made before the fork; the driver sets it to 0 before a stage).
_NEXT_TASK = None


#: ``set_num_threads`` entry points of the OpenBLAS builds numpy and scipy load (``scipy-openblas`` renames them).
OPENBLAS_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads")


def limit_openblas_threads(threads: int) -> list[str]:
    """Set every OpenBLAS library loaded in this process (``/proc/self/maps``) to ``threads`` threads; returns the
    libraries set (none where there is no ``/proc``).

    A pool worker is one of ``workers`` processes on the machine's cores: OpenBLAS's own threads (one per core by
    default, started when numpy is imported) would run beside the other workers, and after each call they keep
    spinning for a while. A single matrix-vector product per task (``lsh_params``) made them take half the other
    worker's core: ``lsh_buckets`` with 2 workers took 0.65 s against 0.30 s with one thread each (100k pages, 2
    cores, benchmarks/mining_scale.py)."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            paths = {
                line.split(None, 5)[5].strip() for line in f if "openblas" in line.lower() and line.count(" ") >= 5
            }
    except OSError:
        return []
    done = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in OPENBLAS_SETTERS if hasattr(lib, n)), None)
        if setter is not None:
            setter(ctypes.c_int(threads))
            done.append(path)
    return done


def limit_native_threads(threads: int) -> None:
    """A pool worker's share of the cores for the native thread pools its tasks use: OpenBLAS
    (:func:`limit_openblas_threads`) and Arrow's CPU pool (parquet decoding, compute kernels), which otherwise
    start one thread per core in every worker."""
    import pyarrow

    limit_openblas_threads(threads)
    pyarrow.set_cpu_count(threads)


def _pool_worker_init(next_rank, threads: int) -> None:
    global _LOCAL_RANK
    with next_rank.get_lock():
        _LOCAL_RANK = next_rank.value
        next_rank.value += 1
    limit_native_threads(threads)


def _pool_run_ranks(task: tuple[str, bytes, list[int]]) -> list:
    """A pool worker's part of a stage: the ranks it takes, one at a time, from the pool's shared counter until none
    is left (as balanced as one message per rank, without the driver's threads waking for every rank and taking a
    worker's core each time); returns their stats. The stage's executor is unpickled once per worker and stage
    (``dill``, as datatrove's own pool), and each rank gets fresh steps, as in datatrove."""
    import dill

    global _WORKER_STAGE
    key, payload, ranks = task
    if _WORKER_STAGE is None or _WORKER_STAGE[0] != key:
        _WORKER_STAGE = (key, dill.loads(payload))
    executor = _WORKER_STAGE[1]
    stats = []
    while True:
        with _NEXT_TASK.get_lock():
            i = _NEXT_TASK.value
            _NEXT_TASK.value = i + 1
        if i >= len(ranks):
            return stats
        pipeline = executor.pipeline
        executor.pipeline = deepcopy(pipeline)
        try:
            stats.append(executor._run_for_rank(ranks[i], _LOCAL_RANK))
        finally:
            executor.pipeline = pipeline


def shared_pool(workers: int):
    """The run's process pool of ``workers`` workers, forked from this process at its first use (after the driver's
    imports and ``stages.preload``) and reused by every later stage: forking per stage costs a fork of the whole
    driver and copy-on-write faults in every stage's fresh workers (benchmarks/mining_scale.py).

    The objects alive at the fork are frozen out of the cyclic garbage collector (``gc.freeze``) until the pool
    closes: a full collection, in a worker or in the driver, writes to the header of every object it scans, which
    copies every page of the driver's heap that the processes still share (the driver's import of ``jinja2`` for
    the dataset card took 0.13 s beside the pool against 0.03 s, a 100k-page ingest stage 62k page faults in the
    workers against 38k)."""
    import multiprocessing

    global _POOL, _NEXT_TASK
    if _POOL is not None and _POOL[0] == os.getpid() and _POOL[1] == workers:
        return _POOL[2]
    close_shared_pool()
    ctx = multiprocessing.get_context("fork")
    _NEXT_TASK = ctx.Value("q", 0)
    gc.freeze()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = max(1, cores // workers)  # each worker's share of the cores, for OpenBLAS and Arrow
    _POOL = (os.getpid(), workers, ctx.Pool(workers, _pool_worker_init, (ctx.Value("i", 0), threads)))
    return _POOL[2]


def close_shared_pool() -> None:
    """Stop the shared pool's workers (after a failed or timed-out stage, and at the end of a run)."""
    global _POOL
    if _POOL is not None and _POOL[0] == os.getpid():
        _POOL[2].terminate()
        _POOL[2].join()
        gc.unfreeze()
    _POOL = None


def _local_executor_class():
    global InProcessExecutor
    if "InProcessExecutor" in globals():
        return InProcessExecutor

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.utils.stats import PipelineStats

    class InProcessExecutor(LocalPipelineExecutor):
        """datatrove's ``LocalPipelineExecutor`` whose ``run`` does the ranks in this process (1 worker) or in the
        run's forked process pool (:func:`shared_pool`; with ``start_method`` other than fork, datatrove's own
        ``run``). datatrove's pool starts a ``multiprocess`` manager per stage (a server process that outlives a
        killed driver, holding its stdout) and unpickles the executor, pipeline included, for every task: with
        loguru's handler cost, ~13 ms per task against ~1 ms here (40 empty tasks: 0.5-0.7 s against 0.04-0.09 s
        on the 2-core dev machine). The ranks, logs, completion markers and merged stats are datatrove's."""

        def run(self):
            if self.workers != 1 and self.start_method != "fork":
                return super().run()
            self._launched = True
            ranks = self.get_incomplete_ranks(range(self.local_rank_offset, self.local_rank_offset + self.local_tasks))
            if not ranks:
                return PipelineStats()
            self.save_executor_as_json()
            if self.workers == 1:
                stats = []
                pipeline = self.pipeline
                for rank in ranks:
                    self.pipeline = deepcopy(pipeline)  # as datatrove: each rank gets fresh steps
                    try:
                        stats.append(self._run_for_rank(rank))
                    finally:
                        self.pipeline = pipeline
            else:
                import dill

                key, payload = f"{os.getpid()}-{time.time_ns()}", dill.dumps(self)
                try:
                    pool = shared_pool(self.workers)
                    with _NEXT_TASK.get_lock():
                        _NEXT_TASK.value = 0
                    jobs = [(key, payload, list(ranks))] * min(self.workers, len(ranks))  # one per worker
                    stats = [s for part in pool.imap_unordered(_pool_run_ranks, jobs) for s in part]
                except BaseException:
                    close_shared_pool()  # a failed, stuck or interrupted rank: its worker goes with the pool
                    raise
            merged = sum(stats, start=PipelineStats())
            with self.logging_dir.open("stats.json", "wt") as f:
                merged.save_to_disk(f)
            return merged

    InProcessExecutor.__module__ = __name__
    InProcessExecutor.__qualname__ = "InProcessExecutor"
    return InProcessExecutor


def local_executor(**kwargs):
    """datatrove's ``LocalPipelineExecutor`` (``kwargs`` are its arguments) with a leaner ``run``
    (``InProcessExecutor``) and loguru's per-handler cost cached (:func:`_cached_lib_dirs`)."""
    _cached_lib_dirs()
    return _local_executor_class()(**kwargs)


def datatrove_executor(config: ExecutorConfig, pipeline: list, tasks: int, logging_dir: str, job_name: str):
    """The datatrove executor of ``config.kind`` for ``pipeline`` (any datatrove steps) with ``tasks`` tasks."""
    options = dict(config.options)
    if config.kind == "local":
        options.setdefault("start_method", "fork")  # workers inherit the driver's imports and loaded kernels
        return local_executor(
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


@contextlib.contextmanager
def deadline(seconds: float, name: str):
    """Raise ``TimeoutError`` in this (main) thread once ``seconds`` have passed (SIGALRM): the hard bound of a local
    stage. Leaving datatrove's process pool by the exception terminates its workers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"{name}: tasks still running after executor.timeout_s={seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_stage(
    config: ExecutorConfig,
    pipeline: list,
    units: int,
    missing: Callable[[], list],
    logging_root: str | Path,
    name: str,
) -> None:
    """Run ``pipeline`` (datatrove steps that do ``units`` units of work, ``rank::world_size`` each) on the
    configured datatrove executor with ``min(executor.tasks, units)`` tasks and wait until ``missing()`` is empty
    (Slurm returns after submitting: its outputs are polled, at most ``timeout_s``). ``logging_root`` holds
    datatrove's logs, one folder per attempt (datatrove skips ranks it logged complete, and what a rank means
    differs between attempts)."""
    if not units:
        return
    tasks = min(config.tasks or units, units)
    logging_dir = os.path.join(str(logging_root), f"{name}-{time.time_ns()}")
    executor = datatrove_executor(config, pipeline, tasks, logging_dir, f"trl-dsm-{name}")
    if config.kind == "local":
        with deadline(config.timeout_s, name):
            executor.run()
    else:
        executor.run()
    bound = time.monotonic() + config.timeout_s
    while True:
        left = missing()
        if not left:
            return
        if config.kind != "datatrove-slurm" or time.monotonic() > bound:
            raise RuntimeError(
                f"{name}: {len(left)} unit(s) did not finish (first: {left[:5]}); "
                f"see the logs under {logging_dir} and rerun to resume"
            )
        time.sleep(config.poll_s)
