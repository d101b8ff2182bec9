# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature run's configuration (:class:`DemoConfig`: sizes, hyperparameters, ``quick()`` and ``study()``)
and the RL arms it can run (§5.2.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


#: RL arms (§5.2.1) by ``DemoConfig.arms`` name, and the stage each one reports as.
ARM_STAGES = {
    "rft": "rft",  # offline: correct samples of the SFT model, then SFT
    "online_rft": "online_rft",  # coefficient 1 for a correct sample of the current policy, 0 otherwise
    "outcome": "grpo_outcome",  # GRPO, outcome supervision (rule reward)
    "process": "grpo_process",  # GRPO, process supervision (rule step reward + the final answer)
    "process_prm": "grpo_process_prm",  # GRPO, process supervision by a learned step reward model, one pass
    "iterative": "grpo_iterative",  # the same, iterative (§4.1.4): reference reset, the PRM retrained
}


ARMS = tuple(ARM_STAGES)


#: Arms scored by the learned step reward model (trained once per run on the SFT model's samples).
PRM_ARMS = ("process_prm", "iterative")

#: The settings only the learned step reward model's arms read: a run resumed from another may change them, and a
#: merged report takes them from the part that trained the step reward model.
PRM_FIELDS = (
    "prm_samples", "prm_rollouts", "prm_steps", "prm_lr", "prm_batch_size", "iterations", "prm_update_steps",
    "prm_final_answer",
)  # fmt: skip


#: Sequences per generate() call when sampling for evaluation, RFT and the step reward model's data: on CPU a tiny
#: model's decoding step costs about the same for 64 or 512 sequences (Python overhead), so 512 halves those stages
#: against 64 (measured: 39 -> 19 ms per 64-token completion, one thread); the results are the same in distribution.
GEN_BATCH = 512


@dataclass
class DemoConfig:
    """Sizes and hyperparameters of the miniature run; the time the defaults take is
    :func:`trl_dsm.demo.timing.expected_time_text` (measured, docs/demo.md)."""

    output_dir: str = "trl-dsm-demo"
    seed: int = 0
    smoke_test: bool = False  # set by DemoConfig.quick(): toy sizes whose numbers mean nothing (the report says so)
    study_run: bool = False  # set by DemoConfig.study(): the §5.2 comparisons in the scarce-demonstration regime
    web_docs: str | None = None  # JSONL of real pages (url, text) mixed into the generated crawl
    # keep the stages' working directories (the mining run, the trainers' directories) in output_dir; removed at the
    # end of the run otherwise (trl_dsm.demo.outputs)
    keep_intermediates: bool = False
    # an earlier run's output directory (same data and model settings): its tokenizer, SFT model and pretrained / SFT
    # evaluations are reused, mining, pretraining and SFT skipped; runs the selected arms (e.g. several processes
    # side by side, each with its own arms, merged by trl_dsm.demo.report.merge_results)
    resume_from: str | None = None
    # an earlier run's output directory (same data, model and pretraining settings, any seed, any SFT/RL settings):
    # its tokenizer and pretrained model (and its mining and pretraining records) are reused, mining and pretraining
    # skipped. The paper has one base model; with it the seed varies SFT data order and everything after (the study's
    # seeds share one base: docs/demo.md)
    base_from: str | None = None
    # problems (a held-out set never seen in mining, pretraining, SFT or RL)
    n_problems: int = 12000
    n_heldout: int = 500
    n_pretrain_problems: int = 6000
    n_sft_problems: int = 1000
    n_rl_problems: int = 0  # questions with final answers only for RL / RFT (0: every training problem left)
    demo_max_steps: int = 0  # worked solutions (pretraining, SFT) only of problems with at most this many operations
    min_steps: int = 2
    max_steps: int = 3
    max_value: int = 40
    max_operand: int = 10
    max_factor: int = 12
    # crawl and mining
    n_math_pages: int = 300
    n_other_pages: int = 600
    n_contaminated: int = 8
    mining_iterations: int = 2
    classifier_epochs: int = 3  # §2.1's fastText setting (dim 256, lr 0.1, word 3-grams, min count 3 kept too)
    # tokenizer and model (a 4-layer Llama, ~0.9M parameters)
    vocab_size: int = 512
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 4
    block_size: int = 128
    # pretraining
    pretrain_steps: int = 1300
    pretrain_batch_size: int = 16
    pretrain_lr: float = 3e-3
    pretrain_warmup_steps: int = 50  # §2.2.1 warms up 2000 steps of a long run; the 0.8/0.9 drops are kept
    corpus_weight: float = 0.3  # share of pretraining tokens from the mined corpus (the rest: worked problems)
    # SFT
    sft_steps: int = 300
    sft_batch_size: int = 16
    sft_lr: float = 1e-3
    sft_scheduler: str = "constant"  # see docs/demo.md: with cosine the SFT model converges and GRPO stalls
    sft_warmup_steps: int = 0
    # GRPO
    arms: tuple[str, ...] = ("outcome", "process")  # any of ARMS; DemoConfig.study() runs them all
    grpo_steps: int = 150
    grpo_prompts_per_step: int = 8
    num_generations: int = 8  # G; §4.2 samples 64 per question, too many for one CPU
    grpo_lr: float = 5e-5  # §4.2 uses 1e-6 for the 7B policy; 2e-4 broke some seeds (docs/demo.md)
    grpo_warmup_steps: int = 0  # steps of linear warmup of the RL learning rate (0: none)
    beta: float = 0.04  # the KL coefficient of §4.2
    # The control RL must beat (§5.2.1 sets RL beside SFT-based methods): SFT continued from the SFT model at the RL
    # learning rate for as many steps as GRPO runs, on batches of sft_batch_size demonstrations.
    sft_control: bool = True
    # The learned step reward model of the process_prm and iterative arms (a copy of the SFT model trained as a
    # Math-Shepherd step-tag PRM on prm_samples samples of the SFT model, each step labelled by prm_rollouts rollouts;
    # 128 samples and 60 steps gave a PRM GRPO could exploit, docs/demo.md)
    prm_samples: int = 1024
    prm_rollouts: int = 4
    prm_steps: int = 300
    prm_lr: float = 1e-3
    prm_batch_size: int = 16
    iterations: int = 2  # iterative arm: reference reset and PRM retraining every grpo_steps // iterations steps
    prm_update_steps: int = 20  # iterative arm: PRM optimizer steps per retraining (10% replay, §4.1.4)
    # Score the last step of the learned-PRM arms by the final answer, as the rule-based process arm does (a trl-dsm
    # rule: the paper's PRM never sees the gold). Without it the miniature's PRM, which ranks a question's samples
    # barely above chance, is exploited and GRPO collapses (docs/demo.md has those runs); False runs the paper's form.
    prm_final_answer: bool = True
    max_completion_length: int = 48
    temperature: float = 0.7  # sampling temperature of the RL rollouts
    # evaluation
    eval_samples: int = 8
    eval_temperature: float = 0.7  # DeepSeekMath's sampling temperature for maj@k
    # torch threads; 0: $OMP_NUM_THREADS when set, else measured while training between 1 and
    # trl_dsm.demo.threads.DEFAULT_THREADS (at most the CPU count; ThreadTuner)
    threads: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked here, not minutes later when the stage that reads the field starts.
        self.arms = tuple(self.arms)
        if not self.arms or not set(self.arms) <= set(ARMS) or len(set(self.arms)) != len(self.arms):
            raise ValueError(f"DemoConfig.arms: a non-empty selection of {ARMS} without repeats, got {self.arms!r}")
        from transformers.trainer_utils import SchedulerType

        schedulers = [s.value for s in SchedulerType]
        if self.sft_scheduler not in schedulers:
            raise ValueError(f"DemoConfig.sft_scheduler: one of {schedulers}, got {self.sft_scheduler!r}")
        positive = (
            "n_problems", "n_heldout", "n_pretrain_problems", "n_sft_problems", "min_steps", "vocab_size",
            "hidden_size", "num_layers", "num_heads", "block_size", "pretrain_steps", "pretrain_batch_size",
            "sft_steps", "sft_batch_size", "grpo_steps", "grpo_prompts_per_step", "num_generations",
            "max_completion_length", "eval_samples", "intermediate_size", "max_value", "max_operand", "max_factor",
            "prm_samples", "prm_rollouts", "prm_steps", "prm_batch_size", "iterations", "prm_update_steps",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"DemoConfig.{name}: a positive integer, got {value!r}")
        for name in ("n_math_pages", "n_other_pages", "n_contaminated", "pretrain_warmup_steps", "sft_warmup_steps",
                     "grpo_warmup_steps", "threads", "n_rl_problems", "demo_max_steps"):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"DemoConfig.{name}: a non-negative integer, got {value!r}")
        for name in ("pretrain_lr", "sft_lr", "grpo_lr", "temperature", "eval_temperature", "prm_lr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
                raise ValueError(f"DemoConfig.{name}: a positive number, got {value!r}")
        if isinstance(self.beta, bool) or not isinstance(self.beta, int | float) or not 0 <= self.beta < float("inf"):
            raise ValueError(f"DemoConfig.beta: a non-negative number, got {self.beta!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"DemoConfig.hidden_size ({self.hidden_size}) must be a multiple of num_heads ({self.num_heads})"
            )
        if self.max_steps < self.min_steps:
            raise ValueError(f"DemoConfig.max_steps ({self.max_steps}) < min_steps ({self.min_steps})")
        if self.num_generations < 2:
            raise ValueError("DemoConfig.num_generations: GRPO needs at least 2 completions per group")
        if self.demo_max_steps and not self.min_steps <= self.demo_max_steps:
            raise ValueError(f"DemoConfig.demo_max_steps ({self.demo_max_steps}) < min_steps ({self.min_steps})")
        if "iterative" in self.arms and self.grpo_steps < self.iterations:
            raise ValueError(f"DemoConfig.grpo_steps ({self.grpo_steps}) < iterations ({self.iterations})")
        if not 0.0 < self.corpus_weight < 1.0:
            raise ValueError(f"DemoConfig.corpus_weight: a share strictly between 0 and 1, got {self.corpus_weight}")

    @property
    def kind(self) -> str:
        """``quick``, ``study`` or ``default``."""
        return "quick" if self.smoke_test else "study" if self.study_run else "default"

    @classmethod
    def quick(cls, **overrides) -> DemoConfig:
        """A run of about a minute for tests: everything tiny, the same code paths."""
        values = dict(
            smoke_test=True, n_problems=900, n_heldout=40, n_pretrain_problems=300, n_sft_problems=100, n_math_pages=40,
            n_other_pages=60, n_contaminated=3, mining_iterations=1, classifier_epochs=20, hidden_size=32,
            intermediate_size=64,
            num_layers=2, num_heads=2, vocab_size=300, pretrain_steps=20, sft_steps=10, grpo_steps=2,
            grpo_prompts_per_step=2, num_generations=4, max_completion_length=24, eval_samples=4, prm_samples=8,
            prm_rollouts=2, prm_steps=2, prm_update_steps=1, iterations=2,
        )  # fmt: skip
        values.update(overrides)
        return cls(**values)

    @classmethod
    def study(cls, **overrides) -> DemoConfig:
        """The §5.2 comparisons where RL has something SFT lacks: 300 worked solutions (2-3 operations) for SFT,
        4000 questions with final answers only (2-4 operations) for RL and RFT, held-out problems with 2-4
        operations (a third need one more step than any worked solution, in pretraining or SFT). SFT is annealed
        (cosine) to convergence on its demonstrations; every arm runs from it (docs/demo.md)."""
        values = dict(
            study_run=True, output_dir="trl-dsm-study", arms=ARMS, n_problems=16000, max_steps=4, demo_max_steps=3,
            n_sft_problems=300, n_rl_problems=4000, sft_steps=400, sft_scheduler="cosine", max_completion_length=64,
        )  # fmt: skip
        values.update(overrides)
        return cls(**values)
