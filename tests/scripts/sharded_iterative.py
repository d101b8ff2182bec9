# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Iterative RL with reward-model updates on 2 ranks, launched with ``accelerate launch`` (DDP, FSDP2 or ZeRO-3):

    sharded_iterative.py MODEL_DIR OUT_DIR [--use_cpu false --ddp_backend gloo]   (trailing: GRPOMathConfig flags)

For a PRM (process supervision, Math-Shepherd labels) and for an outcome reward model (grader-labelled pairs):
GRPO for 4 steps with ``iteration_steps=2`` (a reward-model update of 2 optimizer steps at steps 2 and 4) and a
checkpoint at step 3, inside the second iteration; then a fresh trainer resumes that checkpoint and trains step 4.
Each update labels the newest 7 of the iteration's 8 samples: uneven shares (4 and 3) on the 2 ranks.
Both reward models start from the same weights on every engine (built from ``MODEL_DIR``'s, seeded). Records, per
rank, each update's labelled records, its reward-model losses and this rank's share of the reward model's elements
after each of its optimizer steps, the policy's logged losses, and whether the reference equals the policy at the
end (a boundary). Writes ``OUT_DIR/rank{N}.json``. FSDP2 on CPU and ZeRO-3's test-sized sharding need
:mod:`tests.scripts._cpu_sharding` (applied here).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
from datasets import Dataset


ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.scripts._cpu_sharding import enable_fsdp_on_cpu, set_zero3_param_persistence_threshold  # noqa: E402
from trl_dsm.errors import release_process_group  # noqa: E402


STEPS, ITERATION, SAVE_AT = 4, 2, 3


def local_values(param: torch.Tensor) -> torch.Tensor:
    """This rank's part of a parameter: the ZeRO-3 partition, the FSDP2 shard, or the tensor itself."""
    if hasattr(param, "ds_tensor"):
        return param.ds_tensor.detach()
    if hasattr(param, "to_local"):
        return param.to_local().detach()
    return param.detach()


def main() -> None:
    model_dir, out_dir, flags = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    enable_fsdp_on_cpu()
    if "TRL_DSM_TEST_ZERO3_PERSISTENCE" in os.environ:
        set_zero3_param_persistence_threshold(int(os.environ["TRL_DSM_TEST_ZERO3_PERSISTENCE"]))
    from accelerate import PartialState
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM, Qwen2ForSequenceClassification

    import trl_dsm.grading.compare as compare
    import trl_dsm.grpo.reward_models as reward_models
    from tests.scripts.recipe_rewards import digit_reward
    from trl_dsm import GRPOMathConfig, GRPOMathTrainer
    from trl_dsm.grpo import ProcessRewardModel

    def parity_verdicts(texts, golds, **kwargs):
        """A random-weight policy solves nothing: the verdict is a fixed function of the generated text instead
        (a third correct), so the labels change whenever a rollout's text does."""
        return [SimpleNamespace(correct=sum(map(ord, text)) % 3 == 0) for text in texts]

    compare.grade_batch = reward_models.grade_batch = parity_verdicts  # ORM shares / Math-Shepherd rollouts

    # Reward-model weights read here, not with from_pretrained: under ZeRO-3 that partitions at load (zero.Init) and
    # under FSDP2 with cpu_ram_efficient_loading it leaves ranks >= 1 on the meta device. The trainer shards them.
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    weights = load_file(str(model_dir / "model.safetensors"))
    torch.manual_seed(1234)  # the ORM's score head: the same initial values on every rank and engine
    orm_config = Qwen2Config.from_pretrained(model_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id)
    orm_weights = Qwen2ForSequenceClassification(orm_config).state_dict()
    orm_weights.update({k: v for k, v in weights.items() if k in orm_weights})

    def reward_model(kind: str):
        if kind == "orm":
            model = Qwen2ForSequenceClassification(orm_config)
            model.load_state_dict(orm_weights)
            return model
        model = Qwen2ForCausalLM(Qwen2Config.from_pretrained(model_dir))
        model.load_state_dict(weights, strict=False)  # lm_head is tied to the embeddings
        prm = ProcessRewardModel(model.eval(), tokenizer, step_tag="\n", good_token="3", bad_token="7")
        return prm

    # Built before any trainer: once a ZeRO-3 trainer has run, a model constructed in this process is partitioned
    # at construction (DeepSpeed's zero.Init stays in force), and loading whole weights into it fails.
    built = {(kind, run): reward_model(kind) for kind in ("prm", "orm") for run in ("straight", "resumed")}
    overrides = dict(zip(flags[0::2], flags[1::2]))  # e.g. --use_cpu false --ddp_backend gloo
    engine = {k.lstrip("-"): (v if v not in ("true", "false") else v == "true") for k, v in overrides.items()}
    data = Dataset.from_dict({"prompt": ["What is 1 + 2?", "What is 3 + 4?"] * 8, "answer": ["3", "7"] * 8})

    def run(kind: str, output_dir: Path, resume: bool = False) -> dict:
        rm = built[kind, "resumed" if resume else "straight"]
        settings = dict(
            output_dir=str(output_dir), per_device_train_batch_size=2, num_generations=4, max_completion_length=8,
            max_steps=STEPS, logging_steps=1, report_to="none", use_cpu=True, bf16=False, seed=0,
            learning_rate=1e-3, save_strategy="steps", save_steps=SAVE_AT, iteration_steps=ITERATION,
            reward_model_update_steps=2, reward_model_batch_size=4, reward_model_samples_per_iteration=7,
            reward_model_learning_rate=1e-2, math_shepherd_rollouts=2,
            supervision="process" if kind == "prm" else "outcome",
        )  # fmt: skip
        args = GRPOMathConfig(**{**settings, **engine})
        if kind == "prm":
            trainer = GRPOMathTrainer(str(model_dir), reward_funcs=[digit_reward], args=args, train_dataset=data,
                                      process_reward_func=rm)  # fmt: skip
        else:
            trainer = GRPOMathTrainer(str(model_dir), reward_funcs=[digit_reward, rm], args=args, train_dataset=data,
                                      reward_processing_classes=[None, tokenizer])  # fmt: skip
        iterative, updates = trainer.iterative, []
        label, train = iterative._label, iterative._train

        def recording_label(samples):
            records = label(samples)
            updates.append({"step": trainer.state.global_step, "samples": len(samples), "records": records})
            return records

        def recording_train(mix):
            shares = []
            original = iterative._measure_memory

            def measuring():
                shares.append(original())
                return shares[-1]

            iterative._measure_memory = measuring
            try:
                losses = train(mix)
            finally:
                iterative._measure_memory = original
            updates[-1].update(losses=losses, memory=shares)
            return losses

        iterative._label, iterative._train = recording_label, recording_train
        trainer.train(resume_from_checkpoint=True if resume else None)
        policy = dict(trainer.model.named_parameters())
        ref_equal = [  # ZeRO-3: the reference is a DeepSpeed engine, its names start with "module."
            torch.equal(local_values(ref), local_values(policy[name.removeprefix("module.")]))
            for name, ref in trainer.ref_model.named_parameters()
        ]
        return {
            "distributed_type": str(trainer.accelerator.distributed_type),
            "updates": updates,
            "iteration": iterative.iteration,
            "history": iterative.history,
            "policy_log": {e["step"]: e["loss"] for e in trainer.state.log_history if "loss" in e},
            "ref_equal": all(ref_equal) and len(ref_equal) > 0,
            "engine": iterative.engine,
        }

    state = PartialState()
    report = {"rank": state.process_index, "world": state.num_processes}
    for kind in ("prm", "orm"):
        straight = out_dir / kind / "straight"
        report[kind] = {"straight": run(kind, straight)}
        resumed = out_dir / kind / "resumed"
        if state.is_main_process:  # the checkpoint inside the second iteration, as a killed run leaves it
            shutil.copytree(straight / f"checkpoint-{SAVE_AT}", resumed / f"checkpoint-{SAVE_AT}")
        state.wait_for_everyone()
        report[kind]["resumed"] = run(kind, resumed, resume=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"rank{state.process_index}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
    release_process_group()  # before exit: gloo threads left to exit-time destructors can abort a rank
