# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Reward-model data and training (DeepSeekMath §4.1.2-4.1.4): ORM pairs, Math-Shepherd labels, PRM trainer."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import build_tiny_model, build_tiny_tokenizer
from trl_dsm.grpo.process import ProcessRewardModel
from trl_dsm.grpo.reward_models import (
    PRMCollator,
    ProcessRewardTrainer,
    build_prm_dataset,
    math_shepherd_labels,
    orm_preference_pairs,
    prm_metrics,
)


def test_orm_preference_pairs_pair_correct_with_incorrect():
    prompts = ["p1", "p1", "p1", "p2", "p2"]
    completions = ["The answer is 4.", "The answer is 5.", "#### 4", "The answer is 9.", "The answer is 8."]
    golds = ["4", "4", "4", "7", "7"]
    pairs = orm_preference_pairs(prompts, completions, golds)
    assert pairs == [{"prompt": "p1", "chosen": "The answer is 4.", "rejected": "The answer is 5."}]
    with pytest.raises(ValueError, match="2 prompts, 1 completions"):
        orm_preference_pairs(["a", "b"], ["x"], ["1"])


def test_math_shepherd_hard_estimation():
    steps = ["3 + 4 = 7", "7 * 2 = 15", "15 + 1 = 16"]
    seen = []

    def rollout(prefixes, k):  # a stub policy: it finishes correctly only while no wrong step was taken
        seen.append((prefixes, k))
        return [["The answer is 15." if "= 15" in p else "The answer is 14."] * k for p in prefixes]

    labels = math_shepherd_labels("What is (3 + 4) * 2?", steps, "14", rollout, num_rollouts=3)
    assert labels == [True, False, False]
    prefixes, k = seen[0]
    assert k == 3 and prefixes[0].endswith("3 + 4 = 7") and prefixes[2].endswith("15 + 1 = 16")
    # any one correct rollout is enough ("hard" estimation)
    mixed = math_shepherd_labels("q", ["step"], "1", lambda p, k: [["#### 2", "#### 1"]], num_rollouts=2)
    assert mixed == [True]
    assert math_shepherd_labels("q", [], "1", rollout) == []
    with pytest.raises(ValueError, match="must return 2 continuations"):
        math_shepherd_labels("q", ["a"], "1", lambda p, k: [["x"]], num_rollouts=2)


def test_build_prm_dataset_from_policy_samples():
    samples = [
        {"prompt": "What is (3 + 4) * 2?", "completion": "3 + 4 = 7\n7 * 2 = 14", "gold": "14"},
        {"prompt": "What is (3 + 4) * 2?", "completion": "3 + 4 = 7\n7 * 2 = 15\n15", "gold": "14"},
        {"prompt": "q", "steps": ["only step"], "gold": "1"},
    ]

    def rollout(prefixes, k):
        return [["#### 15" if "= 15" in p else ("#### 14" if "7" in p else "#### 0")] * k for p in prefixes]

    data = build_prm_dataset(samples, rollout, num_rollouts=2)
    assert data.column_names == ["prompt", "steps", "labels"]
    assert data["steps"][0] == ["3 + 4 = 7", "7 * 2 = 14"] and data["labels"][0] == [1, 1]
    assert data["labels"][1] == [1, 0, 0] and data["labels"][2] == [0]
    with pytest.raises(KeyError, match="sample 0 needs"):
        build_prm_dataset([{"prompt": "q"}], rollout)


def test_build_prm_dataset_rolls_out_from_the_policys_exact_text():
    """With the prompt as the policy saw it (``rollout_prompt``), every rollout continues the policy's own text up
    to the end of a step (spacing and blank lines kept); the record keeps the prompt the PRM will score."""
    sample = {
        "prompt": "What is (3 + 4) * 2?",
        "rollout_prompt": "User: What is (3 + 4) * 2?\n\nAssistant:",
        "completion": " 3 + 4 = 7\n\n7 * 2 = 15 \nThe answer is 15.",
        "gold": "14",
    }
    seen = []

    def rollout(prefixes, k):
        seen.extend(prefixes)
        return [["\nThe answer is 15." if "= 15" in p else "\n7 * 2 = 14\nThe answer is 14."] * k for p in prefixes]

    data = build_prm_dataset([sample], rollout, num_rollouts=2)
    head = "User: What is (3 + 4) * 2?\n\nAssistant:"
    assert seen == [head + " 3 + 4 = 7", head + " 3 + 4 = 7\n\n7 * 2 = 15", head + sample["completion"]]
    assert data.to_list() == [
        {"prompt": "What is (3 + 4) * 2?", "steps": ["3 + 4 = 7", "7 * 2 = 15", "The answer is 15."],
         "labels": [1, 0, 0]}
    ]  # fmt: skip
    # steps given already that the completion does not hold: no exact prefixes, but still the policy's prompt
    seen.clear()
    build_prm_dataset([{**sample, "steps": ["3 + 4 = 7 and 7 * 2 = 14"]}], rollout, num_rollouts=1)
    assert seen == [head + "\n3 + 4 = 7 and 7 * 2 = 14"]
    seen.clear()  # no rollout prompt: the prompt itself
    build_prm_dataset([{"prompt": "q", "steps": ["a", "b"], "gold": "1"}], rollout, num_rollouts=1)
    assert seen == ["q\na", "q\na\nb"]


def test_math_shepherd_grades_only_the_solution_and_checks_prefixes():
    # a rollout that gives no answer: the question's own number (2) must not be taken for it
    labels = math_shepherd_labels("Double 2.", ["Think."], "2", lambda p, k: [["no idea"] * k for _ in p], 2)
    assert labels == [False]
    with pytest.raises(ValueError, match="2 prefixes for 1 steps"):
        math_shepherd_labels("q", ["a"], "1", lambda p, k: [["x"]] * len(p), 1, prefixes=["q a", "q a b"])
    with pytest.raises(ValueError, match="must start with the prompt"):
        math_shepherd_labels("q", ["a"], "1", lambda p, k: [["x"]] * len(p), 1, prefixes=["z a"])


def test_prm_metrics_rank_within_groups_and_skip_unknown_steps():
    nan = float("nan")
    # prompt p: a solved completion (last label 1) and two unsolved ones; prompt q: only unsolved
    scores = [[0.9, 0.6], [0.8, 0.6], [0.7, 0.3, nan], [0.4]]
    labels = [[1, 1], [1, 0], [1, 0, 0], [0]]
    metrics = prm_metrics(scores, labels, ["p", "p", "p", "q"])
    # good steps 0.9, 0.6, 0.8, 0.7; bad 0.6, 0.3, 0.4 (nan skipped): 6 of 7 on their side of 0.5; 11.5 of 12
    # pairs (one tie)
    assert metrics["steps"] == 7 and metrics["step_accuracy"] == 6 / 7
    assert metrics["step_auc"] == 11.5 / 12
    # p: solved 0.6 vs unsolved 0.6 (tie) and nan (its last step is unknown: left out)
    assert metrics["group_pairs"] == 1 and metrics["group_auc"] == 0.5
    with pytest.raises(ValueError, match="2 score rows, 1 label rows"):
        prm_metrics([[0.1], [0.2]], [[1]], ["p", "p"])


def _records():
    good = ["1 + 1 = 2", "2 + 2 = 4", "3 + 3 = 6"]
    bad = ["1 + 1 = 3", "2 + 2 = 5", "3 + 3 = 7"]
    return [{"prompt": "Add.", "steps": [g, b], "labels": [1, 0]} for g, b in zip(good, bad)] * 4


@pytest.mark.parametrize("kind", ["step_tag", "token_classification"])
def test_prm_trainer_learns_step_labels(tmp_path, kind):
    from datasets import Dataset
    from transformers import Qwen2Config, Qwen2ForTokenClassification, TrainingArguments

    tokenizer = build_tiny_tokenizer([f"{a} + {a} = {b}\n" for a in range(10) for b in range(20)] + ["Add."])
    if kind == "step_tag":
        model = build_tiny_model(tokenizer)
    else:
        torch.manual_seed(0)
        config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=2, num_key_value_heads=1, num_labels=2,
                             pad_token_id=tokenizer.pad_token_id)  # fmt: skip
        model = Qwen2ForTokenClassification(config)
    prm = ProcessRewardModel(model, tokenizer, kind=kind, step_tag="\n", good_token="2", bad_token="3")
    records = _records()
    batch = PRMCollator(prm)(records[:2])
    assert (batch["step_targets"] != -100).sum() == 4  # two tags per record
    before = prm(
        prompts=[r["prompt"] for r in records[:3]], completions=[""] * 3, steps=[r["steps"] for r in records[:3]]
    )
    args = TrainingArguments(str(tmp_path), per_device_train_batch_size=4, learning_rate=5e-3, max_steps=40,
                             report_to="none", use_cpu=True, save_strategy="no", logging_steps=10)  # fmt: skip
    trainer = ProcessRewardTrainer(prm, args, Dataset.from_list(records))
    trainer.train()
    after = prm(
        prompts=[r["prompt"] for r in records[:3]], completions=[""] * 3, steps=[r["steps"] for r in records[:3]]
    )
    good_after = sum(s[0] for s in after) / 3
    bad_after = sum(s[1] for s in after) / 3
    assert good_after > 0.8 and bad_after < 0.2, (before, after)
    assert trainer.state.log_history[0]["loss"] > trainer.state.log_history[-2]["loss"]


def test_prm_collator_rejects_mismatched_labels():
    tokenizer = build_tiny_tokenizer(["1 + 1 = 2\n"])
    prm = ProcessRewardModel(build_tiny_model(tokenizer), tokenizer, step_tag="\n", good_token="2", bad_token="1")
    with pytest.raises(ValueError, match="record 0: 2 steps but 1 labels"):
        PRMCollator(prm)([{"prompt": "q", "steps": ["a", "b"], "labels": [1]}])


def test_orm_pairs_train_with_trl_reward_trainer(tmp_path):
    from datasets import Dataset
    from transformers import Qwen2Config, Qwen2ForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    tokenizer = build_tiny_tokenizer([f"The answer is {i}." for i in range(20)] + ["What is 2 + 2?"])
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, num_labels=1,
                         pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    pairs = orm_preference_pairs(
        ["What is 2 + 2?"] * 4,
        ["The answer is 4.", "The answer is 5.", "The answer is 4.", "The answer is 3."],
        ["4"] * 4,
    )
    assert len(pairs) == 2
    args = RewardConfig(str(tmp_path), per_device_train_batch_size=2, max_steps=2, report_to="none", use_cpu=True,
                        bf16=False, save_strategy="no")  # fmt: skip
    trainer = RewardTrainer(Qwen2ForSequenceClassification(config), args=args, processing_class=tokenizer,
                            train_dataset=Dataset.from_list(pairs))  # fmt: skip
    trainer.train()
    assert trainer.state.global_step == 2


def test_synced_rollout_makes_as_many_generate_calls_as_the_busiest_rank(monkeypatch):
    """Under ZeRO-3/FSDP every forward is a collective: a rank with fewer prefixes (or none) joins the other ranks'
    generate calls on a one-token filler input and keeps nothing from them; every call has ``synced_gpus=True``.
    Here the other rank reports 4 batches while this one has 3 prefixes (2 batches of 2)."""
    from trl_dsm.grpo.reward_models import hf_rollout

    tokenizer = build_tiny_tokenizer(["What is 1 + 2?\n1 + 2 = 3\nThe answer is 3."])
    model = build_tiny_model(tokenizer).eval()
    calls = []
    generate = model.generate

    def recording(**kwargs):
        calls.append((tuple(kwargs["input_ids"].shape), kwargs.get("synced_gpus")))
        return generate(**{k: v for k, v in kwargs.items() if k != "synced_gpus"})

    monkeypatch.setattr(model, "generate", recording)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    monkeypatch.setattr(torch.distributed, "all_reduce", lambda t, op=None: t.fill_(max(int(t.item()), 4)))
    rollout = hf_rollout(model, tokenizer, max_new_tokens=3, batch_size=2, synced=True)
    out = rollout(["What is 1 + 2?", "1 + 2 =", "The answer"], 2)
    assert len(out) == 3 and all(len(c) == 2 for c in out)
    assert [shape[0] for shape, _ in calls] == [2, 1, 1, 1]  # input rows: 2 + 1 prefixes, then 2 fillers
    assert [shape[1] for shape, _ in calls[2:]] == [1, 1]  # the fillers: one token
    assert all(synced for _, synced in calls)
    calls.clear()
    assert rollout([], 2) == [] and len(calls) == 4  # nothing to label here: still 4 calls
    calls.clear()
    unsynced = hf_rollout(model, tokenizer, max_new_tokens=3, batch_size=2)
    assert len(unsynced(["What is 1 + 2?"], 2)) == 1  # one process: no all_reduce, no filler
    assert len(calls) == 1 and calls[0][0][0] == 1 and calls[0][1] is None


def test_iterative_labelling_shares_are_contiguous_and_cover_every_sample():
    """Each rank labels a contiguous share; in rank order the shares are the samples (gathered records keep it)."""
    from types import SimpleNamespace

    from trl_dsm.grpo.iterative import IterativeRewardModel

    def shares(n: int, world: int) -> list[list[int]]:
        out = []
        for rank in range(world):
            accelerator = SimpleNamespace(num_processes=world, process_index=rank)
            this = SimpleNamespace(trainer=SimpleNamespace(accelerator=accelerator))
            out.append(IterativeRewardModel._share(this, list(range(n))))
        return out

    assert shares(7, 2) == [[0, 1, 2, 3], [4, 5, 6]]
    assert shares(1, 2) == [[0], []]
    assert shares(8, 3) == [[0, 1, 2], [3, 4, 5], [6, 7]]
