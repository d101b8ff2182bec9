# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Run under `accelerate launch --num_processes 2 --multi_gpu` (CPU): GRPOMathTrainer with a MathEvalCallback on
5 held-out problems (uneven shards: 3 and 2). Generation is scripted (the answer is right when the first operand is
even), so the gathered metrics are exact. Writes OUT/rank{N}.json with the callback's history, the problem ids each
rank evaluated and the ids it saw after the gather."""

import json
import re
import sys
from pathlib import Path

from accelerate import PartialState
from datasets import Dataset

from trl_dsm import GRPOMathConfig, GRPOMathTrainer
from trl_dsm.errors import release_process_group
from trl_dsm.eval import EvalConfig
from trl_dsm.eval.callback import MathEvalCallback


EVALUATED: list[str] = []


class ScriptedGenerator:
    def __init__(self, model, tokenizer, **kwargs):
        self.model = model

    def generate(self, prompts, *, n=1, temperature=0.0, stop=()):
        out = []
        for prompt in prompts:
            a, b = map(int, re.search(r"What is (\d+) \+ (\d+)\?", prompt).groups())
            EVALUATED.append(f"{a}+{b}")
            out.append([f"The answer is \\boxed{{{a + b if a % 2 == 0 else a + b + 1}}}."] * n)
        return out


def main() -> None:
    model_path, out_dir = sys.argv[1], Path(sys.argv[2])
    rank = PartialState(cpu=True).process_index
    args = GRPOMathConfig(
        output_dir=str(out_dir / "run"), per_device_train_batch_size=2, num_generations=4, max_completion_length=8,
        max_steps=2, logging_steps=1, report_to="none", use_cpu=True, bf16=False, save_strategy="no", seed=0,
    )  # fmt: skip
    data = Dataset.from_dict({"prompt": ["What is 1 + 2?", "What is 3 + 4?"] * 4, "answer": ["3", "7"] * 4})
    trainer = GRPOMathTrainer(model_path, args=args, train_dataset=data)
    problems = [{"question": f"What is {a} + 1?", "answer": str(a + 1)} for a in range(5)]
    callback = MathEvalCallback(
        trainer, problems, EvalConfig(num_samples=2, temperature=0.7), eval_steps=1, samples_dir=out_dir / "samples",
        generator_factory=ScriptedGenerator,
    )  # fmt: skip
    trainer.add_callback(callback)
    trainer.train()
    report = {"rank": rank, "world": trainer.accelerator.num_processes, "history": callback.history,
              "evaluated": EVALUATED, "log_history": trainer.state.log_history}  # fmt: skip
    (out_dir / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
    release_process_group()  # before exit: gloo threads left to exit-time destructors can abort a rank
