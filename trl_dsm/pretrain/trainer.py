# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``PretrainConfig`` / ``PretrainTrainer``: ``transformers`` ``TrainingArguments`` / ``Trainer`` with DeepSeekMath's
continued-pretraining settings (§2.2.1, §3.1) and its multi-step learning-rate schedule."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import Trainer, TrainingArguments

from trl_dsm.pretrain.schedule import PAPER_FACTORS, PAPER_MILESTONES, PAPER_WARMUP_STEPS, get_multistep_schedule


@dataclass
class PretrainConfig(TrainingArguments):
    r"""``TrainingArguments`` with the paper's pretraining defaults.

    §2.2.1: "AdamW optimizer with β1 = 0.9, β2 = 0.95, and weight_decay = 0.1, along with a multi-step learning rate
    schedule where the learning rate reaches the peak after 2,000 warmup steps, decreases to its 31.6% after 80% of
    the training process, and further decreases to 10.0% of the peak after 90%". §3.1 (DeepSeekMath-Base 7B): peak
    learning rate 4.2e-4, batches of 10M tokens, 500B tokens. With ``lr_milestones`` set (the default) the multi-step
    schedule replaces ``lr_scheduler_type``; ``lr_milestones: []`` falls back to it.
    """

    learning_rate: float = field(default=4.2e-4, metadata={"help": "Peak learning rate; 4.2e-4 for the 7B (§3.1)."})
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW β1; 0.9 in §2.2.1."})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW β2; 0.95 in §2.2.1."})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay; 0.1 in §2.2.1."})
    warmup_steps: float = field(
        default=PAPER_WARMUP_STEPS, metadata={"help": "Linear warmup steps to the peak; 2000 in §2.2.1."}
    )
    lr_milestones: list[float] = field(
        default_factory=lambda: list(PAPER_MILESTONES),
        metadata={
            "help": "Multi-step schedule: fractions of training after which the learning rate drops (§2.2.1: 0.8 "
            "and 0.9). Empty: use `lr_scheduler_type` instead."
        },
    )
    lr_milestone_factors: list[float] = field(
        default_factory=lambda: list(PAPER_FACTORS),
        metadata={"help": "Factor of the peak after each milestone (§2.2.1: 0.316 and 0.1)."},
    )

    def __post_init__(self) -> None:
        if self.lr_milestones and len(self.lr_milestones) != len(self.lr_milestone_factors):
            raise ValueError(
                f"lr_milestones {self.lr_milestones} and lr_milestone_factors {self.lr_milestone_factors} "
                "must have the same length"
            )
        super().__post_init__()


class PretrainTrainer(Trainer):
    """``Trainer`` whose scheduler is the multi-step schedule of ``args`` (when ``args.lr_milestones`` is set)."""

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """The multi-step schedule of §2.2.1 (warmup, then steps down at ``lr_milestones``) when set, else transformers'."""
        milestones = getattr(self.args, "lr_milestones", None)
        if self.lr_scheduler is None and milestones:
            self.lr_scheduler = get_multistep_schedule(
                optimizer if optimizer is not None else self.optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                num_training_steps=num_training_steps,
                milestones=milestones,
                factors=self.args.lr_milestone_factors,
            )
            self._created_lr_scheduler = True
        return super().create_scheduler(num_training_steps, optimizer)
