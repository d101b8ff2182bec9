# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature run's report: ``report.md`` with the held-out table (± binomial SE), the §5.2 comparisons answered
from the numbers whatever they are, mining figures and time per stage, plus a printed summary; and one run's
results merged from processes that ran its arms apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# the numbers, plots and seeds summary, re-exported: ``trl_dsm.demo.report`` is where the CLI finds them
from trl_dsm.demo.compare import (
    CONTROL,
    GRPO_STAGES,
    PAPER_COMPARISONS,
    RL_STAGES,
    STAGES,
    _pct,
    _pct_se,
    _signed,
    binomial_se,
    compare,
    comparisons,
    findings,
)
from trl_dsm.demo.config import PRM_FIELDS
from trl_dsm.demo.plots import _plot, moving_average
from trl_dsm.demo.seeds import seeds_summary, seeds_table, write_seeds_summary


def summary_table(results: dict) -> str:
    """Each stage's held-out numbers, ``value ± binomial SE`` in percent when the problem count is known, and greedy
    accuracy by number of operations when the run recorded it."""
    ev = results["eval"]
    k = findings(results)["k"]
    ops = sorted({int(key[len("greedy_ops") :]) for m in ev.values() for key in m if key.startswith("greedy_ops")})
    head = f"| stage | greedy | pass@1 | pass@{k} | maj@{k} |" + "".join(f" greedy, {o} ops |" for o in ops)
    rows = [head, "|---" * (5 + len(ops)) + "|"]
    for stage in STAGES:
        if stage in ev:
            m = ev[stage]
            cells = [_pct_se(results, m, key) for key in ("greedy", "pass@1", f"pass@{k}", f"maj@{k}")]
            cells += [_pct(m.get(f"greedy_ops{o}")) for o in ops]
            rows.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _verdict(c: dict[str, Any], metric: str) -> str:
    m = c[metric]
    if m["larger_se"] is None:
        return "higher" if m["diff"] > 0 else "lower" if m["diff"] < 0 else "level"
    if abs(m["diff"]) > 2 * m["larger_se"]:
        return (
            "higher, by more than twice the larger SE" if m["diff"] > 0 else "lower, by more than twice the larger SE"
        )
    return "higher, within twice the larger SE" if m["diff"] > 0 else "lower, within twice the larger SE" if m[
        "diff"] < 0 else "level"  # fmt: skip


def comparison_line(c: dict[str, Any], k: int) -> str:
    """One sentence: ``a`` against ``b`` in greedy accuracy (with the larger SE) and in pass@K and maj@K."""
    g = c["greedy"]
    se = "" if g["larger_se"] is None else f", larger SE {100 * g['larger_se']:.1f} pts"
    return (
        f"{c['label']}: greedy {_pct(g['a'])} vs {_pct(g['b'])} ({_signed(g['diff'])}{se}): {c['a']} is "
        f"{_verdict(c, 'greedy')}; pass@{k} {_signed(c[f'pass@{k}']['diff'])}, maj@{k} "
        f"{_signed(c[f'maj@{k}']['diff'])}."
    )


def verdicts(results: dict) -> list[str]:
    """Plain sentences answering the report's questions from the numbers of this run."""
    f = findings(results)
    k = f["k"]
    lines = []
    for key, c in f["comparisons"].items():
        if not key.endswith("_vs_control"):
            lines.append(comparison_line(c, k))
    if "best_grpo_vs_control" in f["comparisons"]:
        lines.append(comparison_line(f["comparisons"]["best_grpo_vs_control"], k))
    for stage, arm in f["arms"].items():
        more = "more" if arm["maj_gained_more_than_pass"] else "not more"
        if arm["maj_gain"] < 0 and arm["pass_gain"] < 0:  # both fell: "gained more" would misread a collapse
            more = "less" if arm["maj_gained_more_than_pass"] else "not less"
            verdict = f"both fell, maj@k lost {more} than pass@k"
        else:
            verdict = f"maj@k gained {more} than pass@k"
        lines.append(
            f"{stage}: greedy {_signed(arm['greedy_gain'])} over SFT; maj@{k} {_signed(arm['maj_gain'])} vs "
            f"pass@{k} {_signed(arm['pass_gain'])}, so {verdict}."
        )
        if "minus_control_greedy" in arm:
            beat = "beat" if arm["minus_control_greedy"] > 0 else "did not beat"
            c = f["comparisons"].get(f"{stage}_vs_control")
            se = c["greedy"]["larger_se"] if c else None
            margin = (
                ""
                if se is None
                else f"; {'more' if abs(arm['minus_control_greedy']) > 2 * se else 'not more'} than twice the larger "
                f"SE, {100 * se:.1f} pts"
            )
            lines.append(
                f"{stage} {beat} SFT continued at the RL learning rate for as many steps "
                f"(greedy {_signed(arm['minus_control_greedy'])}{margin})."
            )
    if "process_at_least_outcome" in f:
        how = "at least as well as" if f["process_at_least_outcome"] else "worse than"
        lines.append(
            f"Process supervision did {how} outcome supervision on held-out greedy accuracy "
            f"({_signed(f['process_minus_outcome_greedy'])})."
        )
    return lines


def _regime(results: dict) -> list[str]:
    """The data regime in two lines: worked solutions vs questions with answers only, by number of operations."""
    splits = results.get("splits")
    if not splits:
        return []

    def ops(name: str) -> str:
        counts = splits[name]["by_operations"]
        return ", ".join(f"{n} with {k} ops" for k, n in counts.items())

    intro = []
    if results.get("config", {}).get("study_run"):
        intro = [
            "The §5.2 study (`--study`): worked solutions are scarce and questions with final answers only are "
            "plentiful; every arm starts from the same SFT model, annealed (cosine) on its demonstrations.",
            "",
        ]
    lines = [
        "## Data",
        "",
        *intro,
        f"- worked solutions: {splits['sft']['problems']} for SFT ({ops('sft')}); "
        f"{splits['pretrain']['problems']} in pretraining ({ops('pretrain')})",
        f"- questions with final answers only (RL, RFT, Online RFT): {splits['rl']['problems']} ({ops('rl')})",
        f"- held-out problems: {splits['heldout']['problems']} ({ops('heldout')})",
    ]
    for key, label in (("rft", "RFT data"), ("prm", "step reward model")):
        if key in results:
            r = results[key]
            if key == "rft":
                lines.append(f"- {label}: {r['kept']} distinct correct samples kept of {r['samples']} "
                             f"({r['solved_questions']} of {r['questions']} questions solved at least once)")  # fmt: skip
            else:
                lines.append(f"- {label}: trained on {r['records']} SFT samples, {r['steps']} steps labelled by "
                             f"rollouts, {r['good_steps']} good")  # fmt: skip
                if "heldout" in r:  # checked before RL on samples of other questions
                    h = r["heldout"]
                    lines.append(
                        f"  - held out ({h['records']} samples, {h['steps']} steps): step accuracy "
                        f"{h['step_accuracy']:.3f}, step AUC {h['step_auc']:.3f}; within a question's group (what "
                        f"GRPO ranks) the solved completion outscores the unsolved one in {h['group_auc']:.3f} of "
                        f"{h['group_pairs']} pairs (0.5 = chance)"
                    )
                if results.get("config", {}).get("prm_final_answer"):
                    lines.append("  - its last step is scored by the final answer instead (`prm_final_answer`)")
    return [*lines, ""]


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
        *_regime(results),
        "## Held-out accuracy",
        "",
        f"{config.get('n_heldout', '?')} held-out problems. Greedy accuracy; pass@k and maj@k over "
        f"{config.get('eval_samples', '?')} samples per problem at temperature {config.get('eval_temperature', '?')}. "
        "Each number is `value ± binomial standard error` in percent (sqrt(p(1-p)/n), n the held-out count); a "
        "difference is called beyond noise when it exceeds twice the larger of the two SEs. "
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


def merge_results(parts: list[dict]) -> dict:
    """One run's results from processes that ran different stages of it side by side (``DemoConfig.resume_from``):
    the first part's records, then each later part's evaluations, reward curves, RFT and step-reward-model records
    and timings. A stage evaluated in two parts, or parts of different runs (seed, data), is an error."""
    if not parts:
        raise ValueError("merge_results needs at least one part")
    merged = json.loads(json.dumps(parts[0]))
    key = ("seed", "n_problems", "n_heldout", "n_sft_problems", "n_rl_problems", "demo_max_steps", "max_steps")
    for part in parts[1:]:
        if any(part["config"].get(k) != merged["config"].get(k) for k in key):
            raise ValueError(f"merge_results: parts of different runs ({[part['config'].get(k) for k in key]})")
        base = ("pretrained", "sft")  # shared by every part resumed from the same SFT model
        for stage, metrics in part["eval"].items():
            if stage in base and stage in merged["eval"]:
                if metrics != merged["eval"][stage]:
                    raise ValueError(f"merge_results: the parts disagree on the {stage} evaluation")
                continue
            if stage in merged["eval"]:
                raise ValueError(f"merge_results: {stage} was evaluated in two parts")
            merged["eval"][stage] = metrics
        merged.setdefault("reward_curves", {}).update(part.get("reward_curves", {}))
        for record in ("rft", "prm", "sft_continued_loss"):
            if record in part:
                merged[record] = part[record]
        if "prm" in part:  # the step reward model's settings are those of the part that trained it
            merged["config"].update({k: part["config"][k] for k in PRM_FIELDS if k in part["config"]})
        merged.setdefault("timings", {}).update(part.get("timings", {}))
    merged["config"]["arms"] = [a for p in parts for a in p["config"].get("arms", [])]
    merged["total_seconds"] = round(sum(merged.get("timings", {}).values()), 1)
    return merged


__all__ = [
    "CONTROL", "GRPO_STAGES", "PAPER_COMPARISONS", "RL_STAGES", "STAGES", "binomial_se", "compare", "comparison_line",
    "comparisons", "findings", "merge_results", "moving_average", "seeds_summary", "seeds_table", "summary_table",
    "verdicts", "write_report", "write_seeds_summary",
]  # fmt: skip
