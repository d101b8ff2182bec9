# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Step time of TRL's GRPOTrainer vs GRPOMathTrainer: outcome, process and Online RFT.

    python benchmarks/grpo_overhead.py [--steps 6] [--repeats 3]

Same tiny 2-layer model (built here, CPU), same prompts, same hyperparameters and the same rule reward
(`math_accuracy_reward`) for all four; process mode scores steps with `arithmetic_step_reward`; Online RFT
(`advantage_estimator="online_rft"`) keeps beta 0.04 here, like the others, so that the ratio measures the
estimator and not the reference model that its paper default (beta 0) drops. Runs are interleaved (TRL,
outcome, process, online_rft, TRL, ...) in one process; the script prints, per optimizer step, the median
process CPU seconds (steadier on a shared machine) and TRL's wall-clock ``step_time``, with the ratios to TRL.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6, help="timed optimizer steps per run (after 1 warm-up step)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--completion-length", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time measures the work)")
    args = parser.parse_args()

    import torch
    import transformers
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from tests.conftest import build_tiny_model, build_tiny_tokenizer
    from trl_dsm import GRPOMathConfig, GRPOMathTrainer
    from trl_dsm.grpo import arithmetic_step_reward
    from trl_dsm.rewards import math_accuracy_reward

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    logging.disable(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="grpo-overhead-"))
    pairs = [(a, b) for a in range(2, 12) for b in range(2, 12)]
    tokenizer = build_tiny_tokenizer(
        [f"What is {a} + {b}?\n{a} + {b} = {a + b}\nThe answer is {a + b}." for a, b in pairs]
    )
    build_tiny_model(tokenizer).save_pretrained(work / "model")
    tokenizer.save_pretrained(work / "model")
    data = Dataset.from_dict(
        {"prompt": [f"What is {a} + {b}?" for a, b in pairs], "answer": [str(a + b) for a, b in pairs]}
    )

    common = dict(
        per_device_train_batch_size=args.generations, num_generations=args.generations,
        max_completion_length=args.completion_length, max_steps=args.steps + 1, beta=0.04, learning_rate=1e-6,
        loss_type="grpo", use_bias_correction_kl=False, report_to="none", use_cpu=True, bf16=False,
        save_strategy="no", logging_steps=1, seed=0, temperature=1.0, disable_tqdm=True,
    )  # fmt: skip

    class CpuClock(TrainerCallback):
        """Process CPU seconds per optimizer step: steadier than wall time on a shared machine."""

        def __init__(self) -> None:
            self.steps: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.tic = time.process_time()

        def on_step_end(self, args, state, control, **kwargs):
            self.steps.append(time.process_time() - self.tic)

    def run(kind: str) -> tuple[float, float]:
        out = str(work / kind)
        if kind == "trl":
            trainer = GRPOTrainer(str(work / "model"), math_accuracy_reward, GRPOConfig(out, **common),
                                  train_dataset=data)  # fmt: skip
        elif kind == "online_rft":
            config = GRPOMathConfig(out, advantage_estimator="online_rft", **common)
            trainer = GRPOMathTrainer(str(work / "model"), [math_accuracy_reward], config, train_dataset=data)
        else:
            config = GRPOMathConfig(out, supervision=kind, **common)
            scorer = arithmetic_step_reward if kind == "process" else None
            trainer = GRPOMathTrainer(str(work / "model"), [math_accuracy_reward], config, train_dataset=data,
                                      process_reward_func=scorer)  # fmt: skip
        clock = CpuClock()
        trainer.add_callback(clock)
        trainer.train()
        step_times = [e["step_time"] for e in trainer.state.log_history if "step_time" in e]  # TRL's own timer
        return statistics.mean(step_times[1:]), statistics.mean(clock.steps[1:])  # drop the warm-up step

    kinds = ("trl", "outcome", "process", "online_rft")
    wall: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.repeats):
        for kind in kinds:
            w, c = run(kind)
            wall[kind].append(w)
            cpu[kind].append(c)
    labels = {"trl": "TRL GRPOTrainer", "outcome": "GRPOMathTrainer outcome", "process": "GRPOMathTrainer process",
              "online_rft": "GRPOMathTrainer online_rft"}  # fmt: skip
    print(f"{args.repeats} interleaved runs x {args.steps} steps; G={args.generations}, "
          f"{args.completion_length} completion tokens, {args.threads} torch thread(s); per optimizer step (median):")  # fmt: skip
    for name, results in (("process CPU seconds (the figure to read on a shared machine)", cpu),
                          ("wall seconds (TRL's step_time)", wall)):  # fmt: skip
        print(f"{name}:")
        anchor = statistics.median(results["trl"])
        for kind in kinds:
            median = statistics.median(results[kind])
            print(f"  {labels[kind]:<26} {median:7.3f} s/step  ratio to TRL {median / anchor:5.3f}  "
                  f"(runs: {', '.join(f'{t:.3f}' for t in results[kind])})")  # fmt: skip


if __name__ == "__main__":
    main()
