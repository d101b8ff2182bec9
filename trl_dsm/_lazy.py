# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Lazy package exports (PEP 562): ``from trl_dsm.x import Name`` works as usual, but importing the package (for
example to reach its ``cli`` module for ``trl-dsm --help``) loads none of its heavy submodules."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps each public name to the module defining it."""

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value  # cached: the next access is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*exports, *importlib.import_module(package).__dict__})

    return __getattr__, __dir__
