# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""GPU check of the launch path: TRL's GRPOTrainer vs GRPOMathTrainer (outcome, process) with vLLM
colocated, bf16, on a ~0.5B model built here from a config (Qwen2.5-0.5B's shape; no Hub access needed).

    python benchmarks/gpu_check.py                      # one GPU with vLLM installed; ~5-8 min
    python benchmarks/gpu_check.py --smoke              # CPU, tiny model, transformers generation: the code path
    python benchmarks/gpu_check.py --iterative          # one GPU, DeepSpeed installed: iterative RL under ZeRO-3
    python benchmarks/gpu_check.py --iterative --smoke  # the same on CPU (gloo), tiny model

Each arm runs in its own process (vLLM and the CUDA allocator start clean, peak memory is per arm) for
``--steps`` optimizer steps after one warm-up step, with the same prompts, group size, lengths and reward
(``math_accuracy_reward``; the process arm scores steps with ``arithmetic_step_reward``). A random-weight model
writes until ``--completion-length``, so every arm generates the same number of tokens. Prints, side by side:
seconds per step (TRL's ``step_time``), completion tokens per second of training, peak GPU memory allocated by
torch (vLLM's weights and KV cache included in colocate mode), and each arm's ratio to TRL's GRPOTrainer (the
anchor). Not part of CI (no GPU there). The whole run is bounded by ``--timeout`` (default 10 minutes).

``--iterative`` checks iterative RL's reward-model side instead (§4.1.4): one GRPO step with process supervision by
a learned PRM (the same model, read as a Math-Shepherd step-tag PRM) under DeepSpeed ZeRO-3, then one reward-model
update — Math-Shepherd labels from policy rollouts (transformers generation with the ZeRO-3 weights gathered, as
TRL's ``ds3_gather_for_generation``) and one optimizer step of the PRM's own ZeRO-3 engine. Prints the step and
update times, the PRM loss, the share of the PRM's parameter elements this rank holds, its optimizer state and
peak GPU memory. One rank holds every partition (world size 1); the share is 0.5 on 2 ranks (tests/test_sharded.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ARMS = ("trl", "outcome", "process")
#: Qwen2.5-0.5B's architecture (494M parameters with its 151,936-token embedding, tied).
QWEN25_05B = dict(
    hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
    vocab_size=151936, max_position_embeddings=4096, rope_theta=1000000.0, rms_norm_eps=1e-6,
    tie_word_embeddings=True,
)  # fmt: skip
TINY = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
    vocab_size=512, max_position_embeddings=512, tie_word_embeddings=True,
)  # fmt: skip


def problems(n: int = 400) -> list[tuple[str, str]]:
    pairs = [(a, b) for a in range(2, 42) for b in range(3, 13)][:n]
    return [(f"What is {a} + {b}? Reason step by step.", str(a + b)) for a, b in pairs]


def build_model(folder: Path, shape: dict) -> None:
    """A byte-level BPE tokenizer trained on the arithmetic text and a random-weight Qwen2 of ``shape``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    texts = [f"{q}\n{q.split('?')[0][8:]} = {a}\nThe answer is {a}." for q, a in problems()]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|pad|>", "<|eos|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|eos|>")
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    torch.manual_seed(0)
    config = Qwen2Config(**shape, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16 if shape is QWEN25_05B else torch.float32)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters at {folder}", flush=True)


def run_arm(arm: str, model: str, out: Path, args: argparse.Namespace) -> dict:
    """One arm in this process: build the trainer, train, return its measurements."""
    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer
    from trl_dsm.grpo import arithmetic_step_reward
    from trl_dsm.rewards import math_accuracy_reward

    rows = problems()
    data = Dataset.from_dict({"prompt": [q for q, _ in rows], "answer": [a for _, a in rows]})
    common = dict(
        per_device_train_batch_size=args.batch_size, num_generations=args.generations,
        max_completion_length=args.completion_length, max_steps=args.steps + 1, beta=0.04, learning_rate=1e-6,
        loss_type="grpo", use_bias_correction_kl=False, report_to="none", save_strategy="no", logging_steps=1,
        seed=0, temperature=1.0, disable_tqdm=True, gradient_accumulation_steps=1,
    )  # fmt: skip
    if args.smoke:
        common.update(use_cpu=True, bf16=False)
    else:
        common.update(bf16=True, use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=args.vllm_memory,
                      vllm_enable_sleep_mode=False)  # fmt: skip
    if arm == "iterative":
        trainer = iterative_trainer(model, out, data, common, args)
    elif arm == "trl":
        trainer = GRPOTrainer(model, math_accuracy_reward, GRPOConfig(str(out), **common), train_dataset=data)
    else:
        config = GRPOMathConfig(str(out), supervision=arm, **common)
        trainer = GRPOMathTrainer(model, [math_accuracy_reward], config, train_dataset=data,
                                  process_reward_func=arithmetic_step_reward if arm == "process" else None)  # fmt: skip
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    update_times: list[float] = []
    if arm == "iterative":
        update = trainer.iterative.update

        def timed_update() -> None:
            start = time.perf_counter()
            update()
            update_times.append(time.perf_counter() - start)

        trainer.iterative.update = timed_update
    trainer.train()
    logs = [e for e in trainer.state.log_history if "step_time" in e]
    timed = logs[1:] or logs  # the first step warms up (CUDA graphs off, allocator, compilation)
    step_time = sum(e["step_time"] for e in timed) / len(timed)
    tokens = sum(e["completions/mean_length"] * args.batch_size for e in timed) / len(timed)
    extra = {}
    if arm == "iterative":
        it = trainer.iterative
        rm_logs = [e for e in trainer.state.log_history if "reward_model/loss" in e]
        extra = dict(engine=it.engine, rm_updates=it.updates, rm_update_s=sum(update_times),
                     rm_loss=rm_logs[-1]["reward_model/loss"] if rm_logs else float("nan"),
                     rm_records=len(it.history), **it.memory)  # fmt: skip
    return {
        "arm": arm,
        "steps": len(timed),
        "step_time_s": step_time,
        "completion_tokens_per_step": tokens,
        "tokens_per_s": tokens / step_time,
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan"),
        "reward": sum(e.get("reward", 0.0) for e in timed) / len(timed),
        **extra,
    }


def iterative_trainer(model: str, out: Path, data, common: dict, args: argparse.Namespace):
    """GRPO with a learned PRM (the model itself, read Math-Shepherd style) and one reward-model update after its
    step, under DeepSpeed ZeRO-3 (a config given to the trainer: one process, no launcher)."""
    from trl_dsm import GRPOMathConfig, GRPOMathTrainer

    zero3 = {
        "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0 if args.smoke else "auto"},
        "bf16": {"enabled": "auto"},
        "train_micro_batch_size_per_gpu": "auto",
        "train_batch_size": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
    }
    settings = dict(common, max_steps=1, use_vllm=False, deepspeed=zero3)
    if args.smoke:  # DeepSpeed on CPU: not `use_cpu` (accelerate turns DeepSpeed off), gloo for the process group
        settings.update(use_cpu=False, ddp_backend="gloo")
    config = GRPOMathConfig(
        str(out), supervision="process", process_reward_model=model, prm_step_tag="\n", prm_good_token="+",
        prm_bad_token="-", iteration_steps=1, reward_model_update_steps=1, reward_model_batch_size=8,
        reward_model_samples_per_iteration=args.batch_size, math_shepherd_rollouts=2, **settings,
    )  # fmt: skip
    return GRPOMathTrainer(model, args=config, train_dataset=data)


def build_parser() -> argparse.ArgumentParser:
    """gpu_check's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="timed optimizer steps per arm (after 1 warm-up)")
    parser.add_argument("--generations", type=int, default=16, help="group size G")
    parser.add_argument("--batch-size", type=int, default=64, help="completions per step (whole groups)")
    parser.add_argument("--completion-length", type=int, default=256)
    parser.add_argument("--vllm-memory", type=float, default=0.3, help="vllm_gpu_memory_utilization (colocate)")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--timeout", type=float, default=600.0, help="hard bound on the whole check, seconds")
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny model, no vLLM: checks the code path only")
    parser.add_argument(
        "--iterative", action="store_true",
        help="iterative RL instead of the arms: one GRPO step with a learned PRM and one reward-model update, "
        "under DeepSpeed ZeRO-3 (needs deepspeed; no vLLM)",
    )  # fmt: skip
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--_arm", default=None, help=argparse.SUPPRESS)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the smoke sizes and the iterative mode's arm applied."""
    args = build_parser().parse_args(argv)
    if args.smoke:
        args.steps, args.generations, args.batch_size, args.completion_length = 1, 4, 8, 16
    if args.iterative:
        args.arms, args.steps = "iterative", 1
    return args


def main() -> None:
    args = parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="trl-dsm-gpu-check-"))

    if args._arm:  # child process: one arm, results as the last line of stdout
        print(json.dumps(run_arm(args._arm, str(work / "model"), work / args._arm, args)), flush=True)
        return

    deadline = time.monotonic() + args.timeout
    if not args.smoke:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("gpu_check: no CUDA device (use --smoke to check the code path on CPU)")
        import importlib.util

        if not args.iterative and importlib.util.find_spec("vllm") is None:
            raise SystemExit("gpu_check: vLLM is not installed (pip install 'trl-dsm[vllm]')")
    if args.iterative:
        import importlib.util

        if importlib.util.find_spec("deepspeed") is None:
            raise SystemExit("gpu_check: --iterative runs under ZeRO-3 and needs DeepSpeed (pip install deepspeed)")
    if not (work / "model" / "config.json").is_file():
        build_model(work / "model", TINY if args.smoke else QWEN25_05B)
    # Colocate mode initializes torch.distributed (vLLM's external launcher) even for one process.
    env = dict(os.environ, RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=os.environ.get("MASTER_PORT", "29517"), TOKENIZERS_PARALLELISM="false")  # fmt: skip
    child = [sys.executable, __file__, "--work-dir", str(work)]
    for name in ("steps", "generations", "batch_size", "completion_length", "vllm_memory"):
        child += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    child += ["--smoke"] if args.smoke else []
    child += ["--iterative"] if args.iterative else []
    results = []
    for arm in args.arms.split(","):
        left = deadline - time.monotonic()
        if left <= 0:
            raise SystemExit(f"gpu_check: out of time before arm {arm!r} (--timeout {args.timeout:g} s)")
        print(f"== {arm}", flush=True)
        proc = subprocess.run([*child, "--_arm", arm], env=env, capture_output=True, text=True, timeout=left)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
            raise SystemExit(f"gpu_check: arm {arm!r} failed (exit {proc.returncode})")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    if args.iterative:
        r = results[0]
        print(f"\niterative RL under DeepSpeed ZeRO-3 ({r['engine']}): step {r['step_time_s']:.2f} s, reward-model "
              f"update {r['rm_update_s']:.2f} s ({r['rm_updates']} optimizer step, {r['rm_records']} labelled "
              f"records, loss {r['rm_loss']:.4f}); PRM elements held {r['param_elements_per_rank']:.0f} "
              f"({r['param_share_per_rank']:.3f} of the model), optimizer state "
              f"{r['optimizer_state_elements_per_rank']:.0f} elements; peak {r['peak_mem_gib']:.2f} GiB")  # fmt: skip
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        return
    anchor = next((r for r in results if r["arm"] == "trl"), results[0])
    print(f"\n{'arm':<10} {'s/step':>8} {'tok/s':>9} {'peak GiB':>9} {'x step time':>12} {'x tok/s':>8} {'reward':>7}")
    for r in results:
        print(
            f"{r['arm']:<10} {r['step_time_s']:>8.2f} {r['tokens_per_s']:>9.0f} {r['peak_mem_gib']:>9.2f} "
            f"{r['step_time_s'] / anchor['step_time_s']:>12.3f} {r['tokens_per_s'] / anchor['tokens_per_s']:>8.3f} "
            f"{r['reward']:>7.3f}"
        )
    print(f"(anchor: {anchor['arm']}; {anchor['steps']} timed steps per arm; work dir {work})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
