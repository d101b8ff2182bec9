# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""trl-dsm: the DeepSeekMath recipe (arXiv 2402.03300) as a Hugging Face TRL plugin.

Heavy submodules (TRL, transformers) are imported lazily, so ``import trl_dsm`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any


__version__ = "0.1.0.dev0"

_LAZY = {
    "extract_answer": "trl_dsm.grading",
    "grade": "trl_dsm.grading",
    "grade_batch": "trl_dsm.grading",
    "is_equivalent": "trl_dsm.grading",
    "math_accuracy_reward": "trl_dsm.rewards",
    "format_reward": "trl_dsm.rewards",
    "GRPOMathConfig": "trl_dsm.grpo",
    "GRPOMathTrainer": "trl_dsm.grpo",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trl_dsm' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
