# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""What an evaluation runs (``EvalConfig``, the flags of ``trl-dsm evaluate`` take their defaults from it) and
what it returns (``BenchmarkResult``), DeepSeekMath §5."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trl_dsm.grading import DEFAULT_TIMEOUT


MODES = ("cot", "pot", "tir")


@dataclass
class EvalConfig:
    """How to evaluate. ``num_samples`` (K) samples per problem at ``temperature`` give pass@k and maj@k for k in
    powers of two up to K; ``greedy`` adds one greedy completion per problem (greedy top-1 accuracy). With K = 1
    and ``greedy``, the greedy completion is the sample."""

    mode: str = "cot"  # cot | pot | tir
    num_samples: int = 1
    temperature: float = 0.7  # for the K samples (DeepSeekMath's maj@64 sampling)
    top_p: float = 0.95
    greedy: bool = True
    few_shot: int = 0
    max_new_tokens: int = 512
    batch_size: int = 16
    chat_template: bool | None = None  # None: when the tokenizer has one
    fallback: str = "last_math"  # answer extraction for completions without a marked answer (see extract_answer)
    tir_max_rounds: int = 4
    code_timeout: float = 5.0  # seconds per program (PoT, TIR)
    grade_timeout: float = DEFAULT_TIMEOUT
    vote_symbolic_pairs: int = 64  # symbolic equivalence checks between wrong answers per problem (voting)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {self.num_samples}")
        if self.few_shot < 0:
            raise ValueError(f"few_shot must be >= 0, got {self.few_shot}")
        if self.sampling and self.temperature <= 0:
            raise ValueError(
                f"num_samples={self.num_samples} needs temperature > 0 (greedy decoding gives one completion)"
            )

    @property
    def sampling(self) -> bool:
        """Whether a sampling pass runs (K > 1, or no greedy pass)."""
        return self.num_samples > 1 or not self.greedy


@dataclass
class BenchmarkResult:
    """Metrics of one benchmark and its per-problem records (the JSONL rows)."""

    name: str
    title: str
    metrics: dict[str, Any]
    samples: list[dict] = field(repr=False, default_factory=list)
