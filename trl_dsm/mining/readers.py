# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Web-page readers for corpus mining (DeepSeekMath §2.1), as ``datasets`` builders, and :func:`load_documents`.

Every reader yields the same columns, :data:`FEATURES`: ``id``, ``url``, ``domain``, ``title``, ``text``,
``source``. The builders are ``GeneratorBasedBuilder`` subclasses instantiated in code (``datasets`` 5 loads no
dataset scripts): ``WarcBuilder(paths=[...]).as_dataset()`` after ``download_and_prepare()``, or simply
:func:`load_documents` with a source spec. One module per format: WARC/WET in :mod:`trl_dsm.mining.warc`
(HTML -> text with math kept as TeX in :mod:`trl_dsm.mining.html_text`), JSONL/Parquet tables here; the record
and file helpers in :mod:`trl_dsm.mining.documents`.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from trl_dsm._jsonl import iter_jsonl
from trl_dsm.mining.documents import COLUMNS, doc_id, expand_paths, make_record, open_input, url_domain
from trl_dsm.mining.warc import iter_warc, iter_wet


__all__ = [
    "BUILDERS",
    "FEATURES",
    "OFFSET_COLUMN",
    "SourceSpec",
    "TableBuilder",
    "WarcBuilder",
    "WebDocsConfig",
    "WetBuilder",
    "check_table_file",
    "from_hf_dataset",
    "iter_rows",
    "iter_table",
    "load_documents",
]

FEATURES = datasets.Features({name: datasets.Value("string") for name in COLUMNS})
#: A WARC reading for two stages in one run (``extraction.in_run``) adds each page's record offset in its file.
OFFSET_COLUMN = "warc_offset"


def _utf8_text(raw, gzipped: bool):
    return gzip.open(raw, "rt", encoding="utf-8") if gzipped else io.TextIOWrapper(raw, encoding="utf-8")


def iter_rows(path: str | Path) -> Iterator[dict]:
    """The rows of a JSONL (optionally gzipped) or Parquet file as dicts; other extensions are a ``ValueError``."""
    path = Path(path)
    name = path.name
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        if not path.is_file():
            raise FileNotFoundError(f"input file {path} does not exist")
        for batch in pq.ParquetFile(path).iter_batches():
            yield from batch.to_pylist()
    elif name.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz")):
        with open_input(path) as raw, _utf8_text(raw, gzipped=name.endswith(".gz")) as f:
            yield from iter_jsonl(f, str(path))
    else:
        raise ValueError(f"{path}: expected a .jsonl, .jsonl.gz or .parquet file")


def iter_table(
    path: str | Path,
    text_column: str = "text",
    url_column: str | None = "url",
    id_column: str | None = "id",
    title_column: str | None = "title",
) -> Iterator[dict]:
    """Rows of a JSONL (optionally gzipped) or Parquet file with a text column (and optional url/id/title)."""
    path = Path(path)
    name = path.name
    rows = iter_rows(path)
    for i, row in enumerate(rows):
        if text_column not in row:
            raise KeyError(f"{path}: row {i}: missing column {text_column!r} (columns: {sorted(row)})")
        text = row[text_column] or ""
        url = (row.get(url_column) or "") if url_column else ""
        title = (row.get(title_column) or "") if title_column else ""
        rid = str(row[id_column]) if id_column and row.get(id_column) is not None else None
        yield make_record(url, title, text, f"table:{name}", rid)


def check_table_file(path: str | Path, text_column: str = "text") -> None:
    """One clear error before any work for a JSONL/Parquet input that cannot be mined: a file without rows
    (``ValueError``), or whose first row has no ``text_column`` (``KeyError``), each naming the file."""
    first = next(iter_rows(path), None)
    if first is None:
        raise ValueError(f"{path}: empty input: the file has no rows")
    if text_column not in first:
        raise KeyError(f"{path}: row 0: missing column {text_column!r} (columns: {sorted(first)})")


# ----------------------------------------------------------------------------------------------- builders


@dataclass
class WebDocsConfig(datasets.BuilderConfig):
    """Files to read (globs allowed), the columns of table files, and the shortest text kept."""

    paths: tuple[str, ...] = ()
    text_column: str = "text"
    url_column: str | None = "url"
    id_column: str | None = "id"
    title_column: str | None = "title"
    min_text_chars: int = 1
    #: WARC: two-stage extraction settings (:func:`trl_dsm.mining.warc.iter_warc`); None: one stage.
    two_stage: dict | None = None
    extra: dict = field(default_factory=dict)


class _WebBuilder(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIG_CLASS = WebDocsConfig

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=self.__doc__, features=FEATURES)

    def _split_generators(self, dl_manager):
        if not self.config.paths:
            raise ValueError(f"{type(self).__name__}: give paths=[...] (files or globs)")
        return [
            datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"files": expand_paths(self.config.paths)})
        ]

    def _iter(self, path: str) -> Iterator[dict]:
        raise NotImplementedError

    def _generate_examples(self, files: list[str]):
        for file_index, path in enumerate(files):
            for row_index, doc in enumerate(self._iter(path)):
                yield f"{file_index}-{row_index}", doc


class WarcBuilder(_WebBuilder):
    """HTML pages of WARC files, converted to main text with math kept as TeX (with ``two_stage`` as
    :func:`~trl_dsm.mining.warc.iter_warc` says; ``in_run`` adds the :data:`OFFSET_COLUMN`)."""

    def _info(self) -> datasets.DatasetInfo:
        features = FEATURES
        if (self.config.two_stage or {}).get("in_run"):
            features = datasets.Features({**FEATURES, OFFSET_COLUMN: datasets.Value("int64")})
        return datasets.DatasetInfo(description=self.__doc__, features=features)

    def _iter(self, path: str) -> Iterator[dict]:
        return iter_warc(path, self.config.min_text_chars, self.config.two_stage)


class WetBuilder(_WebBuilder):
    """Plain-text pages of Common Crawl WET files."""

    def _iter(self, path: str) -> Iterator[dict]:
        return iter_wet(path, self.config.min_text_chars)


class TableBuilder(_WebBuilder):
    """JSONL / Parquet files with a text column (and url, id, title columns when present)."""

    def _iter(self, path: str) -> Iterator[dict]:
        c = self.config
        for doc in iter_table(path, c.text_column, c.url_column, c.id_column, c.title_column):
            if len(doc["text"].strip()) >= c.min_text_chars:
                yield doc


BUILDERS: dict[str, type[_WebBuilder]] = {"warc": WarcBuilder, "wet": WetBuilder, "jsonl": TableBuilder}
BUILDERS["parquet"] = TableBuilder


def from_hf_dataset(
    dataset,
    text_column: str = "text",
    url_column: str | None = "url",
    id_column: str | None = None,
    title_column: str | None = None,
    source: str = "hf",
    num_proc: int | None = None,
):
    """Any ``datasets.Dataset`` with a text column (and a url column) in the mining columns."""
    missing = [c for c in (text_column, url_column, id_column, title_column) if c and c not in dataset.column_names]
    if missing:
        raise KeyError(f"column(s) {missing} not in the dataset (columns: {dataset.column_names})")

    def to_docs(batch):
        n = len(batch[text_column])
        texts = [t or "" for t in batch[text_column]]
        urls = [u or "" for u in batch[url_column]] if url_column else [""] * n
        titles = [t or "" for t in batch[title_column]] if title_column else [""] * n
        ids = [str(i) for i in batch[id_column]] if id_column else [doc_id(u, t) for u, t in zip(urls, texts)]
        return {
            "id": ids,
            "url": urls,
            "domain": [url_domain(u) for u in urls],
            "title": titles,
            "text": texts,
            "source": [source] * n,
        }

    return dataset.map(
        to_docs,
        batched=True,
        remove_columns=dataset.column_names,
        features=FEATURES,
        num_proc=num_proc,
        desc="mining columns",
    )


@dataclass
class SourceSpec:
    """One input of the mining pipeline: ``type`` is warc, wet, jsonl, parquet or hf (a Hub id or a
    ``save_to_disk``/data directory in ``path``)."""

    type: str
    paths: list[str] = field(default_factory=list)
    path: str | None = None
    split: str = "train"
    text_column: str = "text"
    url_column: str | None = "url"
    id_column: str | None = "id"
    title_column: str | None = "title"
    min_text_chars: int = 1

    @classmethod
    def from_dict(cls, spec: dict | SourceSpec, where: str = "input spec") -> SourceSpec:
        """The spec of a mapping (a recipe's ``inputs`` entry) through :func:`trl_dsm.configs.from_dict`: unknown or
        missing keys and values of the wrong type are errors naming ``where``; one path may be given as a string."""
        from trl_dsm.configs import ConfigError, from_dict

        if isinstance(spec, SourceSpec):
            return spec
        if isinstance(spec, dict) and isinstance(spec.get("paths"), str):
            spec = {**spec, "paths": [spec["paths"]]}
        out = from_dict(cls, spec, where)
        if out.type not in (*BUILDERS, "hf"):
            raise ConfigError(f"{where}: input type {out.type!r} unknown; use one of {[*BUILDERS, 'hf']}")
        return out


def load_documents(
    spec: dict | SourceSpec,
    cache_dir: str | Path | None = None,
    num_proc: int | None = None,
    two_stage: dict | None = None,
):
    """A ``datasets.Dataset`` with :data:`COLUMNS` from one source spec; ``two_stage`` (WARC inputs): the
    two-stage extraction settings of :func:`trl_dsm.mining.warc.iter_warc` (``in_run`` adds
    :data:`OFFSET_COLUMN`)."""
    spec = SourceSpec.from_dict(spec)
    if spec.type == "hf":
        from trl_dsm.decontamination.pipeline import load_input

        if not spec.path:
            raise ValueError("an 'hf' input needs 'path': a Hub id or a local dataset directory")
        dataset = load_input(spec.path, split=spec.split)
        cols = dataset.column_names
        return from_hf_dataset(
            dataset,
            spec.text_column,
            spec.url_column if spec.url_column in cols else None,
            spec.id_column if spec.id_column in cols else None,
            spec.title_column if spec.title_column in cols else None,
            source=f"hf:{spec.path}",
            num_proc=num_proc,
        )
    if not spec.paths:
        raise ValueError(f"a {spec.type!r} input needs 'paths' (files or globs)")
    builder = BUILDERS[spec.type](
        cache_dir=str(cache_dir) if cache_dir else None,
        paths=tuple(str(p) for p in spec.paths),
        text_column=spec.text_column,
        url_column=spec.url_column,
        id_column=spec.id_column,
        title_column=spec.title_column,
        min_text_chars=spec.min_text_chars,
        two_stage=two_stage
        if spec.type == "warc" and two_stage and (two_stage.get("model") or two_stage.get("in_run"))
        else None,
        # The cache is keyed by the config: include the files' sizes and mtimes so edited inputs are re-read.
        extra={"files": [[f, Path(f).stat().st_size, Path(f).stat().st_mtime] for f in expand_paths(spec.paths)]},
    )
    builder.download_and_prepare()
    return builder.as_dataset(split="train")
