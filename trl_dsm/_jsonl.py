# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""One JSONL reader for every place that reads records (benchmarks, mining inputs, the demo's web pages, the CLI):
blank lines skipped, a bad line named by file and line number, each record a JSON object."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator


def iter_jsonl_numbered(lines: Iterable[str], label: str) -> Iterator[tuple[int, dict]]:
    """``(line number, record)`` for each record of an open JSONL text stream; ``label`` (the path) names it in
    errors."""
    line_no = 0
    iterator = iter(lines)
    while True:
        try:
            line = next(iterator)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            # text streams decode ahead in chunks: the bad byte is at or after this line, not necessarily on it
            raise ValueError(f"{label}: not UTF-8 at or after line {line_no + 1} ({exc.reason})") from None
        line_no += 1
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{label}:{line_no}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{label}:{line_no}: expected a JSON object, got {type(record).__name__}")
        yield line_no, record


def iter_jsonl(lines: Iterable[str], label: str) -> Iterator[dict]:
    """The records of an open JSONL text stream (see :func:`iter_jsonl_numbered`)."""
    for _, record in iter_jsonl_numbered(lines, label):
        yield record
