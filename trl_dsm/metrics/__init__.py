# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""`evaluate` metric modules shipped with trl-dsm."""

from __future__ import annotations

from pathlib import Path


MATH_ACCURACY_PATH = str(Path(__file__).parent / "math_accuracy" / "math_accuracy.py")


def load_math_accuracy(**kwargs):
    """``evaluate.load`` of the ``math_accuracy`` metric (works offline: the module ships with the package)."""
    import evaluate

    return evaluate.load(MATH_ACCURACY_PATH, **kwargs)
