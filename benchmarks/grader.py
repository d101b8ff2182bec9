# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Grader benchmark: trl-dsm vs plain math-verify, side by side in one run (issue #2).

    python benchmarks/grader.py [--data ../shared/data] [--limit N] [--long 2000]

Part 1, on ``grader/dev.jsonl`` (labelled): per source, accuracy, false positives, false negatives, pairs/s and
worst-case seconds per pair, for both graders, with default options and with each row's recorded math-verify
``settings`` (precision, strict, allow_set_relation_comp) passed to both. trl-dsm runs in a non-main thread,
where math-verify's own signal-based time limits cannot work, to show that its bound holds there.
Part 2, throughput on long full-solution completions: MATH test solutions (hundreds of words of LaTeX each)
graded against their answers, pairs/s for both graders and the ratio.

math-verify baseline: gold wrapped in ``$...$`` unless it already has math delimiters, default extraction
(``parse(pred)``, ``parse(gold)``, ``verify(gold, pred)``), main thread (its timeouts active).
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections import defaultdict
from pathlib import Path


def _mv_settings(row: dict) -> dict:
    from trl_dsm.grading import options_from_math_verify

    return options_from_math_verify(row.get("settings"))


def run_math_verify(rows: list[dict], use_settings: bool) -> list[tuple[bool, float]]:
    from math_verify import parse, verify

    out = []
    for row in rows:
        gold = row["gold"] if "$" in row["gold"] or "\\(" in row["gold"] else f"${row['gold']}$"
        options = _mv_settings(row) if use_settings else {}
        start = time.perf_counter()
        try:
            ok = verify(parse(gold), parse(row["prediction"]), **options)
        except Exception:  # noqa: BLE001 - a crash is a wrong grade for the baseline
            ok = False
        out.append((bool(ok), time.perf_counter() - start))
    return out


def run_trl_dsm(rows: list[dict], use_settings: bool, in_thread: bool = True) -> list[tuple[bool, float]]:
    from trl_dsm.grading import grade_batch

    out: list[tuple[bool, float]] = []

    def work() -> None:
        for row in rows:
            options = _mv_settings(row) if use_settings else {}
            start = time.perf_counter()
            result = grade_batch([row["prediction"]], [row["gold"]], **options)[0]
            out.append((result.correct, time.perf_counter() - start))

    if in_thread:
        thread = threading.Thread(target=work, name="grader-benchmark")
        thread.start()
        thread.join()
    else:
        work()
    return out


def _table(rows: list[dict], results: dict[str, list[tuple[bool, float]]]) -> list[str]:
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_source[row["source"]].append(i)
    by_source["ALL"] = list(range(len(rows)))
    lines = [
        f"{'source':<44} {'grader':<12} {'n':>5} {'accuracy':>9} {'FP':>4} {'FN':>4} {'pairs/s':>9} {'worst s':>8}"
    ]
    for source, idx in by_source.items():
        for name, res in results.items():
            correct = sum(res[i][0] == bool(rows[i]["label"]) for i in idx)
            fp = sum(res[i][0] and not rows[i]["label"] for i in idx)
            fn = sum(not res[i][0] and rows[i]["label"] for i in idx)
            total_time = sum(res[i][1] for i in idx)
            worst = max(res[i][1] for i in idx)
            lines.append(
                f"{source[:44]:<44} {name:<12} {len(idx):>5} {correct / len(idx):>9.4%} {fp:>4} {fn:>4} "
                f"{len(idx) / total_time:>9.1f} {worst:>8.3f}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="first N dev rows only (quick runs)")
    parser.add_argument("--long", type=int, default=2000, help="MATH solutions for the throughput part (0: skip)")
    parser.add_argument("--show-disagreements", action="store_true", help="print every row trl-dsm gets wrong")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # math-verify warns on every unparsable string

    dev_path = args.data / "grader" / "dev.jsonl"
    if not dev_path.is_file():
        raise SystemExit(f"{dev_path} not found: pass --data pointing at shared/data")
    rows = [json.loads(line) for line in dev_path.open(encoding="utf-8")][: args.limit]

    from trl_dsm.grading.bounded import get_pool

    get_pool().warm_up(1)  # the one-time worker start (~1 s) is not a per-pair cost
    for use_settings in (False, True):
        title = "row settings passed to both graders" if use_settings else "default options"
        print(f"\n== grader/dev.jsonl, {title} ==")
        results = {
            "trl-dsm": run_trl_dsm(rows, use_settings),
            "math-verify": run_math_verify(rows, use_settings),
        }
        print("\n".join(_table(rows, results)))
        if args.show_disagreements:
            for i, (ok, _) in enumerate(results["trl-dsm"]):
                if ok != bool(rows[i]["label"]):
                    r = rows[i]
                    print(f"  row {i} label={r['label']} pred={r['prediction'][-120:]!r} gold={r['gold'][:80]!r}")

    if args.long:
        math_path = args.data / "benchmarks" / "math" / "test.jsonl"
        math_rows = [json.loads(line) for line in math_path.open(encoding="utf-8")][: args.long]
        long_rows = [
            {"prediction": r["solution"], "gold": r["answer"], "label": 1, "source": "MATH"} for r in math_rows
        ]
        chars = sum(len(r["prediction"]) for r in long_rows) / len(long_rows)
        print(
            f"\n== throughput on long full-solution completions: {len(long_rows)} MATH test solutions, "
            f"{chars:.0f} chars on average =="
        )
        ours = run_trl_dsm(long_rows, use_settings=False, in_thread=False)
        theirs = run_math_verify(long_rows, use_settings=False)
        ours_rate = len(ours) / sum(t for _, t in ours)
        theirs_rate = len(theirs) / sum(t for _, t in theirs)
        print(
            f"trl-dsm      {ours_rate:9.1f} pairs/s  worst {max(t for _, t in ours):.3f}s  "
            f"graded correct {sum(ok for ok, _ in ours) / len(ours):.2%}"
        )
        print(
            f"math-verify  {theirs_rate:9.1f} pairs/s  worst {max(t for _, t in theirs):.3f}s  "
            f"graded correct {sum(ok for ok, _ in theirs) / len(theirs):.2%}"
        )
        print(f"throughput ratio trl-dsm / math-verify: {ours_rate / theirs_rate:.2f}x")


if __name__ == "__main__":
    main()
