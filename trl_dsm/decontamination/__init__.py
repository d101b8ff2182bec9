# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""10-gram benchmark decontamination (DeepSeekMath §2.1) for corpora, SFT sets and RL prompts."""

from trl_dsm.benchmarks import (
    BENCHMARKS,
    DEFAULT_BENCHMARKS,
    BenchmarkText,
    custom_benchmark_texts,
    load_benchmark_texts,
    resolve_benchmarks,
)
from trl_dsm.decontamination.decontaminate import (
    Decontaminator,
    DocResult,
    Finding,
    card_section,
    split_segments,
    summarize,
    summary_table,
)
from trl_dsm.decontamination.index import NgramIndex
from trl_dsm.decontamination.ngrams import MIN_EXACT_GRAMS, NGRAM_SIZE, ngram_hashes, tokenize


__all__ = [
    "BENCHMARKS",
    "DEFAULT_BENCHMARKS",
    "MIN_EXACT_GRAMS",
    "NGRAM_SIZE",
    "BenchmarkText",
    "Decontaminator",
    "DocResult",
    "Finding",
    "NgramIndex",
    "card_section",
    "custom_benchmark_texts",
    "load_benchmark_texts",
    "ngram_hashes",
    "resolve_benchmarks",
    "split_segments",
    "summarize",
    "summary_table",
    "tokenize",
]
