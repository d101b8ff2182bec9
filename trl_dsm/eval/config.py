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

    # The metadata help is the help of `trl-dsm evaluate`'s flags (HfArgumentParser); the defaults are theirs too.
    mode: str = field(
        default="cot",
        metadata={
            "help": "prompting format: chain of thought, program of thought or tool-integrated",
            "choices": MODES,
        },
    )
    num_samples: int = field(default=1, metadata={"help": "K samples per problem for pass@k and maj@k"})
    temperature: float = field(
        default=0.7, metadata={"help": "sampling temperature of the K samples (DeepSeekMath's maj@64 sampling)"}
    )
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling of the K samples"})
    greedy: bool = field(
        default=True, metadata={"help": "one greedy completion per problem (greedy accuracy); --no-greedy skips it"}
    )
    few_shot: int = field(default=0, metadata={"help": "exemplars in the prompt"})
    max_new_tokens: int = field(
        default=512,
        metadata={"help": "tokens generated per completion; must leave room for the prompt in the model's context"},
    )
    batch_size: int = field(default=16, metadata={"help": "sequences per forward pass (transformers backend)"})
    chat_template: bool | None = field(
        default=None,
        metadata={"help": "use the tokenizer's chat template: on/true, off/false, or auto/none: when it has one"},
    )
    fallback: str = field(
        default="last_math",
        metadata={
            "help": "answer of a completion without a boxed or marked answer (see extract_answer)",
            "choices": ("last_math", "last_number", "none"),
        },
    )
    tir_max_rounds: int = field(default=4, metadata={"help": "programs run per TIR trajectory"})
    code_timeout: float = field(default=5.0, metadata={"help": "seconds per program (PoT, TIR)"})
    grade_timeout: float = field(
        default=DEFAULT_TIMEOUT,
        metadata={"help": "hard time bound per graded answer, seconds ($TRL_DSM_GRADE_TIMEOUT)"},
    )
    vote_symbolic_pairs: int = field(
        default=64,
        metadata={"help": "symbolic equivalence checks between wrong answers per problem when voting (maj@k)"},
    )
    seed: int = field(default=0, metadata={"help": "sampling seed"})

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
