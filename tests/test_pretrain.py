# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Continued-pretraining library (§2.2.1, §3.1): the multi-step schedule against hand values, packing, the weighted
mixture, model building."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset

from tests.conftest import build_tiny_tokenizer
from trl_dsm.pretrain import (
    PretrainSource,
    build_causal_lm,
    build_pretrain_dataset,
    collate_blocks,
    get_multistep_schedule,
    milestone_steps,
    mixture_probabilities,
    multistep_lr_lambda,
    pack_into_blocks,
)


def paper(step: int, total: int = 10_000) -> float:
    return multistep_lr_lambda(step, num_warmup_steps=2000, num_training_steps=total)


def test_multistep_schedule_matches_the_paper_by_hand():
    # 2000 warmup steps, peak until 80% of 10,000 steps, 31.6% until 90%, then 10%
    assert [paper(s) for s in (0, 1, 1000, 1999, 2000)] == [0.0, 1 / 2000, 0.5, 1999 / 2000, 1.0]
    assert [paper(s) for s in (7999, 8000, 8999, 9000, 9999, 10_000)] == [1.0, 0.316, 0.316, 0.1, 0.1, 0.1]
    assert milestone_steps(50_000) == [40_000, 45_000]  # the 7B run: 500B tokens / 10M per step
    assert milestone_steps(7) == [5, 6]  # floor(5.6), floor(6.3)
    assert milestone_steps(100, (0.29, 0.57)) == [29, 57]  # not int(0.29 * 100) == 28 (binary rounding)


def test_multistep_schedule_drop_inside_warmup_and_custom_milestones():
    # a drop that falls inside the warmup caps the ramp
    assert (
        multistep_lr_lambda(3, num_warmup_steps=8, num_training_steps=10, milestones=(0.2,), factors=(0.25,)) == 0.25
    )
    assert (
        multistep_lr_lambda(1, num_warmup_steps=8, num_training_steps=10, milestones=(0.2,), factors=(0.25,)) == 0.125
    )
    values = [multistep_lr_lambda(s, num_warmup_steps=0, num_training_steps=4, milestones=(0.5,), factors=(0.5,))
              for s in range(4)]  # fmt: skip
    assert values == [1.0, 1.0, 0.5, 0.5]
    with pytest.raises(ValueError, match="same length"):
        multistep_lr_lambda(0, num_warmup_steps=1, num_training_steps=2, milestones=(0.5,), factors=(0.1, 0.2))
    with pytest.raises(ValueError, match="increasing"):
        multistep_lr_lambda(0, num_warmup_steps=1, num_training_steps=2, milestones=(0.9, 0.8), factors=(0.3, 0.1))


def test_multistep_scheduler_drives_an_optimizer():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=4.2e-4)
    scheduler = get_multistep_schedule(optimizer, num_warmup_steps=2, num_training_steps=10)
    seen = []
    for _ in range(10):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [0.0, 0.5, 1, 1, 1, 1, 1, 1, 0.316, 0.1]
    assert seen == pytest.approx([4.2e-4 * f for f in expected])
    # the scheduler state round-trips (resume)
    restored = get_multistep_schedule(torch.optim.AdamW([param], lr=4.2e-4), 2, 10)
    restored.load_state_dict(scheduler.state_dict())
    assert restored.last_epoch == 10


def test_pack_into_blocks_exact():
    assert pack_into_blocks([[1, 2, 3], [4, 5], [6, 7, 8, 9]], 4) == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert pack_into_blocks([[1, 2]], 4) == []
    with pytest.raises(ValueError, match="block_size"):
        pack_into_blocks([[1]], 0)


def test_mixture_weights_are_token_shares():
    sources = [PretrainSource("a", weight=56), PretrainSource("b", weight=4), PretrainSource("c", weight=40)]
    assert mixture_probabilities(sources) == pytest.approx([0.56, 0.04, 0.40])
    with pytest.raises(ValueError, match="weight must be a positive number"):
        PretrainSource("a", weight=0)


def test_build_pretrain_dataset_interleaves_blocks_by_weight():
    tokenizer = build_tiny_tokenizer(["aaaa bbbb"] * 4)
    eos = tokenizer.eos_token_id
    a = Dataset.from_dict({"text": ["aaaa aaaa aaaa"] * 400})
    b = Dataset.from_dict({"body": ["bbbb bbbb bbbb"] * 400})
    a_ids = set(tokenizer("aaaa aaaa aaaa")["input_ids"])
    sources = [{"path": "a", "weight": 3}, {"path": "b", "weight": 1, "text_column": "body"}]
    mixed = build_pretrain_dataset(sources, tokenizer, block_size=16, datasets=[a, b], seed=0,
                                   stopping_strategy="first_exhausted")  # fmt: skip
    assert all(len(block) == 16 for block in mixed["input_ids"])
    assert sum(block.count(eos) for block in mixed["input_ids"]) > 0  # documents end with EOS
    from_a = [all(t in a_ids or t == eos for t in block) for block in mixed["input_ids"]]
    share = sum(from_a) / len(from_a)
    assert 0.70 < share < 0.80, share  # 3:1 by weight
    batch = collate_blocks([mixed[0], mixed[1]])
    assert batch["input_ids"].shape == (2, 16) and torch.equal(batch["labels"], batch["input_ids"])


def test_build_pretrain_dataset_errors_name_the_problem():
    tokenizer = build_tiny_tokenizer(["x y"] * 4)
    data = Dataset.from_dict({"content": ["x y"] * 4})
    with pytest.raises(ValueError, match="no text column 'text'"):
        build_pretrain_dataset([{"path": "code"}], tokenizer, 8, datasets=[data])
    with pytest.raises(ValueError, match=r"datasets\[0\]: unknown key\(s\) \['weigth'\]"):
        build_pretrain_dataset([{"path": "code", "weigth": 1}], tokenizer, 8, datasets=[data])
    with pytest.raises(ValueError, match="fewer than 4096 tokens"):
        build_pretrain_dataset([{"path": "code", "text_column": "content"}], tokenizer, 4096, datasets=[data])


def test_build_causal_lm_from_scratch_takes_the_tokenizer_vocabulary(tmp_path):
    tokenizer = build_tiny_tokenizer(["hello world"] * 4)
    config = {"model_type": "qwen2", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
              "num_attention_heads": 2, "num_key_value_heads": 1}  # fmt: skip
    model = build_causal_lm(from_scratch=True, model_config=config, tokenizer=tokenizer, seed=0)
    assert model.config.vocab_size == len(tokenizer) and model.config.eos_token_id == tokenizer.eos_token_id
    again = build_causal_lm(from_scratch=True, model_config=config, tokenizer=tokenizer, seed=0)
    assert torch.equal(model.model.embed_tokens.weight, again.model.embed_tokens.weight)  # seeded
    with pytest.raises(ValueError, match="model_type"):
        build_causal_lm(from_scratch=True, model_config={"hidden_size": 8})
