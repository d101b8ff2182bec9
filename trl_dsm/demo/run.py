# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The whole DeepSeekMath recipe in miniature, offline, on one CPU (``trl-dsm demo``).

1. **Mining (§2.1)**: a generated crawl (worksheet pages among news/sport/recipe/travel pages, duplicates, pages
   that copy held-out problems; plus real pages with ``--web-docs``) goes through the fastText mining pipeline
   (URL + MinHash dedup, classifier, selection, domain discovery), then 10-gram decontamination against the
   held-out problems.
2. **Pretraining (§2.2)**: a tiny Llama from scratch on the mined corpus mixed with generated word problems with
   worked steps, packed into blocks, with the paper's multi-step learning-rate schedule.
3. **SFT (§3)**: chain-of-thought solutions in DeepSeekMath's chat format, loss on the completion only.
4. **RL (§4, §5.2.1)**: arms from the same SFT model, each a trainer mode of the library: RFT (``rft_dataset`` then
   ``SFTTrainer``), Online RFT (``advantage_estimator="online_rft"``), GRPO with outcome supervision, with process
   supervision (a rule checking each arithmetic step, or a learned step reward model), and iterative GRPO (§4.1.4:
   reference reset, the step reward model retrained on fresh samples with 10% replay); beside them the control,
   SFT continued on the same demonstrations at the RL learning rate for as many steps.
5. **Evaluation (§5)**: greedy accuracy, pass@k and maj@k on held-out problems after SFT and after each arm.

``DemoConfig.study()`` (``trl-dsm demo --study``) is the §5.2 study: scarce worked solutions, plentiful questions with
final answers only, every arm.

Everything is built from the library (``trl_dsm.mining``, ``.decontamination``, ``.pretrain``, ``.sft``, ``.grpo``,
``.eval``); nothing is downloaded.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

# the stages and arms, re-exported: ``trl_dsm.demo.run`` is the demo's entry point
from trl_dsm.demo.arms import PRM_BAD, PRM_GOOD, PRM_STEP_TAG, grpo, rft, train_prm
from trl_dsm.demo.config import ARM_STAGES, ARMS, GEN_BATCH, PRM_ARMS, PRM_FIELDS, DemoConfig
from trl_dsm.demo.outputs import PARTIAL, disk_usage, megabytes, prepare_output_dir, remove_intermediates
from trl_dsm.demo.stages import (
    _count_steps,
    _json_safe,
    _problem_text,
    build_tokenizer,
    evaluate,
    make_problem_splits,
    mine_corpus,
    pretrain,
    sft,
    sft_continued,
)
from trl_dsm.demo.threads import ThreadTuner, configure_process, describe, install, resolve_threads, tuned
from trl_dsm.demo.timing import (
    BASE_STAGES,
    EXPECTED_SECONDS,
    EXPECTED_TOTAL_SECONDS,
    expected_seconds,
    expected_time_text,
)


logger = logging.getLogger(__name__)


# -- the whole run ------------------------------------------------------------------------------------------------------
def run_demo(cfg: DemoConfig) -> dict:
    """Run the five stages; write ``results.json``, ``report.md``, plots and models to ``cfg.output_dir``.

    An earlier run named by ``resume_from`` or ``base_from`` is checked before anything is written; an output
    directory holding an earlier demo run's files is emptied first, one holding other files refused
    (:func:`~trl_dsm.demo.outputs.prepare_output_dir`). The stages' working directories (the mining run, the
    trainers' directories) are removed when the run ends, finished or not, unless ``cfg.keep_intermediates``."""
    configured = configure_process()  # before torch loads, where the caller has not imported it yet
    import torch

    from trl_dsm.demo.report import write_report

    out = Path(cfg.output_dir)
    check_earlier_runs(cfg)
    threads = resolve_threads(cfg.threads)
    torch.set_num_threads(threads)
    tuning = tuned(cfg.threads) and threads > 1
    tuner = ThreadTuner(threads) if tuning else None
    install(tuner)
    timings: dict[str, float] = {}
    results: dict[str, Any] = {"config": asdict(cfg)}
    total, expected = expected_seconds(cfg)
    cleared = prepare_output_dir(out)
    if cleared:
        print(f"[trl-dsm demo] {cleared}", flush=True)
    when = f"; {expected_time_text(cfg.kind)} (docs/demo.md)" if total or cfg.kind == "quick" else ""
    print(f"[trl-dsm demo] {cfg.kind} configuration{when}; {describe(threads, configured, tuning)}; writing to {out}/",
          flush=True)  # fmt: skip
    start = time.perf_counter()

    def stage(name: str, fn, *args):
        tic = time.perf_counter()
        logger.info("stage %s", name)
        # every finished stage's record is on disk, so a run stopped midway keeps what it measured
        (out / PARTIAL).write_text(json.dumps(_json_safe({**results, "timings": timings}), indent=2))
        print(f"[trl-dsm demo] {name} ... (elapsed {tic - start:.0f} s)", flush=True)
        value = fn(*args)
        timings[name] = round(time.perf_counter() - tic, 1)
        guess = f" (expected ~{expected[name]:.0f} s)" if name in expected else ""
        of = f" of ~{total:.0f} s expected" if total else ""
        print(f"[trl-dsm demo] {name}: {timings[name]:.0f} s{guess}; elapsed {time.perf_counter() - start:.0f} s{of}",
              flush=True)  # fmt: skip
        return value

    finished = False
    try:
        _run_stages(cfg, out, results, stage)
        results["timings"] = timings
        results["total_seconds"] = round(sum(timings.values()), 1)
        if tuner is not None:  # (step, threads chosen, median seconds per step of each candidate)
            results["thread_choices"] = [[step, n, medians] for step, n, medians in tuner.choices]
        (out / "results.json").write_text(json.dumps(_json_safe(results), indent=2))
        write_report(results, out)
        finished = True
    finally:
        install(None)
        if tuner is not None and tuner.choices:
            print(f"[trl-dsm demo] torch threads chosen: {tuner.summary()}", flush=True)
        if not cfg.keep_intermediates:
            freed = remove_intermediates(out, finished)
            if finished:
                print(f"[trl-dsm demo] {out}/ holds {megabytes(disk_usage(out))} (report, results, plots, models); "
                      f"removed the stages' working directories ({megabytes(freed)}; --keep-intermediates keeps "
                      "them)", flush=True)  # fmt: skip
    return results


def _run_stages(cfg: DemoConfig, out: Path, results: dict, stage) -> None:
    """The stages of one run, each through ``stage(name, fn, *args)``; records go into ``results``."""
    splits = make_problem_splits(cfg)
    results["splits"] = {
        name: {"problems": len(problems), "by_operations": _count_steps(problems)} for name, problems in splits.items()
    }
    if cfg.resume_from:
        tokenizer, sft_dir = _resume(cfg, results)
    else:
        if cfg.base_from:
            tokenizer, model = _base(cfg, results)
        else:
            corpus, results["mining"] = stage("mining + decontamination", mine_corpus, cfg, splits, out)
            tokenizer = stage(
                "tokenizer", build_tokenizer, list(corpus["text"]) + [_problem_text(p) for p in splits["pretrain"]],
                cfg.vocab_size,
            )  # fmt: skip
            model, results["pretrain_loss"], results["pretrain_blocks"] = stage(
                "pretraining", pretrain, cfg, corpus, splits, tokenizer, out
            )
            model.save_pretrained(out / "pretrained-model")
            tokenizer.save_pretrained(out / "pretrained-model")
            results["eval"] = {
                "pretrained": stage("eval pretrained", evaluate, cfg, model, tokenizer, splits["heldout"])
            }
        model, results["sft_loss"] = stage("sft", sft, cfg, model, splits, tokenizer, out)
        sft_dir = out / "sft-model"
        model.save_pretrained(sft_dir)
        tokenizer.save_pretrained(sft_dir)
        results["eval"]["sft"] = stage("eval sft", evaluate, cfg, model, tokenizer, splits["heldout"])
        del model
    if cfg.sft_control:
        control, results["sft_continued_loss"] = stage(
            "sft continued", sft_continued, cfg, sft_dir, splits, tokenizer, out
        )
        results["eval"]["sft_continued"] = stage(
            "eval sft continued", evaluate, cfg, control, tokenizer, splits["heldout"]
        )
        del control
    results["reward_curves"] = {}
    prm_dir = None
    for arm in cfg.arms:
        name = ARM_STAGES[arm]
        if arm in PRM_ARMS and prm_dir is None:  # trained once, before the first arm that scores with it
            prm_dir, results["prm"] = stage("step reward model", train_prm, cfg, sft_dir, splits, tokenizer, out)
        if arm == "rft":
            rl_model, results["rft"] = stage("rft", rft, cfg, sft_dir, splits, tokenizer, out)
        else:
            rl_model, results["reward_curves"][arm] = stage(
                name.replace("_", " "), grpo, cfg, arm, sft_dir, splits, tokenizer, out, prm_dir
            )
        results["eval"][name] = stage(f"eval {name}", evaluate, cfg, rl_model, tokenizer, splits["heldout"])
        del rl_model


def check_earlier_runs(cfg: DemoConfig) -> None:
    """The checks of ``cfg.resume_from`` and ``cfg.base_from`` (:func:`_earlier_run`), and that neither is the output
    directory (its files are removed before a run); reads only, so a bad one fails before anything is written."""
    for name, model_dir, stage, free, what in (
        ("resume_from", "sft-model", "sft", _RESUMABLE, "configuration"),
        ("base_from", "pretrained-model", "pretrained", _BASE_FREE, "data, model or pretraining configuration"),
    ):
        if getattr(cfg, name):
            if Path(getattr(cfg, name)).resolve() == Path(cfg.output_dir).resolve():
                raise ValueError(f"{name}={getattr(cfg, name)} is the output directory; give another --output-dir")
            _earlier_run(cfg, name, model_dir, stage, free, what)


#: Fields that may differ between a run and the earlier run it resumes from (``DemoConfig.resume_from``).
_RESUMABLE = ("output_dir", "resume_from", "arms", "sft_control", "threads", "keep_intermediates", *PRM_FIELDS)


def _earlier_run(cfg: DemoConfig, field: str, model_dir: str, stage: str, free: tuple[str, ...], what: str) -> dict:
    """The results of the run at ``getattr(cfg, field)``, checked: its ``model_dir`` exists, it evaluated ``stage``,
    and its configuration equals ``cfg`` outside the ``free`` fields (an error names ``field`` and what differs)."""
    prev = Path(getattr(cfg, field))
    found = [prev / name for name in ("results.json", "results.partial.json") if (prev / name).is_file()]
    if not found or not (prev / model_dir).is_dir():
        raise ValueError(f"{field}={prev}: no results.json (or results.partial.json) and {model_dir}/ there")
    earlier = json.loads(found[0].read_text())
    if stage not in earlier.get("eval", {}):
        raise ValueError(f"{field}={prev}: that run has not finished evaluating its {stage} model")
    mine = {k: v for k, v in _json_safe(asdict(cfg)).items() if k not in free}
    theirs = {k: v for k, v in earlier["config"].items() if k not in free}
    differ = sorted(k for k in mine if mine[k] != theirs.get(k))
    if differ:
        raise ValueError(f"{field}={prev}: its {what} differs in {differ}")
    return earlier


def _resume(cfg: DemoConfig, results: dict) -> tuple[Any, Path]:
    """The tokenizer and SFT model directory of the run at ``cfg.resume_from``, its records copied into ``results``;
    refused when the two configurations differ beyond the arms, the control and the thread count."""
    from transformers import AutoTokenizer

    prev = Path(cfg.resume_from)
    earlier = _earlier_run(cfg, "resume_from", "sft-model", "sft", _RESUMABLE, "configuration")
    for key in ("mining", "pretrain_loss", "pretrain_blocks", "sft_loss", "base"):
        if key in earlier:
            results[key] = earlier[key]
    results["eval"] = {k: earlier["eval"][k] for k in ("pretrained", "sft")}
    results["resumed_from"] = str(prev)
    return AutoTokenizer.from_pretrained(prev / "sft-model"), prev / "sft-model"


#: Fields a run may change from the run whose pretrained model it reuses (``DemoConfig.base_from``): the seed, and
#: everything from SFT on (the data splits, tokenizer, model and pretraining settings must match).
_BASE_FREE = (
    *_RESUMABLE, "seed", "base_from", "sft_steps", "sft_batch_size", "sft_lr", "sft_scheduler", "sft_warmup_steps",
    "grpo_steps", "grpo_prompts_per_step", "num_generations", "grpo_lr", "grpo_warmup_steps", "beta", "prm_samples",
    "prm_rollouts", "prm_steps", "prm_lr", "prm_batch_size", "iterations", "prm_update_steps",
    "max_completion_length", "temperature", "eval_samples", "eval_temperature",
)  # fmt: skip


def _base(cfg: DemoConfig, results: dict) -> tuple[Any, Any]:
    """The tokenizer and pretrained model of the run at ``cfg.base_from``, its mining, pretraining and pretrained
    evaluation records copied into ``results``; refused when the data, tokenizer, model or pretraining settings
    differ."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prev = Path(cfg.base_from)
    earlier = _earlier_run(
        cfg, "base_from", "pretrained-model", "pretrained", _BASE_FREE, "data, model or pretraining configuration"
    )
    for key in ("mining", "pretrain_loss", "pretrain_blocks"):
        if key in earlier:
            results[key] = earlier[key]
    results["eval"] = {"pretrained": earlier["eval"]["pretrained"]}
    timings = {k: v for k, v in earlier.get("timings", {}).items() if k in BASE_STAGES}
    results["base"] = {"from": str(prev), "seed": earlier["config"]["seed"], "timings": timings}
    path = prev / "pretrained-model"
    return AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)


def config_for(quick: bool, study: bool = False, **overrides) -> DemoConfig:
    """The configuration of ``trl-dsm demo [--quick] [--study]`` with ``overrides`` (DemoConfig fields)."""
    if quick and study:
        return DemoConfig.quick(study_run=True, arms=ARMS, **overrides)
    if quick:
        return DemoConfig.quick(**overrides)
    return DemoConfig.study(**overrides) if study else replace(DemoConfig(), **overrides)


__all__ = [
    "ARMS", "ARM_STAGES", "EXPECTED_SECONDS", "EXPECTED_TOTAL_SECONDS", "GEN_BATCH", "PRM_ARMS", "PRM_BAD", "PRM_GOOD",
    "PRM_STEP_TAG", "DemoConfig", "build_tokenizer", "check_earlier_runs", "config_for", "evaluate",
    "expected_seconds", "expected_time_text", "grpo",
    "make_problem_splits", "mine_corpus", "pretrain", "rft", "run_demo", "sft", "sft_continued", "train_prm",
]  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    run_demo(DemoConfig())
