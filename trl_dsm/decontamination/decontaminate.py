# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Benchmark decontamination of corpora, SFT sets and RL prompts (DeepSeekMath §2.1).

A segment is contaminated when it contains an n-gram (default 10) of a benchmark question or answer, or when
the whole segment — or one whole line of it — equals a benchmark text of 3 to 9 grams. Matching short texts
only against whole segments and lines is the guard that keeps "x = 2 y" from flagging half the web.

Modes: ``"segment"`` drops the contaminated segments (paragraphs by default) and keeps the rest of the
document; ``"document"`` drops the whole document, as the paper does for web pages.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from trl_dsm.decontamination.index import NgramIndex
from trl_dsm.decontamination.ngrams import (
    DOCUMENT_BREAK,
    LINE_BREAK,
    PARAGRAPH_BREAK,
    hashes_at,
    ngram_hashes,
    normalize_text,
    window_counts,
)
from trl_dsm.decontamination.vectorized import VocabularyHashes, batch_gram_ids


Mode = Literal["segment", "document"]
SegmentBy = Literal["paragraph", "line", "document"]
_SPLITTERS = {"paragraph": re.compile(r"(\n[ \t\r\f\v]*\n\s*)"), "line": re.compile(r"(\n)")}
_MAX_SEGMENT_CHARS_IN_REPORT = 300
_PARAGRAPH_ID, _LINE_ID, _DOCUMENT_ID = -1, -2, -3
#: A matched n-gram counts as evidence when it has at least this many informative grams (words of 3+ letters
#: that are not LaTeX commands, common two-letter words, CJK characters). Our grams are finer than the paper's
#: words: "a^2+b^2+c^2+d^2+e^2" is ten grams, and such formula pieces appear in every math text. A formula
#: without wording counts only when the match runs over ``formula_span`` grams (default 2n).
MIN_INFORMATIVE = 1


def _runs(ids: np.ndarray, boundary: np.ndarray, positions: np.ndarray | None = None):
    """(ids, run starts, run lengths, positions in the full token list) of the runs between boundaries."""
    bounds = np.flatnonzero(boundary)
    starts = np.concatenate(([0], bounds[:-1] + 1)) if len(bounds) else np.zeros(1, dtype=np.int64)
    ends = bounds if len(bounds) else np.array([len(ids)])
    return ids, starts, ends - starts, positions if positions is not None else np.arange(len(ids))


@dataclass
class Finding:
    """One contaminated segment: which benchmark text it matched, and how."""

    benchmark: str
    item_id: str
    field: str
    rule: str  # "ngram" (an n-gram of a longer text) or "exact" (a whole 3..n-1-gram text)
    match: str  # the matched grams, space-joined
    segment_index: int
    segment: str


def findings_feature():
    """The ``datasets`` feature of the findings column: a list of :class:`Finding` records (a fixed schema, so
    results with and without findings concatenate)."""
    from dataclasses import fields

    from datasets import List, Value

    kinds = {"int": "int64", "str": "string"}
    return List({f.name: Value(kinds[f.type]) for f in fields(Finding)})


@dataclass
class DocResult:
    """The outcome of checking one document (§2.1): its cleaned ``text`` (``None`` when dropped), the benchmark
    :class:`Finding` s that matched, and how many segments and characters were removed."""

    text: str | None  # the cleaned text; None when the document is dropped
    findings: list[Finding] = field(default_factory=list)
    segments_removed: int = 0
    chars_removed: int = 0

    @property
    def contaminated(self) -> bool:
        """Whether any benchmark n-gram or exact text matched."""
        return bool(self.findings)


def split_segments(text: str, segment_by: SegmentBy) -> tuple[list[str], list[str]]:
    """(segments, separators) with ``"".join(interleave(segments, separators)) == text``."""
    if segment_by == "document":
        return [text], []
    parts = _SPLITTERS[segment_by].split(text)
    return parts[0::2], parts[1::2]


class Decontaminator:
    """Checks documents against an :class:`NgramIndex`; batches are hashed and looked up in one numpy pass.

    >>> from trl_dsm.benchmarks import BenchmarkText
    >>> q = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning."
    >>> index = NgramIndex.build([BenchmarkText("gsm8k", "0", "question", q)])
    >>> result = Decontaminator(index).check("A recipe.\\n\\nJanet's ducks lay 16 eggs per day. She eats three!")[0]
    >>> result.text, result.findings[0].benchmark
    ('A recipe.', 'gsm8k')
    """

    def __init__(
        self,
        index: NgramIndex,
        mode: Mode = "segment",
        segment_by: SegmentBy = "paragraph",
        min_informative: int = MIN_INFORMATIVE,
        formula_span: int | None = None,
    ) -> None:
        if mode not in ("segment", "document"):
            raise ValueError(f"mode must be 'segment' or 'document', got {mode!r}")
        if segment_by not in ("paragraph", "line", "document"):
            raise ValueError(f"segment_by must be 'paragraph', 'line' or 'document', got {segment_by!r}")
        if min_informative < 0:
            raise ValueError(f"min_informative must be >= 0, got {min_informative}")
        formula_span = 2 * index.n if formula_span is None else formula_span
        if formula_span < index.n:
            raise ValueError(f"formula_span must be >= n ({index.n}), got {formula_span}")
        self.formula_span = formula_span
        self.index = index
        self.mode = mode
        self.segment_by = segment_by
        self.min_informative = min_informative
        self._vocab = VocabularyHashes(
            index.vocab, {PARAGRAPH_BREAK: _PARAGRAPH_ID, LINE_BREAK: _LINE_ID, DOCUMENT_BREAK: _DOCUMENT_ID}
        )
        self._informative = index.informative_mask()

    def check(self, *texts: str) -> list[DocResult]:
        """Check documents given as arguments: ``check(a, b)`` is ``check_batch([a, b])``."""
        return self.check_batch(list(texts))

    def check_batch(self, texts: Sequence[str | None]) -> list[DocResult]:
        """Check a batch of documents; all its grams are hashed and looked up in one numpy pass."""
        n, index = self.index.n, self.index
        doc_segments: list[tuple[list[str], list[str]]] = []
        seg_doc: list[int] = []
        seg_local: list[int] = []
        parts: list[str] = []
        for d, text in enumerate(texts):
            if text is None:
                text = ""
            if not isinstance(text, str):
                raise TypeError(f"document {d}: expected a string, got {type(text).__name__}")
            segments, separators = split_segments(text, self.segment_by)
            doc_segments.append((segments, separators))
            seg_doc.extend([d] * len(segments))
            seg_local.extend(range(len(segments)))
            # Every segment, the last one too, ends with a paragraph-break gram; line breaks become grams.
            joined = PARAGRAPH_BREAK.join(segments) + PARAGRAPH_BREAK
            parts.append(normalize_text(joined).replace("\n", LINE_BREAK) + DOCUMENT_BREAK)
        batch_text = "".join(parts)
        findings: dict[int, list[Finding]] = defaultdict(list)  # global segment -> findings
        ids, gram_starts, gram_ends = batch_gram_ids(batch_text, self._vocab)
        if len(ids) == 0:
            return self._assemble(texts, doc_segments, findings, seg_doc, seg_local)

        def gram(i: int) -> str:
            return batch_text[int(gram_starts[i]) : int(gram_ends[i])]

        is_paragraph = ids == _PARAGRAPH_ID
        segment_of = np.cumsum(is_paragraph) - is_paragraph  # global segment of every gram
        informative = self._informative[np.clip(ids, 0, None)] & (ids > 0)

        # n-grams run across line and paragraph breaks (a quotation may span two paragraphs) but not across
        # documents; a hit marks every segment it touches.
        keep = np.flatnonzero((ids != _LINE_ID) & (ids != _PARAGRAPH_ID))
        cids = ids[keep]
        positions = np.flatnonzero(window_counts(cids <= 0, n) == 0)  # n-grams of known grams only
        owners = np.full(len(cids), -1, dtype=np.int32)
        owners[positions] = index.lookup_ngrams(ngram_hashes(cids, n)[positions])
        hits = owners >= 0
        # Evidence: a matched n-gram with wording in it, or a formula matched over >= formula_span grams
        # (formula_span - n + 1 consecutive matched n-grams).
        worded = np.zeros(len(cids), dtype=bool)
        worded[: max(len(cids) - n + 1, 0)] = window_counts(informative[keep], n) >= self.min_informative
        run = self.formula_span - n + 1
        long_run = np.zeros(len(cids), dtype=bool)
        if len(cids) >= run:
            covered = window_counts(hits, run) == run  # hits at p .. p+run-1
            starts_of_runs = np.flatnonzero(covered)
            for k in range(run):  # every n-gram inside such a run is evidence
                long_run[starts_of_runs + k] = True
        evidence = hits & (worded | long_run)
        for pos, owner in zip(np.flatnonzero(evidence).tolist(), owners[evidence].tolist()):
            first, last = int(segment_of[keep[pos]]), int(segment_of[keep[pos + n - 1]])
            match = None
            for g in range(first, last + 1):
                if len(findings[g]) < 5:  # enough evidence for the report
                    match = match or " ".join(gram(i) for i in keep[pos : pos + n].tolist())
                    findings[g].append(self._finding(owner, "ngram", match, seg_local[g], doc_segments, seg_doc[g]))

        # Short benchmark texts (min_exact..n-1 grams): whole lines, and whole segments.
        segment_grams = np.flatnonzero(ids != _LINE_ID)
        for run_ids, run_starts, run_lengths, run_positions in (
            _runs(ids, ids < 0),  # lines (and one-line segments)
            _runs(ids[segment_grams], ids[segment_grams] < 0, segment_grams),  # whole segments, lines joined
        ):
            for length in range(index.min_exact, n):
                starts = run_starts[run_lengths == length]
                if len(starts) == 0:
                    continue
                window = run_ids[starts[:, None] + np.arange(length)]
                ok = (window > 0).all(axis=1) & (self._informative[np.clip(window, 0, None)].sum(axis=1) >= 1)
                starts = starts[ok]
                owners = index.lookup_exact_hashes(hashes_at(run_ids, starts, length))
                for start, owner in zip(starts[owners >= 0].tolist(), owners[owners >= 0].tolist()):
                    first = int(run_positions[start])
                    g = int(segment_of[first])
                    if not findings[g]:
                        match = " ".join(gram(int(i)) for i in run_positions[start : start + length])
                        findings[g].append(
                            self._finding(owner, "exact", match, seg_local[g], doc_segments, seg_doc[g])
                        )
        findings = {g: f for g, f in findings.items() if f}
        return self._assemble(texts, doc_segments, findings, seg_doc, seg_local)

    def _finding(self, owner, rule, match, local, doc_segments, doc) -> Finding:
        benchmark, item_id, field_name = self.index.sources[owner]
        segment = doc_segments[doc][0][local]
        return Finding(benchmark, item_id, field_name, rule, match, local, segment[:_MAX_SEGMENT_CHARS_IN_REPORT])

    def _assemble(self, texts, doc_segments, findings, seg_doc, seg_local) -> list[DocResult]:
        by_doc: dict[int, dict[int, list[Finding]]] = defaultdict(dict)
        for g, found in findings.items():
            by_doc[seg_doc[g]][seg_local[g]] = found
        results = []
        for d, (segments, separators) in enumerate(doc_segments):
            text = texts[d] or ""
            bad = by_doc.get(d, {})
            all_findings = [f for s in sorted(bad) for f in bad[s]]
            if not bad:
                results.append(DocResult(text))
            elif self.mode == "document":
                results.append(DocResult(None, all_findings, len(segments), len(text)))
            else:
                kept = [segments[s] for s in range(len(segments)) if s not in bad]
                joiner = "\n\n" if self.segment_by == "paragraph" else "\n"
                # Keep each kept segment's own separator where we can; a removed segment takes its own with it.
                pieces = []
                for s, segment in enumerate(segments):
                    if s in bad:
                        continue
                    if pieces:
                        pieces.append(separators[s - 1] if s - 1 < len(separators) and s - 1 not in bad else joiner)
                    pieces.append(segment)
                clean = "".join(pieces).strip("\n") if kept else ""
                removed = sum(len(segments[s]) for s in bad)
                results.append(DocResult(clean, all_findings, len(bad), removed))
        return results

    # -- datasets integration -----------------------------------------------------------------------
    def map_fn(self, column: str = "text"):
        """A ``datasets.map(batched=True)`` function: cleans ``column`` in place and adds ``contaminated`` (bool)
        and ``decontamination_findings`` (JSON-able list) columns. In document mode, contaminated rows keep an
        empty text; filter them with ``.filter(lambda r: not r["contaminated"])`` (see :func:`decontaminate_dataset`)."""
        return _MapStep(self, column)


class _MapStep:
    """Picklable map function (``num_proc`` workers each receive a copy of the index)."""

    def __init__(self, decontaminator: Decontaminator, column: str) -> None:
        self.decontaminator = decontaminator
        self.column = column

    def __call__(self, batch: dict, indices: list[int] | None = None) -> dict:
        if self.column not in batch:
            raise KeyError(f"column {self.column!r} not in the dataset (columns: {sorted(batch)})")
        for i, value in enumerate(batch[self.column]):
            if value is not None and not isinstance(value, str):
                row = indices[i] if indices is not None else i
                raise TypeError(f"column {self.column!r}, row {row}: expected a string, got {type(value).__name__}")
        results = self.decontaminator.check_batch(batch[self.column])
        out = dict(batch)
        out[self.column] = [r.text if r.text is not None else "" for r in results]
        out["contaminated"] = [r.contaminated for r in results]
        out["decontamination_findings"] = [[asdict(f) for f in r.findings] for r in results]
        return out


# --------------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------------
def summarize(
    findings_per_doc: Sequence[Sequence[dict]], documents_in: int, mode: Mode, chars_removed: int = 0
) -> dict:
    """Counts per benchmark from the per-document findings (dicts of :class:`Finding`)."""
    docs_by_benchmark: Counter = Counter()
    segments_by_benchmark: Counter = Counter()
    items_by_benchmark: dict[str, set] = defaultdict(set)
    contaminated_docs = 0
    for found in findings_per_doc:
        if not found:
            continue
        contaminated_docs += 1
        for benchmark in {f["benchmark"] for f in found}:
            docs_by_benchmark[benchmark] += 1
        for f in found:
            items_by_benchmark[f["benchmark"]].add(f["item_id"])
        for benchmark, _segment in {(f["benchmark"], f["segment_index"]) for f in found}:
            segments_by_benchmark[benchmark] += 1
    return {
        "mode": mode,
        "documents_in": documents_in,
        "documents_contaminated": contaminated_docs,
        "documents_out": documents_in - contaminated_docs if mode == "document" else documents_in,
        "chars_removed": chars_removed,
        "by_benchmark": {
            b: {
                "documents": docs_by_benchmark[b],
                "segments": segments_by_benchmark[b],
                "benchmark_items": len(items_by_benchmark[b]),
            }
            for b in sorted(docs_by_benchmark)
        },
    }


def summary_table(summary: dict) -> str:
    """A Markdown table of :func:`summarize`'s counts."""
    lines = [
        "| benchmark | documents | segments | distinct benchmark items |",
        "|---|---:|---:|---:|",
    ]
    for benchmark, row in summary["by_benchmark"].items():
        lines.append(f"| {benchmark} | {row['documents']} | {row['segments']} | {row['benchmark_items']} |")
    if not summary["by_benchmark"]:
        lines.append("| (none) | 0 | 0 | 0 |")
    return "\n".join(lines)


def card_section(summary: dict, index_stats: dict) -> str:
    """The "Decontamination" section of a dataset card (Markdown)."""
    removed = f"{summary['documents_contaminated']} of {summary['documents_in']} documents were contaminated; " + (
        "they were dropped."
        if summary["mode"] == "document"
        else f"their contaminated segments were removed ({summary['chars_removed']:,} characters)."
    )
    return (
        "## Decontamination\n\n"
        f"Following DeepSeekMath (arXiv 2402.03300, §2.1), any segment containing a {index_stats['n']}-gram of a "
        "benchmark question or answer was treated as contaminated, and benchmark texts of 3 to "
        f"{index_stats['n'] - 1} grams were matched against whole segments and lines. Benchmarks indexed: "
        f"{', '.join(index_stats['benchmarks'])} ({index_stats['ngram_entries']:,} distinct n-grams). "
        f"Mode: `{summary['mode']}`. {removed}\n\n" + summary_table(summary) + "\n"
    )
