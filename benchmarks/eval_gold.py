# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Gold self-consistency of every evaluation benchmark through the whole ``trl_dsm.eval`` pipeline.

A scripted "model" answers each problem with the benchmark's own worked solution (GSM8K rationales, MATH / OCW /
AGIEval solutions) and, for every benchmark, with its gold answer in a box. Greedy accuracy is then the fraction of
gold solutions the extraction and grading read back as correct: anything under 100% is a grader or data issue.

    python benchmarks/eval_gold.py --benchmarks-dir ../shared/data/benchmarks
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from trl_dsm.eval import EVAL_BENCHMARKS, EvalConfig, evaluate_items, load_eval_items


class Replay:
    """A generator that answers prompt i with ``texts[i]`` (evaluate_items keeps the items' order)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def generate(self, prompts, *, n=1, temperature=0.0, stop=()):
        assert len(prompts) == len(self.texts) and n == 1
        return [[t] for t in self.texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"
    parser.add_argument("--benchmarks-dir", type=Path, default=default_dir)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    config = EvalConfig(num_samples=1)
    print(f"{'benchmark':26} {'n':>5} {'solutions':>10} {'solution→gold':>14} {'boxed gold':>11} {'s':>6}")
    for name, benchmark in EVAL_BENCHMARKS.items():
        tic = time.monotonic()
        items = load_eval_items(name, args.benchmarks_dir, limit=args.limit)
        kwargs = dict(name=name, answer_type=benchmark.answer_type)
        boxed = evaluate_items(
            Replay([f"The answer is $\\boxed{{{i.gold}}}$." for i in items]), items, config, **kwargs
        )
        solved = [i for i in items if i.solution]
        rate = "-"
        if solved:
            result = evaluate_items(Replay([i.solution for i in solved]), solved, config, **kwargs)
            rate = f"{100 * result.metrics['greedy']:.2f}%"
        print(
            f"{name:26} {len(items):>5} {len(solved):>10} {rate:>14} {100 * boxed.metrics['greedy']:>10.2f}% "
            f"{time.monotonic() - tic:>6.1f}"
        )


if __name__ == "__main__":
    main()
