# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Grader benchmark: trl-dsm vs plain math-verify, side by side in one run.

    python benchmarks/grader.py [--data ../shared/data] [--limit N] [--long 2000] [--self-checks]
    python benchmarks/grader.py --load 4 [--timeout 2]      # grades with 0 vs 4 CPU-burning processes

Part 1, on ``grader/dev.jsonl`` (labelled): per source, accuracy, false positives, false negatives, pairs/s,
worst-case wall seconds and (trl-dsm) worst-case CPU seconds per pair, for both graders, with default options and
with each row's recorded math-verify ``settings`` (precision, strict, allow_set_relation_comp) passed to both.
trl-dsm runs in a non-main thread, where math-verify's own signal-based time limits cannot work.
Part 2, throughput on long full-solution completions: MATH test solutions (hundreds of words of LaTeX each)
graded against their answers, pairs/s for both graders and the ratio.
Part 3 (``--self-checks``): the label-free checks of docs/grader.md on all of MATH test, GSM8K test, CMATH and
MGSM-zh: own answers must grade correct, shuffled / shifted answers must not (beyond genuinely equal answers).
``--load N``: grades the dev set (row settings) and the MATH self-check once on an idle machine and once with N
busy-looping processes, and counts the pairs whose grade differs (0 is the target: the bound counts CPU time).

math-verify baseline: gold wrapped in ``$...$`` unless it already has math delimiters, default extraction
(``parse(pred)``, ``parse(gold)``, ``verify(gold, pred)``), main thread (its timeouts active).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path


def _mv_settings(row: dict) -> dict:
    from trl_dsm.grading import options_from_math_verify

    return options_from_math_verify(row.get("settings"))


def run_math_verify(rows: list[dict], use_settings: bool) -> list[tuple[bool, float, float]]:
    from math_verify import parse, verify

    out = []
    for row in rows:
        gold = row["gold"] if "$" in row["gold"] or "\\(" in row["gold"] else f"${row['gold']}$"
        options = _mv_settings(row) if use_settings else {}
        start, cpu = time.perf_counter(), time.process_time()
        try:
            ok = verify(parse(gold), parse(row["prediction"]), **options)
        except Exception:  # noqa: BLE001 - a crash is a wrong grade for the baseline
            ok = False
        out.append((bool(ok), time.perf_counter() - start, time.process_time() - cpu))
    return out


def run_trl_dsm(rows: list[dict], use_settings: bool, in_thread: bool = True) -> list[tuple[bool, float, float]]:
    """(correct, wall seconds, CPU seconds) per row, one ``grade_batch`` call per row."""
    from trl_dsm.grading import grade_batch

    out: list[tuple[bool, float, float]] = []

    def work() -> None:
        for row in rows:
            options = _mv_settings(row) if use_settings else {}
            start = time.perf_counter()
            result = grade_batch([row["prediction"]], [row["gold"]], **options)[0]
            out.append((result.correct, time.perf_counter() - start, getattr(result, "cpu_seconds", float("nan"))))

    if in_thread:
        thread = threading.Thread(target=work, name="grader-benchmark")
        thread.start()
        thread.join()
    else:
        work()
    return out


def _table(rows: list[dict], results: dict[str, list[tuple[bool, float, float]]]) -> list[str]:
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_source[row["source"]].append(i)
    by_source["ALL"] = list(range(len(rows)))
    lines = [
        f"{'source':<44} {'grader':<12} {'n':>5} {'accuracy':>9} {'FP':>4} {'FN':>4} {'pairs/s':>9} {'worst s':>8} "
        f"{'worst cpu':>9}"
    ]
    for source, idx in by_source.items():
        for name, res in results.items():
            correct = sum(res[i][0] == bool(rows[i]["label"]) for i in idx)
            fp = sum(res[i][0] and not rows[i]["label"] for i in idx)
            fn = sum(not res[i][0] and rows[i]["label"] for i in idx)
            total_time = sum(res[i][1] for i in idx)
            worst = max(res[i][1] for i in idx)
            worst_cpu = max(res[i][2] for i in idx)
            lines.append(
                f"{source[:44]:<44} {name:<12} {len(idx):>5} {correct / len(idx):>9.4%} {fp:>4} {fn:>4} "
                f"{len(idx) / total_time:>9.1f} {worst:>8.3f} {worst_cpu:>9.3f}"
            )
    return lines


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def _same_answer(a: str, b: str) -> bool:
    """Two gold answers that state the same thing: equal strings ("b=4" states 4, as tests/test_grader_data.py)
    or the same number ("12 \\text{ gm}" and "12")."""
    from trl_dsm.grading import normalize_answer, parse_number

    x, y = parse_number(a), parse_number(b)
    if x is not None and y is not None and x.value == y.value:
        return True
    a, b = normalize_answer(a), normalize_answer(b)
    return a == b or a.split("=")[-1] == b.split("=")[-1]


def math_self_check(data: Path, n: int | None = None, **kwargs) -> tuple[list, list, list[int]]:
    """MATH test solutions against their own answers and against a shuffled problem's answer (seed 0)."""
    from trl_dsm.grading import grade_batch

    rows = _rows(data / "benchmarks" / "math" / "test.jsonl")[:n]
    own = grade_batch([r["solution"] for r in rows], [r["answer"] for r in rows], **kwargs)
    perm = random.Random(0).sample(range(len(rows)), len(rows))
    cross = grade_batch([r["solution"] for r in rows], [rows[j]["answer"] for j in perm], **kwargs)
    false_pos = [
        i
        for i, (c, j) in enumerate(zip(cross, perm))
        if c.correct and not _same_answer(rows[i]["answer"], rows[j]["answer"])
    ]
    return own, cross, false_pos


def self_checks(data: Path) -> None:
    from trl_dsm.grading import grade_batch

    for n in (1500, None):
        tic = time.perf_counter()
        own, cross, false_pos = math_self_check(data, n)
        misses = [i for i, r in enumerate(own) if not r.correct]
        print(
            f"MATH test[:{n or len(own)}]: own answers {len(own) - len(misses)}/{len(own)} correct "
            f"(misses: {misses}); shuffled answers: {sum(c.correct for c in cross)} graded correct, "
            f"{len(false_pos)} false positives {false_pos}; {time.perf_counter() - tic:.1f}s"
        )
    rows = _rows(data / "benchmarks" / "gsm8k" / "test.jsonl")
    golds = [r["answer"].split("####")[-1].strip() for r in rows]
    a = grade_batch([r["answer"] for r in rows], golds)
    b = grade_batch([f"The answer is {g}." for g in golds], [r["answer"] for r in rows])
    shifted = grade_batch([f"The answer is {g}." for g in golds[1:]], golds[:-1])
    coincide = sum(x == y for x, y in zip(golds[1:], golds[:-1]))
    print(
        f"GSM8K test: rationale vs number {sum(r.correct for r in a)}/{len(a)}; number vs rationale "
        f"{sum(r.correct for r in b)}/{len(b)}; shifted golds {sum(r.correct for r in shifted)} correct "
        f"({coincide} coincide)"
    )
    cmath = _rows(data / "benchmarks" / "cmath" / "test.jsonl")
    golds = [r["golden"] for r in cmath]
    res = grade_batch([f"解：……所以答案是 {g}。" for g in golds], golds)
    print(f"CMATH: {sum(r.correct for r in res)}/{len(res)}")
    mgsm = _rows(data / "benchmarks" / "mgsm_zh" / "test.jsonl")
    golds = [str(r["answer"]) for r in mgsm]
    res = grade_batch([f"答案：{g}" for g in golds], golds)
    print(f"MGSM-zh: {sum(r.correct for r in res)}/{len(res)}")


def _grades_for_load_check(data: Path, dev_rows: list[dict], timeout: float) -> list[tuple[bool, str]]:
    from trl_dsm.grading import grade_batch

    out = []
    for row in dev_rows:
        r = grade_batch([row["prediction"]], [row["gold"]], timeout=timeout, **_mv_settings(row))[0]
        out.append((r.correct, r.status))
    own, cross, _ = math_self_check(data, 1500, timeout=timeout)
    return out + [(r.correct, r.status) for r in own + cross]


def load_check(data: Path, dev_rows: list[dict], burners: int, timeout: float) -> None:
    idle = _grades_for_load_check(data, dev_rows, timeout)
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(burners)]
    try:
        tic = time.perf_counter()
        loaded = _grades_for_load_check(data, dev_rows, timeout)
        seconds = time.perf_counter() - tic
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    differ = [i for i, (a, b) in enumerate(zip(idle, loaded)) if a != b]
    timeouts = sum(status == "timeout" for _, status in loaded)
    print(
        f"load check, timeout={timeout}: {len(idle)} grades, {len(differ)} differ with {burners} busy processes "
        f"({timeouts} timeouts under load; loaded run {seconds:.0f}s); first differing: {differ[:10]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="first N dev rows only (quick runs)")
    parser.add_argument("--long", type=int, default=2000, help="MATH solutions for the throughput part (0: skip)")
    parser.add_argument("--show-disagreements", action="store_true", help="print every row trl-dsm gets wrong")
    parser.add_argument("--self-checks", action="store_true", help="also run the label-free self-checks")
    parser.add_argument("--load", type=int, default=0, help="only the load check, with this many busy processes")
    parser.add_argument("--timeout", type=float, default=None, help="per-pair bound for the load check")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # math-verify warns on every unparsable string

    dev_path = args.data / "grader" / "dev.jsonl"
    if not dev_path.is_file():
        raise SystemExit(f"{dev_path} not found: pass --data pointing at shared/data")
    rows = _rows(dev_path)[: args.limit]

    from trl_dsm.grading import DEFAULT_TIMEOUT
    from trl_dsm.grading.bounded import get_pool

    get_pool().warm_up(1)  # the one-time worker start (~1 s) is not a per-pair cost
    if args.load:
        load_check(args.data, rows, args.load, args.timeout or DEFAULT_TIMEOUT)
        return
    for use_settings in (False, True):
        title = "row settings passed to both graders" if use_settings else "default options"
        print(f"\n== grader/dev.jsonl, {title} ==")
        results = {
            "trl-dsm": run_trl_dsm(rows, use_settings),
            "math-verify": run_math_verify(rows, use_settings),
        }
        print("\n".join(_table(rows, results)))
        if args.show_disagreements:
            for i, (ok, _, _) in enumerate(results["trl-dsm"]):
                if ok != bool(rows[i]["label"]):
                    r = rows[i]
                    print(f"  row {i} label={r['label']} pred={r['prediction'][-120:]!r} gold={r['gold'][:80]!r}")

    if args.long:
        math_rows = _rows(args.data / "benchmarks" / "math" / "test.jsonl")[: args.long]
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
        ours_rate = len(ours) / sum(t for _, t, _ in ours)
        theirs_rate = len(theirs) / sum(t for _, t, _ in theirs)
        print(
            f"trl-dsm      {ours_rate:9.1f} pairs/s  worst {max(t for _, t, _ in ours):.3f}s "
            f"(cpu {max(c for _, _, c in ours):.3f}s)  graded correct {sum(ok for ok, _, _ in ours) / len(ours):.2%}"
        )
        print(
            f"math-verify  {theirs_rate:9.1f} pairs/s  worst {max(t for _, t, _ in theirs):.3f}s  "
            f"graded correct {sum(ok for ok, _, _ in theirs) / len(theirs):.2%}"
        )
        print(f"throughput ratio trl-dsm / math-verify: {ours_rate / theirs_rate:.2f}x")

    if args.self_checks:
        print("\n== self-checks (no labels) ==")
        self_checks(args.data)


if __name__ == "__main__":
    main()
