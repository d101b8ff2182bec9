# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Iterative domain discovery (DeepSeekMath §2.1).

"We regard the entire Common Crawl as multiple disjoint domains, where a domain is defined as web pages sharing
the same base URL. For each domain, we calculate the percentage of web pages that are collected in the first
iteration. Domains where over 10% of the web pages have been collected are classified as math-related (e.g.,
mathoverflow.net). Subsequently, we manually annotate the URLs associated with mathematical content within these
identified domains (e.g., mathoverflow.net/questions). Web pages linked to these URLs, yet uncollected, will be
added to the seed corpus." The paper stopped after four iterations, when "nearly 98% of the data has already been
collected in the third iteration".

Functions here are pure (arrays in, rows out). A mining run (:mod:`trl_dsm.mining.stages`) counts per shard and
merges: per-domain counts split by domain hash and merged per hash range (only math domains come out), then URL
prefix counts of the math domains per shard (:func:`prefix_partials`) merged into annotation rows
(:func:`merge_prefix_partials`); no process holds every URL or domain.
Annotation files are JSONL or CSV (by extension) with one row per URL prefix and a ``label`` column that a person
fills with ``math`` or ``not_math`` (also accepted: yes/no, true/false, 1/0; empty = not decided = not added).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from trl_dsm._jsonl import iter_jsonl_numbered
from trl_dsm.mining.documents import url_domain


ANNOTATION_FIELDS = (
    "label",
    "prefix",
    "domain",
    "pages",
    "collected",
    "uncollected",
    "fraction_collected",
    "mean_score",
    "sample_urls",
    "sample_titles",
)
_ACCEPT = {"math", "yes", "y", "true", "1", "accept", "accepted"}
_REJECT = {"not_math", "not math", "no", "n", "false", "0", "reject", "rejected", "other"}


@dataclass
class DomainConfig:
    """Domain-discovery settings."""

    #: A domain with more than this fraction of its pages collected is math-related (the paper's 10%).
    math_fraction: float = 0.10
    #: Ignore domains with fewer pages than this (a 1-page domain is trivially 100% collected).
    min_domain_pages: int = 1
    #: URL path segments in a prefix: 1 gives ``mathoverflow.net/questions/``.
    prefix_depth: int = 1
    #: Sample URLs and titles per annotation row.
    samples: int = 3
    #: Unattended runs: accept a prefix when its pages' mean classifier score is >= this (None: a person
    #: annotates the file and reruns).
    auto_accept_score: float | None = None
    #: Stop iterating when this fraction of an iteration's collection was already collected in the previous one
    #: (the paper stopped at about 98%); None: run all iterations.
    stop_overlap: float | None = 0.98


def url_prefix(url: str, depth: int = 1) -> str:
    """``domain/seg1/.../seg_depth/`` of ``url`` (fewer segments when the path is shorter; the last segment
    only counts when it is a directory, so ``example.com/page.html`` has prefix ``example.com/``)."""
    parts = urlsplit(url if "//" in (url or "") else "//" + (url or ""))
    segments = [s for s in parts.path.split("/")]
    dirs = [s for s in segments[1:-1] if s]  # the last segment is a file name unless the path ends with '/'
    return url_domain(url) + "/" + "".join(s + "/" for s in dirs[:depth])


def domain_stats(domains: Sequence[str], collected: np.ndarray) -> dict[str, tuple[int, int]]:
    """``{domain: (pages, collected pages)}``."""
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d, c in zip(domains, collected):
        s = stats[d]
        s[0] += 1
        s[1] += int(c)
    return {d: (s[0], s[1]) for d, s in stats.items()}


def math_domains(domains: Sequence[str], collected: np.ndarray, config: DomainConfig | None = None) -> list[str]:
    """Domains with more than ``math_fraction`` of their pages collected, most-collected first."""
    config = config or DomainConfig()
    stats = domain_stats(domains, collected)
    found = [d for d, (pages, got) in stats.items() if is_math_domain(d, pages, got, config)]
    return sorted(found, key=lambda d: (-stats[d][1], d))


def is_math_domain(domain: str, pages: int, collected: int, config: DomainConfig) -> bool:
    """More than ``math_fraction`` of a (named) domain's pages collected, and at least ``min_domain_pages``."""
    return bool(domain) and pages >= config.min_domain_pages and collected / pages > config.math_fraction


def prefix_partials(
    rows: Sequence[int],
    urls: Sequence[str],
    titles: Sequence[str],
    domains: Sequence[str],
    collected: np.ndarray,
    scores: np.ndarray,
    wanted: set[str],
    config: DomainConfig,
) -> list[dict]:
    """Partial counts of the URL prefixes in the ``wanted`` (math) domains over some rows (one shard, in increasing
    ``rows`` order): pages, collected, the sum and number of finite scores, the first ``samples`` rows with their
    URLs and titles, and the domain of the first row. :func:`merge_prefix_partials` merges them over shards."""
    groups: dict[str, dict] = {}
    for row, url, title, dom, got, score in zip(rows, urls, titles, domains, collected, scores):
        if dom not in wanted:
            continue
        prefix = url_prefix(url, config.prefix_depth)
        g = groups.get(prefix)
        if g is None:
            g = groups[prefix] = {
                "prefix": prefix,
                "domain": dom,
                "first_row": int(row),
                "pages": 0,
                "collected": 0,
                "score_sum": 0.0,
                "score_n": 0,
                "sample_rows": [],
                "sample_urls": [],
                "sample_titles": [],
            }
        g["pages"] += 1
        g["collected"] += int(got)
        if np.isfinite(score):
            g["score_sum"] += float(score)
            g["score_n"] += 1
        if len(g["sample_rows"]) < config.samples:
            g["sample_rows"].append(int(row))
            g["sample_urls"].append(url)
            g["sample_titles"].append(title)
    return list(groups.values())


def merge_prefix_partials(partials: Iterable[Sequence[dict]], config: DomainConfig) -> list[dict]:
    """Annotation rows from per-shard :func:`prefix_partials`: counts summed, the first ``samples`` rows overall,
    prefixes with nothing left to collect dropped, ranked by collected fraction then collected count."""
    merged: dict[str, dict] = {}
    for part in partials:
        for g in part:
            m = merged.get(g["prefix"])
            if m is None:
                merged[g["prefix"]] = {**g, **{k: list(g[k]) for k in ("sample_rows", "sample_urls", "sample_titles")}}
                continue
            for key in ("pages", "collected", "score_sum", "score_n"):
                m[key] += g[key]
            if g["first_row"] < m["first_row"]:
                m["first_row"], m["domain"] = g["first_row"], g["domain"]
            samples = sorted(
                zip(
                    m["sample_rows"] + g["sample_rows"],
                    m["sample_urls"] + g["sample_urls"],
                    m["sample_titles"] + g["sample_titles"],
                )
            )[: config.samples]
            m["sample_rows"], m["sample_urls"], m["sample_titles"] = (list(x) for x in zip(*samples))
    rows = []
    for m in merged.values():
        if m["collected"] == m["pages"]:
            continue  # nothing left to add under this prefix
        rows.append(
            {
                "label": "",
                "prefix": m["prefix"],
                "domain": m["domain"],
                "pages": m["pages"],
                "collected": m["collected"],
                "uncollected": m["pages"] - m["collected"],
                "fraction_collected": round(m["collected"] / m["pages"], 4),
                "mean_score": round(m["score_sum"] / m["score_n"], 4) if m["score_n"] else None,
                "sample_urls": m["sample_urls"],
                "sample_titles": m["sample_titles"],
            }
        )
    rows.sort(key=lambda r: (-r["fraction_collected"], -r["collected"], r["prefix"]))
    return rows


def prefix_rows(
    urls: Sequence[str],
    titles: Sequence[str],
    collected: np.ndarray,
    scores: np.ndarray,
    domains: Sequence[str],
    config: DomainConfig | None = None,
) -> list[dict]:
    """Annotation rows: URL prefixes inside math-related domains that still have uncollected pages, ranked by
    collected fraction then collected count. ``label`` is empty, for a person (or :func:`auto_accept`). In memory;
    a mining run computes the same rows from per-shard partial counts."""
    config = config or DomainConfig()
    wanted = set(math_domains(domains, collected, config))
    partial = prefix_partials(range(len(urls)), urls, titles, domains, collected, scores, wanted, config)
    return merge_prefix_partials([partial], config)


def write_annotations(rows: list[dict], path: str | Path) -> Path:
    """Write annotation rows as JSONL, or CSV (list fields joined with `` | ``) when ``path`` ends in ``.csv``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".csv":
        with tmp.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=ANNOTATION_FIELDS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: " | ".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()})
    else:
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def _parse_label(value, where: str) -> bool | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _ACCEPT:
        return True
    if text in _REJECT:
        return False
    raise ValueError(f"{where}: label {value!r} is not 'math' or 'not_math' (or yes/no, true/false, 1/0, empty)")


def read_annotations(path: str | Path) -> tuple[list[str], list[str], int]:
    """``(accepted prefixes, rejected prefixes, unlabelled rows)`` from an annotation file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file {path} does not exist")
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            rows = [(i + 2, row) for i, row in enumerate(csv.DictReader(f))]
    else:
        with path.open(encoding="utf-8") as f:
            rows = list(iter_jsonl_numbered(f, str(path)))
    accepted, rejected, unlabelled = [], [], 0
    for line_no, row in rows:
        if "prefix" not in row or "label" not in row:
            raise ValueError(f"{path}:{line_no}: a row needs 'prefix' and 'label' (has {sorted(row)})")
        label = _parse_label(row["label"], f"{path}:{line_no}")
        if label is None:
            unlabelled += 1
        else:
            (accepted if label else rejected).append(row["prefix"])
    return accepted, rejected, unlabelled


def auto_accept(rows: list[dict], min_score: float) -> list[str]:
    """Prefixes whose pages' mean classifier score is >= ``min_score`` (unattended runs)."""
    return [r["prefix"] for r in rows if r["mean_score"] is not None and r["mean_score"] >= min_score]


def pages_under_prefixes(urls: Sequence[str], prefixes: Sequence[str], exclude: np.ndarray, depth: int) -> np.ndarray:
    """Rows whose URL prefix (at ``depth``) is accepted and that are not in ``exclude`` (already collected)."""
    wanted = set(prefixes)
    if not wanted:
        return np.zeros(0, dtype=np.int64)
    hits = [i for i, url in enumerate(urls) if not exclude[i] and url_prefix(url, depth) in wanted]
    return np.array(hits, dtype=np.int64)


@dataclass
class IterationReport:
    """Per-iteration numbers (§2.1): pages collected, new pages, overlap with the previous iteration."""

    iteration: int
    collected: int
    new: int
    overlap_with_previous: float | None
    seeds: int
    math_domains: int = 0
    prefixes_proposed: int = 0
    prefixes_accepted: int = 0
    seeds_added: int = 0
    threshold_or_budget: float | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The report as a JSON-ready dict (``iter_k/report.json``)."""
        return asdict(self)


def overlap(previous: np.ndarray | None, current: np.ndarray) -> tuple[int, float | None]:
    """``(new pages, fraction of the current collection already collected before)``."""
    if previous is None:
        return int(current.sum()), None
    both = int((previous & current).sum())
    total = int(current.sum())
    return total - both, (both / total if total else 1.0)
