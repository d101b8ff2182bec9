# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm evaluate``: greedy accuracy, pass@k and maj@k of a model on the DeepSeekMath benchmarks (§5)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from trl_dsm.eval.config import EvalConfig


@dataclass
class EvalArguments:
    """What ``trl-dsm evaluate`` evaluates and where (how is :class:`~trl_dsm.eval.config.EvalConfig`: its fields
    are the command's other options)."""

    model: str = field(metadata={"help": "Hub id or local directory of a causal LM"})
    benchmarks: str = field(default="gsm8k,math500", metadata={"help": "comma-separated benchmark names"})
    benchmarks_dir: Path | None = field(
        default=None, metadata={"help": "read benchmarks from local copies laid out like shared/data/benchmarks"}
    )
    limit: int | None = field(
        default=None, metadata={"help": "evaluate only the first N problems of each benchmark (None: all)"}
    )
    output_dir: Path = field(
        default=Path("eval_results"),
        metadata={"help": "where results.json, samples/, pass_maj_at_k.png and model_index.json go"},
    )
    backend: Literal["auto", "vllm", "transformers"] = field(
        default="auto", metadata={"help": "auto: vLLM when installed, else transformers"}
    )
    dtype: str = field(
        default="auto", metadata={"help": "torch dtype of the weights (auto, bfloat16, float32, ...), both backends"}
    )
    vllm_kwargs: str | None = field(
        default=None,
        metadata={
            "help": 'extra vllm.LLM arguments as a JSON object, e.g. \'{"enforce_eager": true, "max_model_len": 4096}\'',
            "metavar": "JSON",
        },
    )
    device: str | None = field(
        default=None, metadata={"help": "transformers device (None: cuda when available, else cpu)"}
    )


_CHAT_TEMPLATE = {"auto": None, "none": None, "on": True, "true": True, "off": False, "false": False}


def _chat_template(raw: str) -> bool | None:
    """``--chat-template``: on/true, off/false, auto/none."""
    try:
        return _CHAT_TEMPLATE[raw.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected one of {sorted(_CHAT_TEMPLATE)}, got {raw!r}") from None


def make_parser(subparsers: argparse._SubParsersAction | None = None) -> argparse.ArgumentParser:
    """The ``trl-dsm evaluate`` parser: a ``TrlParser`` on :class:`EvalArguments` and the library's
    :class:`~trl_dsm.eval.config.EvalConfig` (its defaults and help are the flags')."""
    from trl_dsm.configs import dataclass_parser, set_option_type
    from trl_dsm.eval.benchmarks import EVAL_BENCHMARKS

    p = dataclass_parser(
        subparsers,
        "evaluate",
        [EvalArguments, EvalConfig],
        help="evaluate a model on GSM8K, MATH, CMATH, ... with CoT, PoT or TIR prompting (DeepSeekMath §5)",
        description=(
            "Greedy accuracy, pass@k (unbiased) and maj@k for k = 1, 2, 4, ... K. Writes results.json, "
            "samples/<benchmark>.jsonl, pass_maj_at_k.png and model_index.json to --output-dir. "
            f"Benchmarks: {', '.join(EVAL_BENCHMARKS)}."
        ),
    )
    set_option_type(p, "chat_template", _chat_template)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """``trl-dsm evaluate``: check the inputs before the model loads, evaluate, print one line per benchmark."""
    from trl_dsm.configs import dataclasses_from_args
    from trl_dsm.errors import check_model_source
    from trl_dsm.eval.benchmarks import resolve_eval_benchmarks
    from trl_dsm.eval.evaluate import run_evaluation

    opts, config = dataclasses_from_args(args, EvalArguments, EvalConfig)
    benchmarks = resolve_eval_benchmarks(opts.benchmarks)  # a bad name fails before the model loads
    vllm_kwargs = None
    if opts.vllm_kwargs is not None:
        try:
            vllm_kwargs = json.loads(opts.vllm_kwargs)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--vllm-kwargs is not JSON: {exc}") from None
        if not isinstance(vllm_kwargs, dict):
            raise ValueError(f"--vllm-kwargs must be a JSON object, got {opts.vllm_kwargs!r}")
    if opts.limit is not None and opts.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {opts.limit}")
    if opts.benchmarks_dir is not None and not opts.benchmarks_dir.is_dir():
        raise FileNotFoundError(f"--benchmarks-dir {opts.benchmarks_dir} is not a directory")
    check_model_source(opts.model, "--model")  # a folder without a saved model or tokenizer, an unknown Hub id
    where = {
        name: getattr(opts, name) for name in ("backend", "benchmarks_dir", "limit", "output_dir", "dtype", "device")
    }
    results = run_evaluation(opts.model, benchmarks, config, vllm_kwargs=vllm_kwargs, **where)
    for name, result in results.items():
        headline = {k: round(v, 4) for k, v in result.metrics.items() if k == "greedy" or "@" in k}
        print(json.dumps({"benchmark": name, "n": result.metrics["n"], **headline}))
    print(f"wrote {opts.output_dir}/results.json, samples/, pass_maj_at_k.png, model_index.json")
    return 0
