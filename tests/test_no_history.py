# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""User-facing text describes what the code does, not how it got there: the README, docs/, the card templates,
and the docstrings and comments of the package, recipes and benchmarks hold no issue references, no development
"session" wording and no "fixed since" / "no longer" / "previously" phrasing. Development history belongs in
CHANGELOG.md (not scanned).

The patterns aim at history, not at words: ``requests.Session``, a "session-scoped fixture", "the former ... the
latter" and "the tokenizer used to train" pass; ``(#19)``, "issue 5", "Session 6", "is fixed now", "no longer
collapse", "under the former bound" and "(was one call per sample)" fail.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]

#: (name, pattern) pairs; a hit is reported with its file, line and the matched text.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # `#19`, `(#3)`, `#15's`; not GSM8K's `#### 72`, hex colours like `#1f77b4`, or markdown headings.
    ("issue reference", re.compile(r"(?<![\w#&/])#\d{1,4}(?![\w#])")),
    ("issue reference", re.compile(r"\b(?:issues?|PR|pull request)\s+#?\d+", re.IGNORECASE)),
    ("session wording", re.compile(r"\bsessions?\s+\d+", re.IGNORECASE)),
    (
        "session wording",
        re.compile(r"\b(?:this|last|previous|earlier|next|later|prior|same)\s+sessions?\b(?!-)", re.IGNORECASE),
    ),
    ("session wording", re.compile(r"\bsession\s+(?:notes?|logs?|reports?)\b", re.IGNORECASE)),
    ("history wording", re.compile(r"\bfixed\s+(?:since|in|by|now)\b", re.IGNORECASE)),
    ("history wording", re.compile(r"\b(?:was|were|is now|are now|been|got)\s+fixed\b", re.IGNORECASE)),
    ("history wording", re.compile(r"[:;(]\s*fixed\b(?![- ](?:seed|size|point|length|width|number|budget))", re.I)),
    ("history wording", re.compile(r"\bno\s+longer\b", re.IGNORECASE)),
    ("history wording", re.compile(r"\b(?:previously|formerly|any\s?more)\b", re.IGNORECASE)),
    ("history wording", re.compile(r"\bused\s+to\s+be\b|\b(?:it|this|that|they|we|which)\s+used\s+to\b", re.I)),
    # "the former wall-clock bound"; "the former ... the latter" (within the line) passes.
    ("history wording", re.compile(r"\bthe\s+former\b(?!.*\blatter\b)", re.IGNORECASE)),
    # "(was one generate() per sample)", "(were ...)": a change note in parentheses.
    ("history wording", re.compile(r"\((?:was|were)\b", re.IGNORECASE)),
    ("history wording", re.compile(r"\b(?:had gone stale|before this (?:change|fix|commit|file existed))\b", re.I)),
    ("history wording", re.compile(r"\bas before\b", re.IGNORECASE)),
    (
        "history wording",
        re.compile(r"\bthe old (?:grader|code|version|path|name|behaviou?r|default|implementation|API)\b", re.I),
    ),
]


def _markdown_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    files += sorted((ROOT / "trl_dsm" / "hub_cards").glob("*.md"))
    return [f for f in files if f.is_file()]


def _python_files() -> list[Path]:
    files = sorted((ROOT / "trl_dsm").rglob("*.py"))
    files += sorted((ROOT / "recipes").rglob("*.py")) + sorted((ROOT / "benchmarks").rglob("*.py"))
    return files


def _yaml_files() -> list[Path]:
    return sorted((ROOT / "recipes").rglob("*.yaml"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


FILES = [_relative(f) for f in _markdown_files() + _python_files() + _yaml_files()]


def python_prose(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python module; other string literals (messages, help
    texts, data) are left out."""
    out: list[tuple[int, str]] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out.append((tok.start[0], tok.string))
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                value = body[0].value.value
                if isinstance(value, str):
                    for offset, line in enumerate(value.splitlines()):
                        out.append((body[0].lineno + offset, line))
    return sorted(out)


def yaml_prose(source: str) -> list[tuple[int, str]]:
    """(line, comment) of every YAML comment (``#`` at a line's start or after a space)."""
    out = []
    for number, line in enumerate(source.splitlines(), 1):
        match = re.search(r"(?:^|\s)(#.*)$", line)
        if match:
            out.append((number, match.group(1)))
    return out


def markdown_prose(source: str) -> list[tuple[int, str]]:
    """(line, text) of every line of a markdown file; a heading's leading ``#`` marks are dropped."""
    return [(n, re.sub(r"^#+\s", "", line)) for n, line in enumerate(source.splitlines(), 1)]


def history_hits(path: Path) -> list[str]:
    """``path:line: [kind] 'match' in: text`` for every history pattern found in ``path``'s prose."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        prose = python_prose(source)
    elif path.suffix == ".yaml":
        prose = yaml_prose(source)
    else:
        prose = markdown_prose(source)
    hits = []
    for number, text in prose:
        for kind, pattern in PATTERNS:
            for match in pattern.finditer(text):
                hits.append(f"{_relative(path)}:{number}: [{kind}] {match.group(0)!r} in: {text.strip()[:160]}")
    return hits


@pytest.mark.parametrize("name", FILES)
def test_no_development_history(name):
    hits = history_hits(ROOT / name)
    assert not hits, "development history (it belongs in CHANGELOG.md):\n" + "\n".join(hits)


@pytest.mark.parametrize(
    "text",
    [
        "(#19)",
        "issue #5 and issues 9",
        "Session 6: the demo",
        "in this session",
        "a label corrected later, as before: fixed since 0.2",
        "the arms no longer collapse",
        "previously one call",
        "under the former wall-clock bound",
        "(was one generate() per sample)",
        "which used to hang",
        "a pool per stage, as before",
        "the old grader matched it",
        "the previous commit, same session",
    ],
)
def test_patterns_catch_history(text):
    """Each of these is caught by some pattern."""
    assert any(p.search(text) for _, p in PATTERNS), text


@pytest.mark.parametrize(
    "text",
    [
        "GSM8K's `#### 72` answer marker",
        "colour #1f77b4 and ## Heading",
        "requests.Session() and a session-scoped fixture",
        "sched_autogroup gives each session one CPU slot",
        "the old town, a file renamed into place",
        "the former is exact, the latter sampled",
        "the tokenizer used to train the model",
        "a fixed seed, fixed-size blocks: fixed length",
        "`G=64`, `beta=0.04` (the paper's values)",
    ],
)
def test_patterns_pass_ordinary_text(text):
    """None of these is caught."""
    assert not any(p.search(text) for _, p in PATTERNS), text


def test_python_prose_is_comments_and_docstrings():
    source = '''"""Doc (#3)."""\nx = "#3"  # note\n\n\ndef f():\n    """Line one.\n\n    Line three (was)."""\n'''
    assert python_prose(source) == [
        (1, "Doc (#3)."),
        (2, "# note"),
        (6, "Line one."),
        (7, ""),
        (8, "    Line three (was)."),
    ]
