# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""What an evaluation writes (DeepSeekMath §5): ``results.json``, per-problem samples, the Pass@K / Maj@K plot and
the Hub model-index (``huggingface_hub.EvalResult``)."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict
from pathlib import Path

from trl_dsm.eval.config import BenchmarkResult, EvalConfig
from trl_dsm.eval.estimators import k_values


logger = logging.getLogger(__name__)


def _headline(metrics: dict) -> dict[str, float]:
    """The model-card metrics: greedy accuracy and pass@K / maj@K at the largest K."""
    K = metrics["num_samples"]
    out = {}
    if metrics.get("greedy") is not None:
        out["greedy"] = metrics["greedy"]
    if K > 1:
        out[f"pass@{K}"] = metrics[f"pass@{K}"]
        out[f"maj@{K}"] = metrics[f"maj@{K}"]
    elif "greedy" not in out:
        out["pass@1"] = metrics["pass@1"]
    return out


def eval_results(results: dict[str, BenchmarkResult]) -> list:
    """huggingface_hub ``EvalResult`` entries for ``ModelCardData(eval_results=...)`` (accuracy in percent)."""
    from huggingface_hub import EvalResult

    from trl_dsm.benchmarks import BENCHMARKS

    entries = []
    for name, result in results.items():
        spec = BENCHMARKS.get(name)
        configs = [c for c in (spec.hub_configs if spec else ()) if c is not None]
        m = result.metrics
        setting = f"{m['mode']}, {m['few_shot']}-shot"
        for metric, value in _headline(m).items():
            entries.append(
                EvalResult(
                    task_type="text-generation",
                    task_name="Mathematical reasoning",
                    dataset_type=(spec.hub_id if spec and spec.hub_id else name),
                    dataset_name=result.title,
                    dataset_config=configs[0] if len(configs) == 1 else None,
                    dataset_split=spec.hub_split if spec else None,
                    metric_type="accuracy" if metric == "greedy" else metric,
                    metric_name=f"{metric} ({setting})",
                    metric_value=round(100 * value, 2),
                )
            )
    return entries


def model_index(results: dict[str, BenchmarkResult], model_name: str) -> list[dict]:
    """The ``model-index`` block of a model card (what ``ModelCardData(eval_results=...)`` writes)."""
    from huggingface_hub.repocard_data import eval_results_to_model_index

    return eval_results_to_model_index(model_name, eval_results(results))


def pass_maj_figure(results: dict[str, BenchmarkResult]):
    """The Pass@K / Maj@K figure (§5.2, Figure 7): accuracy as a fraction in [0, 1] (the demo's scale) against K
    (log scale, integer ticks at the evaluated K), one panel per benchmark, greedy accuracy dashed.

    Needs matplotlib (raises ``ImportError``); the caller owns the figure (``plt.close(fig)`` when done)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        m = results[name].metrics
        ks = k_values(m["num_samples"])
        ax.plot(ks, [m[f"pass@{k}"] for k in ks], marker="o", label="Pass@K")
        ax.plot(ks, [m[f"maj@{k}"] for k in ks], marker="s", label="Maj@K")
        if m.get("greedy") is not None:
            ax.axhline(m["greedy"], linestyle="--", color="gray", label="greedy")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.minorticks_off()  # only the evaluated K (integers) are ticked
        ax.set_ylim(0, 1)
        ax.set_title(f"{results[name].title} ({m['mode']})")
        ax.set_xlabel("K")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_pass_maj(results: dict[str, BenchmarkResult], path: str | Path) -> Path | None:
    """Save :func:`pass_maj_figure` to ``path`` (PNG); ``None`` with a warning when matplotlib is missing."""
    try:
        import matplotlib.pyplot as plt

        fig = pass_maj_figure(results)
    except ImportError:
        logger.warning("matplotlib is not installed: no Pass@K / Maj@K plot")
        return None
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(
    results: dict[str, BenchmarkResult], output_dir: str | Path, *, model_name: str, config: EvalConfig
) -> dict[str, Path]:
    """``results.json``, ``samples/<benchmark>.jsonl``, ``pass_maj_at_k.png`` and ``model_index.json``."""
    from trl_dsm import __version__

    out = Path(output_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    paths = {"results": out / "results.json", "model_index": out / "model_index.json"}
    summary = {
        "model": model_name,
        "trl_dsm_version": __version__,
        "config": asdict(config),
        "results": {name: r.metrics for name, r in results.items()},
    }
    paths["results"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, result in results.items():
        path = out / "samples" / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for record in result.samples:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        paths[f"samples/{name}"] = path
    paths["model_index"].write_text(
        json.dumps(model_index(results, model_name), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    plot = plot_pass_maj(results, out / "pass_maj_at_k.png")
    if plot is not None:
        paths["plot"] = plot
    return paths
