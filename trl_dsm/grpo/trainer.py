# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``GRPOMathTrainer``: TRL's ``GRPOTrainer`` with DeepSeekMath's process supervision and group metrics (§4).

Everything TRL does (generation, vLLM, rewards, KL, loss, logging) stays TRL's: this class wraps
``_calculate_rewards`` to keep the batch it scored, and ``_generate_and_score_completions`` to replace the
per-sequence advantages with per-token process advantages (TRL's loss accepts a (B, T) tensor) and to log
pass@G and maj@G. No TRL method is copied.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch
from accelerate.utils import gather_object
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint
from trl import GRPOConfig, GRPOTrainer

from trl_dsm._compat import check_trl_can_train, check_trl_grpo_trainer, trl_checkpointing_deprecations_ignored
from trl_dsm.grading.compare import normalize_answer
from trl_dsm.grading.extract import extract_answer
from trl_dsm.grpo.config import GRPOMathConfig
from trl_dsm.grpo.estimators import AdvantageInputs, get_advantage_estimator
from trl_dsm.grpo.iterative import IterativeRewardModel, full_state_dict, load_full_state_dict
from trl_dsm.grpo.process import ProcessRewardModel
from trl_dsm.grpo.progress import use_concise_progress
from trl_dsm.grpo.steps import split_completion
from trl_dsm.rewards.math import completion_text, math_accuracy_reward


#: The reference model of iterative RL, saved in checkpoints written inside an iteration.
REFERENCE_FILE = "iterative_rl_reference.pt"

check_trl_grpo_trainer(GRPOTrainer)  # the TRL internals wrapped below (trl_dsm._compat.TRL_WRAPPED_METHODS)


class _RestoreReference(TrainerCallback):
    def __init__(self, trainer: GRPOMathTrainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer._restore_reference()
        return control


class GRPOMathTrainer(GRPOTrainer):
    """GRPO with outcome or process supervision (DeepSeekMath §4.1).

    Args:
        model, reward_funcs, args, train_dataset, ...: as for ``trl.GRPOTrainer``; ``reward_funcs`` defaults to
            ``[trl_dsm.rewards.math_accuracy_reward]`` and ``args`` to ``GRPOMathConfig()``. A plain
            ``trl.GRPOConfig`` is converted by :meth:`GRPOMathConfig.from_grpo_config` (its values kept).
        process_reward_func: with ``args.supervision="process"``, the step scorer: called as
            ``f(prompts=..., completions=..., steps=list[list[str]], **dataset_columns)`` and returning one list of
            step rewards per completion (see :func:`trl_dsm.grpo.process.arithmetic_step_reward`, or
            :class:`~trl_dsm.grpo.process.ProcessRewardModel` for a ``transformers`` PRM, alone or wrapped by
            :func:`~trl_dsm.grpo.process.with_final_answer_reward`). Default: the PRM at
            ``args.process_reward_model``; giving both is an error.
    """

    def __init__(
        self,
        model,
        reward_funcs=None,
        args: GRPOMathConfig | None = None,
        *trainer_args,
        process_reward_func: Callable[..., list[list[float]]] | None = None,
        **trainer_kwargs,
    ) -> None:
        if args is None:
            name = model if isinstance(model, str) else model.config._name_or_path
            args = GRPOMathConfig(f"{str(name).split('/')[-1]}-GRPOMath")
        if not isinstance(args, GRPOMathConfig):
            if not isinstance(args, GRPOConfig):
                raise TypeError(f"args must be a GRPOMathConfig or a trl.GRPOConfig, got {type(args).__name__}")
            args = GRPOMathConfig.from_grpo_config(args)  # a TRL script switches by changing the trainer class only
        if reward_funcs is None:
            reward_funcs = [math_accuracy_reward]
        check_trl_can_train()
        super().__init__(model, reward_funcs, args, *trainer_args, **trainer_kwargs)
        if args.advantage_estimator == "online_rft" and args.accuracy_reward_name not in self.reward_func_names:
            raise ValueError(
                f"advantage_estimator='online_rft' reads the verdicts of the rule reward named "
                f"accuracy_reward_name={args.accuracy_reward_name!r}, which is not among reward_funcs "
                f"{list(self.reward_func_names)}: add it (trl_dsm.rewards.math_accuracy_reward) or set "
                "accuracy_reward_name"
            )
        self.step_scorer = None
        if args.supervision == "process":
            if process_reward_func is not None and args.process_reward_model:
                raise ValueError(
                    f"both process_reward_func and GRPOMathConfig.process_reward_model={args.process_reward_model!r} "
                    "are set: pass one step scorer (to combine a PRM with a rule, wrap the ProcessRewardModel, e.g. "
                    "with_final_answer_reward(ProcessRewardModel(...)))"
                )
            self.step_scorer = process_reward_func or self._load_process_reward_model(args)
        elif process_reward_func is not None:
            raise ValueError("process_reward_func is only used with GRPOMathConfig(supervision='process')")
        self._token_texts: dict[int, str] = {}  # token id -> its text alone (step splitting's fast path)
        self._scored_batch: tuple | None = None
        self.iterative = IterativeRewardModel(self) if args.reward_model_update_steps else None
        self._resumed_from: Path | None = None
        if args.iteration_steps:
            self.add_callback(_RestoreReference(self))
        use_concise_progress(self)  # tqdm bar + one short line per log, not TRL's ~40-key dict every step

    def _load_process_reward_model(self, args: GRPOMathConfig) -> ProcessRewardModel:
        if not args.process_reward_model:
            raise ValueError(
                "supervision='process' needs a step scorer: pass process_reward_func=... to GRPOMathTrainer "
                "(e.g. trl_dsm.grpo.arithmetic_step_reward) or set GRPOMathConfig.process_reward_model"
            )
        return ProcessRewardModel.from_pretrained(
            args.process_reward_model, kind=args.process_reward_kind, device=self.accelerator.device,
            step_tag=args.prm_step_tag, good_token=args.prm_good_token, bad_token=args.prm_bad_token,
        )  # fmt: skip

    # -- wrapping TRL ----------------------------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._scored_batch = (inputs, prompts, completions, rewards_per_func)
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        """TRL's generation and scoring, then our group metrics, process advantages and iterative-RL collection."""
        with trl_checkpointing_deprecations_ignored():  # TRL 1.16 on transformers 5 (see trl_dsm._compat)
            output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        batch_inputs, prompts, completions, rewards_per_func = self._scored_batch
        self._scored_batch = None
        correct = self._log_group_metrics(mode, completions, rewards_per_func, group_size)
        steps = step_rewards = step_ends = None
        if self.args.supervision == "process":
            steps, step_rewards, step_ends = self._score_steps(mode, output, batch_inputs, prompts, completions)
        if step_rewards is not None or self.args.advantage_estimator != "grpo":
            # TRL's own advantages are the "grpo" outcome estimator; every other coefficient replaces them.
            output["advantages"] = self._estimate_advantages(
                output, rewards_per_func, group_size, correct, step_rewards, step_ends, len(prompts)
            )
        if self.iterative is not None and mode == "train":
            self.iterative.collect(batch_inputs, prompts, completions, steps, self._policy_prompts(output))
        return output

    def _policy_prompts(self, output) -> list[str]:
        """This process's prompts as the policy saw them: its prompt ids without padding, decoded with the special
        tokens and chat template they hold (what a Math-Shepherd rollout must continue)."""
        rows = zip(output["prompt_ids"].tolist(), output["prompt_mask"].tolist())
        return [
            self.processing_class.decode([t for t, m in zip(ids, mask) if m], skip_special_tokens=False)
            for ids, mask in rows
        ]

    # -- advantages (§4.1, §5.2.1) -----------------------------------------------------------------------------
    def _estimate_advantages(self, output, rewards_per_func, group_size, correct, step_rewards, step_ends, local_n):
        """The registered estimator on every process's completions, then this process's rows, (B,) or (B, T)."""
        mask = output["completion_mask"]
        all_mask = self.accelerator.gather(self.accelerator.pad_across_processes(mask, dim=1, pad_index=0))
        inputs = AdvantageInputs(
            rewards_per_func=rewards_per_func,
            reward_func_names=list(self.reward_func_names),
            reward_weights=self.reward_weights,
            group_size=group_size,
            completion_mask=all_mask,
            correct=None if correct is None else torch.tensor(correct, device=rewards_per_func.device),
            step_rewards=step_rewards,
            step_ends=step_ends,
            scale_rewards=self.scale_rewards,
        )
        advantages = get_advantage_estimator(self.args.advantage_estimator)(inputs)
        n = all_mask.shape[0]
        if advantages.dim() not in (1, 2) or advantages.shape[0] != n:
            raise ValueError(
                f"advantage estimator {self.args.advantage_estimator!r} returned shape {tuple(advantages.shape)}; "
                f"expected ({n},) or ({n}, T) for {n} completions"
            )
        advantages = advantages.float().to(mask.device)
        # The completions table shows what the loss uses: per-token advantages averaged over each completion's
        # tokens (TRL logged its outcome advantages of these rows a moment ago).
        if advantages.dim() == 2:
            width = min(advantages.shape[1], all_mask.shape[1])
            m = all_mask[:, :width].float()
            summary = (advantages[:, :width] * m).sum(1) / m.sum(1).clamp(min=1)
        else:
            summary = advantages
        logged = self._logs["advantages"]
        for _ in range(min(n, len(logged))):
            logged.pop()
        logged.extend(summary.tolist())
        start = self.accelerator.process_index * local_n
        advantages = advantages[start : start + local_n]
        if advantages.dim() == 2:
            width = mask.shape[1]
            advantages = torch.nn.functional.pad(advantages, (0, max(0, width - advantages.shape[1])))[:, :width]
        return advantages

    # -- process supervision ---------------------------------------------------------------------------------
    def _score_steps(self, mode, output, batch_inputs, prompts, completions):
        """Split this process's completions into steps, score them, and gather every process's step rewards and
        ends (a group may span processes). Returns (local step texts, all step rewards, all step ends)."""
        completion_ids, completion_mask = output["completion_ids"], output["completion_mask"]
        local_ends, local_steps = [], []
        for ids, mask in zip(completion_ids.tolist(), completion_mask.tolist()):
            # Exact step text: the completion decoded once, cut at character offsets (multi-byte safe, no EOS).
            ends, texts = split_completion(
                [t for t, m in zip(ids, mask) if m], self.processing_class, self.args.step_separator, self._token_texts
            )
            local_ends.append(ends)
            local_steps.append(texts)
        columns = {
            key: [example[key] for example in batch_inputs]
            for key in batch_inputs[0]
            if key not in ("prompt", "completion", "completion_ids")
        }
        scores = self.step_scorer(prompts=prompts, completions=completions, steps=local_steps, **columns)
        if len(scores) != len(local_steps) or any(len(s) != len(t) for s, t in zip(scores, local_steps)):
            raise ValueError(
                "the process reward function must return one list of step rewards per completion, one reward per "
                f"step; got {[len(s) for s in scores]} for steps {[len(t) for t in local_steps]}"
            )
        scores = [[float(x) for x in row] for row in scores]
        all_scores = gather_object(scores)
        all_ends = gather_object(local_ends)
        every = [x for row in all_scores for x in row]
        flat = [x for x in every if not math.isnan(x)]
        metrics = self._metrics[mode]
        metrics["process/steps_per_completion"].append(len(every) / max(len(all_scores), 1))
        if every:
            metrics["process/unscored_steps"].append(float(len(every) - len(flat)))  # cut off by the PRM
        if flat:
            mean = sum(flat) / len(flat)
            metrics["process/step_reward_mean"].append(mean)
            metrics["process/step_reward_std"].append((sum((x - mean) ** 2 for x in flat) / len(flat)) ** 0.5)
        return local_steps, all_scores, all_ends

    # -- iteration state in checkpoints ---------------------------------------------------------------------------
    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        folder = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        if self.iterative is not None:  # every rank: a sharded reward model saves its shards collectively
            self.iterative.save(folder)
        if self._reference_lags():
            # Mid-iteration the reference is the policy of the last reset, which the checkpoint does not hold
            # (gathered from its shards under ZeRO-3 and FSDP: a collective).
            state = full_state_dict(self.ref_model, self.accelerator)
            if self.args.should_save:
                torch.save(state, folder / REFERENCE_FILE)

    def _reference_lags(self) -> bool:
        """Whether the reference differs from the policy now: iterative RL between two resets."""
        steps = self.args.iteration_steps
        return bool(steps) and self.ref_model is not None and self.state.global_step % steps != 0

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        """``GRPOTrainer.train``, restoring the iterative-RL state (§4.1.4) from the checkpoint when resuming."""
        path = None
        if resume_from_checkpoint:
            path = (
                get_last_checkpoint(self.args.output_dir) if resume_from_checkpoint is True else resume_from_checkpoint
            )
        if self.iterative is not None and path:
            self.iterative.load(Path(path))
        self._resumed_from = Path(path) if path else None
        return super().train(resume_from_checkpoint, *args, **kwargs)

    def _restore_reference(self) -> None:
        """On resume, the reference of iterative RL as it was (§4.1.4, Algorithm 1 line 3): the policy itself at an
        iteration boundary, else the reference saved in the checkpoint. Called at ``on_train_begin``, once the
        checkpoint's weights and step are loaded."""
        if self._resumed_from is None or not self.args.iteration_steps or self.ref_model is None:
            return
        from trl.trainer.callbacks import SyncRefModelCallback

        if not self._reference_lags():
            policy = self.accelerator.unwrap_model(self.model)
            SyncRefModelCallback.sync_target_model(policy, self.ref_model, 1.0)
            return
        saved = self._resumed_from / REFERENCE_FILE
        if not saved.is_file():
            raise FileNotFoundError(
                f"{saved} not found: step {self.state.global_step} is inside an iteration "
                f"(iteration_steps={self.args.iteration_steps}) and the checkpoint holds no reference model; resume "
                "from a checkpoint at an iteration boundary"
            )
        load_full_state_dict(self.ref_model, saved, self.accelerator)

    # -- pass@G and maj@G --------------------------------------------------------------------------------------
    def _log_group_metrics(self, mode, completions, rewards_per_func, group_size) -> list[bool] | None:
        """Log pass@G and maj@G; return every process's per-completion verdict of the rule reward (None without
        one)."""
        try:
            column = self.reward_func_names.index(self.args.accuracy_reward_name)
        except ValueError:
            return None
        answers = gather_object(
            [
                normalize_answer(a) if (a := extract_answer(completion_text(c), fallback="last_math")) else None
                for c in completions
            ]
        )
        rewards = rewards_per_func[:, column].tolist()
        correct_value = getattr(self.reward_funcs[column], "correct_value", 1.0)
        correct = [r == correct_value for r in rewards]
        pass_at, maj_at = [], []
        for g in range(0, len(correct), group_size):
            group_correct, group_answers = correct[g : g + group_size], answers[g : g + group_size]
            pass_at.append(float(any(group_correct)))
            votes = Counter(a for a in group_answers if a is not None)
            if votes:
                winner = votes.most_common(1)[0][0]
                maj_at.append(float(group_correct[group_answers.index(winner)]))
            else:
                maj_at.append(0.0)
        if pass_at:
            self._metrics[mode][f"pass@{group_size}"].append(sum(pass_at) / len(pass_at))
            self._metrics[mode][f"maj@{group_size}"].append(sum(maj_at) / len(maj_at))
        return correct
