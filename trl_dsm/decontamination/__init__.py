# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""10-gram benchmark decontamination (DeepSeekMath §2.1) for corpora, SFT sets and RL prompts. Names load on first
use (``trl-dsm --help`` imports none of the n-gram machinery)."""

from trl_dsm._lazy import lazy_exports


_EXPORTS = {
    **dict.fromkeys(
        ("BENCHMARKS", "DEFAULT_BENCHMARKS", "BenchmarkText", "custom_benchmark_texts", "load_benchmark_texts",
         "resolve_benchmarks"),
        "trl_dsm.benchmarks",
    ),
    **dict.fromkeys(
        ("Decontaminator", "DocResult", "Finding", "card_section", "split_segments", "summarize", "summary_table"),
        "trl_dsm.decontamination.decontaminate",
    ),
    "NgramIndex": "trl_dsm.decontamination.index",
    **dict.fromkeys(("MIN_EXACT_GRAMS", "NGRAM_SIZE", "ngram_hashes", "tokenize"), "trl_dsm.decontamination.ngrams"),
}  # fmt: skip
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
