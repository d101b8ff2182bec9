# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Torch threads for ``trl-dsm demo`` on a busy machine: step times of the default demo's model, idle and beside
CPU-bound jobs, with 1 thread, 2 threads, and 2 threads with ``OMP_WAIT_POLICY=PASSIVE``.

    python benchmarks/demo_threads.py [--rounds 3] [--steps 20] [--burners 0,2]

Each measurement is a fresh process (``OMP_WAIT_POLICY`` is read once, when torch's OpenMP runtime loads) that
builds the default demo's 4-layer Llama (hidden 128, vocabulary 512) and times, after a warm-up call,
``--steps`` pretraining steps (16 blocks of 128 tokens, forward, backward, AdamW; the demo's pretraining, SFT and
control stages) and ``--gen-calls`` sampling calls (64 prompts, 48 new tokens: a GRPO step's rollouts). Burners are
``python3 -c 'while True: pass'`` processes started before and killed after each batch of measurements. Settings and
burner counts are interleaved round by round; the script prints the median seconds per step and per call of each
(setting, burners) pair, the load average while it ran, and the ratio to the anchor: 2 threads with the default wait
policy and no burner, measured in the same run. A measurement still running after ``--cap`` seconds is stopped and
shown as ``> cap``. The burners run in the script's own session, as jobs a user starts beside the demo would; where
the kernel shares the CPU between sessions first (``/proc/sys/kernel/sched_autogroup_enabled``), other users' jobs
still take their share, so read the load column.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _autogroup import rerun_in_own_autogroup  # benchmarks/_autogroup.py, beside this script


#: (label, torch threads, OpenMP environment: none for the runtime's default). torch's CPU wheels use GNU OpenMP
#: (libgomp): with OMP_WAIT_POLICY unset a waiting thread spins GOMP_SPINCOUNT times (300,000 by default) before it
#: sleeps, PASSIVE sleeps at once, ACTIVE spins without bound.
SETTINGS = [
    ("1 thread", 1, {}),
    ("2 threads", 2, {}),
    ("2 threads, PASSIVE", 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("2 threads, GOMP_SPINCOUNT 10k", 2, {"GOMP_SPINCOUNT": "10000"}),
    ("2 threads, GOMP_SPINCOUNT 50k", 2, {"GOMP_SPINCOUNT": "50000"}),
]
ANCHOR = ("2 threads", 0)


def _worker(threads: int, steps: int, gen_calls: int) -> dict:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                         tie_word_embeddings=True, pad_token_id=0, eos_token_id=None)  # fmt: skip
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    blocks = torch.randint(2, 512, (16, 128))

    def train_step() -> None:
        loss = model(input_ids=blocks, labels=blocks).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()

    prompts = torch.randint(2, 512, (64, 24))

    def gen_call() -> None:
        with torch.no_grad():
            model.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=48, min_new_tokens=48,
                           do_sample=True, temperature=0.7, pad_token_id=0)  # fmt: skip

    out = {}
    for name, fn, n in (("train_step", train_step, steps), ("gen_call", gen_call, gen_calls)):
        if n == 0:
            continue
        model.train(name == "train_step")
        fn()  # warm-up
        tic = time.perf_counter()
        for _ in range(n):
            fn()
        out[name] = (time.perf_counter() - tic) / n
    return out


def _measure(threads: int, omp_env: dict[str, str], steps: int, gen_calls: int, cap: float) -> dict:
    """One measurement in a fresh process; a process still running after ``cap`` seconds is stopped and its
    times recorded as infinite (shown as ``> cap``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(omp_env)
    cmd = [sys.executable, __file__, "--worker", str(threads), "--steps", str(steps), "--gen-calls", str(gen_calls)]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=cap, check=True)
    except subprocess.TimeoutExpired:
        return {"train_step": float("inf"), "gen_call": float("inf")}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--gen-calls", type=int, default=3)
    parser.add_argument("--burners", default="0,2", help="comma-separated numbers of CPU-bound jobs beside")
    parser.add_argument("--cap", type=float, default=400.0, help="seconds after which a measurement is stopped")
    parser.add_argument(
        "--autogroup-nice",
        type=int,
        default=None,
        help="run the whole benchmark (measurements and burners) in its own session with this autogroup nice, so "
        "that other sessions' jobs take little of the CPU (Linux sched_autogroup; negative values need CAP_SYS_NICE)",
    )
    parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.steps, args.gen_calls)))
        return
    rerun_in_own_autogroup(args.autogroup_nice)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the burners are killed on the way out
    counts = [int(b) for b in args.burners.split(",")]
    times: dict[tuple[str, int], dict[str, list[float]]] = {}
    loads: dict[int, list[float]] = {b: [] for b in counts}
    for r in range(args.rounds):
        for b in counts if r % 2 == 0 else counts[::-1]:
            burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(b)]
            try:
                time.sleep(1.0 if b else 0.0)
                order = SETTINGS if r % 2 == 0 else SETTINGS[::-1]
                for label, threads, omp_env in order:
                    loads[b].append(_load())
                    result = _measure(threads, omp_env, args.steps, args.gen_calls, args.cap)
                    for key, value in result.items():
                        times.setdefault((label, b), {}).setdefault(key, []).append(value)
                    print(f"round {r + 1}, {b} burners, {label}: "
                          + ", ".join(f"{k} {v:.3f} s" for k, v in result.items())
                          + f" (load {_load():.1f})", flush=True)  # fmt: skip
            finally:
                for p in burners:
                    p.kill()
                    p.wait()

    anchor = times.get(ANCHOR)
    print(f"\nmedian of {args.rounds} rounds; anchor: {ANCHOR[0]}, {ANCHOR[1]} burners (same run); cores: "
          f"{os.cpu_count()}")  # fmt: skip
    print("| setting | burners | load (1 min) | train step s | x anchor | sampling call s | x anchor |")
    print("|---|---|---|---|---|---|---|")
    for b in counts:
        for label, _, _ in SETTINGS:
            t = times[(label, b)]
            cells = []
            for key in ("train_step", "gen_call"):
                if key in t:
                    med = statistics.median(t[key])
                    ratio = med / statistics.median(anchor[key]) if anchor and key in anchor else float("nan")
                    cells += [f"{med:.3f}", f"{ratio:.2f}"] if med < float("inf") else [f"> {args.cap:.0f}", "-"]
                else:
                    cells += ["-", "-"]
            print(f"| {label} | {b} | {statistics.median(loads[b]):.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
