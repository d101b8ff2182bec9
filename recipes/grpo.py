# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""GRPO (DeepSeekMath-RL, §4): ``GRPOMathTrainer`` on chain-of-thought GSM8K + MATH questions, rewards by name
(``trl_dsm.rewards.REWARD_FUNCS``), dotted path (``pkg.module:func``) or reward-model id, outcome or process
supervision, iterative RL.

    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml recipes/grpo.py \\
        --config recipes/deepseek-math-7b/grpo.yaml

    python recipes/grpo.py --config recipes/tiny/grpo.yaml --model_name_or_path PATH   # CPU, seconds
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from trl import ModelConfig, TrlParser, get_peft_config

from trl_dsm.errors import check_model_source, check_not_empty, run_recipe_main
from trl_dsm.grpo import GRPOMathConfig, GRPOMathTrainer, arithmetic_step_reward
from trl_dsm.hub.publish import HubArguments, stage_card, train_and_publish
from trl_dsm.prompts import COT_INSTRUCTION
from trl_dsm.rewards import REWARD_FUNCS
from trl_dsm.sft.questions import hub_dataset_id, load_questions


#: Step scorers for process supervision, by name (besides dotted paths).
STEP_REWARDS = {"arithmetic": arithmetic_step_reward}


def resolve_callable(spec: str, registry: dict, what: str):
    """``registry[spec]``, or ``pkg.module:func`` / ``pkg.module.func`` imported; anything else is an error."""
    if spec in registry:
        return registry[spec]
    module_name, sep, attr = spec.partition(":") if ":" in spec else spec.rpartition(".")
    if not sep or not module_name:
        raise ValueError(f"unknown {what} {spec!r}: expected one of {sorted(registry)} or 'package.module:function'")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import {what} {spec!r}: {err}") from None


def resolve_reward(spec: str):
    """A reward by name, dotted path, or (kept as a string for TRL to load) a reward-model path / Hub id."""
    if spec in REWARD_FUNCS or ":" in spec:
        return resolve_callable(spec, REWARD_FUNCS, "reward function")
    if Path(spec).exists() or spec.count("/") == 1:
        return spec  # a sequence-classification reward model, loaded by TRL
    return resolve_callable(spec, REWARD_FUNCS, "reward function")


@dataclass
class GRPOScriptArguments(HubArguments):
    """The GRPO recipe's data, reward and publishing options (§4.2: GSM8K and MATH questions, CoT prompts)."""

    dataset_name: list[str] = field(
        default_factory=lambda: ["gsm8k", "math"],
        metadata={"help": "Question sources: gsm8k, math (Hub or data_dir), Hub ids or JSON/JSONL files (§4.2)."},
    )
    data_dir: str | None = field(
        default=None, metadata={"help": "Local benchmarks directory for gsm8k/math (<dir>/gsm8k/train.jsonl)."}
    )
    dataset_train_split: str = field(default="train", metadata={"help": "Split of the question sources."})
    prompt_format: str = field(default="cot", metadata={"help": "Instruction format of the prompts (§4.2: CoT)."})
    reward_funcs: list[str] = field(
        default_factory=lambda: ["math_accuracy"],
        metadata={"help": f"Rewards: names in trl_dsm.rewards.REWARD_FUNCS {sorted(REWARD_FUNCS)}, 'pkg.mod:func', "
                  "or reward-model paths / Hub ids."},
    )  # fmt: skip
    process_reward_func: str | None = field(
        default=None,
        metadata={"help": "Process supervision step scorer: 'arithmetic' or 'pkg.mod:func' (else the config's PRM)."},
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use the first N questions."})


def main(script_args: GRPOScriptArguments, training_args: GRPOMathConfig, model_args: ModelConfig) -> None:
    """Build the question dataset, the rewards and a :class:`GRPOMathTrainer`, train, save and publish with the RL card."""
    check_model_source(model_args.model_name_or_path, "model_name_or_path", revision=model_args.model_revision)
    training_args.model_init_kwargs = {
        "revision": model_args.model_revision,
        "dtype": model_args.dtype,
        "attn_implementation": model_args.attn_implementation,
        **(training_args.model_init_kwargs or {}),
    }
    with training_args.main_process_first(desc="loading questions"):
        dataset = load_questions(
            script_args.dataset_name, script_args.dataset_train_split, script_args.data_dir, script_args.prompt_format
        )
    if script_args.max_train_samples is not None:
        dataset = dataset.shuffle(seed=training_args.seed).select(
            range(min(script_args.max_train_samples, len(dataset)))
        )
    check_not_empty(dataset, f"dataset_name {script_args.dataset_name}")
    rewards = [resolve_reward(spec) for spec in script_args.reward_funcs]
    step_scorer = None
    if script_args.process_reward_func:
        step_scorer = resolve_callable(script_args.process_reward_func, STEP_REWARDS, "step reward")
    script_args.take_over_push(training_args)  # before the trainer: a dry run never touches the Hub
    trainer = GRPOMathTrainer(
        model_args.model_name_or_path,
        reward_funcs=rewards,
        args=training_args,
        train_dataset=dataset,
        peft_config=get_peft_config(model_args),
        process_reward_func=step_scorer,
    )

    def card():
        iterative = (
            f"the reference model is reset to the policy every {training_args.iteration_steps} steps"
            + (f", reward model retrained {training_args.reward_model_update_steps} steps per iteration"
               if training_args.reward_model_update_steps else "")
            if training_args.iteration_steps else "no (a single iteration)"
        )  # fmt: skip
        return stage_card(
            "rl",
            trainer,
            script_args,
            model_name=Path(training_args.hub_model_id or training_args.output_dir).name,
            base_model=model_args.model_name_or_path,
            datasets=[hub_dataset_id(d) for d in script_args.dataset_name],
            cot_instruction=COT_INSTRUCTION,
            rl_data=f"{len(dataset):,} chain-of-thought questions from {', '.join(script_args.dataset_name)}.",
            supervision=training_args.supervision
            + (f" (step scorer: {script_args.process_reward_func or training_args.process_reward_model})"
               if training_args.supervision == "process" else ""),
            rewards=", ".join(f"`{r}`" for r in script_args.reward_funcs),
            iterative=iterative,
            num_generations=training_args.num_generations,
            beta=training_args.beta,
        )  # fmt: skip

    train_and_publish(trainer, script_args, card)


def make_parser() -> TrlParser:
    """The recipe's ``TrlParser``: script arguments, :class:`GRPOMathConfig` and TRL's ``ModelConfig`` (YAML via ``--config``)."""
    return TrlParser((GRPOScriptArguments, GRPOMathConfig, ModelConfig))


if __name__ == "__main__":
    run_recipe_main(main, make_parser)  # bad input: one line naming the file/key/value, exit status 2
