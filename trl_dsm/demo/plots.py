# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature run's PNG plots: reward during RL, held-out accuracy by stage (± SE), Pass@K and Maj@K."""

from __future__ import annotations

from pathlib import Path

from trl_dsm.demo.compare import CONTROL, STAGES, _k_curve, _n, _pct, binomial_se


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
                        label=f"{arm} (moving average of {window} steps)")  # fmt: skip
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("RL step")
        ax.set_ylabel("mean outcome reward (train)")
        ax.legend()
        ax.set_title("Reward during RL")
        fig.tight_layout()
        fig.savefig(out / "reward_curve.png", dpi=120)
        plt.close(fig)
        files.append("reward_curve.png")
    ev = results["eval"]
    stages = [s for s in STAGES if s in ev]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    colors = ["#8c8c8c" if s == CONTROL else "#4c72b0" for s in stages]  # the control in grey
    errors = [binomial_se(ev[s]["greedy"], _n(results, ev[s])) if _n(results, ev[s]) else 0.0 for s in stages]
    ax.bar(stages, [ev[s]["greedy"] for s in stages], color=colors, yerr=errors, capsize=3)
    for i, s in enumerate(stages):
        ax.text(i, ev[s]["greedy"], _pct(ev[s]["greedy"]), ha="center", va="bottom", fontsize=8)
    ax.tick_params(axis="x", labelsize=7, labelrotation=20)
    ax.set_ylabel("held-out greedy accuracy (± SE)")
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
