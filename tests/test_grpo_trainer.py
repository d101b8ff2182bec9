# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""GRPOMathTrainer on a tiny model built in the test (CPU): outcome, process and iterative modes."""

from __future__ import annotations

import re

import pytest
import torch

from tests.conftest import build_tiny_model, build_tiny_tokenizer, tiny_grpo_kwargs


QUESTIONS = [f"What is {a} + {b}?" for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]]
ANSWERS = ["3", "7", "11", "15"]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    """A 2-layer Qwen2 and a BPE tokenizer trained on arithmetic text, saved so TRL can load a reference copy."""
    path = tmp_path_factory.mktemp("tiny")
    texts = QUESTIONS + [f"{a} + {b} = {a + b}\nThe answer is {a + b}." for a in range(12) for b in range(12)]
    tokenizer = build_tiny_tokenizer(texts)
    build_tiny_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def _config(tmp_path, **kwargs):
    from trl_dsm import GRPOMathConfig

    return GRPOMathConfig(**tiny_grpo_kwargs(tmp_path, **kwargs))


def _dataset():
    from datasets import Dataset

    return Dataset.from_dict({"prompt": QUESTIONS, "answer": ANSWERS})


def _capturing(trainer):
    """Record what _generate_and_score_completions hands to TRL's loss."""
    seen = []
    original = trainer._generate_and_score_completions

    def wrapped(inputs):
        out = original(inputs)
        seen.append({k: v.detach().clone() for k, v in out.items() if isinstance(v, torch.Tensor)})
        return out

    trainer._generate_and_score_completions = wrapped
    return seen


def test_config_has_the_papers_defaults(tmp_path):
    from trl import GRPOConfig

    from trl_dsm import GRPOMathConfig

    cpu = {"use_cpu": True, "bf16": False}
    ours, trls = GRPOMathConfig(str(tmp_path), **cpu), GRPOConfig(str(tmp_path), **cpu)
    assert (ours.num_generations, ours.beta, ours.learning_rate, ours.max_completion_length) == (64, 0.04, 1e-6, 1024)
    assert (ours.loss_type, ours.use_bias_correction_kl, ours.num_iterations) == ("grpo", False, 1)
    assert (trls.num_generations, trls.beta, trls.loss_type) == (8, 0.0, "dapo")  # what we override
    assert ours.supervision == "outcome" and not ours.sync_ref_model
    # G = 64 does not fit the default per-device batch of 8: 8 micro-batches, one optimizer step (§4.2)
    assert (ours.steps_per_generation, ours.gradient_accumulation_steps, ours.generation_batch_size) == (8, 8, 64)
    fits = GRPOMathConfig(str(tmp_path), num_generations=4, per_device_train_batch_size=4, **cpu)
    assert (fits.steps_per_generation, fits.gradient_accumulation_steps) == (1, 1)
    iterative = GRPOMathConfig(str(tmp_path), iteration_steps=10, **cpu)
    assert (iterative.sync_ref_model, iterative.ref_model_mixup_alpha, iterative.ref_model_sync_steps) == (
        True,
        1.0,
        10,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"supervision": "steps"}, "supervision must be 'outcome' or 'process'"),
        ({"process_reward_kind": "value_head"}, "process_reward_kind must be"),
        ({"step_separator": ""}, "step_separator must be a non-empty string"),
        ({"iteration_steps": 0}, "iteration_steps must be >= 1"),
        ({"iteration_steps": 5, "beta": 0.0}, "needs a KL term"),
    ],
)
def test_config_validation(tmp_path, kwargs, message):
    from trl_dsm import GRPOMathConfig

    with pytest.raises(ValueError, match=message):
        GRPOMathConfig(str(tmp_path), use_cpu=True, bf16=False, **kwargs)


@pytest.mark.parametrize(
    ("world", "kwargs", "expected"),
    [
        (1, {}, (8, 8, 64)),  # G = 64 over micro-batches of 8: 8 of them, one optimizer step
        (2, {}, (4, 4, 64)),  # two processes: 16 completions per micro-step
        (3, {"per_device_train_batch_size": 6, "num_generations": 4}, (2, 2, 36)),
        (2, {"gradient_accumulation_steps": 8}, (8, 8, 128)),  # the user's value is kept: 2 groups per stage
        (1, {"steps_per_generation": 16}, (16, 16, 128)),  # accumulation follows the stage
        (1, {"generation_batch_size": 128}, (16, 16, 128)),
    ],
)
def test_batching_follows_the_world_size_and_keeps_user_values(tmp_path, monkeypatch, world, kwargs, expected):
    from trl_dsm import GRPOMathConfig

    monkeypatch.setattr(GRPOMathConfig, "world_size", property(lambda self: world))
    config = GRPOMathConfig(str(tmp_path), use_cpu=True, bf16=False, **kwargs)
    assert (config.steps_per_generation, config.gradient_accumulation_steps, config.generation_batch_size) == expected


@pytest.mark.parametrize(
    ("world", "kwargs", "message"),
    [
        (1, {"gradient_accumulation_steps": 3}, r"gradient_accumulation_steps=3 with per_device_train_batch_size=8 "
         r"x 1 process\(es\) gives generation batches of 24 completions, not whole groups of num_generations=64: "
         r"set gradient_accumulation_steps to a multiple of 8"),
        (2, {"gradient_accumulation_steps": 2}, r"a multiple of 4"),
        (1, {"steps_per_generation": 3}, r"generation_batch_size \(24\) must be divisible by num_generations \(64\)"),
        (1, {"supervision": "process", "reward_weights": [1.0]}, "remove reward_weights"),
        (1, {"supervision": "process", "multi_objective_aggregation": "normalize_then_sum"},
         "leave it at 'sum_then_normalize'"),
    ],
)  # fmt: skip
def test_batching_without_whole_groups_is_an_error(tmp_path, monkeypatch, world, kwargs, message):
    from trl_dsm import GRPOMathConfig

    monkeypatch.setattr(GRPOMathConfig, "world_size", property(lambda self: world))
    with pytest.raises(ValueError, match=message):
        GRPOMathConfig(str(tmp_path), use_cpu=True, bf16=False, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "expected", "updates"),
    [
        ({"gradient_accumulation_steps": 2, "steps_per_generation": 8}, (8, 2, 64), "4"),
        ({"gradient_accumulation_steps": 3, "steps_per_generation": 8}, (8, 3, 64), "2.66667"),
        ({"gradient_accumulation_steps": 4, "generation_batch_size": 128}, (16, 4, 128), "4"),
    ],
)
def test_several_updates_per_stage_run_as_in_trl_with_one_warning(tmp_path, kwargs, expected, updates):
    """TRL's several optimizer steps per generation batch are allowed; one warning names the departure from §4.2."""
    import warnings

    from trl_dsm import GRPOMathConfig

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = GRPOMathConfig(str(tmp_path), use_cpu=True, bf16=False, **kwargs)
    assert (config.steps_per_generation, config.gradient_accumulation_steps, config.generation_batch_size) == expected
    ours = [w for w in caught if "§4.2" in str(w.message)]
    assert len(ours) == 1 and ours[0].category is UserWarning
    assert f"makes {updates} policy updates per exploration stage" in str(ours[0].message)
    assert ours[0].filename == __file__  # points at the line that built the config


def test_outcome_mode_trains_and_logs_group_metrics(tiny_path, tmp_path):
    from trl_dsm import GRPOMathTrainer

    trainer = GRPOMathTrainer(tiny_path, args=_config(tmp_path), train_dataset=_dataset())
    seen = _capturing(trainer)
    trainer.train()
    logged = trainer.state.log_history[0]
    for key in ("pass@4", "maj@4", "rewards/math_accuracy_reward/mean", "kl"):
        assert key in logged, sorted(logged)
    assert all(batch["advantages"].dim() == 1 for batch in seen)  # outcome: TRL's own advantages


def test_process_mode_uses_group_normalized_step_advantages(tiny_path, tmp_path):
    from trl_dsm import GRPOMathTrainer
    from trl_dsm.grpo import process_advantages

    calls = []

    def step_scorer(prompts, completions, steps, answer, **kwargs):
        assert len(answer) == len(completions)  # dataset columns are passed through
        scores = [[float((i + j) % 3) for j in range(len(s))] for i, s in enumerate(steps)]
        calls.append((steps, scores))
        return scores

    args = _config(tmp_path, supervision="process", step_separator=" ")  # many steps per completion
    trainer = GRPOMathTrainer(tiny_path, args=args, train_dataset=_dataset(), process_reward_func=step_scorer)
    seen = _capturing(trainer)
    trainer.train()
    assert len(calls) == len(seen) == 2
    tok = trainer.processing_class
    for (steps, scores), batch in zip(calls, seen):
        # Expected step ends, computed here from whole-prefix decodes (not the trainer's code path): a step ends
        # at the first token whose prefix decodes past the space that follows the step's text.
        ends = []
        for ids, mask, texts in zip(batch["completion_ids"].tolist(), batch["completion_mask"].tolist(), steps):
            ids = [t for t, m in zip(ids, mask) if m]
            text = tok.decode(ids, skip_special_tokens=True)
            assert re.sub(r"\s", "", "".join(texts)) == re.sub(r"\s", "", text)  # nothing lost or added
            known = [len(tok.decode(ids[: k + 1], skip_special_tokens=True).rstrip("\ufffd")) for k in range(len(ids))]
            row, pos = [], 0
            for step in texts[:-1]:
                pos = text.index(step, pos) + len(step)
                pos = text.index(" ", pos) + 1
                row.append(next(k for k in range(len(ids)) if known[k] >= pos))
            ends.append([*row, len(ids) - 1] if ids else [])
        assert [len(t) for t in steps] == [len(e) for e in ends]  # the scorer saw exactly these steps
        expected = process_advantages(scores, ends, 4, batch["completion_ids"].shape[1])
        assert batch["advantages"].shape == batch["completion_ids"].shape
        assert torch.allclose(batch["advantages"], expected)
        assert batch["advantages"].abs().sum() > 0
    # the completions table logs what the loss used: each completion's advantage averaged over its tokens
    last = seen[-1]
    means = [(a * m).sum() / max(m.sum(), 1) for a, m in zip(last["advantages"], last["completion_mask"])]
    assert list(trainer._logs["advantages"]) == pytest.approx([float(x) for x in means], abs=1e-6)
    assert "process/steps_per_completion" in trainer.state.log_history[0]
    assert trainer.state.log_history[-1]["train_loss"] != 0.0


def test_process_mode_with_the_arithmetic_rule(tiny_path, tmp_path):
    from trl_dsm import GRPOMathTrainer
    from trl_dsm.grpo import arithmetic_step_reward

    args = _config(tmp_path, supervision="process")
    trainer = GRPOMathTrainer(
        tiny_path, args=args, train_dataset=_dataset(), process_reward_func=arithmetic_step_reward
    )
    trainer.train()
    assert "process/step_reward_mean" in trainer.state.log_history[0]


@pytest.mark.parametrize("kind", ["step_tag", "token_classification"])
def test_process_mode_with_a_process_reward_model(tiny_path, tmp_path, kind):
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForTokenClassification

    from trl_dsm import GRPOMathTrainer

    prm_path = tiny_path
    kwargs = {"prm_step_tag": "\n", "prm_good_token": "3", "prm_bad_token": "7"}  # single tokens of the tiny vocab
    if kind == "token_classification":
        tokenizer = AutoTokenizer.from_pretrained(tiny_path)
        config = Qwen2Config.from_pretrained(tiny_path, num_labels=2)
        prm_path = str(tmp_path / "prm")
        Qwen2ForTokenClassification(config).save_pretrained(prm_path)
        tokenizer.save_pretrained(prm_path)
    args = _config(tmp_path, supervision="process", process_reward_model=prm_path, process_reward_kind=kind, **kwargs)
    trainer = GRPOMathTrainer(tiny_path, args=args, train_dataset=_dataset())
    seen = _capturing(trainer)
    trainer.train()
    scores = [e["process/step_reward_mean"] for e in trainer.state.log_history if "process/step_reward_mean" in e]
    assert scores and all(0.0 < s < 1.0 for s in scores)  # probabilities from the PRM
    assert seen[0]["advantages"].dim() == 2


def test_process_mode_requires_a_scorer(tiny_path, tmp_path):
    from trl_dsm import GRPOMathTrainer

    with pytest.raises(ValueError, match="needs a step scorer"):
        GRPOMathTrainer(tiny_path, args=_config(tmp_path, supervision="process"), train_dataset=_dataset())
    with pytest.raises(ValueError, match="only used with GRPOMathConfig"):
        GRPOMathTrainer(tiny_path, args=_config(tmp_path), train_dataset=_dataset(), process_reward_func=print)


def test_process_scorer_with_wrong_shape_is_a_clear_error(tiny_path, tmp_path):
    from trl_dsm import GRPOMathTrainer

    args = _config(tmp_path, supervision="process", max_steps=1)
    trainer = GRPOMathTrainer(
        tiny_path,
        args=args,
        train_dataset=_dataset(),
        process_reward_func=lambda steps, **kw: [[1.0] * (len(s) + 1) for s in steps],
    )
    with pytest.raises(ValueError, match="one reward per step"):
        trainer.train()


def test_iterative_rl_resets_the_reference_and_resumes(tiny_path, tmp_path):
    from trl_dsm import GRPOMathTrainer

    args = _config(tmp_path, iteration_steps=1, max_steps=2, learning_rate=1e-3, save_strategy="steps", save_steps=1)
    trainer = GRPOMathTrainer(tiny_path, args=args, train_dataset=_dataset())
    trainer.train()
    policy = dict(trainer.model.named_parameters())
    for name, ref_param in trainer.ref_model.named_parameters():  # alpha = 1: the reference is the policy
        assert torch.equal(ref_param, policy[name]), name
    # resume from the first checkpoint: the step counter (and so the iteration) comes back
    resumed = GRPOMathTrainer(
        tiny_path, args=_config(tmp_path, iteration_steps=1, max_steps=2), train_dataset=_dataset()
    )
    resumed.train(resume_from_checkpoint=str(tmp_path / "checkpoint-1"))
    assert resumed.state.global_step == 2
    assert resumed.state.global_step // resumed.args.iteration_steps == 2
