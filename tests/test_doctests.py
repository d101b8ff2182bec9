# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Every ``>>>`` example in the package's docstrings runs and prints what it shows (the default ``pytest`` collects
only ``tests/``; two examples had gone stale before this file existed)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import trl_dsm


MODULES = sorted(
    m.name for m in pkgutil.walk_packages(trl_dsm.__path__, "trl_dsm.") if not m.name.endswith("__main__")
)


def _has_examples(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.origin is not None and ">>>" in open(spec.origin, encoding="utf-8").read()


@pytest.mark.parametrize("name", [m for m in MODULES if _has_examples(m)])
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (run it with -v)"
