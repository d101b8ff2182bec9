# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Iterative RL's reward-model side (DeepSeekMath §4.1.4, Algorithm 1, lines 10-11): a ``TrainerCallback`` that
collects the policy's fresh samples during an iteration, labels them at its end and continues training the reward
model on them with a replay of history. The reference reset itself is TRL's ``SyncRefModelCallback``."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from accelerate.utils import broadcast_object_list, gather_object
from transformers import TrainerCallback

from trl_dsm.grpo.process import ProcessRewardModel
from trl_dsm.rewards.math import DEFAULT_GOLD_COLUMNS, completion_text, prompt_text


if TYPE_CHECKING:
    from trl_dsm.grpo.trainer import GRPOMathTrainer


class IterativeRewardModel(TrainerCallback):
    """Continual reward-model training between RL iterations (DeepSeekMath §4.1.4, Algorithm 1, lines 10-11).

    Fresh policy samples are collected during an iteration; at its end (every ``iteration_steps`` steps, when the
    reference model also becomes the policy) they are labelled — outcome RM: chosen/rejected pairs from the trl-dsm
    grader; PRM: Math-Shepherd hard estimation from rollouts of the current policy — mixed with a replay of
    historical data (``reward_model_replay_ratio`` of the mix), and the reward model takes
    ``reward_model_update_steps`` optimizer steps. Labels are built on the main process and broadcast, so every
    rank trains its copy on the same data with the same seed. History, pending samples, the iteration count, the
    sampler state and the reward model's weights are saved in checkpoints and restored on resume.

    Refused under DeepSpeed ZeRO-3 and FSDP (see :func:`check_engine`); ``iteration_steps`` alone (the reference
    reset, TRL's ``SyncRefModelCallback``) works under both.
    """

    def __init__(self, trainer: GRPOMathTrainer) -> None:
        self.check_engine(trainer)
        self.trainer = trainer
        self.kind, self.model, self.tokenizer = self._find_reward_model(trainer)
        self.fresh: list[dict] = []
        self.history: list[dict] = []
        self.iteration = 0
        self.rng = random.Random(trainer.args.seed)
        trainer.add_callback(self)

    @staticmethod
    def check_engine(trainer: GRPOMathTrainer) -> None:
        """Refuse sharded engines: the update is a plain optimizer loop over whole parameters on every rank, and PRM
        labelling generates with the policy on the main process alone. Under ZeRO-3 and FSDP both models are
        sharded: that forward is a collective (one rank alone hangs) and the reward model TRL prepared holds only
        a shard of each weight (ZeRO-3: an inference engine without optimizer)."""
        plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
        engine = None
        if plugin is not None and plugin.zero_stage == 3:
            engine = "DeepSpeed ZeRO-3"
        elif getattr(trainer, "is_fsdp_enabled", False):
            engine = "FSDP"
        if engine is not None:
            raise ValueError(
                f"reward_model_update_steps={trainer.args.reward_model_update_steps} (iterative reward-model "
                f"training) is not supported under {engine}, which shards the policy and the reward model across "
                "ranks: set reward_model_update_steps=0 (iteration_steps alone, the reference reset, works), or train "
                "with DDP (recipes/accelerate_configs/ddp.yaml)"
            )

    @staticmethod
    def _find_reward_model(trainer: GRPOMathTrainer):
        prm = process_reward_model_of(trainer.step_scorer)
        if prm is not None:
            return "prm", prm.model, prm.tokenizer
        if trainer.args.supervision == "outcome":
            for func, processing_class in zip(trainer.reward_funcs, trainer.reward_processing_classes):
                if isinstance(func, torch.nn.Module):
                    return "orm", func, processing_class
        raise ValueError(
            "reward_model_update_steps needs a reward model to retrain: a sequence-classification reward model among "
            "reward_funcs (outcome supervision), or a PRM (process_reward_model=..., or a ProcessRewardModel passed "
            "as process_reward_func)"
        )

    # -- collecting -------------------------------------------------------------------------------------------
    def collect(self, batch_inputs, prompts, completions, steps, policy_prompts: list[str] | None = None) -> None:
        """Keep this rank's scored samples of one step (with their gold answers and, under process supervision, their
        steps) for the next reward-model update; a dataset without a gold-answer column contributes nothing.
        ``policy_prompts`` are the prompts as the policy saw them (decoded from its prompt ids, special tokens and
        chat template included): the Math-Shepherd rollouts continue those, while the PRM scores ``prompt_text``."""
        column = next((c for c in DEFAULT_GOLD_COLUMNS if c in batch_inputs[0]), None)
        if column is None:
            return
        local = [
            {
                "prompt": prompt_text(p),
                "rollout_prompt": policy_prompts[i] if policy_prompts is not None else None,
                "completion": completion_text(c),
                "gold": str(x[column]),
                "steps": steps[i] if steps is not None else None,
            }
            for i, (p, c, x) in enumerate(zip(prompts, completions, batch_inputs))
        ]
        keep = self.trainer.args.reward_model_samples_per_iteration
        self.fresh = (self.fresh + gather_object(local))[-keep:]

    # -- updating at the end of an iteration -----------------------------------------------------------------------
    def on_step_end(self, args, state, control, **kwargs):
        """At the end of each iteration (every ``iteration_steps`` steps) retrain the reward model (Algorithm 1, l. 10-11)."""
        if state.global_step % args.iteration_steps == 0 and self.fresh:
            self.update()
        return control

    def _label(self, samples: list[dict]) -> list[dict]:
        from trl_dsm.grpo.reward_models import build_prm_dataset, hf_rollout, orm_preference_pairs

        if self.kind == "orm":
            return orm_preference_pairs(
                [s["prompt"] for s in samples], [s["completion"] for s in samples], [s["gold"] for s in samples]
            )
        args = self.trainer.args
        policy = self.trainer.accelerator.unwrap_model(self.trainer.model)
        # The policy's own sampling temperature: a label estimates whether the policy can still reach the answer.
        rollout = hf_rollout(policy, self.trainer.processing_class, args.max_completion_length,
                             temperature=args.temperature, add_special_tokens=False)  # fmt: skip
        with_steps = [s for s in samples if s["steps"]]
        return build_prm_dataset(with_steps, rollout, args.math_shepherd_rollouts, args.step_separator).to_list()

    def update(self) -> None:
        """Label the fresh samples on the main process, broadcast them, mix in the replay of history
        (``reward_model_replay_ratio``) and train the reward model for ``reward_model_update_steps`` steps on every rank."""
        args = self.trainer.args
        samples, self.fresh = self.fresh, []
        labelled = [self._label(samples) if self.trainer.accelerator.is_main_process else None]
        fresh = broadcast_object_list(labelled, from_process=0)[0]
        ratio = args.reward_model_replay_ratio
        replay_size = min(len(self.history), math.ceil(len(fresh) * ratio / (1 - ratio))) if fresh else 0
        mix = fresh + self.rng.sample(self.history, replay_size)
        self.history.extend(fresh)
        self.iteration += 1
        metrics = self.trainer._metrics["train"]
        metrics["reward_model/fresh_records"].append(len(fresh))
        metrics["reward_model/replayed_records"].append(replay_size)
        if mix:
            losses = self._train(mix)
            metrics["reward_model/loss"].append(sum(losses) / len(losses))

    def _train(self, mix: list[dict]) -> list[float]:
        from trl_dsm.grpo.reward_models import PRMCollator, orm_loss, prm_loss

        args = self.trainer.args
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=args.reward_model_learning_rate)
        prm = process_reward_model_of(self.trainer.step_scorer)
        collator = PRMCollator(prm) if self.kind == "prm" else None
        device = next(self.model.parameters()).device
        self.model.train()
        losses = []
        for _ in range(args.reward_model_update_steps):
            batch = self.rng.sample(mix, min(args.reward_model_batch_size, len(mix)))
            if self.kind == "prm":
                inputs = {k: v.to(device) for k, v in collator(batch).items()}
                loss, _ = prm_loss(prm, self.model, inputs)
            else:
                loss = orm_loss(self.model, self.tokenizer, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        self.model.eval()
        return losses

    # -- checkpoints -------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the state (iteration, history, pending samples, sampler RNG) and the reward model's weights to ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        state = {"iteration": self.iteration, "history": self.history, "fresh": self.fresh, "rng": self.rng.getstate()}
        (folder / "iterative_rl_state.json").write_text(json.dumps(state))
        torch.save(self.model.state_dict(), folder / "reward_model.pt")

    def load(self, folder: Path) -> None:
        """Restore what :meth:`save` wrote (on resume); a checkpoint without it is a ``FileNotFoundError``."""
        state_file = folder / "iterative_rl_state.json"
        if not state_file.is_file():
            raise FileNotFoundError(f"{state_file} not found: the checkpoint was not written with iterative RL")
        state = json.loads(state_file.read_text())
        self.iteration, self.history, self.fresh = state["iteration"], state["history"], state["fresh"]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        weights = folder / "reward_model.pt"
        if weights.is_file():
            self.model.load_state_dict(torch.load(weights, map_location=next(self.model.parameters()).device))


def process_reward_model_of(scorer) -> ProcessRewardModel | None:
    """The :class:`ProcessRewardModel` a step scorer is, or wraps (``with_final_answer_reward(prm)`` keeps it as
    ``step_reward``); None for a rule."""
    for candidate in (scorer, getattr(scorer, "step_reward", None)):
        if isinstance(candidate, ProcessRewardModel):
            return candidate
    return None
