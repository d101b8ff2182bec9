# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""GRPOMathTrainer as a drop-in for TRL's GRPOTrainer: a plain ``trl.GRPOConfig`` runs as TRL runs it, TRL's
several updates per generation batch work, and every default that differs from TRL's is documented."""

from __future__ import annotations

import dataclasses
import logging
import re
import warnings
from pathlib import Path

import pytest

from tests.conftest import build_tiny_model, build_tiny_tokenizer, tiny_grpo_kwargs


ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [f"What is {a} + {b}?" for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]]
# The init fields whose GRPOMathConfig default differs from trl.GRPOConfig's (DeepSeekMath §4.1-4.2).
DIFFERING_DEFAULTS = {
    "num_generations", "max_completion_length", "beta", "loss_type", "use_bias_correction_kl",
    "gradient_accumulation_steps", "steps_per_generation", "generation_batch_size",
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    tokenizer = build_tiny_tokenizer(QUESTIONS + [f"{a} + {b} = {a + b}" for a in range(10) for b in range(10)])
    build_tiny_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def _init_fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def length_reward(completions, **kwargs) -> list[float]:
    """A deterministic reward: the completion's length in characters."""
    return [float(len(c)) for c in completions]


def test_every_default_that_differs_from_trl_is_in_the_docs_table(tmp_path):
    from trl import GRPOConfig

    from trl_dsm import GRPOMathConfig

    ours, trls = GRPOMathConfig(str(tmp_path), use_cpu=True), GRPOConfig(str(tmp_path), use_cpu=True)
    differing = {name for name in _init_fields(GRPOConfig) if getattr(ours, name) != getattr(trls, name)}
    assert differing == DIFFERING_DEFAULTS
    docs = (ROOT / "docs" / "grpo.md").read_text()
    table = docs[docs.index("## Drop-in for TRL's `GRPOTrainer`") :].split("\n## ")[0]
    rows = {
        cell for line in table.splitlines() if line.startswith("| `") for cell in re.findall(r"`(\w+)`", line[:60])
    }
    assert differing | {"reward_funcs", "args"} <= rows, sorted(differing - rows)
    for name in differing - {"steps_per_generation", "generation_batch_size"}:  # derived: no literal value
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}`"))
        assert repr(getattr(trls, name)).strip("'") in row, (name, row)


def test_a_trl_config_is_converted_with_every_value_kept(tmp_path, caplog):
    from trl import GRPOConfig

    from trl_dsm import GRPOMathConfig

    trls = GRPOConfig(
        str(tmp_path), use_cpu=True, bf16=False, num_generations=4, per_device_train_batch_size=4,
        gradient_accumulation_steps=2, learning_rate=0.5, beta=0.1, loss_type="bnpo", scale_rewards="batch",
        max_completion_length=12, report_to="none", lr_scheduler_type="cosine", seed=7,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="trl_dsm.grpo.config"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = GRPOMathConfig.from_grpo_config(trls)
    assert isinstance(ours, GRPOMathConfig)
    for name in _init_fields(GRPOConfig):
        assert getattr(ours, name) == getattr(trls, name), name
    defaults = GRPOMathConfig(str(tmp_path), use_cpu=True)
    for name in set(_init_fields(GRPOMathConfig)) - set(_init_fields(GRPOConfig)):
        assert getattr(ours, name) == getattr(defaults, name), name
    assert len(caplog.records) == 1 and "converted the trl.GRPOConfig" in caplog.records[0].getMessage()
    assert not [w for w in caught if "§4.2" in str(w.message)]  # gradient_accumulation_steps = steps_per_generation


def _train(trainer_cls, tiny_path, args):
    from datasets import Dataset

    trainer = trainer_cls(
        tiny_path, reward_funcs=length_reward, args=args, train_dataset=Dataset.from_dict({"prompt": QUESTIONS})
    )
    calls = []
    original = trainer._generate_and_score_completions
    trainer._generate_and_score_completions = lambda inputs: calls.append(len(inputs)) or original(inputs)
    trainer.train()
    return trainer, calls


def test_a_trl_config_runs_as_trl_runs_it(tiny_path, tmp_path, caplog):
    """The same GRPOConfig, TRL's several updates per generation batch included (2 optimizer steps per generation
    of 4 micro-batches), gives GRPOMathTrainer TRL's run: the same losses, rewards and KL at every step."""
    from trl import GRPOConfig, GRPOTrainer

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer

    def config(name):
        return GRPOConfig(**tiny_grpo_kwargs(
            tmp_path / name, per_device_train_batch_size=2, num_generations=4, steps_per_generation=4,
            gradient_accumulation_steps=2, max_steps=4, beta=0.1, learning_rate=0.05,
        ))  # fmt: skip

    reference, reference_calls = _train(GRPOTrainer, tiny_path, config("trl"))
    with caplog.at_level(logging.INFO, logger="trl_dsm.grpo.config"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours, our_calls = _train(GRPOMathTrainer, tiny_path, config("ours"))
    assert isinstance(ours.args, GRPOMathConfig) and ours.ref_model is not None
    assert (ours.args.beta, ours.args.loss_type, ours.args.num_generations) == (0.1, "dapo", 4)  # TRL's values
    assert [r.getMessage()[:48] for r in caplog.records if r.name == "trl_dsm.grpo.config"] == [
        "GRPOMathTrainer: converted the trl.GRPOConfig to"
    ]
    assert len([w for w in caught if "§4.2" in str(w.message)]) == 1  # 2 updates per stage: one warning
    # 4 optimizer steps of 2 micro-batches of 2 completions: one generation batch (8 completions) per 4 micro-batches
    assert reference_calls == our_calls == [8, 8]
    assert ours.state.global_step == reference.state.global_step == 4
    keys = ("loss", "reward", "kl", "completions/mean_length", "learning_rate")
    logged = [entry.get(k, float("nan")) for entry in ours.state.log_history if "loss" in entry for k in keys]
    expected = [entry.get(k, float("nan")) for entry in reference.state.log_history if "loss" in entry for k in keys]
    assert len(logged) == 4 * len(keys)
    assert logged == pytest.approx(expected, rel=1e-5, abs=1e-7, nan_ok=True)
    assert "pass@4" not in ours.state.log_history[0]  # no rule reward among reward_funcs: no group accuracy


def test_a_config_of_another_kind_is_a_type_error(tiny_path):
    from transformers import TrainingArguments

    from trl_dsm import GRPOMathTrainer

    with pytest.raises(TypeError, match="args must be a GRPOMathConfig or a trl.GRPOConfig, got TrainingArguments"):
        GRPOMathTrainer(tiny_path, args=TrainingArguments("unused", use_cpu=True))


def test_the_wrapped_trl_internals_are_checked_at_import():
    """A TRL whose wrapped private methods changed fails at import with the method named, not mid-run."""
    from trl import GRPOTrainer

    from trl_dsm._compat import TRL_WRAPPED_METHODS, check_trl_grpo_trainer

    check_trl_grpo_trainer(GRPOTrainer)  # the installed TRL, in the pinned range

    def changed(self, inputs, prompts, completions):
        return None

    with pytest.raises(ImportError, match=r"GRPOTrainer._calculate_rewards has no such method"):
        check_trl_grpo_trainer(
            type("Missing", (), {"_generate_and_score_completions": GRPOTrainer._generate_and_score_completions})
        )
    with pytest.raises(ImportError, match=r"_calculate_rewards takes \('inputs', 'prompts', 'completions'\)"):
        check_trl_grpo_trainer(type("Changed", (GRPOTrainer,), {"_calculate_rewards": changed}))
    assert set(TRL_WRAPPED_METHODS) == {"_calculate_rewards", "_generate_and_score_completions"}


def test_a_trl_that_cannot_compute_the_loss_here_is_refused_at_construction(tiny_path, tmp_path, monkeypatch):
    """TRL 1.15 computes log-probabilities only through its Triton kernel, None without Triton (CPU-only PyTorch):
    the trainer refuses at construction, naming the versions that work, instead of TRL's AttributeError mid-step."""
    from trl.trainer import utils

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer

    monkeypatch.setattr(utils, "_ChunkedLogProbFunction", None, raising=False)
    with pytest.raises(RuntimeError, match=r"Triton is not installed .*use TRL 1.13, 1.14 or 1.16"):
        GRPOMathTrainer(tiny_path, args=GRPOMathConfig(**tiny_grpo_kwargs(tmp_path)))
