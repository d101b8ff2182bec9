# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Iterative RL (DeepSeekMath §4.1.4, Algorithm 1): reward-model updates between iterations, state in checkpoints."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.test_grpo_trainer import _config, _dataset, tiny_path  # noqa: F401 - fixture re-exported


def _weights(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _changed(before, model) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_config_validation_for_reward_model_updates(tmp_path):
    from trl_dsm import GRPOMathConfig

    cpu = {"use_cpu": True, "bf16": False}
    with pytest.raises(ValueError, match="set iteration_steps"):
        GRPOMathConfig(str(tmp_path), reward_model_update_steps=2, **cpu)
    with pytest.raises(ValueError, match="reward_model_replay_ratio must be in"):
        GRPOMathConfig(str(tmp_path), reward_model_replay_ratio=1.0, **cpu)


def test_reward_model_updates_need_a_reward_model(tiny_path, tmp_path):  # noqa: F811
    from trl_dsm import GRPOMathTrainer

    args = _config(tmp_path, iteration_steps=1, reward_model_update_steps=1)
    with pytest.raises(ValueError, match="needs a reward model to retrain"):
        GRPOMathTrainer(tiny_path, args=args, train_dataset=_dataset())


def test_prm_is_retrained_each_iteration_and_state_resumes(tiny_path, tmp_path):  # noqa: F811
    from trl_dsm import GRPOMathTrainer

    prm_kwargs = {"process_reward_model": tiny_path, "prm_step_tag": "\n", "prm_good_token": "3", "prm_bad_token": "7"}
    args = _config(
        tmp_path, supervision="process", iteration_steps=1, reward_model_update_steps=2, math_shepherd_rollouts=2,
        reward_model_samples_per_iteration=4, reward_model_learning_rate=1e-2, save_strategy="steps", save_steps=1,
        **prm_kwargs,
    )  # fmt: skip
    trainer = GRPOMathTrainer(tiny_path, args=args, train_dataset=_dataset())
    before = _weights(trainer.step_scorer.model)
    trainer.train()
    it = trainer.iterative
    assert it.kind == "prm" and it.iteration == 2
    assert len(it.history) > 0 and all(set(r["labels"]) <= {0, 1} for r in it.history)
    assert all(len(r["labels"]) == len(r["steps"]) for r in it.history)
    assert _changed(before, trainer.step_scorer.model)  # the PRM the trainer scores with was updated in place
    logged = [e for e in trainer.state.log_history if "reward_model/loss" in e]
    assert logged and all(e["reward_model/fresh_records"] > 0 for e in logged)
    # the first checkpoint holds iteration 1 and the PRM as it was then
    state = json.loads((tmp_path / "checkpoint-1" / "iterative_rl_state.json").read_text())
    assert state["iteration"] == 1 and len(state["history"]) > 0
    resumed = GRPOMathTrainer(tiny_path, args=args, train_dataset=_dataset())
    resumed.iterative.load(tmp_path / "checkpoint-1")
    assert resumed.iterative.iteration == 1 and resumed.iterative.history == state["history"]
    saved = torch.load(tmp_path / "checkpoint-1" / "reward_model.pt")
    assert all(torch.equal(saved[k], v) for k, v in resumed.step_scorer.model.state_dict().items())
    resumed.train(resume_from_checkpoint=str(tmp_path / "checkpoint-1"))
    assert resumed.state.global_step == 2 and resumed.iterative.iteration == 2


def test_prm_relabelling_rolls_out_from_the_policys_own_text(tiny_path, tmp_path, monkeypatch):  # noqa: F811
    """The Math-Shepherd rollouts of a retraining continue each prompt as the policy saw it (chat template
    applied), at the policy's sampling temperature; the PRM's records keep the question text it scores in GRPO."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    import trl_dsm.grpo.reward_models as reward_models
    from tests.test_grpo_trainer import ANSWERS, QUESTIONS
    from trl_dsm import GRPOMathTrainer

    calls = []

    def recording_rollout(
        model, tokenizer, max_new_tokens=256, temperature=1.0, batch_size=16, add_special_tokens=True, synced=False
    ):
        calls.append({"temperature": temperature, "add_special_tokens": add_special_tokens, "prefixes": [],
                      "synced": synced})  # fmt: skip

        def rollout(prefixes, k):
            calls[-1]["prefixes"] += prefixes
            return [["The answer is 3."] * k for _ in prefixes]

        return rollout

    monkeypatch.setattr(reward_models, "hf_rollout", recording_rollout)
    chats = [[{"role": "user", "content": q}] for q in QUESTIONS]
    args = _config(
        tmp_path, supervision="process", iteration_steps=1, reward_model_update_steps=1, math_shepherd_rollouts=2,
        reward_model_samples_per_iteration=4, temperature=0.7, process_reward_model=tiny_path, prm_step_tag="\n",
        prm_good_token="3", prm_bad_token="7", max_steps=1,
    )  # fmt: skip
    trainer = GRPOMathTrainer(
        tiny_path, args=args, train_dataset=Dataset.from_dict({"prompt": chats, "answer": ANSWERS})
    )
    trainer.train()
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    rendered = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
    prefixes = [p for call in calls for p in call["prefixes"]]
    assert calls and all(c["temperature"] == 0.7 and c["add_special_tokens"] is False for c in calls)
    assert not any(c["synced"] for c in calls)  # one process: no collective generate calls
    assert prefixes and all(any(p.startswith(r) and len(p) > len(r) for r in rendered) for p in prefixes)
    assert trainer.iterative.history and {r["prompt"] for r in trainer.iterative.history} <= set(QUESTIONS)


def test_a_prm_wrapped_with_the_final_answer_is_retrained(tiny_path, tmp_path):  # noqa: F811
    """``with_final_answer_reward(ProcessRewardModel(...))`` as the step scorer: iterative RL finds the PRM inside
    and retrains it; giving a PRM path as well is refused (one step scorer)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trl_dsm import GRPOMathTrainer
    from trl_dsm.grpo import ProcessRewardModel, with_final_answer_reward

    prm = ProcessRewardModel(AutoModelForCausalLM.from_pretrained(tiny_path), AutoTokenizer.from_pretrained(tiny_path),
                             step_tag="\n", good_token="3", bad_token="7")  # fmt: skip
    kwargs = dict(supervision="process", iteration_steps=1, reward_model_update_steps=2, math_shepherd_rollouts=2,
                  reward_model_samples_per_iteration=4, reward_model_learning_rate=1e-2, max_steps=1)  # fmt: skip
    scorer = with_final_answer_reward(prm)
    trainer = GRPOMathTrainer(tiny_path, args=_config(tmp_path, **kwargs), train_dataset=_dataset(),
                              process_reward_func=scorer)  # fmt: skip
    before = _weights(prm.model)
    trainer.train()
    assert trainer.iterative.kind == "prm" and trainer.iterative.model is prm.model
    assert trainer.iterative.iteration == 1 and _changed(before, prm.model)
    with pytest.raises(ValueError, match="both process_reward_func and GRPOMathConfig.process_reward_model"):
        GRPOMathTrainer(tiny_path, args=_config(tmp_path, process_reward_model=tiny_path, **kwargs),
                        train_dataset=_dataset(), process_reward_func=scorer)  # fmt: skip


def test_orm_update_mixes_fresh_pairs_with_replay(tiny_path, tmp_path):  # noqa: F811
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForSequenceClassification

    from trl_dsm import GRPOMathTrainer
    from trl_dsm.rewards import math_accuracy_reward

    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    config = Qwen2Config.from_pretrained(tiny_path, num_labels=1, pad_token_id=tokenizer.pad_token_id)
    orm = Qwen2ForSequenceClassification(config)
    args = _config(tmp_path, iteration_steps=1, reward_model_update_steps=3, reward_model_learning_rate=1e-2)
    trainer = GRPOMathTrainer(
        tiny_path, reward_funcs=[math_accuracy_reward, orm], args=args, train_dataset=_dataset(),
        reward_processing_classes=[None, tokenizer],
    )  # fmt: skip
    it = trainer.iterative
    assert it.kind == "orm" and it.model is orm
    samples = [
        {"prompt": f"What is {a} + {b}?", "completion": f"The answer is {c}.", "gold": str(a + b), "steps": None}
        for a, b in [(1, 2), (3, 4), (5, 6)] for c in (a + b, a + b + 1)
    ]  # fmt: skip
    before = _weights(orm)
    it.fresh = list(samples)
    it.update()
    assert len(it.history) == 3 and it.iteration == 1  # one chosen/rejected pair per prompt
    assert trainer._metrics["train"]["reward_model/replayed_records"] == [0]
    assert _changed(before, orm)
    it.fresh = list(samples)
    it.update()
    replay = math.ceil(3 * 0.1 / 0.9)  # historical data is 10% of the mix (§4.1.4)
    assert trainer._metrics["train"]["reward_model/replayed_records"] == [0, replay]
    assert len(it.history) == 6 and len(trainer._metrics["train"]["reward_model/loss"]) == 2


def test_orm_is_retrained_in_the_training_loop(tiny_path, tmp_path, monkeypatch):  # noqa: F811
    """End to end in trainer.train(): the policy's completions are collected, labelled into chosen/rejected pairs,
    and the ORM (also a reward function of the run) takes its update at the end of every iteration. A random-weight
    policy solves nothing, so the grader is replaced by a fixed verdict (every other completion correct)."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForSequenceClassification

    import trl_dsm.grading.compare as compare
    from trl_dsm import GRPOMathTrainer
    from trl_dsm.rewards import math_accuracy_reward

    graded = []

    def alternate(completions, golds, **kwargs):
        graded.append(list(completions))
        return [type("R", (), {"correct": i % 2 == 0})() for i in range(len(completions))]

    monkeypatch.setattr(compare, "grade_batch", alternate)  # the labelling grades each rank's share with it
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    config = Qwen2Config.from_pretrained(tiny_path, num_labels=1, pad_token_id=tokenizer.pad_token_id)
    orm = Qwen2ForSequenceClassification(config)
    args = _config(tmp_path, iteration_steps=1, max_steps=2, reward_model_update_steps=2,
                   reward_model_learning_rate=1e-2, reward_model_samples_per_iteration=4)  # fmt: skip
    trainer = GRPOMathTrainer(tiny_path, reward_funcs=[math_accuracy_reward, orm], args=args,
                              train_dataset=_dataset(), reward_processing_classes=[None, tokenizer])  # fmt: skip
    scored = []
    original = trainer._calculate_rewards

    def recording(inputs, prompts, completions, completion_ids_list):
        scored.append(list(completions))
        return original(inputs, prompts, completions, completion_ids_list)

    trainer._calculate_rewards = recording
    before = _weights(orm)
    trainer.train()
    assert graded == scored  # each iteration labelled exactly the completions the policy generated in it
    assert trainer.iterative.iteration == 2 and len(trainer.iterative.history) == 4  # 2 pairs per iteration
    losses = [e["reward_model/loss"] for e in trainer.state.log_history if "reward_model/loss" in e]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    assert _changed(before, orm)


def test_reference_resets_exactly_at_iteration_boundaries_under_accumulation(tiny_path, tmp_path):  # noqa: F811
    """iteration_steps counts optimizer steps: with 2 micro-batches accumulated per step and iterations of 2 steps,
    the reference equals the policy after steps 2 and 4 only."""
    from transformers import TrainerCallback

    from trl_dsm import GRPOMathTrainer

    args = _config(tmp_path, iteration_steps=2, max_steps=4, gradient_accumulation_steps=2, learning_rate=1e-2)
    assert (args.gradient_accumulation_steps, args.steps_per_generation) == (2, 2)
    trainer = GRPOMathTrainer(tiny_path, args=args, train_dataset=_dataset())
    same = {}

    class Watch(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # after TRL's SyncRefModelCallback
            policy = dict(trainer.model.named_parameters())
            same[state.global_step] = all(torch.equal(p, policy[n]) for n, p in trainer.ref_model.named_parameters())

    micro = []
    original = trainer.training_step
    trainer.training_step = lambda *a, **k: micro.append(trainer.state.global_step) or original(*a, **k)
    trainer.add_callback(Watch())
    trainer.train()
    assert micro == [0, 0, 1, 1, 2, 2, 3, 3]  # two micro-batches per optimizer step
    assert same == {1: False, 2: True, 3: False, 4: True}


@pytest.mark.parametrize("resume_step", [2, 3])
def test_resume_restores_the_reference_of_the_iteration(tiny_path, tmp_path, resume_step):  # noqa: F811
    """Resuming at an iteration boundary (step 2 of iterations of 2) or inside one (step 3) gives the same KL and
    loss as the straight run: the reference is the policy at the boundary and the saved reference inside."""
    from trl_dsm import GRPOMathTrainer

    def alternating(completions, **kwargs):  # rewards that vary, so that the policy moves
        return [float(i % 2) for i in range(len(completions))]

    def run(out, resume=None):
        args = _config(out, iteration_steps=2, max_steps=4, learning_rate=1e-2, save_strategy="steps", save_steps=1)
        trainer = GRPOMathTrainer(tiny_path, reward_funcs=[alternating], args=args, train_dataset=_dataset())
        trainer.train(resume_from_checkpoint=resume)
        return {e["step"]: (e["kl"], e["loss"]) for e in trainer.state.log_history if "kl" in e}

    straight = run(tmp_path / "a")
    # each iteration's first step starts from a reference equal to the policy; its second step has moved away
    assert straight[1][0] == straight[3][0] == 0.0 and straight[2][0] > 0 and straight[4][0] > 0
    resumed = run(tmp_path / "a", resume=str(tmp_path / "a" / f"checkpoint-{resume_step}"))
    for step in range(resume_step + 1, 5):
        assert resumed[step] == pytest.approx(straight[step], rel=1e-6, abs=1e-9), step
    reference_file = tmp_path / "a" / "checkpoint-3" / "iterative_rl_reference.pt"
    assert reference_file.is_file() and not (tmp_path / "a" / "checkpoint-2" / reference_file.name).exists()
