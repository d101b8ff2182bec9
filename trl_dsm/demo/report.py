# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature run's report: Markdown, PNG plots and a printed summary, with the two questions of §5.2 answered
from the numbers, whatever they are: did maj@k gain more than pass@k, and did process supervision do at least as
well as outcome supervision?"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any


STAGES = ("pretrained", "sft", "sft_continued", "grpo_outcome", "grpo_process")
#: The control stage: SFT continued at the RL learning rate for as many steps as GRPO (``DemoConfig.sft_control``).
CONTROL = "sft_continued"


def _k_curve(metrics: dict, kind: str) -> list[tuple[int, float]]:
    points = [(int(key.split("@")[1]), value) for key, value in metrics.items() if key.startswith(f"{kind}@")]
    return sorted(points)


def findings(results: dict) -> dict[str, Any]:
    """The comparisons the report states, from ``results["eval"]``: gains of each RL arm over SFT in greedy
    accuracy, pass@K and maj@K (K the largest k), each arm against the continued-SFT control when it ran, and
    process vs outcome."""
    ev = results["eval"]
    sft = ev["sft"]
    k = max((k for k, _ in _k_curve(sft, "pass")), default=1)
    out: dict[str, Any] = {"k": k, "arms": {}}
    for stage in ("grpo_outcome", "grpo_process"):
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
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _signed(x: float) -> str:
    return f"{100 * x:+.1f} pts"


def summary_table(results: dict) -> str:
    ev = results["eval"]
    k = findings(results)["k"]
    rows = [f"| stage | greedy | pass@1 | pass@{k} | maj@{k} |", "|---|---|---|---|---|"]
    for stage in STAGES:
        if stage in ev:
            m = ev[stage]
            rows.append(
                f"| {stage} | {_pct(m.get('greedy'))} | {_pct(m.get('pass@1'))} | {_pct(m.get(f'pass@{k}'))} "
                f"| {_pct(m.get(f'maj@{k}'))} |"
            )
    return "\n".join(rows)


def verdicts(results: dict) -> list[str]:
    """Plain sentences answering the report's questions from the numbers of this run."""
    f = findings(results)
    k = f["k"]
    lines = []
    for stage, arm in f["arms"].items():
        more = "more" if arm["maj_gained_more_than_pass"] else "not more"
        lines.append(
            f"{stage}: greedy {_signed(arm['greedy_gain'])} over SFT; maj@{k} {_signed(arm['maj_gain'])} vs "
            f"pass@{k} {_signed(arm['pass_gain'])}, so maj@k gained {more} than pass@k."
        )
        if "minus_control_greedy" in arm:
            beat = "beat" if arm["minus_control_greedy"] > 0 else "did not beat"
            lines.append(
                f"{stage} {beat} SFT continued at the RL learning rate for as many steps "
                f"(greedy {_signed(arm['minus_control_greedy'])})."
            )
    if "process_at_least_outcome" in f:
        how = "at least as well as" if f["process_at_least_outcome"] else "worse than"
        lines.append(
            f"Process supervision did {how} outcome supervision on held-out greedy accuracy "
            f"({_signed(f['process_minus_outcome_greedy'])})."
        )
    return lines


def _plot(results: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    curves = results.get("reward_curves", {})
    if curves:
        from matplotlib.ticker import MaxNLocator

        fig, ax = plt.subplots(figsize=(6, 3.5))
        for i, (arm, curve) in enumerate(curves.items()):
            if curve:
                steps, rewards = zip(*[(s, r) for s, r, *_ in curve])
                ax.plot(steps, rewards, color=f"C{i}", alpha=0.3, linewidth=0.8)  # raw per-step means
                window = max(1, len(rewards) // 10)
                ax.plot(steps, moving_average(rewards, window), color=f"C{i}",
                        label=f"GRPO {arm} (moving average of {window} steps)")  # fmt: skip
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("GRPO step")
        ax.set_ylabel("mean outcome reward (train)")
        ax.legend()
        ax.set_title("Reward during RL")
        fig.tight_layout()
        fig.savefig(out / "reward_curve.png", dpi=120)
        plt.close(fig)
        files.append("reward_curve.png")
    ev = results["eval"]
    stages = [s for s in STAGES if s in ev]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    colors = ["#8c8c8c" if s == CONTROL else "#4c72b0" for s in stages]  # the control in grey
    ax.bar(stages, [ev[s]["greedy"] for s in stages], color=colors)
    for i, s in enumerate(stages):
        ax.text(i, ev[s]["greedy"], _pct(ev[s]["greedy"]), ha="center", va="bottom", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_ylabel("held-out greedy accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("Accuracy by stage")
    fig.tight_layout()
    fig.savefig(out / "accuracy_by_stage.png", dpi=120)
    plt.close(fig)
    files.append("accuracy_by_stage.png")
    fig, ax = plt.subplots(figsize=(7.5, 3.5))
    for i, stage in enumerate(s for s in stages if s != "pretrained"):
        for kind, style in (("pass", "-"), ("maj", "--")):  # one colour per stage: pass solid, maj dashed
            curve = _k_curve(ev[stage], kind)
            if curve:
                ks, vs = zip(*curve)
                ax.plot(ks, vs, style, color=f"C{i}", marker="o", label=f"{stage} {kind}@k")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("accuracy")
    ax.set_title("Pass@K and Maj@K (held-out)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out / "pass_maj_at_k.png", dpi=120)
    plt.close(fig)
    files.append("pass_maj_at_k.png")
    return files


def moving_average(values, window: int) -> list[float]:
    """Trailing mean over the last ``window`` values (fewer at the start).

    >>> moving_average([1.0, 3.0, 5.0, 7.0], 2)
    [1.0, 2.0, 4.0, 6.0]
    """
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def write_report(results: dict, out: Path) -> Path:
    """``report.md`` and the plots in ``out``; prints the summary table and the verdicts."""
    out = Path(out)
    plots = _plot(results, out)
    config = results.get("config", {})
    mining = results.get("mining", {})
    timings = results.get("timings", {})
    lines = [
        "# trl-dsm miniature DeepSeekMath run",
        "",
        *(
            [
                "> **Smoke test (`--quick`)**: every stage ran at toy sizes to check that the code path works; the "
                "numbers below say nothing about the methods. Run without `--quick` for results.",
                "",
            ]
            if config.get("smoke_test")
            else []
        ),
        f"Seed {config['seed']}; total {results.get('total_seconds', 0):.0f} s on this machine.",
        "",
        "## Held-out accuracy",
        "",
        f"{config.get('n_heldout', '?')} held-out problems. Greedy accuracy; pass@k and maj@k over "
        f"{config.get('eval_samples', '?')} samples per problem at temperature {config.get('eval_temperature', '?')}. "
        f"`{CONTROL}` (grey in the plot) is the control: the SFT model trained on the same demonstrations for as many "
        "steps as GRPO, at GRPO's learning rate.",
        "",
        summary_table(results),
        "",
        "## What the numbers say",
        "",
        *[f"- {line}" for line in verdicts(results)],
        "",
        "## Mining and decontamination",
        "",
        f"- crawl: {mining.get('pages')} pages ({mining.get('math_pages')} generated math pages)",
        f"- selected by the classifier after dedup: {mining.get('selected')} "
        f"({mining.get('selected_math')} math, {mining.get('selected_other')} other, "
        f"{mining.get('selected_real')} real pages, of which {mining.get('selected_real_math', '-')} of the "
        f"{mining.get('real_math_pages', '-')} real math pages)",
        f"- 10-gram decontamination against the held-out problems removed {mining.get('decontaminated_chars')} "
        f"characters from {mining.get('decontaminated_documents')} pages (templated problems share 10-grams); "
        f"held-out problems copied into selected pages: {mining.get('planted_removed')}/"
        f"{mining.get('planted_contaminated')} removed",
        f"- corpus: {mining.get('corpus_pages')} pages, {mining.get('corpus_chars')} characters",
        "",
        "## Time per stage",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {name} | {sec:.0f} |" for name, sec in timings.items()],
        "",
        *[f"![{p}]({p})" for p in plots],
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    print(summary_table(results))
    for line in verdicts(results):
        print(line)
    print(f"report: {path}")
    return path


def seeds_summary(all_results: list[dict]) -> dict[str, Any]:
    """Across seeds: each stage's greedy accuracy (mean, min, max, spread = max - min) and each arm's gain over SFT.

    The issue's bar, "GRPO raises held-out greedy accuracy over SFT by more than the seed-to-seed spread", is read
    strictly: ``gain_exceeds_spread`` holds when the *smallest* per-seed gain exceeds the spread of SFT's greedy
    accuracy across seeds (the paired gain must beat the variation that changing the seed alone produces).
    ``mean_gain_exceeds_spread`` is the looser reading, reported alongside."""
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
    for arm in ("grpo_outcome", "grpo_process"):
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
    return out


def _bar_sentence(arm: dict[str, Any]) -> str:
    if arm["gain_exceeds_spread"]:
        return "every seed's gain exceeds the SFT spread: the bar is met"
    mean = "the mean gain does" if arm["mean_gain_exceeds_spread"] else "nor does the mean gain"
    return f"the smallest gain does not exceed the SFT spread: the bar is not met ({mean})"


def write_seeds_summary(all_results: list[dict], out: Path) -> dict[str, Any]:
    summary = seeds_summary(all_results)
    (Path(out) / "seeds_summary.json").write_text(json.dumps(summary, indent=2))
    lines = [
        "| stage | " + " | ".join(f"seed {s}" for s in summary["seeds"]) + " | mean |",
        "|---" * (len(summary["seeds"]) + 2) + "|",
    ]
    for stage, g in summary["greedy"].items():
        lines.append(f"| {stage} | " + " | ".join(_pct(v) for v in g["values"]) + f" | {_pct(g['mean'])} |")
    text = "\n".join(lines)
    text += f"\n\n- SFT seed-to-seed spread (max - min): {100 * summary['sft_spread']:.1f} pts"
    for arm in ("grpo_outcome", "grpo_process"):
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
    (Path(out) / "seeds_summary.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return summary
