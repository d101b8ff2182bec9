# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Narrow workarounds for upstream version skew (TRL 1.16 on transformers 5.x), each naming its cause."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


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
