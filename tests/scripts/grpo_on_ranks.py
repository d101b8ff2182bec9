# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Run under `accelerate launch --num_processes 2 --multi_gpu` (CPU): process-supervised GRPO where every group
of 4 completions spans both ranks (2 per rank). The scorer gives rank 0's steps 1.0 and rank 1's 0.0: normalizing
per process would give zero advantages; normalizing the gathered group gives +/- ones. Writes OUT/rank{N}.json."""

import json
import sys
from pathlib import Path

import torch
from accelerate import PartialState
from datasets import Dataset

from trl_dsm import GRPOMathConfig, GRPOMathTrainer
from trl_dsm.errors import release_process_group


def main() -> None:
    model_path, out_dir = sys.argv[1], Path(sys.argv[2])
    rank = PartialState(cpu=True).process_index

    def scorer(steps, **kwargs):
        return [[1.0 if rank == 0 else 0.0] * len(s) for s in steps]

    args = GRPOMathConfig(
        output_dir=str(out_dir / "run"), per_device_train_batch_size=2, num_generations=4, max_completion_length=8,
        max_steps=2, logging_steps=1, report_to="none", use_cpu=True, bf16=False, save_strategy="no",
        supervision="process", seed=0,
    )  # fmt: skip
    data = Dataset.from_dict({"prompt": ["What is 1 + 2?", "What is 3 + 4?"] * 4, "answer": ["3", "7"] * 4})
    trainer = GRPOMathTrainer(model_path, args=args, train_dataset=data, process_reward_func=scorer)
    seen = []
    original = trainer._generate_and_score_completions

    def wrapped(inputs):
        out = original(inputs)
        seen.append(
            {
                "advantages": out["advantages"].tolist(),
                "mask": out["completion_mask"].tolist(),
                "prompts": [x["prompt"] for x in inputs],
            }
        )
        return out

    trainer._generate_and_score_completions = wrapped
    trainer.train()
    (out_dir / f"rank{rank}.json").write_text(
        json.dumps({"rank": rank, "world": trainer.accelerator.num_processes, "batches": seen,
                    "loss": trainer.state.log_history[-1].get("train_loss"), "torch": torch.__version__})
    )  # fmt: skip


if __name__ == "__main__":
    main()
    release_process_group()  # before exit: gloo threads left to exit-time destructors can abort a rank
