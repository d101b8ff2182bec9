# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Math-Shepherd labelling (§4.1.3): one rollout call per sample vs one for all samples.

    python benchmarks/prm_labelling.py [--samples 128] [--rollouts 4] [--repeats 3]

Anchor: ``math_shepherd_labels`` called once per sample (what ``build_prm_dataset`` did before), each call a
``generate()`` over that sample's few step prefixes x rollouts. Against it, ``build_prm_dataset``, which gathers
every sample's prefixes into one ``rollout`` call (``hf_rollout`` then fills batches of ``--batch-size`` prefixes).
Same tiny 4-layer Llama (random weights, built here, so every continuation runs the full ``--new-tokens``: both
paths decode the same number of tokens), same samples, same labels checked equal shape. Runs are interleaved; the
script prints the median process CPU seconds (one torch thread) and wall seconds, and the ratio to the anchor.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--rollouts", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=512, help="hf_rollout prefixes per generate() call")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.conftest import build_tiny_tokenizer
    from trl_dsm.grpo.reward_models import build_prm_dataset, hf_rollout, math_shepherd_labels

    torch.set_num_threads(1)
    torch.manual_seed(0)
    texts = [f"{a} + {b} = {a + b}\n{a + b} * 2 = {2 * (a + b)}\nThe answer is {2 * (a + b)}." for a in range(20)
             for b in range(20)]  # fmt: skip
    tokenizer = build_tiny_tokenizer(texts + [f"What is ({a} + {b}) * 2?" for a in range(20) for b in range(20)])
    tokenizer.padding_side = "left"
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=None)  # fmt: skip
    model = LlamaForCausalLM(config).eval()
    samples = [{"prompt": f"What is ({i % 20} + {i // 20 % 20}) * 2?", "completion": texts[i % len(texts)],
                "gold": str(2 * (i % 20 + i // 20 % 20))} for i in range(args.samples)]  # fmt: skip
    rollout = hf_rollout(model, tokenizer, max_new_tokens=args.new_tokens, batch_size=args.batch_size)

    def per_sample():
        rows = []
        for s in samples:
            steps = [x.strip() for x in s["completion"].split("\n") if x.strip()]
            rows.append(math_shepherd_labels(s["prompt"], steps, s["gold"], rollout, args.rollouts))
        return rows

    def batched():
        return build_prm_dataset(samples, rollout, num_rollouts=args.rollouts)["labels"]

    runs = {"per-sample calls (anchor)": per_sample, "one call (build_prm_dataset)": batched}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    wall: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):
        shapes = []
        for name, fn in runs.items():
            c0, w0 = time.process_time(), time.perf_counter()
            labels = fn()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
            shapes.append([len(r) for r in labels])
        if shapes[0] != shapes[1]:
            raise SystemExit("the two paths labelled different steps")
    steps = sum(shapes[0])
    print(f"{args.samples} samples, {steps} step prefixes x {args.rollouts} rollouts of {args.new_tokens} tokens, "
          f"median of {args.repeats}, 1 torch thread")  # fmt: skip
    anchor = statistics.median(cpu["per-sample calls (anchor)"])
    anchor_wall = statistics.median(wall["per-sample calls (anchor)"])
    for name in runs:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"{name:32s} CPU {c:7.2f} s ({c / anchor:.3f}x)   wall {w:7.2f} s ({w / anchor_wall:.3f}x)")


if __name__ == "__main__":
    main()
