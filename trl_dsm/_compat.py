# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Narrow workarounds for upstream version skew (TRL 1.13-1.16 on transformers 5.x), each naming its cause, and the
check of the TRL internals that ``GRPOMathTrainer`` wraps."""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Iterator


#: The private ``trl.GRPOTrainer`` methods that ``GRPOMathTrainer`` wraps through ``super()``, with the parameters
#: it passes. The same in TRL 1.10 to 1.16 (the pin in pyproject.toml covers the minors CI runs).
TRL_WRAPPED_METHODS = {
    "_calculate_rewards": ("inputs", "prompts", "completions", "completion_ids_list"),
    "_generate_and_score_completions": ("inputs",),
}


def check_trl_grpo_trainer(trainer_cls: type) -> None:
    """Raise an ImportError naming the installed TRL when ``trainer_cls`` (TRL's ``GRPOTrainer``) lacks a method of
    :data:`TRL_WRAPPED_METHODS` or takes other parameters: a TRL outside the tested range fails here, not mid-run."""
    import trl

    for name, expected in TRL_WRAPPED_METHODS.items():
        method = getattr(trainer_cls, name, None)
        found = None if method is None else tuple(inspect.signature(method).parameters)[1:]
        if found != expected:
            has = "has no such method" if found is None else f"takes {found}"
            raise ImportError(
                f"trl {trl.__version__}: GRPOTrainer.{name} {has}; GRPOMathTrainer wraps it as {name}{expected}: "
                "install a TRL in the range of trl-dsm's pin (pyproject.toml)"
            )


#: transformers 5 renamed gradient checkpointing to activation checkpointing and warns on the old model methods;
#: TRL 1.16's ``trl.models.utils.disable_gradient_checkpointing`` (every GRPO step) and
#: ``unwrap_model_for_generation`` still call them. Not ours to fix (no TRL issue filed yet).
TRL_CHECKPOINTING_DEPRECATIONS = r"`(is_gradient_checkpointing|gradient_checkpointing_(enable|disable))` is deprecated"


@contextlib.contextmanager
def trl_checkpointing_deprecations_ignored() -> Iterator[None]:
    """Ignore only the FutureWarnings of :data:`TRL_CHECKPOINTING_DEPRECATIONS`, only inside the block (wrap the
    TRL call that raises them); any other warning, ours included, still shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=TRL_CHECKPOINTING_DEPRECATIONS, category=FutureWarning)
        yield


def check_trl_can_train() -> None:
    """Raise a RuntimeError when the installed TRL cannot compute GRPO's loss here: TRL 1.15 scores completions only
    through its Triton fused LM head (``trl.trainer.utils._ChunkedLogProbFunction``), which is None without Triton
    (CPU-only PyTorch), and its own ``GRPOTrainer`` then fails at the first step with an AttributeError."""
    import trl
    from trl.trainer import utils

    if getattr(utils, "_ChunkedLogProbFunction", False) is None:
        raise RuntimeError(
            f"trl {trl.__version__} computes GRPO log-probabilities only with its Triton kernel, and Triton is not "
            "installed (CPU-only PyTorch): use TRL 1.13, 1.14 or 1.16 here, or a CUDA PyTorch"
        )
