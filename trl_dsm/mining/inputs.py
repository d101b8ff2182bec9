# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Inputs of a mining run (§2.1) that are not crawl files: documents given in memory and the seed positives."""

from __future__ import annotations

from trl_dsm.mining.config import SeedSpec
from trl_dsm.mining.documents import COLUMNS, expand_paths
from trl_dsm.mining.readers import from_hf_dataset


def as_documents(documents):
    """A documents ``Dataset`` from a Dataset with text (+url) columns, or an iterable of dicts/strings."""
    import datasets

    if isinstance(documents, datasets.Dataset):
        if list(documents.features) == COLUMNS:
            return documents
        cols = documents.column_names
        return from_hf_dataset(
            documents,
            "text",
            "url" if "url" in cols else None,
            "id" if "id" in cols else None,
            "title" if "title" in cols else None,
            source="memory",
        )
    rows = [{"text": d} if isinstance(d, str) else dict(d) for d in documents]
    if any("text" not in r for r in rows):
        raise KeyError("every document needs a 'text' field")
    keys = sorted({k for r in rows for k in r} & {"text", "url", "id", "title"})
    table = {k: [r.get(k) for r in rows] for k in keys}
    if "id" in table:
        table["id"] = [None if v is None else str(v) for v in table["id"]]
    return as_documents(datasets.Dataset.from_dict(table))


def load_seed_texts(spec: SeedSpec) -> list[str]:
    """Seed positives from JSONL/Parquet files or a Hub/local dataset, ``fields`` joined by newlines."""
    import datasets

    if spec.type == "hf":
        from trl_dsm.decontamination.pipeline import load_input

        if not spec.path:
            raise ValueError("an 'hf' seed spec needs 'path'")
        ds = load_input(spec.path, split=spec.split)
    elif spec.type in ("jsonl", "parquet"):
        files = expand_paths(spec.paths if not isinstance(spec.paths, str) else [spec.paths])
        ds = datasets.load_dataset("json" if spec.type == "jsonl" else "parquet", data_files=files, split="train")
    else:
        raise ValueError(f"seed type {spec.type!r} unknown; use jsonl, parquet or hf")
    missing = [f for f in spec.fields if f not in ds.column_names]
    if missing:
        raise KeyError(f"seed field(s) {missing} not in {spec.path or spec.paths} (columns: {ds.column_names})")
    if spec.limit is not None:
        ds = ds.select(range(min(spec.limit, len(ds))))
    columns = [ds[f] for f in spec.fields]
    return ["\n".join(str(v) for v in values if v) for values in zip(*columns)]
