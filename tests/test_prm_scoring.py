# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""ProcessRewardModel reads each step's score at that step's own tag (never at a tag string inside the prompt or a
step), and a step cut off by ``max_length`` is unknown (nan), which the advantages leave out (§4.1.3)."""

from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import build_tiny_tokenizer
from trl_dsm.grpo.advantages import STD_EPS, process_advantages
from trl_dsm.grpo.process import ProcessRewardModel
from trl_dsm.grpo.reward_models import PRMCollator


class PositionModel(torch.nn.Module):
    """Logits that say where they are: at position j, logit(good) = j / 10 and every other logit 0, so a step_tag
    score read at position j is sigmoid(j / 10)."""

    def __init__(self, vocab: int, good: int) -> None:
        super().__init__()
        self.vocab, self.good = vocab, good
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None):
        batch, length = input_ids.shape
        logits = torch.zeros(batch, length, self.vocab)
        logits[:, :, self.good] = torch.arange(length, dtype=torch.float32) / 10
        return type("Out", (), {"logits": logits})()


@pytest.fixture(scope="module")
def tokenizer():
    texts = ["What is 2 + 3? Steps end with ки here.\n2 + 3 = 5 ки\nThe answer is 5 ки\n+ -"] * 50
    return build_tiny_tokenizer(texts, vocab_size=300)


def tag_positions(tokenizer, prm, prompt, steps):
    """Expected positions: the tag tokens after the prompt's own (the prompt holds the tag string once)."""
    ids = tokenizer(prm.format(prompt, steps), add_special_tokens=False)["input_ids"]
    found = [j for j, t in enumerate(ids) if t == prm._tag_id]
    assert len(found) == len(steps) + 1  # one tag in the prompt, one per step
    return found[1:]


def test_scores_are_read_at_each_steps_own_tag(tokenizer):
    good = tokenizer.encode("+", add_special_tokens=False)[0]
    prm = ProcessRewardModel(PositionModel(len(tokenizer), good), tokenizer)
    prompt, steps = "What is 2 + 3? Steps end with ки here.", ["2 + 3 = 5", "The answer is 5"]
    expected = [1 / (1 + math.exp(-j / 10)) for j in tag_positions(tokenizer, prm, prompt, steps)]
    (scores,) = prm(prompts=[prompt], completions=["..."], steps=[steps])
    assert scores == pytest.approx(expected, abs=1e-6)
    # the collator labels the same positions
    batch = PRMCollator(prm)([{"prompt": prompt, "steps": steps, "labels": [1, 0]}])
    labelled = (batch["step_targets"][0] != -100).nonzero().flatten().tolist()
    assert labelled == tag_positions(tokenizer, prm, prompt, steps)
    assert batch["step_targets"][0, labelled].tolist() == [0, 1]  # index into (good, bad)


def test_long_inputs_lose_the_prompt_first_then_the_last_steps(tokenizer):
    good = tokenizer.encode("+", add_special_tokens=False)[0]
    prompt, steps = "What is 2 + 3? Steps end with ки here.", ["2 + 3 = 5", "The answer is 5"]
    full = ProcessRewardModel(PositionModel(len(tokenizer), good), tokenizer)
    length = len(tokenizer(full.format(prompt, steps), add_special_tokens=False)["input_ids"])
    prompt_tokens = len(tokenizer(prompt + "\n", add_special_tokens=False)["input_ids"])
    first_tag, second_tag = tag_positions(tokenizer, full, prompt, steps)

    def sigmoid(j):
        return 1 / (1 + math.exp(-j / 10))

    # 3 tokens too long: 3 prompt tokens go, every step keeps its score (read 3 positions earlier)
    short = ProcessRewardModel(PositionModel(len(tokenizer), good), tokenizer, max_length=length - 3)
    (scores,) = short(prompts=[prompt], completions=["..."], steps=[steps])
    assert scores == pytest.approx([sigmoid(first_tag - 3), sigmoid(second_tag - 3)], abs=1e-6)
    # the steps alone do not fit: all but one prompt token go, then the last step's tag is cut: unknown (nan)
    cut = prompt_tokens - 1
    tight = ProcessRewardModel(PositionModel(len(tokenizer), good), tokenizer, max_length=second_tag - cut)
    (scores,) = tight(prompts=[prompt], completions=["..."], steps=[steps])
    assert scores[0] == pytest.approx(sigmoid(first_tag - cut), abs=1e-6) and math.isnan(scores[1])
    batch = PRMCollator(tight)([{"prompt": prompt, "steps": steps, "labels": [1, 0]}])
    assert batch["input_ids"].shape[1] == second_tag - cut
    assert (batch["step_targets"][0] != -100).nonzero().flatten().tolist() == [first_tag - cut]


def test_unknown_steps_take_no_part_in_the_advantages():
    nan = float("nan")
    adv = process_advantages([[1.0, nan], [0.0, 0.0]], [[1, 3], [0, 2]], group_size=2, num_tokens=4)
    # known rewards 1, 0, 0: mean 1/3, unbiased std sqrt(1/3)
    s = (1 / 3) ** 0.5 + STD_EPS
    hi, lo = (2 / 3) / s, (-1 / 3) / s
    assert adv[0].tolist() == pytest.approx([hi, hi, 0.0, 0.0], abs=1e-6)
    assert adv[1].tolist() == pytest.approx([2 * lo, lo, lo, 0.0], abs=1e-6)
    assert process_advantages([[nan], [nan]], [[1], [1]], 2, 2).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_from_pretrained_loads_the_model_the_trainer_scores_with(tokenizer, tmp_path):
    """One loader for the trainer's ``process_reward_model`` path and for callers that wrap the PRM: the saved
    model in eval mode, its tokenizer padding with EOS when it has no pad token, the tag settings kept."""
    from transformers import AutoTokenizer

    from tests.conftest import build_tiny_model

    model = build_tiny_model(tokenizer)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    no_pad = AutoTokenizer.from_pretrained(tmp_path)
    no_pad.pad_token = None
    no_pad.save_pretrained(tmp_path)
    prm = ProcessRewardModel.from_pretrained(str(tmp_path), step_tag=" ки", good_token="+", bad_token="-")
    assert not prm.model.training and prm.step_tag == " ки"
    assert prm.tokenizer.pad_token == prm.tokenizer.eos_token is not None
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), prm.model.state_dict().values()))
    scores = prm(prompts=["What is 2 + 3?"], completions=[None], steps=[["2 + 3 = 5", "The answer is 5"]])
    assert len(scores[0]) == 2 and all(0.0 < x < 1.0 for x in scores[0])
    with pytest.raises(ValueError, match="kind must be 'step_tag' or 'token_classification', got 'orm'"):
        ProcessRewardModel.from_pretrained(str(tmp_path), kind="orm")
