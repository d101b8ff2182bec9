# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Run (or resume) a small mining run on the shared web pages; used by tests/test_mining_pipeline.py and
tests/test_mining_executors.py.

usage: python tests/scripts/mining_run.py OUTPUT_DIR CONFIG_JSON [STAGE:N]

With ``STAGE:N`` this driver process is SIGKILLed once N units of ``STAGE`` have completed (fault injection: a
killed run must resume with nothing lost or duplicated). The hook is a subclass of the stage's datatrove step
defined here, in ``__main__``, that the driver runs in place of the stage's own: the in-process local executor
runs it directly, and Ray ships it to its workers by value (cloudpickle), where it counts completed units with
marker files and kills the driver by its pid (a local cluster).
"""

import json
import os
import signal
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trl_dsm.mining import pipeline, stages  # noqa: E402
from trl_dsm.mining.pipeline import MiningConfig, MiningPipeline  # noqa: E402


def kill_after(stage: str, count: int, marks_dir: str) -> None:
    """Make the driver run a subclass of ``stage``'s step that SIGKILLs this process once ``count`` units of the
    stage have completed (counted by marker files in ``marks_dir``, so units in several worker processes count
    together)."""
    names = [n for n in dir(stages) if n.endswith("Step") and getattr(getattr(stages, n), "name", None) == stage]
    base = getattr(stages, names[0])
    driver_pid = os.getpid()

    class KillingStep(base):
        def process(self, run, config, i):
            super().process(run, config, i)
            marks = Path(marks_dir)
            marks.mkdir(parents=True, exist_ok=True)
            (marks / f"{stage}-{self.iteration}-{i}").touch()
            if len(list(marks.iterdir())) >= count:
                os.kill(driver_pid, signal.SIGKILL)

    KillingStep.__name__ = KillingStep.__qualname__ = f"Killing{base.__name__}"
    setattr(pipeline, names[0], KillingStep)


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
