# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm evaluate``: greedy accuracy, pass@k and maj@k of a model on the DeepSeekMath benchmarks (§5)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.eval.benchmarks import EVAL_BENCHMARKS
    from trl_dsm.eval.config import EvalConfig

    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a model on GSM8K, MATH, CMATH, ... with CoT, PoT or TIR prompting (DeepSeekMath §5)",
        description=(
            "Greedy accuracy, pass@k (unbiased) and maj@k for k = 1, 2, 4, ... K. Writes results.json, "
            "samples/<benchmark>.jsonl, pass_maj_at_k.png and model_index.json to --output-dir. "
            f"Benchmarks: {', '.join(EVAL_BENCHMARKS)}."
        ),
    )
    d = EvalConfig()  # the flags' defaults are the library's: one place for them
    p.add_argument("--model", required=True, help="Hub id or local path of a causal LM")
    p.add_argument("--benchmarks", default="gsm8k,math500", help="comma-separated names (default: gsm8k,math500)")
    p.add_argument(
        "--mode", choices=["cot", "pot", "tir"], default=d.mode, help="prompting format (default: %(default)s)"
    )
    p.add_argument("--num-samples", type=int, default=d.num_samples,
                   help="K samples per problem for pass@k / maj@k (default: %(default)s)")  # fmt: skip
    p.add_argument("--temperature", type=float, default=d.temperature,
                   help="sampling temperature for K > 1 (default: %(default)s)")  # fmt: skip
    p.add_argument("--top-p", type=float, default=d.top_p, help="nucleus sampling for K > 1 (default: %(default)s)")
    p.add_argument("--no-greedy", action="store_true", help="skip the greedy pass (no greedy accuracy)")
    p.add_argument("--few-shot", type=int, default=d.few_shot, help="exemplars in the prompt (default: %(default)s)")
    p.add_argument(
        "--benchmarks-dir", type=Path, default=None, help="local copies laid out like shared/data/benchmarks"
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N problems of each benchmark")
    p.add_argument("--output-dir", type=Path, default=Path("eval_results"), help="(default: ./eval_results)")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="sequences per forward pass, transformers backend (default: %(default)s)")  # fmt: skip
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens,
                   help="tokens generated per completion; must leave room for the prompt (default: %(default)s)")  # fmt: skip
    p.add_argument("--backend", choices=["auto", "vllm", "transformers"], default="auto",
                   help="auto: vLLM when installed, else transformers")  # fmt: skip
    p.add_argument("--chat-template", choices=["auto", "on", "off"], default="auto",
                   help="auto: use the tokenizer's chat template when it has one")  # fmt: skip
    p.add_argument("--fallback", choices=["last_math", "last_number", "none"], default=d.fallback,
                   help="answer of a completion without a boxed/marked answer (default: %(default)s)")  # fmt: skip
    p.add_argument("--tir-max-rounds", type=int, default=d.tir_max_rounds,
                   help="programs run per TIR trajectory (default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--code-timeout", type=float, default=d.code_timeout, help="seconds per program (default: %(default)s)"
    )
    p.add_argument("--vote-symbolic-pairs", type=int, default=d.vote_symbolic_pairs,
                   help="symbolic equivalence checks between wrong answers per problem for maj@k (default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--dtype",
        default="auto",
        help="torch dtype (auto, bfloat16, float32, ...), both backends (default: %(default)s)",
    )
    p.add_argument("--vllm-kwargs", type=json.loads, default=None, metavar="JSON",
                   help='extra vllm.LLM arguments as a JSON object, e.g. \'{"enforce_eager": true, "max_model_len": 4096}\'')  # fmt: skip
    p.add_argument("--device", default=None, help="transformers device (default: cuda when available)")
    p.add_argument("--seed", type=int, default=d.seed, help="sampling seed (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trl_dsm.eval.benchmarks import resolve_eval_benchmarks
    from trl_dsm.eval.evaluate import EvalConfig, run_evaluation

    benchmarks = resolve_eval_benchmarks(args.benchmarks)  # a bad name fails before the model loads
    if args.vllm_kwargs is not None and not isinstance(args.vllm_kwargs, dict):
        raise ValueError(f"--vllm-kwargs must be a JSON object, got {args.vllm_kwargs!r}")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    if args.benchmarks_dir is not None and not args.benchmarks_dir.is_dir():
        raise FileNotFoundError(f"--benchmarks-dir {args.benchmarks_dir} is not a directory")
    config = EvalConfig(
        mode=args.mode,
        num_samples=args.num_samples,
        temperature=args.temperature,
        top_p=args.top_p,
        greedy=not args.no_greedy,
        few_shot=args.few_shot,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        chat_template={"auto": None, "on": True, "off": False}[args.chat_template],
        fallback=args.fallback,
        tir_max_rounds=args.tir_max_rounds,
        code_timeout=args.code_timeout,
        vote_symbolic_pairs=args.vote_symbolic_pairs,
        seed=args.seed,
    )
    results = run_evaluation(
        args.model,
        benchmarks,
        config,
        backend=args.backend,
        benchmarks_dir=args.benchmarks_dir,
        limit=args.limit,
        output_dir=args.output_dir,
        dtype=args.dtype,
        device=args.device,
        vllm_kwargs=args.vllm_kwargs,
    )
    for name, result in results.items():
        headline = {k: round(v, 4) for k, v in result.metrics.items() if k == "greedy" or "@" in k}
        print(json.dumps({"benchmark": name, "n": result.metrics["n"], **headline}))
    print(f"wrote {args.output_dir}/results.json, samples/, pass_maj_at_k.png, model_index.json")
    return 0
