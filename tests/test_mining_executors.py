# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm mine`` on datatrove's Ray and Slurm executors (issue #16, §2.1).

* Ray (slow; skipped without ``ray[default]``): a local 2-CPU Ray cluster, started and stopped by the fixture (token
  auth, as ray 2.60 enables by default), runs the stages through ``RayPipelineExecutor``; the output equals the
  local executor's, and a driver SIGKILLed mid-stage resumes to the same output.
* Slurm, without a cluster: stand-in ``sbatch``/``srun``/``scontrol`` on ``PATH``. The generated sbatch scripts are
  checked (environment activation, array splitting above ``max_array_size``, dependencies); a run whose stand-in
  ``sbatch`` executes the array tasks gives the local executor's output (slow).

Every subprocess has a hard timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.test_mining_pipeline import small_run_config
from trl_dsm.mining.stages import RunStep as RunStepBase


ROOT = Path(__file__).resolve().parents[1]
SCRIPT = [sys.executable, str(ROOT / "tests" / "scripts" / "mining_run.py")]
#: Two datatrove tasks per stage, two at a time, 1 GB reserved each (datatrove's default is 2 GB per CPU).
RAY_EXECUTOR = {"kind": "ray", "workers": 2, "tasks": 2, "options": {"mem_per_cpu_gb": 1}}
RUN_TIMEOUT_S = 900


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_group(pgid: int, grace_s: float = 10.0) -> None:
    """SIGTERM the process group the fixture started (the Ray head and its workers), SIGKILL what is left."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray head with 2 CPUs in its own process group (stopped by killing that group, not ``ray stop``,
    which would stop every Ray on the machine); yields the environment that connects to it."""
    pytest.importorskip("ray")
    temp_dir = tempfile.mkdtemp(prefix="ray-")  # short: Ray's socket paths must fit in 107 bytes
    port = _free_port()
    env = dict(
        os.environ,
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=uuid.uuid4().hex,
        RAY_USAGE_STATS_ENABLED="0",
        TQDM_DISABLE="1",
        HF_HUB_OFFLINE="1",
    )
    head = [
        sys.executable,
        "-m",
        "ray.scripts.scripts",
        "start",
        "--head",
        "--num-cpus=2",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        f"--temp-dir={temp_dir}",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--ray-client-server-port={_free_port()}",
        f"--dashboard-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--dashboard-agent-grpc-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
        f"--runtime-env-agent-port={_free_port()}",
    ]
    proc = subprocess.Popen(head, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pgid = proc.pid  # a new session: the head's processes and Ray's workers share this group id
    try:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out.decode()[-3000:]
        yield dict(env, RAY_ADDRESS=f"127.0.0.1:{port}")
    finally:
        if proc.poll() is None:
            proc.kill()
        _stop_group(pgid)
        shutil.rmtree(temp_dir, ignore_errors=True)


_config = small_run_config


def _run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, timeout=RUN_TIMEOUT_S, cwd=ROOT)


def _outputs(run: Path) -> tuple[list[dict], dict, list[dict], list[str]]:
    """Export rows, stats (without timings), cluster report and annotation files of a finished run."""
    import pyarrow.parquet as pq

    rows = [r for f in sorted((run / "export" / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    stats = json.loads((run / "stats.json").read_text())
    stats.pop("seconds")
    parts = sorted((run / "dedup" / "clusters").glob("part-*.jsonl"))  # by smallest row: in order, every cluster
    clusters = [json.loads(line) for part in parts for line in part.read_text().splitlines()]
    annotations = [p.read_text() for p in sorted(run.glob("iter_*/annotations.jsonl"))]
    return rows, stats, clusters, annotations


@pytest.fixture(scope="module")
def local_reference(shared_data, tmp_path_factory):
    """The same run on the in-process local executor."""
    out = tmp_path_factory.mktemp("local") / "run"
    env = dict(os.environ, TQDM_DISABLE="1", HF_HUB_OFFLINE="1")
    done = _run([*SCRIPT, str(out), json.dumps(_config(shared_data))], env)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return _outputs(out)


@pytest.mark.slow
def test_ray_cli_run_equals_local(ray_cluster, shared_data, local_reference, tmp_path):
    import yaml

    recipe = tmp_path / "ray.yaml"
    recipe.write_text(yaml.safe_dump({**_config(shared_data, RAY_EXECUTOR), "output_dir": str(tmp_path / "ray")}))
    done = _run([sys.executable, "-m", "trl_dsm.cli", "mine", "--config", str(recipe)], ray_cluster)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    rows, stats, clusters, annotations = _outputs(tmp_path / "ray")
    assert len(rows) > 0 and len(annotations) == 1
    assert (rows, stats, clusters, annotations) == local_reference
    # the stages ran as Ray tasks: datatrove's Ray executor logged 2 completed ranks per stage
    scoring = list((tmp_path / "ray" / "datatrove").glob("score-1-*"))
    assert len(scoring) == 1 and json.loads((scoring[0] / "executor.json").read_text())["tasks"] == 2
    assert sorted(p.name for p in (scoring[0] / "completions").iterdir()) == ["00000", "00001"]


@pytest.mark.slow
def test_ray_killed_driver_resumes_with_nothing_lost_or_duplicated(
    ray_cluster, shared_data, local_reference, tmp_path
):
    config = json.dumps(_config(shared_data, RAY_EXECUTOR))
    run = tmp_path / "ray"
    killed = _run([*SCRIPT, str(run), config, "score:2"], ray_cluster)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-3000:]
    done_scores = sorted(p.name for p in (run / "iter_1" / "scores").glob("shard-*.npy"))
    assert 2 <= len(done_scores) < 4  # killed in iteration 1's scoring, with shards left to score
    assert not (run / "export").exists()
    resumed = _run([*SCRIPT, str(run), config], ray_cluster)
    assert resumed.returncode == 0, resumed.stderr.decode()[-3000:]
    rows, stats, clusters, annotations = _outputs(run)
    assert len({r["id"] for r in rows}) == len(rows) > 0
    assert (rows, stats, clusters, annotations) == local_reference


# -- Slurm

#: A stand-in ``sbatch``: records each call (argv, script) under $SBATCH_RECORD and prints a job id; with
#: $SBATCH_EXECUTE=1 it runs the script once per array index, as Slurm would (sequentially, here).
SBATCH = r"""#!{python}
import json, os, re, subprocess, sys
from pathlib import Path

record = Path(os.environ["SBATCH_RECORD"])
record.mkdir(parents=True, exist_ok=True)
job = len(list(record.glob("*.json"))) + 1
args, script = sys.argv[1:-1], Path(sys.argv[-1]).read_text()
(record / f"{{job:03d}}.json").write_text(json.dumps({{"args": args, "script": script}}))
if os.environ.get("SBATCH_EXECUTE") == "1":
    env = dict(os.environ, SLURM_JOB_ID=str(job), SLURM_NODELIST="localhost")
    for arg in args:
        if arg.startswith("--export=ALL,"):
            env.update(kv.split("=", 1) for kv in arg[len("--export=ALL,"):].split(","))
    array = re.search(r"^#SBATCH --array=0-(\d+)", script, re.M)
    for index in range(int(array.group(1)) + 1 if array else 1):
        if array:
            env["SLURM_ARRAY_TASK_ID"] = str(index)
        subprocess.run(["bash", sys.argv[-1]], env=env, check=True, timeout=600)
print(f"Submitted batch job {{job}}")
"""
#: ``srun [options] command...`` -> ``command...``; ``scontrol show hostnames X`` -> ``X``.
SRUN = """#!/bin/bash
while [ "${1#-}" != "$1" ]; do if [ "$1" = "-n" ]; then shift; fi; shift; done
exec "$@"
"""
SCONTROL = """#!/bin/bash
echo "$3"
"""


def _stand_in_slurm(tmp_path: Path, monkeypatch) -> Path:
    """Put stand-in ``sbatch``, ``srun`` and ``scontrol`` first on ``PATH``; returns the record folder."""
    bin_dir = tmp_path / "slurm-bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", SBATCH.format(python=sys.executable)), ("srun", SRUN), ("scontrol", SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_RECORD", str(tmp_path / "sbatch"))
    return tmp_path / "sbatch"


def _submissions(record: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(record.glob("*.json"))]


def _fake_venv(tmp_path: Path, monkeypatch) -> Path:
    """Make the running interpreter look like it runs in a virtualenv at ``tmp_path/venv``."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text("# activate\n")
    monkeypatch.setattr(sys, "prefix", str(venv))
    return venv


def test_slurm_scripts_activate_the_env_and_split_arrays(tmp_path, monkeypatch):
    from trl_dsm.mining.executors import ExecutorConfig, datatrove_executor
    from trl_dsm.mining.stages import ScoreStep

    record = _stand_in_slurm(tmp_path, monkeypatch)
    venv = _fake_venv(tmp_path, monkeypatch)
    config = ExecutorConfig(kind="slurm", options={"max_array_size": 2, "workers": 1})
    logs = tmp_path / "logs"
    executor = datatrove_executor(config, [ScoreStep(tmp_path / "run", 1, range(5))], 5, str(logs), "trl-dsm-score-1")
    executor.run()  # renders the script and submits it: 5 tasks in arrays of 2 -> 3 array jobs, then merge_stats
    subs = _submissions(record)
    assert [s["args"] for s in subs] == [
        ["--export=ALL,RUN_OFFSET=0"],
        ["--export=ALL,RUN_OFFSET=1", "--dependency=afterany:1"],
        ["--export=ALL,RUN_OFFSET=2", "--dependency=afterany:2"],
        [],
    ]
    script = subs[0]["script"]
    assert all(s["script"] == script for s in subs[:3])
    slurm_logs = logs / "slurm_logs" / "%A_%a.out"
    assert script.splitlines() == [
        "#!/bin/bash",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --mem-per-cpu=2G",
        "#SBATCH --nodes=1",
        "#SBATCH --partition=cpu",
        "#SBATCH --job-name=trl-dsm-score-1",
        "#SBATCH --time=24:00:00",
        f"#SBATCH --output={slurm_logs}",
        f"#SBATCH --error={slurm_logs}",
        "#SBATCH --array=0-1%1",
        "#SBATCH --requeue",
        "#SBATCH --qos=normal",
        'echo "Starting data processing job trl-dsm-score-1"',
        f"source {venv}/bin/activate",
        "set -xe",
        "export PYTHONUNBUFFERED=TRUE",
        f"srun  -l -n 1 launch_pickled_pipeline {logs}/executor.pik",
    ]
    merge = subs[3]["script"].splitlines()
    assert "#SBATCH --dependency=afterok:3" in merge and f"source {venv}/bin/activate" in merge
    assert merge[-1] == f"merge_stats {logs}/stats -o {logs}/stats.json"
    assert json.loads((logs / "ranks_to_run.json").read_text()) == [0, 1, 2, 3, 4]


def test_slurm_environment_defaults_and_refusal(tmp_path, monkeypatch):
    from trl_dsm.mining.executors import slurm_environment
    from trl_dsm.mining.pipeline import MiningConfig, MiningPipeline

    explicit = {"env_command": "module load python && source /opt/env/bin/activate"}
    assert slurm_environment(explicit) == explicit  # the user's line wins
    venv = _fake_venv(tmp_path, monkeypatch)
    assert slurm_environment({}) == {"venv_path": f"{venv}/bin/activate"}
    conda = tmp_path / "conda env"
    (conda / "conda-meta").mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(conda))
    monkeypatch.setattr(sys, "base_prefix", str(conda))
    assert slurm_environment({}) == {"env_command": f"eval \"$(conda shell.bash hook)\" && conda activate '{conda}'"}
    bare = tmp_path / "python"
    bare.mkdir()
    monkeypatch.setattr(sys, "prefix", str(bare))
    monkeypatch.setattr(sys, "base_prefix", str(bare))
    config = MiningConfig.from_dict({"executor": {"kind": "slurm"}, "output_dir": str(tmp_path / "run")})
    with pytest.raises(ValueError, match=r"executor.options.env_command .*executor.options.venv_path"):
        MiningPipeline(config, documents=["x"], seed_texts=["y"])
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.slow
def test_slurm_stand_in_run_equals_local(shared_data, local_reference, tmp_path, monkeypatch):
    record = _stand_in_slurm(tmp_path, monkeypatch)
    monkeypatch.setenv("SBATCH_EXECUTE", "1")
    bin_dir = Path(sys.executable).parent  # the sbatch script puts this interpreter's scripts on PATH
    executor = {
        "kind": "slurm",
        "tasks": 2,
        "options": {"env_command": f"export PATH={bin_dir}:$PATH", "max_array_size": 1},
        "poll_s": 1.0,
        "timeout_s": 60.0,
    }
    env = dict(os.environ, TQDM_DISABLE="1", HF_HUB_OFFLINE="1")
    done = _run([*SCRIPT, str(tmp_path / "slurm"), json.dumps(_config(shared_data, executor))], env)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert _outputs(tmp_path / "slurm") == local_reference
    subs = _submissions(record)
    launches = [s["args"][0] for s in subs if "launch_pickled_pipeline" in s["script"]]
    merges = [s for s in subs if "merge_stats" in s["script"]]
    # max_array_size 1: a stage of 2 tasks is two array jobs (RUN_OFFSET 0, 1). Stages: ingest (1 input file),
    # reshard (2), prepare (2), url_dedup (1 partition), lsh_buckets (2), lsh_merge (2), components rounds 0-2
    # (1 node partition each), clusters (1), dedup_summary (1), keep (2), cluster_members (2), cluster_report (1),
    # sample (2), score (2), iteration 1's domain discovery: domain_counts (2), domain_merge (1 partition),
    # prefix_counts (2), prefix_pages (2); then sample (2), score (2), final (2)
    offsets = [int(arg.rsplit("=", 1)[1]) for arg in launches]
    stages = [1, 2, 2, 1, 2, 2, 1, 1, 1, 1, 1, 2, 2, 1, 2, 2, 2, 1, 2, 2, 2, 2, 2]
    assert offsets == [offset for tasks in stages for offset in range(tasks)]
    assert len(merges) == len(stages) and len(subs) == len(offsets) + len(merges)
    assert all(f"export PATH={bin_dir}:$PATH" in s["script"] for s in subs)


class _RecordPid(RunStepBase):
    """A stage whose unit ``i`` writes the id of the process that ran it after 0.2 s (long enough for both workers
    of a pool to take units; ``sleep_unit`` sleeps 60 s)."""

    name = "record_pid"
    sleep_unit = -1

    def output(self, run, config, i):
        return Path(self.run_dir) / f"{self.name}-{i}"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        for i in self.units[rank::world_size]:
            time.sleep(60 if i == self.sleep_unit else 0.2)
            self.output(None, None, i).write_text(str(os.getpid()))
        if data:
            yield from data


def test_local_executor_is_datatrove_local_forked_from_the_driver(tmp_path):
    """``executor: local`` runs each stage on datatrove's ``LocalPipelineExecutor``: in the driver's process with 1
    worker, in a pool forked from it with 2 (its workers inherit the driver's imports)."""
    from trl_dsm.mining.executors import ExecutorConfig, close_shared_pool, run_stage

    for workers in (1, 2):
        step = _RecordPid(tmp_path / str(workers), 0, range(6))
        Path(step.run_dir).mkdir()
        missing = lambda s=step: [i for i in range(6) if not s.output(None, None, i).is_file()]  # noqa: E731
        try:
            config = ExecutorConfig(kind="local", workers=workers)
            run_stage(config, [step], 6, missing, tmp_path / "logs", f"w{workers}")
        finally:
            close_shared_pool()
        pids = {step.output(None, None, i).read_text() for i in range(6)}
        if workers == 1:
            assert pids == {str(os.getpid())}
        else:
            assert len(pids) == 2 and str(os.getpid()) not in pids
    runs = sorted((tmp_path / "logs").iterdir())
    assert [json.loads((r / "executor.json").read_text())["workers"] for r in runs] == [1, 2]


def test_local_stage_is_bounded(tmp_path):
    """A unit that never ends: the stage fails at executor.timeout_s with the stuck worker killed, not after it."""
    from trl_dsm.mining.executors import ExecutorConfig, run_stage

    step = _RecordPid(tmp_path, 0, [0, 1])
    step.sleep_unit = 1
    config = ExecutorConfig(kind="local", workers=2, timeout_s=2)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="executor.timeout_s=2"):
        run_stage(config, [step], 2, lambda: [1], tmp_path / "logs", "stage")
    assert time.monotonic() - start < 30  # not the unit's 60 s


def _openblas_threads() -> dict[str, int]:
    """Threads of every OpenBLAS library loaded in this process (from ``/proc/self/maps``)."""
    import ctypes

    with open("/proc/self/maps") as f:
        paths = {line.split(None, 5)[5].strip() for line in f if "openblas" in line.lower() and line.count(" ") >= 5}
    out = {}
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        getters = [n for n in ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_") if hasattr(lib, n)]
        getters += [n for n in ("scipy_openblas_get_num_threads",) if hasattr(lib, n)]
        if getters:
            out[path] = getattr(lib, getters[0])()
    return out


class _RecordThreads(RunStepBase):
    """A stage whose unit ``i`` writes what the process that ran it sees: its pid, OpenBLAS's threads per library,
    Arrow's CPU pool size and the objects frozen out of the garbage collector."""

    name = "record_threads"

    def output(self, run, config, i):
        return Path(self.run_dir) / f"{self.name}-{i}.json"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        import gc

        import pyarrow

        from trl_dsm.mining.rundir import parquet_threads

        for i in self.units[rank::world_size]:
            time.sleep(0.2)  # both workers of a pool take units
            seen = {"pid": os.getpid(), "openblas": _openblas_threads(), "arrow": pyarrow.cpu_count()}
            seen["frozen"], seen["parquet_threads"] = gc.get_freeze_count(), parquet_threads()
            self.output(None, None, i).write_text(json.dumps(seen))
        if data:
            yield from data


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads the loaded libraries from /proc")
def test_pool_workers_get_their_share_of_the_cores(tmp_path):
    """2 workers on this machine's cores: each worker's OpenBLAS libraries (numpy's, scipy's when loaded) and Arrow's
    CPU pool run ``cores // 2`` threads (at least 1; with one, the run directory's parquet readers decode in the
    task's thread), and the driver's objects at the fork are frozen out of the garbage collector there; the driver keeps its own settings, and its objects are unfrozen when the pool closes.
    With 1 worker the tasks run in the driver, which nothing changes."""
    import ctypes
    import gc

    import numpy  # noqa: F401  (loads numpy's OpenBLAS)
    import pyarrow

    from trl_dsm.mining.executors import (
        OPENBLAS_SETTERS,
        ExecutorConfig,
        close_shared_pool,
        limit_openblas_threads,
        run_stage,
    )

    original_blas, original_arrow = _openblas_threads(), pyarrow.cpu_count()
    if not original_blas:
        pytest.skip("numpy here is not built on OpenBLAS (PyPI's wheels are)")
    cores = len(os.sched_getaffinity(0))
    # the driver at more threads than any worker's share (OMP_NUM_THREADS=1 in the tests would hide the limit)
    assert limit_openblas_threads(cores + 1) == sorted(original_blas)
    pyarrow.set_cpu_count(cores + 1)
    driver_blas, driver_arrow = _openblas_threads(), pyarrow.cpu_count()
    assert set(driver_blas.values()) == {cores + 1} and driver_arrow == cores + 1
    for workers in (1, 2):
        step = _RecordThreads(tmp_path / str(workers), 0, range(4))
        Path(step.run_dir).mkdir()
        missing = lambda s=step: [i for i in range(4) if not s.output(None, None, i).is_file()]  # noqa: E731
        try:
            run_stage(ExecutorConfig(kind="local", workers=workers), [step], 4, missing, tmp_path / "logs", "t")
            frozen_beside_pool = gc.get_freeze_count()
        finally:
            close_shared_pool()
        seen = [json.loads(step.output(None, None, i).read_text()) for i in range(4)]
        if workers == 1:
            assert {s["pid"] for s in seen} == {os.getpid()}
            assert all(s["openblas"] == driver_blas and s["arrow"] == driver_arrow for s in seen)
            assert all(s["parquet_threads"] for s in seen)  # the driver's Arrow pool has more than one thread
            assert frozen_beside_pool == 0
        else:
            share = max(1, cores // 2)
            assert len({s["pid"] for s in seen}) == 2 and os.getpid() not in {s["pid"] for s in seen}
            assert all(set(s["openblas"]) >= set(driver_blas) for s in seen)
            assert all(threads == share for s in seen for threads in s["openblas"].values())
            assert all(s["arrow"] == share and s["frozen"] > 1000 for s in seen)
            assert all(s["parquet_threads"] == (share > 1) for s in seen)  # decoding in the task's thread on one
            assert frozen_beside_pool > 1000
        assert gc.get_freeze_count() == 0
        assert _openblas_threads() == driver_blas and pyarrow.cpu_count() == driver_arrow
    for path, threads in original_blas.items():  # as it was, for the tests after this one
        lib = ctypes.CDLL(path)
        next(getattr(lib, n) for n in OPENBLAS_SETTERS if hasattr(lib, n))(threads)
    pyarrow.set_cpu_count(original_arrow)
    assert _openblas_threads() == original_blas


def test_read_rows_decodes_only_the_row_groups_of_the_range(tmp_path, monkeypatch):
    """:func:`read_rows` gives exactly the rows of ``[start, stop)`` and asks parquet for the row groups that hold
    them only; a file of one row group is read whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trl_dsm.mining.rundir import atomic_parquet, read_rows

    table = pa.table({"id": [f"d{i}" for i in range(23)], "text": [f"page {i}" * (i % 4) for i in range(23)]})
    grouped, whole = tmp_path / "grouped.parquet", tmp_path / "whole.parquet"
    atomic_parquet(grouped, table, row_group_size=5)  # groups [0, 5) [5, 10) [10, 15) [15, 20) [20, 23)
    atomic_parquet(whole, table)
    assert pq.ParquetFile(grouped).metadata.num_row_groups == 5 and pq.ParquetFile(whole).metadata.num_row_groups == 1
    asked: list[list[int]] = []
    read_row_groups = pq.ParquetFile.read_row_groups

    def record(self, groups, *args, **kwargs):
        asked.append(list(groups))
        return read_row_groups(self, groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", record)
    cases = {(0, 23): [0, 1, 2, 3, 4], (0, 5): [0], (4, 6): [0, 1], (5, 10): [1], (7, 21): [1, 2, 3, 4], (22, 23): [4]}
    for (start, stop), groups in cases.items():
        asked.clear()
        expected = table.select(["text", "id"]).slice(start, stop - start)
        assert read_rows(grouped, start, stop, ["text", "id"]) == expected
        assert asked == [groups]
        asked.clear()
        assert read_rows(whole, start, stop) == table.slice(start, stop - start)
        assert asked == [[0]]
    asked.clear()
    empty = read_rows(grouped, 7, 7, ["id"])
    assert empty.num_rows == 0 and empty.schema.names == ["id"] and asked == []


def test_reshard_across_row_groups_and_parts(tmp_path):
    """Shards cut across the parts' row groups and across parts get exactly their rows, in order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trl_dsm.mining.documents import COLUMNS
    from trl_dsm.mining.rundir import RunDir, atomic_json, atomic_parquet
    from trl_dsm.mining.stages import reshard_shard, shard_bounds

    run = RunDir(tmp_path / "run")
    part_rows, shards = [11, 0, 7, 20], 6
    rows = [{c: f"{c}-{u}-{r}" for c in COLUMNS} for u, n in enumerate(part_rows) for r in range(n)]
    at = 0
    for unit, n in enumerate(part_rows):
        table = pa.table({c: pa.array([row[c] for row in rows[at : at + n]], pa.string()) for c in COLUMNS})
        atomic_parquet(run.raw(unit), table, row_group_size=3)
        at += n
    total = sum(part_rows)
    bounds = [shard_bounds(total, shards, s) for s in range(shards)]
    offsets = [0, *np.cumsum(part_rows).tolist()]
    meta = {"rows": [b - a for a, b in bounds], "offsets": [a for a, _ in bounds] + [total], "total": total}
    atomic_json(run.shards_meta(), {**meta, "part_rows": part_rows, "part_offsets": offsets})
    for shard in range(shards):
        reshard_shard(run, None, 0, shard)
    got = [r for s in range(shards) for r in pq.read_table(run.doc_shard(s)).to_pylist()]
    assert got == rows
    assert [pq.ParquetFile(run.doc_shard(s)).metadata.num_rows for s in range(shards)] == meta["rows"]


def test_task_config_is_read_once_until_the_file_changes(tmp_path, monkeypatch):
    """Tasks read ``config.json`` once per process; a rewritten file (a resumed run with another executor) is read
    again."""
    from trl_dsm.mining import stages
    from trl_dsm.mining.config import MiningConfig
    from trl_dsm.mining.rundir import RunDir, atomic_json

    run = RunDir(tmp_path / "run")
    atomic_json(run.config(), MiningConfig(output_dir=str(run.root), num_shards=3).to_dict())
    reads = []
    load = RunDir.load_config
    monkeypatch.setattr(RunDir, "load_config", lambda self: reads.append(1) or load(self))
    first = stages.task_config(run)
    assert stages.task_config(RunDir(run.root)) is first and len(reads) == 1 and first.num_shards == 3
    atomic_json(run.config(), MiningConfig(output_dir=str(run.root), num_shards=5).to_dict())
    assert stages.task_config(run).num_shards == 5 and len(reads) == 2


class _ExclusiveUnit(RunStepBase):
    """A stage whose unit ``i`` creates its file exclusively (a unit run twice fails) with the id of its process."""

    name = "exclusive"

    def output(self, run, config, i):
        return Path(self.run_dir) / f"{self.name}-{i}"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        for i in self.units[rank::world_size]:
            time.sleep(0.01)
            with open(self.output(None, None, i), "x") as f:
                f.write(str(os.getpid()))
            self.stat_update("unit")
        if data:
            yield from data


def test_pool_workers_share_the_ranks_of_a_stage(tmp_path):
    """2 workers take the 60 ranks of a stage from a shared counter: every rank runs once, both workers run some,
    and the stage's merged stats count 60 units; a second stage on the same pool starts its counter again."""
    from trl_dsm.mining.executors import ExecutorConfig, close_shared_pool, run_stage

    try:
        for stage in ("a", "b"):
            step = _ExclusiveUnit(tmp_path / stage, 0, range(60))
            Path(step.run_dir).mkdir()
            missing = lambda s=step: [i for i in range(60) if not s.output(None, None, i).is_file()]  # noqa: E731
            run_stage(ExecutorConfig(kind="local", workers=2), [step], 60, missing, tmp_path / "logs", stage)
            pids = [step.output(None, None, i).read_text() for i in range(60)]
            assert len(set(pids)) == 2 and str(os.getpid()) not in pids
            (logs,) = (tmp_path / "logs").glob(f"{stage}-*")
            merged = json.loads((logs / "stats.json").read_text())
            assert sum(s["stats"].get("unit", 0) for s in merged) == 60
    finally:
        close_shared_pool()
