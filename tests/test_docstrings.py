# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Every public definition of the package has a docstring (issue #20): module-level functions and classes whose
name does not start with ``_``, and the public methods of public classes (framework hooks such as ``on_log`` or
``compute_loss`` included: one line saying what ours adds). Property setters and ``typing.overload`` stubs are
exempt. Read with ``ast``: nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path


PACKAGE = Path(__file__).resolve().parents[1] / "trl_dsm"

#: ``"path/relative/to/trl_dsm.py:Qualified.name"`` entries still waiting for a docstring. Keep it empty.
ALLOWED: frozenset[str] = frozenset()


def _exempt(node: ast.AST) -> bool:
    """A property's setter/deleter or a ``typing.overload`` stub."""
    for decorator in getattr(node, "decorator_list", ()):
        name = getattr(decorator, "attr", None) or getattr(decorator, "id", None)
        if name in ("setter", "deleter", "overload"):
            return True
    return False


def public_definitions_without_docstring(path: Path) -> list[tuple[int, str]]:
    """(line, qualified name) of each public definition in ``path`` that has no docstring."""
    missing: list[tuple[int, str]] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if node.name.startswith("_") or _exempt(node):
                continue
            if ast.get_docstring(node) is None:
                missing.append((node.lineno, prefix + node.name))
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body, "")
    return missing


def test_the_checker_finds_what_it_should(tmp_path):
    source = '''
def documented():
    """Yes."""

def bare(): pass

def _private(): pass

class Thing:
    """A thing."""

    def method(self): pass

    def _helper(self): pass

    @property
    def value(self):
        """The value."""

    @value.setter
    def value(self, v): pass

    class Inner:
        def deep(self): pass

class _Hidden:
    def method(self): pass
'''
    path = tmp_path / "module.py"
    path.write_text(source)
    assert [name for _, name in public_definitions_without_docstring(path)] == [
        "bare",
        "Thing.method",
        "Thing.Inner",
        "Thing.Inner.deep",
    ]


def test_every_public_definition_has_a_docstring():
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for line, name in public_definitions_without_docstring(path):
            if f"{relative}:{name}" not in ALLOWED:
                missing.append(f"trl_dsm/{relative}:{line}: {name}")
    assert not missing, f"{len(missing)} public definitions without a docstring:\n" + "\n".join(missing)


def test_the_allow_list_has_no_stale_entries():
    """An entry whose definition now has a docstring (or no longer exists) must leave the list."""
    present = {
        f"{path.relative_to(PACKAGE).as_posix()}:{name}"
        for path in PACKAGE.rglob("*.py")
        for _, name in public_definitions_without_docstring(path)
    }
    assert sorted(ALLOWED - present) == []
