# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Every ``trl_dsm`` import and dotted name that the README and docs/ show resolves (issue #20: "every public import
in the README and docs still works, or is re-exported with a deprecation warning")."""

from __future__ import annotations

import ast
import contextlib
import importlib
import re
import warnings
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```python\n(.*?)```", re.S)
DOTTED = re.compile(r"(?<![\w/.])trl_dsm(?:\.\w+)+")


def _resolve(dotted: str) -> object:
    """The object a dotted name points at: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name is not None and not ".".join(parts[:cut]).startswith(exc.name):
                raise  # a dependency is missing, not the name
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def _imports(text: str) -> set[str]:
    """``module.name`` for each ``from trl_dsm... import name`` and ``module`` for ``import trl_dsm...`` in the
    python blocks (a block that does not parse is read line by line)."""
    found: set[str] = set()
    for block in FENCE.findall(text):
        try:
            trees = [ast.parse(block)]
        except SyntaxError:
            trees = []
            for line in block.splitlines():
                with contextlib.suppress(SyntaxError):
                    trees.append(ast.parse(line.strip()))
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trl_dsm"):
                    found.update(f"{node.module}.{alias.name}" for alias in node.names)
                elif isinstance(node, ast.Import):
                    found.update(a.name for a in node.names if a.name.startswith("trl_dsm"))
    return found


def _references() -> list[tuple[str, str]]:
    refs = set()
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        refs.update((path.name, name) for name in _imports(text))
        refs.update((path.name, name.rstrip(".")) for name in DOTTED.findall(text))
    return sorted(refs)


def test_docs_show_trl_dsm_names():
    names = {name for _, name in _references()}
    assert "trl_dsm.GRPOMathTrainer" in names and len(names) > 40


@pytest.mark.parametrize(("doc", "name"), _references())
def test_docs_reference_resolves(doc, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # a deprecated alias still counts as working
        _resolve(name)
