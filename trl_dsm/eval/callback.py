# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The evaluation of :mod:`trl_dsm.eval.evaluate` as a ``TrainerCallback``: greedy accuracy, pass@k and maj@k on a
held-out set every ``eval_steps`` optimizer steps of GRPO training (DeepSeekMath §5.2.2 tracks how RL moves Maj@K
and Pass@K; TRL logs neither).

Under ``accelerate launch`` every rank evaluates its own shard of the problems (``problems[rank::world_size]``) with
its own copy of the model, the per-problem scores are gathered on every rank, and every rank computes the same
means. Shards are padded to the same length (a rank repeats its last problem and drops the repeat's scores), so every
rank makes the same number of ``generate`` calls: under FSDP and DeepSpeed ZeRO-3 ``transformers`` generates in
lockstep across ranks (``synced_gpus``), and a rank with fewer batches, or none, would hang the others. (TIR mode
runs a data-dependent number of generation rounds per rank: under FSDP / ZeRO-3 use CoT or PoT in the callback.)
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback

from trl_dsm._compat import trl_checkpointing_deprecations_ignored
from trl_dsm.eval.benchmarks import EvalItem, items_from_records
from trl_dsm.eval.config import EvalConfig
from trl_dsm.eval.estimators import k_values
from trl_dsm.eval.evaluate import evaluate_items
from trl_dsm.eval.generation import Generator, HFGenerator, VLLMGenerator


logger = logging.getLogger(__name__)


def shard_for_rank(items: Sequence, rank: int, world_size: int) -> tuple[int, list]:
    """``(n_own, shard)``: rank ``rank``'s problems ``items[rank::world_size]`` (``n_own`` of them) padded to
    ``ceil(len(items) / world_size)`` by repeating its last one (or the first problem for a rank with none), so every
    rank does the same amount of generation.

    >>> shard_for_rank(["a", "b", "c", "d", "e"], 1, 2), shard_for_rank(["a"], 1, 2)
    ((2, ['b', 'd', 'd']), (0, ['a']))
    """
    own = list(items[rank::world_size])
    size = math.ceil(len(items) / world_size)
    filler = own[-1] if own else items[0]
    return len(own), own + [filler] * (size - len(own))


class MathEvalCallback(TrainerCallback):
    """Evaluate the policy on held-out problems during training and log ``eval/<name>/greedy``,
    ``eval/<name>/pass@k`` and ``eval/<name>/maj@k`` (k = 1, 2, 4, ... ``config.num_samples``).

    Args:
        trainer: the trainer (``GRPOMathTrainer``, ``GRPOTrainer``, any ``transformers.Trainer``); its model and
            ``processing_class`` are used. Add the callback with ``trainer.add_callback(callback)``.
        problems: ``{"question"|"prompt", "answer"}`` records (a list or a ``datasets.Dataset``), or
            :class:`~trl_dsm.eval.benchmarks.EvalItem` (e.g. ``load_eval_items("gsm8k", limit=200)``).
        config: how to evaluate (mode, K, temperature, max_new_tokens, batch size); keep it small, it runs often.
        eval_steps: evaluate every this many optimizer steps (default: the trainer's ``eval_steps`` or
            ``logging_steps``).
        eval_on_start: also evaluate before the first step (the RL starting point).
        name: the metric prefix, ``eval/<name>/...``.
        samples_dir: if set, the main process writes each evaluation's per-problem records to
            ``<samples_dir>/<name>-step<N>.jsonl``.
        generator_factory: ``f(model, tokenizer) -> generator`` to sample with something other than
            :class:`~trl_dsm.eval.generation.HFGenerator` on the unwrapped policy.
        use_vllm: generate with the trainer's colocated vLLM engine (``use_vllm=True, vllm_mode="colocate"``), its
            weights synced to the policy first. ``None`` (default): when the trainer has such an engine (without
            sleep mode); ``False``: transformers on the unwrapped policy. Server mode evaluates with transformers.

    The metrics go through ``transformers.Trainer.log`` (the base method), so they reach ``report_to`` and
    ``state.log_history`` without flushing the metrics that GRPO accumulates between its own logging steps.
    """

    def __init__(
        self,
        trainer: Trainer,
        problems: Iterable[dict] | Sequence[EvalItem],
        config: EvalConfig | None = None,
        *,
        eval_steps: int | None = None,
        eval_on_start: bool = False,
        name: str = "heldout",
        answer_type: str = "latex",
        samples_dir: str | Path | None = None,
        generator_factory: Callable[[Any, Any], Generator] | None = None,
        use_vllm: bool | None = None,
    ) -> None:
        self.trainer = trainer
        problems = list(problems)
        self.items = problems if all(isinstance(p, EvalItem) for p in problems) else items_from_records(problems)
        if not self.items:
            raise ValueError("MathEvalCallback needs at least one problem")
        self.config = config or EvalConfig(max_new_tokens=256)
        args = trainer.args
        self.eval_steps = eval_steps or getattr(args, "eval_steps", None) or args.logging_steps
        if not self.eval_steps or self.eval_steps < 1:
            raise ValueError(f"eval_steps must be a positive integer, got {self.eval_steps}")
        self.eval_on_start = eval_on_start
        self.name = name
        self.answer_type = answer_type
        self.samples_dir = Path(samples_dir) if samples_dir is not None else None
        self.generator_factory = generator_factory
        vllm = getattr(trainer, "vllm_generation", None) if getattr(trainer, "use_vllm", False) else None
        colocated = vllm is not None and vllm.mode == "colocate" and not vllm.enable_sleep_mode
        if use_vllm and not colocated:
            raise ValueError(
                "MathEvalCallback(use_vllm=True) needs a trainer with a colocated vLLM engine without sleep mode "
                "(use_vllm=True, vllm_mode='colocate', vllm_enable_sleep_mode=False)"
            )
        self.use_vllm = colocated if use_vllm is None else use_vllm
        self.history: list[dict[str, Any]] = []  # every evaluation's metrics, with its step

    # -- TrainerCallback hooks ------------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        """Evaluate the starting policy (step 0) when ``eval_on_start`` is set."""
        if self.eval_on_start and state.global_step == 0:
            self.evaluate(state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        """Evaluate every ``eval_steps`` optimizer steps."""
        if state.global_step % self.eval_steps == 0:
            self.evaluate(state.global_step)

    # -- evaluation -----------------------------------------------------------------------------------------------
    def evaluate(self, step: int) -> dict[str, float]:
        """Evaluate the current policy (all ranks take part), log and return the metrics."""
        from accelerate.utils import gather_object
        from trl.models import unwrap_model_for_generation

        trainer = self.trainer
        accelerator = trainer.accelerator
        own, shard = shard_for_rank(self.items, accelerator.process_index, accelerator.num_processes)
        records: list[dict] = []
        if self.use_vllm and self.generator_factory is None:
            vllm = trainer.vllm_generation
            if trainer._last_loaded_step != trainer.state.global_step:  # as TRL does before it generates
                vllm.sync_weights()  # every rank takes part (gathers under ZeRO-3 / FSDP)
                trainer._last_loaded_step = trainer.state.global_step
            generator = VLLMGenerator(
                llm=vllm.llm, max_new_tokens=self.config.max_new_tokens, top_p=self.config.top_p,
                seed=self.config.seed + step,
            )  # fmt: skip
            result = evaluate_items(generator, shard, self.config, name=self.name, answer_type=self.answer_type,
                                    tokenizer=trainer.processing_class)  # fmt: skip
            records = [dict(r, step=step) for r in result.samples[:own]]  # the padding repeats are dropped
        else:
            unwrapped = unwrap_model_for_generation(trainer.model_wrapped, accelerator)
            with trl_checkpointing_deprecations_ignored(), unwrapped as model:  # TRL 1.16 on transformers 5
                if self.generator_factory is not None:
                    generator = self.generator_factory(model, trainer.processing_class)
                else:
                    generator = HFGenerator(
                        model,
                        trainer.processing_class,
                        max_new_tokens=self.config.max_new_tokens,
                        batch_size=self.config.batch_size,
                        top_p=self.config.top_p,
                        seed=self.config.seed + step,
                    )
                result = evaluate_items(
                    generator, shard, self.config, name=self.name, answer_type=self.answer_type,
                    tokenizer=trainer.processing_class,
                )  # fmt: skip
                records = [dict(r, step=step) for r in result.samples[:own]]  # the padding repeats are dropped
        records = gather_object(records)
        keys = [*(["greedy"] if self.config.greedy else []), *(f"{m}@{k}" for k in k_values(
            self.config.num_samples) for m in ("pass", "maj"))]  # fmt: skip
        metrics = {f"eval/{self.name}/{key}": sum(r["scores"][key] for r in records) / len(records) for key in keys}
        metrics[f"eval/{self.name}/no_answer_rate"] = sum(
            sum(a is None for a in r["answers"]) / len(r["answers"]) for r in records
        ) / len(records)
        self.history.append({"step": step, **metrics})
        # The callback handler's on_log clears control.should_log: keep the trainer's own logging decision.
        should_log = trainer.control.should_log
        Trainer.log(trainer, dict(metrics))
        trainer.control.should_log = should_log
        if self.samples_dir is not None and accelerator.is_main_process:
            self.samples_dir.mkdir(parents=True, exist_ok=True)
            with (self.samples_dir / f"{self.name}-step{step}.jsonl").open("w", encoding="utf-8") as f:
                for record in records:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return metrics
