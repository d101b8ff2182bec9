# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Run (or resume) a small mining run on the shared web pages; used by tests/test_mining_pipeline.py and
tests/test_mining_executors.py.

usage: python tests/scripts/mining_run.py OUTPUT_DIR CONFIG_JSON [STAGE:N]

With ``STAGE:N`` this driver process is SIGKILLed once N tasks of ``STAGE`` have completed (fault injection: a
killed run must resume with nothing lost or duplicated). The hook is a :class:`StageTask` subclass defined here, in
``__main__``: the in-process ``local`` executor calls it directly, and Ray ships it to its workers by value
(cloudpickle), where it counts completed tasks with marker files and kills the driver by its pid (a local cluster).
"""

import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trl_dsm.mining import pipeline, stages  # noqa: E402
from trl_dsm.mining.pipeline import MiningConfig, MiningPipeline  # noqa: E402


@dataclass(frozen=True)
class KillingStageTask(stages.StageTask):
    """A stage task that SIGKILLs ``driver_pid`` once ``count`` tasks of ``kill_stage`` have completed (counted by
    marker files in ``marks_dir``, so tasks in several worker processes count together)."""

    kill_stage: str = ""
    count: int = 1
    driver_pid: int = 0
    marks_dir: str = ""

    def __call__(self, task: int) -> None:
        super().__call__(task)
        if self.stage == self.kill_stage:
            marks = Path(self.marks_dir)
            marks.mkdir(parents=True, exist_ok=True)
            (marks / f"{self.stage}-{self.iteration}-{task}").touch()
            if len(list(marks.iterdir())) >= self.count:
                os.kill(self.driver_pid, signal.SIGKILL)


def kill_after(stage: str, count: int, marks_dir: str) -> None:
    """Make the pipeline hand :class:`KillingStageTask` to its executor."""

    def make(run_dir: str, stage_name: str, iteration: int = 0) -> KillingStageTask:
        return KillingStageTask(run_dir, stage_name, iteration, stage, count, os.getpid(), marks_dir)

    pipeline.StageTask = make


if __name__ == "__main__":
    config = MiningConfig.from_dict(json.loads(sys.argv[2]))
    config.output_dir = sys.argv[1]
    if len(sys.argv) > 3:
        stage, _, count = sys.argv[3].partition(":")
        kind = config.executor.kind
        if not (kind == "datatrove-ray" or (kind == "local" and config.executor.workers == 1)):
            raise SystemExit("fault injection needs the in-process local executor (1 worker) or Ray")
        kill_after(stage, int(count or 1), str(Path(sys.argv[1]).with_name(Path(sys.argv[1]).name + ".faults")))
    result = MiningPipeline(config).run()
    print(json.dumps({"documents_out": result.stats["documents_out"]}))
