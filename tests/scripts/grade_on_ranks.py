# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Run under `accelerate launch --num_processes 2`: every rank grades hostile and normal pairs, from the main
thread and from a second thread, and writes what it saw to OUT_DIR/rank{N}.json."""

import json
import sys
import threading
import time
from pathlib import Path

from accelerate import PartialState

from trl_dsm.errors import release_process_group
from trl_dsm.grading import grade_batch
from trl_dsm.grading.bounded import get_pool


PAIRS = [
    (r"\boxed{10^{10^{10^{10}}}}", "1", False),
    (r"\boxed{\int_0^\infty e^{-x^{x^x}} dx}", "1", False),
    (r"The answer is $\frac{1}{2}$.", "0.5", True),
    ("#### 1,000", "1000", True),
    (r"\boxed{(x+1)^2}", r"x^2+2x+1", True),
]


def grade_all(out: list) -> None:
    for completion, gold, expected in PAIRS:
        start = time.perf_counter()
        result = grade_batch([completion], [gold], timeout=1.5)[0]
        out.append(
            {
                "expected": expected,
                "correct": result.correct,
                "status": result.status,
                "limit": result.limit,
                "cpu_seconds": result.cpu_seconds,
                "seconds": time.perf_counter() - start,
            }
        )


def main() -> None:
    state = PartialState(cpu=True)  # with `accelerate launch --multi_gpu` on a CPU machine: gloo ranks
    get_pool().warm_up(1)
    main_results: list = []
    grade_all(main_results)
    thread_results: list = []
    thread = threading.Thread(target=grade_all, args=(thread_results,))
    thread.start()
    thread.join()
    out = Path(sys.argv[1]) / f"rank{state.process_index}.json"
    out.write_text(
        json.dumps(
            {
                "world": state.num_processes,
                "main": main_results,
                "thread": thread_results,
                "max_workers": get_pool().max_workers,
            }
        )
    )


if __name__ == "__main__":
    main()
    release_process_group()  # before exit: gloo threads left to exit-time destructors can abort a rank
