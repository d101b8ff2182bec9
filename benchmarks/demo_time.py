# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Wall time of the default ``trl-dsm demo`` on this machine, idle and beside CPU-bound jobs, against the figure
the command states (``trl_dsm.demo.timing.expected_time_text``).

    python benchmarks/demo_time.py [--burners 0 2] [--autogroup-nice -20] [--set threads=1 ...]

Each run is a fresh ``trl-dsm demo`` in a temporary output directory; burners are ``python3 -c 'while True:
pass'`` processes started before it and killed after it, beside it (as jobs a user starts beside the
demo). ``--autogroup-nice`` runs everything in its own session with that autogroup nice, so that other sessions'
jobs on a shared machine take little of the CPU (Linux ``sched_autogroup``; negative values need CAP_SYS_NICE).
Prints, per burner count, the wall seconds, the ratio to the stated idle and loaded figures, the 1-minute load
before and after, and the banner's thread line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _autogroup import rerun_in_own_autogroup  # benchmarks/_autogroup.py, beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burners", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--autogroup-nice", type=int, default=None)
    parser.add_argument("--set", nargs="*", default=[], help="FIELD=VALUE overrides passed to trl-dsm demo --set")
    parser.add_argument("--timeout", type=float, default=3 * 3600)
    args = parser.parse_args()
    rerun_in_own_autogroup(args.autogroup_nice)

    from trl_dsm.demo.timing import EXPECTED_TOTAL_SECONDS, LOADED_FACTOR, expected_time_text

    stated = EXPECTED_TOTAL_SECONDS["default"]
    print(f"stated: {expected_time_text()} ({stated:.0f} s idle, {LOADED_FACTOR * stated:.0f} s loaded)", flush=True)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    for count in args.burners:
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
        try:
            with tempfile.TemporaryDirectory(prefix="demo-time-") as tmp:
                cmd = [sys.executable, "-m", "trl_dsm.cli", "demo", "--output-dir", os.path.join(tmp, "out")]
                if args.set:
                    cmd += ["--set", *args.set]
                load_before = os.getloadavg()[0]
                start = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
                seconds = time.perf_counter() - start
                if proc.returncode:
                    raise SystemExit(f"trl-dsm demo exited {proc.returncode}:\n{proc.stderr[-3000:]}")
                banner = next((line for line in proc.stdout.splitlines() if "torch thread" in line), "")
                results = json.loads((Path(tmp) / "out" / "results.json").read_text())
                chosen: dict[int, int] = {}
                for _, n, _ in results.get("thread_choices", []):
                    chosen[n] = chosen.get(n, 0) + 1
        finally:
            for p in burners:
                p.kill()
                p.wait()
        reference = stated * (LOADED_FACTOR if count else 1.0)
        print(
            json.dumps(
                {
                    "burners": count,
                    "seconds": round(seconds, 1),
                    "stated_s": round(reference),
                    "x_stated": round(seconds / reference, 2),
                    "x_stated_idle": round(seconds / stated, 2),
                    "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                    "threads": banner.strip(),
                    "thread_choices": {f"{n} threads": c for n, c in sorted(chosen.items())},
                    "stage_seconds": results["timings"],
                    "set": args.set,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
