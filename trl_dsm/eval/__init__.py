# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Evaluation (DeepSeekMath §5): GSM8K, MATH, CMATH and the paper's other benchmarks with chain-of-thought,
program-of-thought and tool-integrated prompting; greedy accuracy, pass@k and maj@k; a training callback.

>>> from trl_dsm.eval import EvalConfig, evaluate_model, pass_at_k, maj_at_k
"""

from trl_dsm.eval.benchmarks import (
    EVAL_BENCHMARKS,
    EvalBenchmark,
    EvalItem,
    items_from_records,
    load_eval_items,
    resolve_eval_benchmarks,
)
from trl_dsm.eval.config import BenchmarkResult, EvalConfig
from trl_dsm.eval.estimators import answer_classes, k_values, maj_at_k, majority_vote, pass_at_k
from trl_dsm.eval.evaluate import evaluate_benchmarks, evaluate_items, evaluate_model, run_evaluation
from trl_dsm.eval.generation import HFGenerator, VLLMGenerator, generate_tir
from trl_dsm.eval.outputs import eval_results, model_index, plot_pass_maj, write_outputs


__all__ = [
    "EVAL_BENCHMARKS",
    "BenchmarkResult",
    "EvalBenchmark",
    "EvalConfig",
    "EvalItem",
    "HFGenerator",
    "VLLMGenerator",
    "answer_classes",
    "eval_results",
    "evaluate_benchmarks",
    "evaluate_items",
    "evaluate_model",
    "generate_tir",
    "items_from_records",
    "k_values",
    "load_eval_items",
    "maj_at_k",
    "majority_vote",
    "model_index",
    "pass_at_k",
    "plot_pass_maj",
    "resolve_eval_benchmarks",
    "run_evaluation",
    "write_outputs",
]
