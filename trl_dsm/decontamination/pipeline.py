# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Decontaminate a `datasets` dataset end to end: load, ``map(batched=True, num_proc=...)``, report, card."""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trl_dsm.benchmarks import BenchmarkText, custom_benchmark_texts, load_benchmark_texts
from trl_dsm.decontamination.decontaminate import (
    Decontaminator,
    Mode,
    SegmentBy,
    card_section,
    findings_feature,
    summarize,
    summary_table,
)
from trl_dsm.decontamination.index import NgramIndex
from trl_dsm.decontamination.ngrams import MIN_EXACT_GRAMS, NGRAM_SIZE


FINDINGS_COLUMN = "decontamination_findings"


def load_input(source: str, split: str = "train"):
    """A dataset from a Hub id, a ``save_to_disk`` directory, a data directory, or JSONL/Parquet files (globs
    allowed, comma-separated)."""
    import datasets

    path = Path(source)
    if path.is_dir():
        if (path / "dataset_info.json").is_file() or (path / "state.json").is_file():
            loaded = datasets.load_from_disk(str(path))
            return loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
        return datasets.load_dataset(str(path), split=split)
    files = [f for pattern in source.split(",") for f in sorted(glob.glob(pattern.strip()))]
    if files:
        suffixes = {Path(f).suffix for f in files}
        if suffixes <= {".jsonl", ".json"}:
            return datasets.load_dataset("json", data_files=files, split="train")
        if suffixes <= {".parquet"}:
            return datasets.load_dataset("parquet", data_files=files, split="train")
        raise ValueError(f"input files must all be JSONL or all Parquet, got suffixes {sorted(suffixes)}")
    if path.suffix in (".jsonl", ".json", ".parquet", ".csv", ".arrow") or source.startswith((".", "/")):
        raise FileNotFoundError(f"input {source!r} not found (no such file, directory or glob match)")
    return datasets.load_dataset(source, split=split)  # a Hub id


def parse_extra_benchmark(spec: str) -> list[BenchmarkText]:
    """``name=path.jsonl:field1,field2`` → texts of a user-named benchmark (a JSONL file or a Hub id)."""
    try:
        name, rest = spec.split("=", 1)
        source, fields = rest.rsplit(":", 1)
    except ValueError:
        raise ValueError(f"--extra-benchmark must look like name=path_or_hub_id:field1,field2, got {spec!r}") from None
    dataset = load_input(source, split="test")
    return custom_benchmark_texts(name, dataset, [f.strip() for f in fields.split(",") if f.strip()])


def build_index(
    benchmarks: str | list[str] = "all",
    benchmarks_dir: str | Path | None = None,
    extra: list[BenchmarkText] | None = None,
    n: int = NGRAM_SIZE,
    min_exact: int = MIN_EXACT_GRAMS,
) -> NgramIndex:
    """An :class:`NgramIndex` of the registry ``benchmarks`` (``"all"``, a name or a list; local files under
    ``benchmarks_dir``, else the Hub) plus ``extra`` texts (e.g. :func:`parse_extra_benchmark`), §2.1."""
    texts = load_benchmark_texts(benchmarks, benchmarks_dir) if benchmarks else []
    texts = texts + list(extra or [])
    if not texts:
        raise ValueError("no benchmark texts to index: name at least one benchmark or an extra benchmark")
    return NgramIndex.build(texts, n=n, min_exact=min_exact)


@dataclass
class DecontaminationReport:
    """What a decontamination run found: the ``summary`` counts, one ``findings`` row per match (with the
    document's row index) and the index's :meth:`NgramIndex.stats`."""

    summary: dict
    findings: list[dict]  # one row per finding, with the document's row index
    index_stats: dict

    def table(self) -> str:
        """The summary as a Markdown table (documents in/out, segments and characters removed, per benchmark)."""
        return summary_table(self.summary)

    def card_section(self) -> str:
        """The Markdown section a dataset card shows about this decontamination (rule, index, counts)."""
        return card_section(self.summary, self.index_stats)

    def write(self, directory: str | Path) -> None:
        """``report.jsonl`` (one finding a line), ``summary.json``, ``summary.md``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "report.jsonl").open("w", encoding="utf-8") as f:
            for row in self.findings:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        (directory / "summary.json").write_text(
            json.dumps({"summary": self.summary, "index": self.index_stats}, indent=2, ensure_ascii=False)
        )
        (directory / "summary.md").write_text(self.card_section(), encoding="utf-8")


def merge_reports(reports: Sequence[DecontaminationReport]) -> DecontaminationReport:
    """One report of consecutive parts of a dataset (e.g. a corpus's shards, decontaminated one task each, §2.1):
    the report :func:`decontaminate_dataset` gives over their concatenation. Findings' rows are offset by the
    documents in the parts before; the counts are summarized again from the findings (distinct benchmark items
    do not add up); ``documents_out`` is summed."""
    if not reports:
        raise ValueError("reports: nothing to merge")
    first = reports[0]
    for i, report in enumerate(reports[1:], 1):
        if report.index_stats != first.index_stats:
            raise ValueError(f"reports[{i}].index_stats differs from reports[0]'s: not decontaminated with one index")
        if report.summary["mode"] != first.summary["mode"]:
            raise ValueError(
                f"reports[{i}].summary.mode is {report.summary['mode']!r}, reports[0]'s is {first.summary['mode']!r}"
            )
    findings: list[dict] = []
    offset = 0
    for report in reports:
        findings += [{**row, "row": row["row"] + offset} for row in report.findings]
        offset += report.summary["documents_in"]
    per_doc: dict[int, list[dict]] = {}
    for row in findings:
        per_doc.setdefault(row["row"], []).append(row)
    chars_removed = sum(r.summary["chars_removed"] for r in reports)
    summary = summarize(list(per_doc.values()), offset, first.summary["mode"], chars_removed)
    summary["documents_out"] = sum(r.summary["documents_out"] for r in reports)
    return DecontaminationReport(summary, findings, first.index_stats)


def _marked_features(features, column: str):
    from datasets import Features, Value

    out = Features({**features, "contaminated": Value("bool"), FINDINGS_COLUMN: findings_feature()})
    if not isinstance(out[column], Value) or out[column].dtype not in ("string", "large_string"):
        out[column] = Value("string")  # a null-typed column (all None) comes back as strings
    return out


def decontaminate_dataset(
    dataset,
    column: str = "text",
    *,
    index: NgramIndex | None = None,
    benchmarks: str | list[str] = "all",
    benchmarks_dir: str | Path | None = None,
    mode: Mode = "segment",
    segment_by: SegmentBy = "paragraph",
    num_proc: int | None = None,
    batch_size: int = 256,
    keep_findings_column: bool = False,
):
    """Decontaminate ``dataset[column]``; returns ``(clean_dataset, DecontaminationReport)``.

    Segment mode keeps every row with its contaminated segments removed (rows left empty are dropped);
    document mode drops contaminated rows. Works on any ``datasets.Dataset``; ``num_proc`` workers each get
    a copy of the index.
    """
    if column not in dataset.column_names:
        raise KeyError(f"column {column!r} not in the dataset (columns: {dataset.column_names})")
    taken = [name for name in ("contaminated", FINDINGS_COLUMN) if name in dataset.column_names]
    if taken:  # the step writes these columns: an input column of that name would be overwritten and dropped
        raise ValueError(f"the dataset already has column(s) {taken}, which decontamination writes; rename them first")
    if index is None:
        index = build_index(benchmarks, benchmarks_dir)
    if len(dataset) == 0:  # `map` does not run on an empty dataset, so there is nothing to mark
        report = DecontaminationReport(summarize([], 0, mode, 0) | {"documents_out": 0}, [], index.stats())
        if keep_findings_column:  # the same schema as a non-empty result's, so the two can be concatenated
            dataset = dataset.add_column(FINDINGS_COLUMN, [], feature=findings_feature())
        return dataset, report
    step = Decontaminator(index, mode=mode, segment_by=segment_by).map_fn(column)
    marked = dataset.map(
        step,
        batched=True,
        with_indices=True,
        batch_size=batch_size,
        num_proc=num_proc,
        desc=f"decontaminating ({mode} mode)",
        features=_marked_features(dataset.features, column),
        new_fingerprint=hashlib.sha256(
            f"{dataset._fingerprint}-decontam-{index.fingerprint()}-{mode}-{segment_by}-{column}".encode()
        ).hexdigest()[:32],
    )
    contaminated_rows = [i for i, flag in enumerate(marked["contaminated"]) if flag]
    findings_per_doc = marked.select(contaminated_rows)[FINDINGS_COLUMN] if contaminated_rows else []
    findings = [
        {"row": row, **finding} for row, found in zip(contaminated_rows, findings_per_doc) for finding in found
    ]
    original_lengths = dataset.select(contaminated_rows)[column] if contaminated_rows else []
    cleaned = marked.select(contaminated_rows)[column] if contaminated_rows else []
    chars_removed = sum(len(a or "") - len(b or "") for a, b in zip(original_lengths, cleaned))
    summary = summarize(findings_per_doc, len(dataset), mode, chars_removed)
    keep = marked.filter(
        lambda flag, text: not flag if mode == "document" else bool(text and text.strip()),
        input_columns=["contaminated", column],
        num_proc=num_proc,
        desc="dropping contaminated rows" if mode == "document" else "dropping emptied rows",
    )
    summary["documents_out"] = len(keep)
    drop = ["contaminated"] if keep_findings_column else ["contaminated", FINDINGS_COLUMN]
    return keep.remove_columns(drop), DecontaminationReport(summary, findings, index.stats())
