# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Continued pretraining (DeepSeekMath §2.2.1, §3.1): the weighted mixture, packing, the multi-step schedule."""

from trl_dsm.pretrain.schedule import (
    PAPER_FACTORS,
    PAPER_MILESTONES,
    PAPER_WARMUP_STEPS,
    get_multistep_schedule,
    milestone_steps,
    multistep_lr_lambda,
)


__all__ = [
    "PAPER_FACTORS",
    "PAPER_MILESTONES",
    "PAPER_MIXTURE",
    "PAPER_WARMUP_STEPS",
    "PretrainConfig",
    "PretrainSource",
    "PretrainTrainer",
    "build_causal_lm",
    "build_pretrain_dataset",
    "collate_blocks",
    "get_multistep_schedule",
    "milestone_steps",
    "mixture_probabilities",
    "multistep_lr_lambda",
    "pack_into_blocks",
    "tokenize_and_pack",
]

_DATA = ("PAPER_MIXTURE", "PretrainSource", "build_pretrain_dataset", "collate_blocks", "mixture_probabilities",
         "pack_into_blocks", "tokenize_and_pack")  # fmt: skip
_TRAINER = ("PretrainConfig", "PretrainTrainer")


def __getattr__(name: str):  # datasets / transformers are imported only when asked for
    if name in _DATA:
        from trl_dsm.pretrain import data

        return getattr(data, name)
    if name == "build_causal_lm":
        from trl_dsm.pretrain.model import build_causal_lm

        return build_causal_lm
    if name in _TRAINER:
        from trl_dsm.pretrain import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'trl_dsm.pretrain' has no attribute {name!r}")
