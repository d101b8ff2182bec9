# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Settings read from environment variables, checked once, with one error naming the variable."""

from __future__ import annotations

import os


def positive_int_env(name: str) -> int | None:
    """``$name`` as a positive integer, ``None`` when unset or empty; anything else is a ``ValueError`` naming it.

    >>> import os; os.environ["TRL_DSM_EXAMPLE"] = "3"; positive_int_env("TRL_DSM_EXAMPLE")
    3
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}: a positive integer, got {raw!r}")
    return value
