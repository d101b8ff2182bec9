# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Iterative RL under a sharded engine, launched with ``accelerate launch --config_file CONFIG``:

    sharded_iterative.py MODEL_DIR OUT_DIR [--use_cpu false --ddp_backend gloo]   (trailing: GRPOMathConfig flags)

1. ``reward_model_update_steps`` with a PRM (and with an outcome reward model): the construction error, recorded.
2. ``iteration_steps=1`` alone (the reference reset, TRL's ``SyncRefModelCallback``) for 2 steps: whether the
   policy moved, whether every rank's shard of the reference model equals its shard of the policy after training,
   and the logged KL (0 at step 2 only if the reference was reset after step 1).
Writes ``OUT_DIR/rank{N}.json``. FSDP on CPU needs :mod:`tests.scripts._cpu_sharding` (applied here).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from datasets import Dataset


ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.scripts._cpu_sharding import enable_fsdp_on_cpu, set_zero3_param_persistence_threshold  # noqa: E402


def local_values(param: torch.Tensor) -> torch.Tensor:
    """This rank's part of a parameter: the ZeRO-3 partition, the FSDP2 shard, or the tensor itself."""
    if hasattr(param, "ds_tensor"):
        return param.ds_tensor.detach()
    if hasattr(param, "to_local"):
        return param.to_local().detach()
    return param.detach()


def main() -> None:
    model_dir, out_dir, flags = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    enable_fsdp_on_cpu()
    if "TRL_DSM_TEST_ZERO3_PERSISTENCE" in os.environ:
        set_zero3_param_persistence_threshold(int(os.environ["TRL_DSM_TEST_ZERO3_PERSISTENCE"]))
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForSequenceClassification, TrainerCallback

    from tests.scripts.recipe_rewards import digit_reward
    from trl_dsm import GRPOMathConfig, GRPOMathTrainer

    def config(**changes) -> GRPOMathConfig:
        base = dict(
            output_dir=str(out_dir / "run"), per_device_train_batch_size=2, num_generations=4,
            max_completion_length=8, max_steps=2, logging_steps=1, report_to="none", use_cpu=True, bf16=False,
            save_strategy="no", seed=0, learning_rate=1e-3,
        )  # fmt: skip
        base.update(changes)
        return GRPOMathConfig(**base)

    overrides = dict(zip(flags[0::2], flags[1::2]))  # e.g. --use_cpu false --ddp_backend gloo
    engine = {k.lstrip("-"): (v if v not in ("true", "false") else v == "true") for k, v in overrides.items()}
    data = Dataset.from_dict({"prompt": ["What is 1 + 2?", "What is 3 + 4?"] * 4, "answer": ["3", "7"] * 4})
    errors = {}
    prm = {"process_reward_model": model_dir, "prm_step_tag": "\n", "prm_good_token": "3", "prm_bad_token": "7"}
    for kind, changes in {"prm": dict(supervision="process", **prm), "orm": {}}.items():
        rewards, kwargs = [digit_reward], {}
        if kind == "orm" and os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true":
            # Not a path: with `fsdp_cpu_ram_efficient_loading` (shipped fsdp.yaml) from_pretrained leaves ranks >= 1
            # on the meta device, and TRL 1.16 moves the reward model `.to(device)` before sharding it (crash).
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            cfg = Qwen2Config.from_pretrained(model_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id)
            rewards.append(Qwen2ForSequenceClassification(cfg))
            kwargs["reward_processing_classes"] = [None, tokenizer]
        elif kind == "orm":
            rewards.append(model_dir)  # ZeRO-3: TRL loads the RM (under zero.Init) and wraps it in an engine
        args = config(iteration_steps=1, reward_model_update_steps=1, **changes, **engine)
        try:
            GRPOMathTrainer(model_dir, reward_funcs=rewards, args=args, train_dataset=data, **kwargs)
            errors[kind] = None
        except ValueError as err:
            errors[kind] = str(err)
    trainer = GRPOMathTrainer(
        model_dir, reward_funcs=[digit_reward], args=config(iteration_steps=1, **engine), train_dataset=data
    )
    initial: dict[str, torch.Tensor] = {}

    class Snapshot(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):  # the prepared (sharded) policy
            initial.update({n: local_values(p).clone() for n, p in trainer.model.named_parameters()})

    trainer.add_callback(Snapshot())
    trainer.train()
    policy = dict(trainer.model.named_parameters())
    ref_equal = {  # ZeRO-3: the reference is a DeepSpeed engine, its names start with "module."
        name: torch.equal(local_values(ref), local_values(policy[name.removeprefix("module.")]))
        for name, ref in trainer.ref_model.named_parameters()
    }
    accelerator = trainer.accelerator
    report = {
        "rank": accelerator.process_index,
        "world": accelerator.num_processes,
        "distributed_type": str(accelerator.distributed_type),
        "errors": errors,
        "ref_equal": ref_equal,
        "policy_moved": any(not torch.equal(initial[n], local_values(p)) for n, p in policy.items()),
        "ref_local": sum(local_values(p).numel() for p in trainer.ref_model.parameters()),
        "ref_global": sum(int(getattr(p, "ds_numel", p.numel())) for p in trainer.ref_model.parameters()),
        "log": [{k: e.get(k) for k in ("step", "kl", "loss")} for e in trainer.state.log_history if "kl" in e],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"rank{accelerator.process_index}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
