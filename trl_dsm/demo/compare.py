# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The numbers behind the miniature run's report: binomial standard errors, each arm against another (§5.2:
Online RFT vs RFT, GRPO vs Online RFT, process vs outcome, iterative vs one pass, every RL arm vs the continued-SFT
control) and the gains over SFT in greedy accuracy, pass@K and maj@K."""

from __future__ import annotations

import math
from typing import Any


STAGES = (
    "pretrained", "sft", "sft_continued", "rft", "online_rft", "grpo_outcome", "grpo_process", "grpo_process_prm",
    "grpo_iterative",
)  # fmt: skip


#: The arms trained from the SFT model (§5.2.1); the GRPO ones are the last four.
RL_STAGES = STAGES[3:]


GRPO_STAGES = STAGES[5:]


#: The control stage: SFT continued at the RL learning rate for as many steps as GRPO (``DemoConfig.sft_control``).
CONTROL = "sft_continued"


#: The paper's comparisons (§5.2), each (key, stage a, stage b, question): does ``a`` beat ``b``?
PAPER_COMPARISONS = (
    ("online_rft_vs_rft", "online_rft", "rft", "Online RFT vs RFT (§5.2.1, Figure 5)"),
    ("grpo_vs_online_rft", "grpo_outcome", "online_rft", "GRPO (outcome) vs Online RFT (§5.2.1, Figure 5)"),
    ("ps_vs_os", "grpo_process", "grpo_outcome", "process vs outcome supervision, rule rewards (Figure 5)"),
    ("learned_ps_vs_os", "grpo_process_prm", "grpo_outcome", "process supervision by a learned PRM vs outcome"),
    ("iterative_vs_one_pass", "grpo_iterative", "grpo_process_prm", "iterative RL vs one pass, same PRM (Figure 6)"),
)


def binomial_se(p: float, n: int) -> float:
    """The binomial standard error ``sqrt(p (1 - p) / n)`` of a rate ``p`` measured on ``n`` problems.

    Applied to greedy accuracy (exactly binomial) and to pass@k and maj@k (per-problem means of k-subset estimates,
    for which it is an upper bound-like approximation: averaging over samples only lowers the per-problem variance).

    >>> round(binomial_se(0.5, 100), 4)
    0.05
    """
    if n < 1:
        raise ValueError(f"binomial_se needs n >= 1 problems, got {n}")
    return math.sqrt(max(p * (1.0 - p), 0.0) / n)


def _k_curve(metrics: dict, kind: str) -> list[tuple[int, float]]:
    points = [(int(key.split("@")[1]), value) for key, value in metrics.items() if key.startswith(f"{kind}@")]
    return sorted(points)


def _n(results: dict, metrics: dict) -> int | None:
    n = metrics.get("n") or results.get("config", {}).get("n_heldout")
    return int(n) if n else None


def compare(results: dict, a: str, b: str) -> dict[str, dict[str, float | bool | None]] | None:
    """``a`` against ``b`` on greedy accuracy, pass@K and maj@K (K the largest k): both values, the difference, each
    one's binomial standard error, the larger of the two, and whether the difference exceeds twice the larger SE
    (``beyond_2se``, None without a problem count). None when either stage did not run."""
    ev = results["eval"]
    if a not in ev or b not in ev:
        return None
    k = max((k for k, _ in _k_curve(ev["sft"], "pass")), default=1)
    out = {}
    for metric in ("greedy", f"pass@{k}", f"maj@{k}"):
        va, vb = ev[a].get(metric, 0.0), ev[b].get(metric, 0.0)
        na, nb = _n(results, ev[a]), _n(results, ev[b])
        se_a = binomial_se(va, na) if na else None
        se_b = binomial_se(vb, nb) if nb else None
        larger = max(se_a, se_b) if se_a is not None and se_b is not None else None
        out[metric] = {"a": va, "b": vb, "diff": va - vb, "se_a": se_a, "se_b": se_b, "larger_se": larger,
                       "beyond_2se": None if larger is None else va - vb > 2 * larger}  # fmt: skip
    return out


def comparisons(results: dict) -> dict[str, dict[str, Any]]:
    """Every comparison of the report that both stages ran for: the paper's (``PAPER_COMPARISONS``), each RL arm
    against the continued-SFT control (``<stage>_vs_control``), and the best GRPO arm (highest greedy accuracy)
    against the control (``best_grpo_vs_control``)."""
    ev = results["eval"]
    pairs = [(key, a, b, label) for key, a, b, label in PAPER_COMPARISONS]
    pairs += [(f"{s}_vs_control", s, CONTROL, f"{s} vs continued SFT (control)") for s in RL_STAGES]
    grpo = [s for s in GRPO_STAGES if s in ev]
    if grpo:
        best = max(grpo, key=lambda s: ev[s]["greedy"])
        pairs.append(("best_grpo_vs_control", best, CONTROL, f"best GRPO arm ({best}) vs continued SFT (control)"))
    out = {}
    for key, a, b, label in pairs:
        values = compare(results, a, b)
        if values is not None:
            out[key] = {"a": a, "b": b, "label": label, **values}
    return out


def findings(results: dict) -> dict[str, Any]:
    """The comparisons the report states, from ``results["eval"]``: gains of each RL arm over SFT in greedy
    accuracy, pass@K and maj@K (K the largest k), each arm against the continued-SFT control when it ran, process
    vs outcome, and :func:`comparisons` (with binomial standard errors)."""
    ev = results["eval"]
    sft = ev["sft"]
    k = max((k for k, _ in _k_curve(sft, "pass")), default=1)
    out: dict[str, Any] = {"k": k, "arms": {}}
    for stage in RL_STAGES:
        if stage not in ev:
            continue
        m = ev[stage]
        out["arms"][stage] = {
            "greedy_gain": m["greedy"] - sft["greedy"],
            "pass_gain": m.get(f"pass@{k}", 0) - sft.get(f"pass@{k}", 0),
            "maj_gain": m.get(f"maj@{k}", 0) - sft.get(f"maj@{k}", 0),
        }
        if CONTROL in ev:
            out["arms"][stage]["minus_control_greedy"] = m["greedy"] - ev[CONTROL]["greedy"]
    for arm in out["arms"].values():
        arm["maj_gained_more_than_pass"] = arm["maj_gain"] > arm["pass_gain"]
    if {"grpo_outcome", "grpo_process"} <= set(ev):
        out["process_minus_outcome_greedy"] = ev["grpo_process"]["greedy"] - ev["grpo_outcome"]["greedy"]
        out["process_at_least_outcome"] = out["process_minus_outcome_greedy"] >= 0
    out["comparisons"] = comparisons(results)
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _signed(x: float) -> str:
    return f"{100 * x:+.1f} pts"


def _pct_se(results: dict, metrics: dict, key: str) -> str:
    value, n = metrics.get(key), _n(results, metrics)
    if value is None or not n:
        return _pct(value)
    return f"{100 * value:.1f} ± {100 * binomial_se(value, n):.1f}"
