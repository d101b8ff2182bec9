# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature run's PNG plots: reward during RL, held-out accuracy by stage (± SE), Pass@K and Maj@K.

Every stage keeps one style (colour, marker, line style) in every plot, accuracies are in percent as in
``report.md``, and a ``--quick`` run's plots carry a stamp saying that their numbers mean nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trl_dsm.demo.compare import CONTROL, STAGES, _k_curve, _n, _pct, binomial_se
from trl_dsm.demo.config import ARM_STAGES


#: The plot style of each stage: (colour, marker, line style); the control is grey.
STYLES: dict[str, tuple[str, str, str]] = {
    "pretrained": ("tab:olive", "x", ":"),
    "sft": ("tab:blue", "o", "-"),
    CONTROL: ("darkgrey", "s", "--"),
    "rft": ("tab:brown", "v", "-."),
    "online_rft": ("tab:purple", "P", ":"),
    "grpo_outcome": ("tab:orange", "^", "-"),
    "grpo_process": ("tab:green", "D", "--"),
    "grpo_process_prm": ("tab:red", "X", "-."),
    "grpo_iterative": ("tab:pink", "*", ":"),
}

#: The stamp on every plot of a ``--quick`` run.
SMOKE_STAMP = "SMOKE TEST (--quick): numbers mean nothing"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _stamp(fig, results: dict) -> None:
    """The smoke-test stamp across ``fig`` when ``results`` are of a ``--quick`` run."""
    if results.get("config", {}).get("smoke_test"):
        fig.text(0.5, 0.5, SMOKE_STAMP, ha="center", va="center", rotation=15, fontsize=17, color="firebrick",
                 alpha=0.35, fontweight="bold", zorder=10)  # fmt: skip


def reward_figure(results: dict) -> Any | None:
    """Mean outcome reward of each RL step's samples per online arm, and a trailing mean over a tenth of the steps
    when there are 20 steps or more; None when no arm logged a reward curve."""
    from matplotlib.ticker import MaxNLocator

    curves = {arm: curve for arm, curve in results.get("reward_curves", {}).items() if curve}
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for i, (arm, curve) in enumerate(curves.items()):
        color, marker, style = STYLES.get(ARM_STAGES.get(arm, arm), ("black", "o", "-"))
        steps, rewards = zip(*[(s, r) for s, r, *_ in curve])
        window = len(rewards) // 10
        if window >= 2:
            ax.plot(steps, rewards, color=color, alpha=0.3, linewidth=0.8, linestyle=style)
            ax.plot(steps, moving_average(rewards, window), color=color, linestyle=style,
                    label=f"{ARM_STAGES.get(arm, arm)}: trailing mean over {window} steps (faint: each step)")  # fmt: skip
        else:
            # open markers, each arm's larger than the next: arms with equal rewards stay visible
            ax.plot(steps, rewards, color=color, linestyle=style, marker=marker, fillstyle="none",
                    markersize=12 - 2 * min(i, 4), label=f"{ARM_STAGES.get(arm, arm)}: each step")  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("RL step")
    ax.set_ylabel("mean outcome reward of the\nstep's samples (1 = correct)")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("Reward during RL (training questions)")
    fig.tight_layout()
    _stamp(fig, results)
    return fig


def accuracy_figure(results: dict) -> Any:
    """Held-out greedy accuracy of each stage in percent, with its binomial standard error."""
    plt = _pyplot()
    ev = results["eval"]
    stages = [s for s in STAGES if s in ev]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    values = [100 * ev[s]["greedy"] for s in stages]
    errors = [100 * binomial_se(ev[s]["greedy"], _n(results, ev[s])) if _n(results, ev[s]) else 0.0 for s in stages]
    ax.bar(stages, values, color=[STYLES[s][0] for s in stages], yerr=errors, capsize=3)
    for i, s in enumerate(stages):
        ax.text(i, values[i] + errors[i], _pct(ev[s]["greedy"]), ha="center", va="bottom", fontsize=8)
    ax.tick_params(axis="x", labelsize=7, labelrotation=20)
    ax.set_ylabel("held-out greedy accuracy, % (± SE)")
    ax.set_ylim(0, 105)
    ax.set_title(f"Accuracy by stage ({CONTROL}, grey: the control)")
    fig.tight_layout()
    _stamp(fig, results)
    return fig


def pass_maj_figure(results: dict) -> Any:
    """Pass@K (left) and Maj@K (right) in percent against k, one series per stage with its own style. Series are
    set a little apart along k (each stage by its own constant fraction of k), so stages with equal numbers stay visible."""
    plt = _pyplot()
    ev = results["eval"]
    stages = [s for s in STAGES if s in ev]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    ks: set[int] = set()
    for ax, kind, title in ((axes[0], "pass", "Pass@K"), (axes[1], "maj", "Maj@K")):
        for i, stage in enumerate(stages):
            curve = _k_curve(ev[stage], kind)
            if not curve:
                continue
            color, marker, style = STYLES[stage]
            shift = 2 ** (0.07 * (i - (len(stages) - 1) / 2))
            x, y = zip(*curve)
            ks.update(x)
            ax.plot([k * shift for k in x], [100 * v for v in y], linestyle=style, color=color, marker=marker,
                    markersize=6, label=stage)  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_title(f"{title} (held-out)")
        ax.set_xlabel("k (samples per problem)")
        ax.grid(alpha=0.3)
    for ax in axes:
        ax.set_xticks(sorted(ks), [str(k) for k in sorted(ks)])
        ax.minorticks_off()
    axes[0].set_ylabel("held-out accuracy, %")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, title="stage")
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    _stamp(fig, results)
    return fig


def _plot(results: dict, out: Path) -> list[str]:
    """Write the plots of ``results`` to ``out``; their file names."""
    plt = _pyplot()
    files = []
    for name, fig in (
        ("reward_curve.png", reward_figure(results)),
        ("accuracy_by_stage.png", accuracy_figure(results)),
        ("pass_maj_at_k.png", pass_maj_figure(results)),
    ):
        if fig is not None:
            fig.savefig(Path(out) / name, dpi=120)
            plt.close(fig)
            files.append(name)
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
