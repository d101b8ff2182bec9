# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""`evaluate` metric modules shipped with trl-dsm (deprecated: removed in the release after 0.1).

``trl-dsm evaluate`` and the rewards grade with :func:`trl_dsm.grading.grade_batch`, which gives a verdict per
sample (pass@k and maj@k need it) and handles PoT/TIR/choice answers; this aggregate-only CoT metric duplicated it.
It still loads, with a ``FutureWarning``, for one release."""

from __future__ import annotations

from pathlib import Path


MATH_ACCURACY_PATH = str(Path(__file__).parent / "math_accuracy" / "math_accuracy.py")


def load_math_accuracy(**kwargs):
    """``evaluate.load`` of the ``math_accuracy`` metric (works offline: the module ships with the package)."""
    import warnings

    warnings.warn(
        "trl_dsm.metrics.load_math_accuracy is deprecated and will be removed in the next release: grade with "
        "trl_dsm.grading.grade_batch(predictions, references) (one GradeResult per pair)",
        FutureWarning,
        stacklevel=2,
    )
    import evaluate

    return evaluate.load(MATH_ACCURACY_PATH, **kwargs)
