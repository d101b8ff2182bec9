# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""How many pages known to be math a mining run kept: an evaluation of the run, never an input to it.

The paper judged its classifier by the corpus it produced (DeepSeekMath §2.1, §2.2); on a small labelled crawl we
can count directly. ``known_positives`` in a mining config names JSONL/Parquet files and the rows in them that are
math pages (e.g. ``where: {category_hint: math}`` for ``../shared/data/web/web_docs.jsonl``); the run's stats and
card then say "kept K of N known math pages" and how many other pages were selected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from trl_dsm.mining.documents import expand_paths
from trl_dsm.mining.urls import normalize_url


@dataclass
class KnownPositivesConfig:
    """Rows of ``paths`` (JSONL, optionally gzipped, or Parquet; globs allowed) whose columns equal every value in
    ``where`` are known math pages. They are matched to the selection by ``key``: ``url`` (normalized with
    :func:`~trl_dsm.mining.urls.normalize_url`, so any reader's copy of the page matches) or ``id``."""

    paths: list[str] = field(default_factory=list)
    where: dict = field(default_factory=dict)
    key: str = "url"

    def __post_init__(self):
        if self.key not in ("url", "id"):
            raise ValueError(f"known_positives.key must be 'url' or 'id', got {self.key!r}")
        if isinstance(self.paths, str):
            self.paths = [self.paths]


def _key(value, key: str) -> str:
    return normalize_url(str(value)) if key == "url" else str(value)


def load_known_positives(config: KnownPositivesConfig) -> set[str]:
    """The keys of the known math pages; a file without the ``key`` or a ``where`` column is a ``KeyError``
    naming the file and the column."""
    from trl_dsm.mining.readers import iter_rows

    keys: set[str] = set()
    for path in expand_paths(config.paths):
        for i, row in enumerate(iter_rows(path)):
            for column in (config.key, *config.where):
                if column not in row:
                    raise KeyError(f"{path}: row {i} has no column {column!r} (known_positives)")
            if all(row[c] == v for c, v in config.where.items()) and row[config.key]:
                keys.add(_key(row[config.key], config.key))
    return keys


def known_positives_report(values: Sequence[str], known: set[str], key: str = "url") -> dict:
    """Counts for a selection whose ``key`` column holds ``values``: ``known`` (N), ``kept`` (K, known pages
    selected), ``other`` (selected pages not known to be math), ``recall`` K/N, ``precision`` K/selected, and
    ``missed`` (the known keys not selected, sorted)."""
    selected = [_key(v, key) for v in values]
    found = known.intersection(selected)
    kept = sum(1 for v in selected if v in known)
    return {
        "key": key,
        "known": len(known),
        "kept": kept,
        "other": len(selected) - kept,
        "recall": kept / len(known) if known else None,
        "precision": kept / len(selected) if selected else None,
        "missed": sorted(known - found),
    }


def summary_line(report: dict | None) -> str | None:
    """``kept K of N known math pages (recall R); P other pages selected``, or ``None`` without a report."""
    if not report:
        return None
    recall = "" if report["recall"] is None else f" (recall {report['recall']:.2f})"
    return (
        f"kept {report['kept']} of {report['known']} known math pages{recall}; {report['other']} other pages selected"
    )
