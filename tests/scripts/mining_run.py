# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Run (or resume) a small mining run on the shared web pages; used by tests/test_mining_pipeline.py.

usage: python tests/scripts/mining_run.py OUTPUT_DIR CONFIG_JSON [STAGE:N]

With ``STAGE:N`` the process SIGKILLs itself after its N-th completed task of ``STAGE`` (fault injection: a killed
run must resume with nothing lost or duplicated). The hook wraps the task the executor receives, so it needs the
in-process ``local`` executor.
"""

import json
import os
import signal
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trl_dsm.mining import stages  # noqa: E402
from trl_dsm.mining.pipeline import MiningConfig, MiningPipeline  # noqa: E402


def kill_after(stage: str, count: int) -> None:
    """SIGKILL this process once ``count`` tasks of ``stage`` have completed."""
    run_task = stages.StageTask.__call__
    done = {"n": 0}

    def wrapped(self: stages.StageTask, task: int) -> None:
        run_task(self, task)
        if self.stage == stage:
            done["n"] += 1
            if done["n"] >= count:
                os.kill(os.getpid(), signal.SIGKILL)

    stages.StageTask.__call__ = wrapped


if __name__ == "__main__":
    config = MiningConfig.from_dict(json.loads(sys.argv[2]))
    config.output_dir = sys.argv[1]
    if len(sys.argv) > 3:
        stage, _, count = sys.argv[3].partition(":")
        if config.executor.kind != "local" or config.executor.workers != 1:
            raise SystemExit("fault injection needs executor.kind local with 1 worker")
        kill_after(stage, int(count or 1))
    result = MiningPipeline(config).run()
    print(json.dumps({"documents_out": result.stats["documents_out"]}))
