# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Several seeds of the miniature run side by side: each stage per seed (greedy ± SE, pass@K, maj@K), each arm's
gain over SFT and every comparison per seed, with whether it holds, and beyond twice the larger SE, on every seed."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from trl_dsm.demo.compare import (
    CONTROL,
    GRPO_STAGES,
    RL_STAGES,
    STAGES,
    _pct,
    _pct_se,
    _signed,
    compare,
    comparisons,
    findings,
)


def seeds_summary(all_results: list[dict]) -> dict[str, Any]:
    """Across seeds: each stage's greedy accuracy (mean, min, max, spread = max - min), each arm's gain over SFT, and
    every comparison of :func:`comparisons` per seed (greedy differences, the larger SE of each seed, and whether
    the difference is positive, and beyond twice the larger SE, on every seed).

    The older bar, "GRPO raises held-out greedy accuracy over SFT by more than the seed-to-seed spread", is read
    strictly: ``gain_exceeds_spread`` holds when the *smallest* per-seed gain exceeds the spread of SFT's greedy
    accuracy across seeds. ``mean_gain_exceeds_spread`` is the looser reading, reported alongside."""
    stages = [s for s in STAGES if all(s in r["eval"] for r in all_results)]
    greedy = {s: [r["eval"][s]["greedy"] for r in all_results] for s in stages}
    spread = max(greedy["sft"]) - min(greedy["sft"]) if "sft" in greedy else 0.0
    out: dict[str, Any] = {
        "seeds": [r["config"]["seed"] for r in all_results],
        "greedy": {
            s: {"values": v, "mean": statistics.fmean(v), "min": min(v), "max": max(v), "spread": max(v) - min(v)}
            for s, v in greedy.items()
        },
        "sft_spread": spread,
    }
    for arm in RL_STAGES:
        if arm in greedy:
            gains = [a - b for a, b in zip(greedy[arm], greedy["sft"])]
            out[arm] = {
                "gains": gains,
                "mean_gain": statistics.fmean(gains),
                "min_gain": min(gains),
                "gain_exceeds_spread": min(gains) > spread,
                "mean_gain_exceeds_spread": statistics.fmean(gains) > spread,
                "every_seed_gains": min(gains) > 0,
            }
            if CONTROL in greedy:
                out[arm]["minus_control"] = [a - b for a, b in zip(greedy[arm], greedy[CONTROL])]
    per_seed = [comparisons(r) for r in all_results]
    # the best GRPO arm across seeds (highest mean greedy accuracy), the same arm on every seed
    grpo = [s for s in GRPO_STAGES if s in greedy]
    if grpo and CONTROL in greedy:
        best = max(grpo, key=lambda s: statistics.fmean(greedy[s]))
        for r, c in zip(all_results, per_seed):
            c["best_grpo_vs_control"] = {"a": best, "b": CONTROL, "label": f"best GRPO arm ({best}) vs continued SFT",
                                         **compare(r, best, CONTROL)}  # fmt: skip
    out["comparisons"] = {}
    for key in per_seed[0] if per_seed else []:
        if not all(key in c for c in per_seed):
            continue
        rows = [c[key] for c in per_seed]
        diffs = [row["greedy"]["diff"] for row in rows]
        ses = [row["greedy"]["larger_se"] for row in rows]
        out["comparisons"][key] = {
            "label": rows[0]["label"],
            "a": rows[0]["a"],
            "b": rows[0]["b"],
            "diffs": diffs,
            "larger_se": ses,
            "mean_diff": statistics.fmean(diffs),
            "holds_every_seed": all(d > 0 for d in diffs),
            "beyond_2se_every_seed": None if None in ses else all(d > 2 * se for d, se in zip(diffs, ses)),
        }
    return out


def _bar_sentence(arm: dict[str, Any]) -> str:
    if arm["gain_exceeds_spread"]:
        return "every seed's gain exceeds the SFT spread: the bar is met"
    mean = "the mean gain does" if arm["mean_gain_exceeds_spread"] else "nor does the mean gain"
    return f"the smallest gain does not exceed the SFT spread: the bar is not met ({mean})"


def _comparison_sentence(c: dict[str, Any]) -> str:
    diffs = ", ".join(_signed(d) for d in c["diffs"])
    if c["holds_every_seed"]:
        holds = "higher on every seed"
        if c["beyond_2se_every_seed"] is not None:
            holds += (", by more than twice the larger SE on every seed" if c["beyond_2se_every_seed"]
                      else ", but not by more than twice the larger SE on every seed")  # fmt: skip
    elif all(d < 0 for d in c["diffs"]):
        holds = "lower on every seed"
    else:
        holds = "mixed across seeds"
    return f"{c['label']}: greedy difference per seed {diffs} (mean {_signed(c['mean_diff'])}); {c['a']} is {holds}"


def seeds_table(all_results: list[dict]) -> str:
    """Every stage any seed ran, one row each: per seed greedy ``value ± binomial SE``, pass@K and maj@K (K the
    largest k), in percent; ``-`` where a seed did not run the stage."""
    k = max((findings(r)["k"] for r in all_results), default=1)
    seeds = [r["config"]["seed"] for r in all_results]
    head = "| stage | " + " | ".join(f"seed {s}: greedy | pass@{k} | maj@{k}" for s in seeds) + " |"
    rows = [head, "|---" * (1 + 3 * len(seeds)) + "|"]
    for stage in STAGES:
        if not any(stage in r["eval"] for r in all_results):
            continue
        cells = []
        for r in all_results:
            m = r["eval"].get(stage)
            cells += (
                ["-"] * 3
                if m is None
                else [_pct_se(r, m, "greedy"), _pct(m.get(f"pass@{k}")), _pct(m.get(f"maj@{k}"))]
            )
        rows.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def write_seeds_summary(all_results: list[dict], out: Path) -> dict[str, Any]:
    """``seeds_summary.md`` and ``seeds_summary.json`` in ``out`` from :func:`seeds_summary`; prints the text."""
    summary = seeds_summary(all_results)
    (Path(out) / "seeds_summary.json").write_text(json.dumps(summary, indent=2))
    lines = [
        "| stage | " + " | ".join(f"seed {s}" for s in summary["seeds"]) + " | mean |",
        "|---" * (len(summary["seeds"]) + 2) + "|",
    ]
    for stage, g in summary["greedy"].items():
        lines.append(f"| {stage} | " + " | ".join(_pct(v) for v in g["values"]) + f" | {_pct(g['mean'])} |")
    text = "\n".join(lines) + "\n\nEvery stage, per seed (binomial SE on greedy):\n\n" + seeds_table(all_results)
    text += f"\n\n- SFT seed-to-seed spread (max - min): {100 * summary['sft_spread']:.1f} pts"
    for arm in RL_STAGES:
        if arm in summary:
            a = summary[arm]
            text += (
                f"\n- {arm}: gain over SFT per seed "
                + ", ".join(_signed(g) for g in a["gains"])
                + f" (mean {_signed(a['mean_gain'])}, min {_signed(a['min_gain'])}); "
                + _bar_sentence(a)
            )
            if "minus_control" in a:
                text += f"; minus {CONTROL} per seed " + ", ".join(_signed(g) for g in a["minus_control"])
    if summary["comparisons"]:
        text += "\n\nComparisons (a vs b, greedy accuracy; SE: binomial, per seed):\n"
        for c in summary["comparisons"].values():
            text += "\n- " + _comparison_sentence(c)
    (Path(out) / "seeds_summary.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return summary
