# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``GRPOMathTrainer``: TRL's ``GRPOTrainer`` with DeepSeekMath's process supervision and group metrics (§4).

Everything TRL does (generation, vLLM, rewards, KL, loss, logging) stays TRL's: this class wraps
``_calculate_rewards`` to keep the batch it scored, and ``_generate_and_score_completions`` to replace the
per-sequence advantages with per-token process advantages (TRL's loss accepts a (B, T) tensor) and to log
pass@G and maj@G. No TRL method is copied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import torch
from accelerate.utils import gather_object
from trl import GRPOTrainer

from trl_dsm.grading.compare import normalize_answer
from trl_dsm.grading.extract import extract_answer
from trl_dsm.grpo.advantages import process_advantages
from trl_dsm.grpo.config import GRPOMathConfig
from trl_dsm.grpo.process import ProcessRewardModel, split_steps, step_texts
from trl_dsm.rewards.math import completion_text, math_accuracy_reward


class GRPOMathTrainer(GRPOTrainer):
    """GRPO with outcome or process supervision (DeepSeekMath §4.1).

    Args:
        model, reward_funcs, args, train_dataset, ...: as for ``trl.GRPOTrainer``; ``reward_funcs`` defaults to
            ``[trl_dsm.rewards.math_accuracy_reward]`` and ``args`` to ``GRPOMathConfig()``.
        process_reward_func: with ``args.supervision="process"``, the step scorer: called as
            ``f(prompts=..., completions=..., steps=list[list[str]], **dataset_columns)`` and returning one list of
            step rewards per completion (see :func:`trl_dsm.grpo.process.arithmetic_step_reward`, or
            :class:`~trl_dsm.grpo.process.ProcessRewardModel` for a ``transformers`` PRM). Default: the PRM at
            ``args.process_reward_model``.
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
            raise TypeError(f"args must be a GRPOMathConfig, got {type(args).__name__}")
        if reward_funcs is None:
            reward_funcs = [math_accuracy_reward]
        super().__init__(model, reward_funcs, args, *trainer_args, **trainer_kwargs)
        self.step_scorer = None
        if args.supervision == "process":
            self.step_scorer = process_reward_func or self._load_process_reward_model(args)
        elif process_reward_func is not None:
            raise ValueError("process_reward_func is only used with GRPOMathConfig(supervision='process')")
        self._token_texts: dict[int, str] = {}
        self._scored_batch: tuple | None = None

    def _load_process_reward_model(self, args: GRPOMathConfig) -> ProcessRewardModel:
        if not args.process_reward_model:
            raise ValueError(
                "supervision='process' needs a step scorer: pass process_reward_func=... to GRPOMathTrainer "
                "(e.g. trl_dsm.grpo.arithmetic_step_reward) or set GRPOMathConfig.process_reward_model"
            )
        from transformers import AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer

        loader = AutoModelForCausalLM if args.process_reward_kind == "step_tag" else AutoModelForTokenClassification
        prm = loader.from_pretrained(args.process_reward_model).to(self.accelerator.device).eval()
        tokenizer = AutoTokenizer.from_pretrained(args.process_reward_model)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return ProcessRewardModel(
            prm,
            tokenizer,
            kind=args.process_reward_kind,
            step_tag=args.prm_step_tag,
            good_token=args.prm_good_token,
            bad_token=args.prm_bad_token,
        )

    # -- wrapping TRL ----------------------------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._scored_batch = (inputs, prompts, completions, rewards_per_func)
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        batch_inputs, prompts, completions, rewards_per_func = self._scored_batch
        self._scored_batch = None
        self._log_group_metrics(mode, completions, rewards_per_func, group_size)
        if self.args.supervision == "process":
            output["advantages"] = self._process_advantages(
                mode, output, batch_inputs, prompts, completions, group_size
            )
        return output

    # -- process supervision ---------------------------------------------------------------------------------
    def _token_text(self, token_id: int) -> str:
        text = self._token_texts.get(token_id)
        if text is None:
            text = self.processing_class.decode([token_id])
            self._token_texts[token_id] = text
        return text

    def _process_advantages(self, mode, output, batch_inputs, prompts, completions, group_size) -> torch.Tensor:
        completion_ids, completion_mask = output["completion_ids"], output["completion_mask"]
        local_ends, local_steps = [], []
        for ids, mask in zip(completion_ids.tolist(), completion_mask.tolist()):
            texts = [self._token_text(t) for t, m in zip(ids, mask) if m]
            ends = split_steps(texts, self.args.step_separator)
            local_ends.append(ends)
            local_steps.append(step_texts(texts, ends))
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
        # A group may span processes: normalize over the whole group, then keep this process's rows.
        all_scores = gather_object(scores)
        all_ends = gather_object(local_ends)
        advantages = process_advantages(all_scores, all_ends, group_size, completion_ids.shape[1])
        start = self.accelerator.process_index * len(prompts)
        flat = [x for row in all_scores for x in row]
        metrics = self._metrics[mode]
        metrics["process/steps_per_completion"].append(sum(map(len, all_scores)) / max(len(all_scores), 1))
        if flat:
            metrics["process/step_reward_mean"].append(sum(flat) / len(flat))
            mean = sum(flat) / len(flat)
            metrics["process/step_reward_std"].append((sum((x - mean) ** 2 for x in flat) / len(flat)) ** 0.5)
        return advantages[start : start + len(prompts)].to(completion_mask.device)

    # -- pass@G and maj@G --------------------------------------------------------------------------------------
    def _log_group_metrics(self, mode, completions, rewards_per_func, group_size) -> None:
        try:
            column = self.reward_func_names.index(self.args.accuracy_reward_name)
        except ValueError:
            return
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
