# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The unified paradigm (§5.2.1): each method's gradient coefficient, exactly, on hand-made groups, and one SGD step
of GRPOMathTrainer equal to the update computed by hand from ``(1/|o|) sum_t GC grad log pi``; the public
advantage-estimator registry."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import build_tiny_model, build_tiny_tokenizer, tiny_grpo_kwargs
from trl_dsm.grpo.advantages import STD_EPS
from trl_dsm.grpo.estimators import (
    AdvantageInputs,
    advantage_estimators,
    get_advantage_estimator,
    register_advantage_estimator,
)


def inputs(rewards, correct=None, group_size=4, **kwargs) -> AdvantageInputs:
    r = torch.tensor(rewards, dtype=torch.float32).view(len(rewards), -1)
    return AdvantageInputs(
        rewards_per_func=r, reward_func_names=[f"f{i}" for i in range(r.shape[1])],
        reward_weights=torch.ones(r.shape[1]), group_size=group_size,
        completion_mask=torch.ones(len(rewards), 3, dtype=torch.long),
        correct=None if correct is None else torch.tensor(correct), **kwargs,
    )  # fmt: skip


def test_grpo_outcome_coefficient_hand_computed():
    # group 1: rewards 1, 0, 0, 1 -> mean 0.5, unbiased std sqrt(1/3); group 2: all equal -> 0
    adv = get_advantage_estimator("grpo")(inputs([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0]))
    s = (1 / 3) ** 0.5 + STD_EPS
    assert adv.tolist() == pytest.approx([0.5 / s, -0.5 / s, -0.5 / s, 0.5 / s, 0, 0, 0, 0], abs=1e-6)
    none = get_advantage_estimator("grpo")(inputs([1.0, 0.0, 0.0, 1.0], scale_rewards="none"))
    assert none.tolist() == [0.5, -0.5, -0.5, 0.5]
    # a completion that no function scored (nan) is left out of the baseline and gets 0
    adv = get_advantage_estimator("grpo")(inputs([1.0, 0.0, float("nan"), 0.0], scale_rewards="none"))
    assert adv.tolist() == pytest.approx([2 / 3, -1 / 3, 0.0, -1 / 3])


def test_online_rft_coefficient_is_the_correctness_indicator():
    adv = get_advantage_estimator("online_rft")(inputs([1.0, 0.0, 0.0, 1.0], correct=[True, False, False, True]))
    assert adv.tolist() == [1.0, 0.0, 0.0, 1.0]  # no baseline, no scaling (Eq. 10)
    with pytest.raises(ValueError, match="online_rft needs the rule reward"):
        get_advantage_estimator("online_rft")(inputs([1.0, 0.0, 0.0, 1.0]))


def test_grpo_process_coefficient_goes_through_process_advantages():
    x = inputs([0.0] * 2, group_size=2, step_rewards=[[1.0, 0.0], [0.0]], step_ends=[[0, 2], [1]])
    adv = get_advantage_estimator("grpo")(x)
    s = (1 / 3) ** 0.5 + STD_EPS  # step rewards 1, 0, 0: mean 1/3
    hi, lo = (2 / 3) / s, (-1 / 3) / s
    assert torch.allclose(adv, torch.tensor([[hi + lo, lo, lo], [lo, lo, 0.0]]), atol=1e-6)


def test_registry_accepts_user_estimators_and_names_errors():
    name = "test_rloo"

    @register_advantage_estimator(name)
    def rloo(x: AdvantageInputs) -> torch.Tensor:
        r = x.rewards().view(-1, x.group_size)
        return (r - (r.sum(1, keepdim=True) - r) / (x.group_size - 1)).view(-1)

    assert name in advantage_estimators() and get_advantage_estimator(name) is rloo
    assert rloo(inputs([1.0, 0.0, 0.0, 1.0])).tolist() == pytest.approx([2 / 3, -2 / 3, -2 / 3, 2 / 3])
    with pytest.raises(ValueError, match="already registered"):
        register_advantage_estimator(name, rloo)
    register_advantage_estimator(name, rloo, overwrite=True)
    with pytest.raises(ValueError, match=r"unknown advantage_estimator 'nope'; registered: \[.*'grpo'"):
        get_advantage_estimator("nope")


# ---------------------------------------------------------------------------------------------------------------
# One optimizer step through the trainer equals the hand-computed update
# ---------------------------------------------------------------------------------------------------------------
PATTERN = [1.0, 0.0, 0.0, 1.0]


def scripted(completions, **kwargs):
    """Rewards 1, 0, 0, 1 in every group of four, whatever the completions say."""
    return [PATTERN[i % 4] for i in range(len(completions))]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("paradigm")
    texts = [f"What is {a} + {b}?\n{a} + {b} = {a + b}\nThe answer is {a + b}." for a in range(12) for b in range(12)]
    tokenizer = build_tiny_tokenizer(texts)
    build_tiny_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def half_steps(steps, **kwargs):
    return [[1.0 if j % 2 == 0 else 0.0 for j in range(len(s))] for s in steps]


METHODS = {
    "grpo_outcome": dict(advantage_estimator="grpo"),
    "online_rft": dict(advantage_estimator="online_rft"),
    "grpo_process": dict(advantage_estimator="grpo", supervision="process", step_separator=" "),
}


@pytest.mark.parametrize("method", list(METHODS))
def test_one_sgd_step_equals_the_hand_computed_update(tiny_path, tmp_path, method):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer

    lr = 0.5
    args = GRPOMathConfig(**tiny_grpo_kwargs(
        tmp_path, max_steps=1, optim="sgd", learning_rate=lr, lr_scheduler_type="constant", weight_decay=0.0,
        max_grad_norm=0.0, temperature=1.0, accuracy_reward_name="scripted", **METHODS[method],
    ))  # fmt: skip
    data = Dataset.from_dict({"prompt": ["What is 1 + 2?"] * 4, "answer": ["3"] * 4})
    trainer = GRPOMathTrainer(tiny_path, reward_funcs=[scripted], args=args, train_dataset=data,
                              process_reward_func=half_steps if "process" in method else None)  # fmt: skip
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    seen = []
    original = trainer._generate_and_score_completions
    trainer._generate_and_score_completions = lambda x: seen.append(original(x)) or seen[-1]
    trainer.train()
    (batch,) = seen

    adv = batch["advantages"]
    if method == "online_rft":
        assert adv.tolist() == PATTERN and args.beta == 0.0
    elif method == "grpo_outcome":
        s = (1 / 3) ** 0.5 + STD_EPS
        assert adv.tolist() == pytest.approx([0.5 / s, -0.5 / s, -0.5 / s, 0.5 / s], abs=1e-6)
    else:
        assert adv.dim() == 2 and adv.abs().sum() > 0

    # The hand computation: L = -(1/B) sum_i (1/|o_i|) sum_t A_it log pi(o_it); at the first step the ratio and the
    # reference equal the policy, so the clipped ratio and the k3 KL add nothing to the gradient.
    model = AutoModelForCausalLM.from_pretrained(tiny_path).float()
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    attention = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    logits = model(input_ids=ids, attention_mask=attention).logits[:, batch["prompt_ids"].shape[1] - 1 : -1]
    logp = logits.log_softmax(-1).gather(-1, batch["completion_ids"].unsqueeze(-1)).squeeze(-1)
    mask = batch["completion_mask"].float()
    coeff = adv if adv.dim() == 2 else adv.unsqueeze(1).expand_as(logp)
    loss = -((coeff * logp * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
    loss.backward()
    moved = max((p.detach() - before[n]).abs().max().item() for n, p in trainer.model.named_parameters())
    assert moved > 1e-3  # a real update, far above the tolerance below
    for name, param in model.named_parameters():
        expected = before[name] - lr * param.grad
        assert torch.allclose(dict(trainer.model.named_parameters())[name], expected, atol=1e-6), name


# ---------------------------------------------------------------------------------------------------------------
# Offline RFT: the dataset
# ---------------------------------------------------------------------------------------------------------------
class ScriptedGenerator:
    """Returns fixed samples per prompt and records what it was asked."""

    def __init__(self, samples: dict[str, list[str]]) -> None:
        self.samples, self.calls = samples, []

    def generate(self, prompts, *, n=1, temperature=0.0, stop=()):
        self.calls.append((list(prompts), n, temperature))
        return [self.samples[p][:n] for p in prompts]


def test_rft_dataset_keeps_distinct_correct_samples():
    from trl_dsm.grpo.rft import rft_dataset

    gen = ScriptedGenerator({
        "What is 1 + 2?": ["1 + 2 = 3\nThe answer is 3.", "The answer is 4.", " 1 + 2 = 3\nThe answer is 3.", "3"],
        "What is 2 + 2?": ["The answer is 5.", "The answer is 3.", "no idea", "The answer is 22."],
        "What is 3 + 4?": ["#### 7", "The answer is $\\boxed{7}$", "7 + 0 = 7. So 7.", "8"],
    })  # fmt: skip
    data = [{"prompt": p, "answer": a, "id": i} for i, (p, a) in
            enumerate(zip(gen.samples, ["#### 3", "#### 4", "#### 7"]))]  # fmt: skip
    out = rft_dataset(gen, data, k=4, temperature=0.7)
    assert gen.calls == [(list(gen.samples), 4, 0.7)]
    assert out.to_list() == [
        {"prompt": "What is 1 + 2?", "answer": "#### 3", "id": 0, "completion": "1 + 2 = 3\nThe answer is 3."},
        {"prompt": "What is 1 + 2?", "answer": "#### 3", "id": 0, "completion": "3"},
        {"prompt": "What is 3 + 4?", "answer": "#### 7", "id": 2, "completion": "#### 7"},
        {"prompt": "What is 3 + 4?", "answer": "#### 7", "id": 2, "completion": "The answer is $\\boxed{7}$"},
        {"prompt": "What is 3 + 4?", "answer": "#### 7", "id": 2, "completion": "7 + 0 = 7. So 7."},
    ]
    assert len(rft_dataset(gen, data, k=4, deduplicate=False)) == 6


def test_rft_dataset_conversational_prompts_and_errors(tiny_path):
    from transformers import AutoTokenizer

    from trl_dsm.grpo.rft import rft_dataset

    tok = AutoTokenizer.from_pretrained(tiny_path)
    messages = [{"role": "user", "content": "What is 1 + 2?"}]
    rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    gen = ScriptedGenerator({rendered: ["The answer is 3.", "The answer is 2."]})
    out = rft_dataset(gen, [{"prompt": messages, "solution": "3"}], tokenizer=tok, k=2)
    assert out.to_list() == [
        {"prompt": messages, "solution": "3", "completion": [{"role": "assistant", "content": "The answer is 3."}]}
    ]
    with pytest.raises(ValueError, match="need tokenizer="):
        rft_dataset(gen, [{"prompt": messages, "answer": "3"}], k=2)
    with pytest.raises(ValueError, match="no gold column"):
        rft_dataset(gen, [{"prompt": "q", "target": "3"}], k=2)
    with pytest.raises(ValueError, match="already has a 'completion' column"):
        rft_dataset(gen, [{"prompt": "q", "answer": "3", "completion": "x"}], k=2)


def test_rft_dataset_trains_with_sft_trainer(tiny_path, tmp_path):
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from trl_dsm.grpo.rft import rft_dataset

    gen = ScriptedGenerator({"What is 1 + 2?": ["1 + 2 = 3\nThe answer is 3.", "The answer is 3."]})
    data = rft_dataset(gen, [{"prompt": "What is 1 + 2?", "answer": "3"}], k=2)
    tok = AutoTokenizer.from_pretrained(tiny_path)
    args = SFTConfig(str(tmp_path), max_steps=1, per_device_train_batch_size=2, report_to="none", use_cpu=True,
                     bf16=False, save_strategy="no")  # fmt: skip
    trainer = SFTTrainer(model=tiny_path, args=args, train_dataset=data, processing_class=tok)
    trainer.train()
    batch = next(iter(trainer.get_train_dataloader()))
    prompt_len = len(tok("What is 1 + 2?")["input_ids"])
    assert (batch["labels"][:, :prompt_len] == -100).all()  # the loss is on the completion only
    assert (batch["labels"][:, prompt_len:] != -100).any()
    assert trainer.state.log_history[-1]["train_loss"] > 0


def test_online_rft_needs_the_rule_reward_at_construction(tiny_path, tmp_path):
    from datasets import Dataset

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer

    args = GRPOMathConfig(**tiny_grpo_kwargs(tmp_path, advantage_estimator="online_rft"))
    data = Dataset.from_dict({"prompt": ["What is 1 + 2?"] * 4, "answer": ["3"] * 4})
    with pytest.raises(ValueError, match=r"accuracy_reward_name='math_accuracy_reward', which is not among"):
        GRPOMathTrainer(tiny_path, reward_funcs=[scripted], args=args, train_dataset=data)
