# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature run's RL arms from one SFT model (§4, §5.2.1): RFT, the learned step reward model (Math-Shepherd)
and the online arms (Online RFT, GRPO outcome / process / learned PRM / iterative)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from trl_dsm.demo.config import ARMS, GEN_BATCH, PRM_ARMS, DemoConfig
from trl_dsm.demo.problems import Problem
from trl_dsm.demo.stages import _chat_prompt, _common_args, _losses
from trl_dsm.demo.threads import sampling_threads, trainer_callbacks


logger = logging.getLogger(__name__)


# -- 4. RL arms (§4, §5.2.1) -----------------------------------------------------------------------------------------
def _rl_rows(problems: list[Problem]) -> list[dict]:
    """Questions with final answers only: what RL, RFT and Online RFT learn from (no worked solution)."""
    return [{"prompt": _chat_prompt(p), "answer": str(p.answer)} for p in problems]


def rft(cfg: DemoConfig, sft_dir: Path, splits, tokenizer, workdir: Path):
    """RFT (§5.2.1, offline): ``num_generations`` samples of the SFT model for each of the ``grpo_steps x
    grpo_prompts_per_step`` questions GRPO sees, the distinct correct ones kept (``trl_dsm.grpo.rft.rft_dataset``),
    then SFT on them with the control's schedule (RL learning rate, ``grpo_steps`` steps of ``sft_batch_size``)."""
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from trl_dsm.eval.generation import HFGenerator
    from trl_dsm.grpo.rft import rft_dataset

    model = AutoModelForCausalLM.from_pretrained(sft_dir)
    questions = splits["rl"][: cfg.grpo_steps * cfg.grpo_prompts_per_step]
    generator = HFGenerator(
        model, tokenizer, max_new_tokens=cfg.max_completion_length, batch_size=GEN_BATCH, seed=cfg.seed
    )
    with sampling_threads():
        data = rft_dataset(generator, _rl_rows(questions), tokenizer=tokenizer, k=cfg.num_generations,
                           temperature=cfg.temperature)  # fmt: skip
    stats = {"questions": len(questions), "samples": len(questions) * cfg.num_generations, "kept": len(data),
             "solved_questions": len({str(r) for r in data["prompt"]}) if len(data) else 0}  # fmt: skip
    if not len(data):  # every gradient coefficient is 0: RFT leaves the SFT model as it is
        logger.warning("RFT: no correct sample among %d; the RFT arm is the SFT model", stats["samples"])
        return model, {"loss": [], **stats}
    args = SFTConfig(
        **_common_args(cfg, workdir / "rft"), max_steps=cfg.grpo_steps, per_device_train_batch_size=cfg.sft_batch_size,
        learning_rate=cfg.grpo_lr, lr_scheduler_type="constant_with_warmup", warmup_steps=cfg.grpo_warmup_steps,
        completion_only_loss=True, max_length=256,
    )  # fmt: skip
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=data.select_columns(["prompt", "completion"]), processing_class=tokenizer,
        callbacks=trainer_callbacks(),
    )  # fmt: skip
    trainer.train()
    return trainer.model, {"loss": _losses(trainer.state.log_history), **stats}


PRM_STEP_TAG, PRM_GOOD, PRM_BAD = " ки", "+", "-"  # Math-Shepherd's step tag and labels


def train_prm(cfg: DemoConfig, sft_dir: Path, splits, tokenizer, workdir: Path) -> tuple[Path, dict]:
    """The learned step reward model (§4.1.3, Math-Shepherd): a copy of the SFT model trained to predict, at a step
    tag after each step, whether that step can still reach the gold answer (hard estimation: any of ``prm_rollouts``
    rollouts of the SFT model from it does). Trained on ``prm_samples`` samples of the SFT model on RL questions
    that no GRPO arm sees first (the last ones) and checked, before any RL, on ``prm_samples // 4`` samples of the
    questions before those (:func:`~trl_dsm.grpo.reward_models.prm_metrics`: step accuracy and AUC, and the AUC
    within a question's group, which is what GRPO's normalization uses); saved to ``workdir/prm-model``."""
    from transformers import AutoModelForCausalLM, TrainingArguments

    from trl_dsm.grpo import ProcessRewardModel
    from trl_dsm.grpo.reward_models import ProcessRewardTrainer, prm_metrics

    policy = AutoModelForCausalLM.from_pretrained(sft_dir).eval()
    n_train = max(1, cfg.prm_samples // cfg.num_generations)
    n_held = max(1, n_train // 4)
    data = _prm_data(cfg, policy, tokenizer, splits["rl"][-n_train:], seed=cfg.seed + 1)
    held = _prm_data(cfg, policy, tokenizer, splits["rl"][-n_train - n_held : -n_train], seed=cfg.seed + 2)
    model = AutoModelForCausalLM.from_pretrained(sft_dir)
    prm = ProcessRewardModel(model, tokenizer, step_tag=PRM_STEP_TAG, good_token=PRM_GOOD, bad_token=PRM_BAD,
                             max_length=256)  # fmt: skip
    args = TrainingArguments(
        **_common_args(cfg, workdir / "prm"), max_steps=cfg.prm_steps, per_device_train_batch_size=cfg.prm_batch_size,
        learning_rate=cfg.prm_lr, lr_scheduler_type="cosine",
    )  # fmt: skip
    trainer = ProcessRewardTrainer(prm, args=args, train_dataset=data, callbacks=trainer_callbacks())
    trainer.train()
    path = workdir / "prm-model"
    trainer.model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    model.eval()
    scores = prm(prompts=held["prompt"], completions=[None] * len(held), steps=held["steps"])
    labels = [x for r in data["labels"] for x in r]
    stats = {"records": len(data), "steps": len(labels), "good_steps": sum(labels),
             "loss": _losses(trainer.state.log_history),
             "heldout": {"records": len(held), **prm_metrics(scores, held["labels"], held["prompt"])}}  # fmt: skip
    return path, stats


def _prm_data(cfg: DemoConfig, policy, tokenizer, questions: list[Problem], seed: int):
    """Math-Shepherd records from ``num_generations`` samples of ``policy`` per question. The PRM scores what
    GRPO gives it (the question's text, ``prompt_text``); the rollouts continue the policy's own text (its
    chat-rendered prompt and completion)."""
    from trl_dsm.eval.generation import HFGenerator
    from trl_dsm.grpo.reward_models import build_prm_dataset, hf_rollout
    from trl_dsm.grpo.rft import _render
    from trl_dsm.rewards.math import prompt_text

    prompts = [_render(_chat_prompt(p), tokenizer) for p in questions]
    generator = HFGenerator(policy, tokenizer, max_new_tokens=cfg.max_completion_length, batch_size=GEN_BATCH,
                            seed=seed)  # fmt: skip
    with sampling_threads():
        samples = generator.generate(prompts, n=cfg.num_generations, temperature=cfg.temperature)
    records = [{"prompt": prompt_text(_chat_prompt(p)), "rollout_prompt": rendered, "completion": c,
                "gold": str(p.answer)}
               for rendered, p, group in zip(prompts, questions, samples) for c in group]  # fmt: skip
    rollout = hf_rollout(policy, tokenizer, max_new_tokens=cfg.max_completion_length, temperature=cfg.temperature,
                         batch_size=GEN_BATCH, add_special_tokens=False)  # fmt: skip
    return build_prm_dataset(records, rollout, num_rollouts=cfg.prm_rollouts)


def grpo(cfg: DemoConfig, arm: str, sft_dir: Path, splits, tokenizer, workdir: Path, prm_dir: Path | None = None):
    """One online arm from the SFT model (§4, §5.2.1): ``online_rft``, GRPO ``outcome`` or ``process`` (the rule
    step reward with the final answer), ``process_prm`` (the learned step reward model at ``prm_dir``) or
    ``iterative`` (the same, ``iterations`` iterations: the reference reset to the policy and the PRM retrained on
    fresh samples with 10% replay at each iteration's end, §4.1.4)."""
    from datasets import Dataset

    from trl_dsm.grpo import GRPOMathConfig, GRPOMathTrainer, arithmetic_step_reward, with_final_answer_reward
    from trl_dsm.rewards import math_accuracy_reward

    if arm not in ARMS or arm == "rft":
        raise ValueError(f"grpo(): an online arm of {ARMS[1:]}, got {arm!r}")
    process = arm in ("process", *PRM_ARMS)
    extra: dict[str, Any] = {}
    step_scorer = with_final_answer_reward(arithmetic_step_reward) if arm == "process" else None
    if arm in PRM_ARMS:
        if prm_dir is None:
            raise ValueError(f"the {arm} arm needs the learned step reward model (prm_dir)")
        if cfg.prm_final_answer:  # the PRM scores every step but the last, which the final answer scores
            step_scorer = with_final_answer_reward(_load_prm(prm_dir))
        else:
            extra.update(process_reward_model=str(prm_dir), prm_step_tag=PRM_STEP_TAG, prm_good_token=PRM_GOOD,
                         prm_bad_token=PRM_BAD)  # fmt: skip
    if arm == "iterative":
        extra.update(
            iteration_steps=cfg.grpo_steps // cfg.iterations, reward_model_update_steps=cfg.prm_update_steps,
            reward_model_learning_rate=cfg.prm_lr, reward_model_batch_size=cfg.prm_batch_size,
            reward_model_samples_per_iteration=cfg.prm_samples, math_shepherd_rollouts=cfg.prm_rollouts,
            reward_model_replay_ratio=0.1,
        )  # fmt: skip
    if arm == "online_rft":
        extra["advantage_estimator"] = "online_rft"  # beta left unset: 0, the paper's Online RFT has no KL term
    else:
        extra["beta"] = cfg.beta
    args = GRPOMathConfig(
        **_common_args(cfg, workdir / f"grpo-{arm}"), max_steps=cfg.grpo_steps,
        per_device_train_batch_size=cfg.grpo_prompts_per_step * cfg.num_generations,
        num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
        learning_rate=cfg.grpo_lr, temperature=cfg.temperature, lr_scheduler_type="constant_with_warmup",
        warmup_steps=cfg.grpo_warmup_steps, supervision="process" if process else "outcome", step_separator="\n",
        **extra,
    )  # fmt: skip
    args.logging_steps = 1
    trainer = GRPOMathTrainer(
        model=str(sft_dir), reward_funcs=[math_accuracy_reward], args=args,
        train_dataset=Dataset.from_list(_rl_rows(splits["rl"])), processing_class=tokenizer,
        # rule arm: every "a op b = c" line checked; the last line ("The answer is N.") scored by the final answer
        process_reward_func=step_scorer, callbacks=trainer_callbacks(),
    )  # fmt: skip
    trainer.train()
    curve = [
        (h["step"], float(h["reward"]), float(h.get(f"pass@{cfg.num_generations}", "nan")))
        for h in trainer.state.log_history
        if "reward" in h
    ]
    return trainer.model, curve


def _load_prm(prm_dir: Path):
    """The learned step reward model at ``prm_dir`` as the trainer would load it from ``process_reward_model``."""
    from trl_dsm.grpo import ProcessRewardModel

    return ProcessRewardModel.from_pretrained(
        str(prm_dir), step_tag=PRM_STEP_TAG, good_token=PRM_GOOD, bad_token=PRM_BAD
    )
