# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""MathEvalCallback during GRPOMathTrainer training: one process (real generation, and scripted for exact
numbers) and two accelerate ranks (slow)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import build_tiny_model, build_tiny_tokenizer, tiny_grpo_kwargs


QUESTIONS = [f"What is {a} + {b}?" for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]]
HELDOUT = [{"question": f"What is {a} + 1?", "answer": str(a + 1)} for a in range(5)]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_cb")
    texts = QUESTIONS + [f"{a} + {b} = {a + b}\nThe answer is {a + b}." for a in range(12) for b in range(12)]
    tokenizer = build_tiny_tokenizer(texts)
    build_tiny_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _trainer(tiny_path, tmp_path):
    from datasets import Dataset

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer

    data = Dataset.from_dict({"prompt": QUESTIONS, "answer": ["3", "7", "11", "15"]})
    return GRPOMathTrainer(str(tiny_path), args=GRPOMathConfig(**tiny_grpo_kwargs(tmp_path)), train_dataset=data)


class ScriptedGenerator:
    """Right when the first operand is even: 3 of the 5 held-out problems."""

    def __init__(self, model, tokenizer, **kwargs):
        self.training = model.training

    def generate(self, prompts, *, n=1, temperature=0.0, stop=()):
        out = []
        for prompt in prompts:
            a, b = map(int, re.search(r"What is (\d+) \+ (\d+)\?", prompt).groups())
            out.append([f"The answer is \\boxed{{{a + b if a % 2 == 0 else 0}}}."] * n)
        return out


def test_callbacks_log_during_grpo_without_disturbing_its_logging(tiny_path, tmp_path):
    from trl_dsm.eval import EvalConfig
    from trl_dsm.eval.callback import MathEvalCallback

    trainer = _trainer(tiny_path, tmp_path)
    # Scripted generation: exact numbers, every step and before the first.
    scripted = MathEvalCallback(
        trainer, HELDOUT, EvalConfig(num_samples=2, temperature=0.7), eval_steps=1, eval_on_start=True,
        name="scripted", samples_dir=tmp_path / "samples", generator_factory=ScriptedGenerator,
    )  # fmt: skip
    # The trainer's own model generating, every second step.
    real = MathEvalCallback(trainer, HELDOUT[:3], EvalConfig(num_samples=2, max_new_tokens=6), eval_steps=2)
    trainer.add_callback(scripted)
    trainer.add_callback(real)
    trainer.train()
    assert [h["step"] for h in scripted.history] == [0, 1, 2]
    for entry in scripted.history:
        for key in ("greedy", "pass@1", "pass@2", "maj@1", "maj@2"):
            assert entry[f"eval/scripted/{key}"] == pytest.approx(3 / 5), key
    logged = [h for h in trainer.state.log_history if "eval/scripted/maj@2" in h]
    assert [h["step"] for h in logged] == [0, 1, 2]
    rows = [json.loads(line) for line in (tmp_path / "samples" / "scripted-step2.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == ["0", "1", "2", "3", "4"] and all(r["step"] == 2 for r in rows)
    assert [h["step"] for h in real.history] == [2]
    assert 0.0 <= real.history[0]["eval/heldout/maj@2"] <= 1.0 and "eval/heldout/no_answer_rate" in real.history[0]
    assert trainer.model.training  # back in training mode after generating
    # GRPO's own per-step logs (logging_steps=1) are still there, with its pass@G/maj@G.
    train_logs = [h for h in trainer.state.log_history if "loss" in h]
    assert [h["step"] for h in train_logs] == [1, 2] and all("reward" in h and "maj@4" in h for h in train_logs)


def test_shards_are_padded_to_equal_length_and_cover_every_problem_once():
    from trl_dsm.eval.callback import shard_for_rank

    items = list("abcde")
    for world in (1, 2, 3, 8):
        shards = [shard_for_rank(items, rank, world) for rank in range(world)]
        assert len({len(shard) for _, shard in shards}) == 1  # same work on every rank
        assert sorted(x for own, shard in shards for x in shard[:own]) == items  # each problem scored once
    assert shard_for_rank(items, 6, 8) == (0, ["a"])  # more ranks than problems: a rank with none still generates


def test_callback_rejects_empty_problem_sets(tiny_path, tmp_path):
    from trl_dsm.eval.callback import MathEvalCallback

    with pytest.raises(ValueError, match="at least one problem"):
        MathEvalCallback(_trainer(tiny_path, tmp_path), [])


@pytest.mark.slow
def test_callback_on_two_accelerate_ranks(tiny_path, tmp_path):
    from tests.test_distributed import SCRIPTS, accelerate_launch

    accelerate_launch(SCRIPTS / "eval_on_ranks.py", str(tiny_path), str(tmp_path))
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in reports)
    # Each rank evaluated its own shard (3 and 2 problems, twice per evaluation: greedy and sampling passes)...
    shards = [set(r["evaluated"]) for r in reports]
    assert shards[0] == {"0+1", "2+1", "4+1"} and shards[1] == {"1+1", "3+1"}
    # ...padded to the same length (rank 1 repeats "3+1"), so both ranks generate in lockstep (FSDP / ZeRO-3).
    assert len(reports[0]["evaluated"]) == len(reports[1]["evaluated"]) == 3 * 2 * 2  # 2 evaluations x 2 passes
    assert reports[1]["evaluated"][:3] == ["1+1", "3+1", "3+1"]
    # ...and both computed the same metrics over all five problems: right when the first operand is even.
    assert reports[0]["history"] == reports[1]["history"]
    assert [h["step"] for h in reports[0]["history"]] == [1, 2]
    for entry in reports[0]["history"]:
        assert entry["eval/heldout/greedy"] == pytest.approx(3 / 5) and entry["eval/heldout/maj@2"] == pytest.approx(
            3 / 5
        )
    rows = (tmp_path / "samples" / "heldout-step2.jsonl").read_text().splitlines()
    assert sorted(json.loads(r)["id"] for r in rows) == ["0", "1", "2", "3", "4"]
