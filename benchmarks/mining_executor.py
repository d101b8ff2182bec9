# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The local executor's own cost per task (§2.1 mining runs ~400 tasks per 100k pages): a stage of tasks that do
nothing, on datatrove's ``LocalPipelineExecutor`` (the anchor) and on ``trl_dsm.mining.executors.local_executor``
(the same datatrove executor with a leaner ``run`` and loguru's library-folder list cached), 1 and 2 workers.

    python benchmarks/mining_executor.py [--tasks 40] [--repeats 3]

Each setting runs in a fresh process (the loguru cache is process-wide once set); prints the median seconds per
stage and per task, and the ratio to datatrove's ``run`` with the same workers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile


RUNNER = r"""
import json, sys, tempfile, time
from datatrove.pipeline.base import PipelineStep

class Noop(PipelineStep):
    name = "noop"
    def run(self, data, rank=0, world_size=1):
        return iter(())

if __name__ == "__main__":
    kind, workers, tasks, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    if kind == "datatrove":
        from datatrove.executor import LocalPipelineExecutor as make
    else:
        from trl_dsm.mining.executors import local_executor as make
    times = []
    for _ in range(repeats + 1):  # the first: imports and pool start-up
        tic = time.perf_counter()
        make(pipeline=[Noop()], tasks=tasks, workers=workers, logging_dir=tempfile.mkdtemp(), start_method="fork").run()
        times.append(time.perf_counter() - tic)
    print(json.dumps(times[1:]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = f"{tmp}/runner.py"
        with open(script, "w") as f:
            f.write(RUNNER)
        print(f"| executor | workers | s per stage of {args.tasks} empty tasks | ms per task | x datatrove's run |")
        print("|---|---|---|---|---|")
        for workers in (1, 2):
            anchor = None
            for kind in ("datatrove", "trl-dsm"):
                cmd = [sys.executable, script, kind, str(workers), str(args.tasks), str(args.repeats)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                seconds = statistics.median(json.loads(out.stdout.strip().splitlines()[-1]))
                anchor = anchor or seconds
                print(f"| {kind} | {workers} | {seconds:.3f} | {1000 * seconds / args.tasks:.1f} | "
                      f"{seconds / anchor:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
