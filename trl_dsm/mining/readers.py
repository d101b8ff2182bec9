# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Web-page readers for corpus mining (DeepSeekMath §2.1), as ``datasets`` builders.

Every reader yields the same columns, :data:`FEATURES`: ``id``, ``url``, ``domain``, ``title``, ``text``,
``source``. The builders are ``GeneratorBasedBuilder`` subclasses instantiated in code (``datasets`` 5 loads no
dataset scripts): ``WarcBuilder(paths=[...]).as_dataset()`` after ``download_and_prepare()``, or simply
:func:`load_documents` with a source spec.

HTML goes to text with trafilatura (main content, tables kept) after :func:`math_to_tex` has rewritten math
markup into TeX that survives extraction: MathJax ``<script type="math/tex">``, KaTeX and MathML annotations,
MathML ``alttext`` and the LaTeX ``alt`` text of formula images. Raw ``$...$`` in the page text is kept as is.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import datasets

from trl_dsm._jsonl import iter_jsonl


FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "url": datasets.Value("string"),
        "domain": datasets.Value("string"),
        "title": datasets.Value("string"),
        "text": datasets.Value("string"),
        "source": datasets.Value("string"),
    }
)
COLUMNS = list(FEATURES)


def url_domain(url: str) -> str:
    """The page's domain (its base URL, DeepSeekMath §2.1): the lower-cased host without ``www.`` or port."""
    host = (urlsplit(url if "//" in (url or "") else "//" + (url or "")).hostname or "").rstrip(".")
    return host[4:] if host.startswith("www.") else host


def doc_id(url: str, text: str) -> str:
    return hashlib.sha1(f"{url}\n{text}".encode()).hexdigest()[:20]


# ----------------------------------------------------------------------------------------------- HTML -> text

_CLASS = 'contains(concat(" ", normalize-space(@class), " "), " {} ")'
_MATHJAX_RENDERED = " or ".join(
    _CLASS.format(c) for c in ("MathJax", "MathJax_Preview", "MathJax_Display", "MathJax_SVG", "MathJax_CHTML")
)
_LATEX_IMG = (
    '//img[@alt and ({} or contains(@src, "latex") or contains(@src, "codecogs") or contains(@src, "mathtex")'
    ' or contains(@src, "tex.cgi") or contains(@src, "/math/render"))]'.format(_CLASS.format("latex"))
)


def _tex(tex: str, display: bool) -> str:
    tex = tex.strip()
    if tex.startswith("$") or tex.startswith("\\(") or tex.startswith("\\["):
        return tex
    return f"$${tex}$$" if display else f"${tex}$"


def _replace(el, text: str) -> None:
    """Replace ``el`` by a span holding ``text``, keeping the text that followed it."""
    from lxml import html

    parent = el.getparent()
    if parent is None:
        return
    span = html.Element("span")
    span.text = text
    span.tail = el.tail
    parent.replace(el, span)


def math_to_tex(tree) -> int:
    """Rewrite math markup in an lxml HTML tree into ``$...$`` / ``$$...$$`` text in place; returns how many
    formulas were rewritten."""
    n = 0
    scripts = tree.xpath('//script[starts-with(@type, "math/tex")]')
    if scripts:  # MathJax 2: the rendered copies duplicate the script sources
        for el in tree.xpath(f"//*[{_MATHJAX_RENDERED}]"):
            if el.getparent() is not None:
                el.drop_tree()
    for el in scripts:
        _replace(el, _tex(el.text or "", "mode=display" in (el.get("type") or "")))
        n += 1
    for el in tree.xpath('//script[starts-with(@type, "math/asciimath")]'):
        _replace(el, f"`{(el.text or '').strip()}`")
        n += 1
    for el in tree.xpath(f"//*[{_CLASS.format('katex')}]"):
        ann = el.xpath('.//*[local-name()="annotation"][@encoding="application/x-tex"]')
        if ann and el.getparent() is not None:
            display = bool(el.xpath(f"ancestor::*[{_CLASS.format('katex-display')}]"))
            _replace(el, _tex(ann[0].text or "", display))
            n += 1
    for el in tree.xpath('//*[local-name()="math"]'):
        if el.getparent() is None:
            continue
        ann = el.xpath('.//*[local-name()="annotation"][@encoding="application/x-tex"]')
        tex = el.get("alttext") or (ann[0].text if ann else None)
        display = el.get("display") == "block" or el.get("mode") == "display"
        if tex:
            _replace(el, _tex(tex, display))
        else:  # presentation MathML only: keep its symbols in reading order
            _replace(el, " ".join(t.strip() for t in el.itertext() if t.strip()))
        n += 1
    for el in tree.xpath(_LATEX_IMG):
        _replace(el, _tex(el.get("alt") or "", False))
        n += 1
    return n


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def decode_html(raw: bytes, charset: str | None = None) -> str:
    """HTTP charset, then ``<meta charset>``, then detection (charset_normalizer); GB2312/GBK read as GB18030."""
    candidates = [charset] if charset else []
    match = _META_CHARSET.search(raw[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii"))
    for name in candidates:
        name = {"gb2312": "gb18030", "gbk": "gb18030"}.get(name.lower(), name)
        try:
            return raw.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        return str(best) if best is not None else raw.decode("utf-8", errors="replace")


def html_to_text(html_content: str | bytes, url: str | None = None, charset: str | None = None) -> tuple[str, str]:
    """``(title, main text)`` of an HTML page, math kept as TeX; empty strings when nothing can be extracted."""
    import trafilatura
    from lxml import etree, html

    if isinstance(html_content, bytes):
        html_content = decode_html(html_content, charset)
    if not html_content.strip():
        return "", ""
    try:
        tree = html.fromstring(html_content)
    except (etree.ParserError, ValueError):
        try:  # an XML declaration with an encoding is refused on str input
            tree = html.fromstring(html_content.encode("utf-8"))
        except (etree.ParserError, ValueError):
            return "", ""
    math_to_tex(tree)
    doc = trafilatura.bare_extraction(
        tree, url=url, with_metadata=True, include_tables=True, include_comments=True, favor_recall=True
    )
    if doc is None:
        return "", ""
    return (doc.title or ""), (doc.text or "")


# ----------------------------------------------------------------------------------------------- iterators


def _open(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    return path.open("rb")


def _record(url: str, title: str, text: str, source: str, rid: str | None = None) -> dict:
    return {
        "id": rid or doc_id(url, text),
        "url": url,
        "domain": url_domain(url),
        "title": title,
        "text": text,
        "source": source,
    }


def iter_warc(path: str | Path, min_text_chars: int = 1) -> Iterator[dict]:
    """HTML responses of a WARC file (gzipped or not) as documents; non-HTML and empty pages are skipped."""
    from warcio.archiveiterator import ArchiveIterator

    with _open(path) as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response" or rec.http_headers is None:
                continue
            content_type = rec.http_headers.get_header("Content-Type") or ""
            if content_type and "html" not in content_type.lower():
                continue
            url = rec.rec_headers.get_header("WARC-Target-URI") or ""
            charset = None
            match = re.search(r"charset\s*=\s*([^\s;]+)", content_type, re.IGNORECASE)
            if match:
                charset = match.group(1).strip("\"'")
            title, text = html_to_text(rec.content_stream().read(), url=url, charset=charset)
            if len(text.strip()) >= min_text_chars:
                rid = (rec.rec_headers.get_header("WARC-Record-ID") or "").strip("<>") or None
                yield _record(url, title, text, f"warc:{Path(path).name}", rid)


def _wet_records_lenient(path: str | Path) -> Iterator[tuple[dict, str]]:
    """WET records split on their ``WARC/1.x`` + ``WARC-Type:`` lines, for hand-made files whose
    ``Content-Length`` or line endings do not match the standard (warcio refuses those)."""
    raw = _open(path).read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    content = raw.decode("utf-8", errors="replace")
    for block in re.split(r"(?m)^WARC/1\.[01]\r?\n(?=WARC-Type:)", content)[1:]:
        head, _, body = block.partition("\n\n") if "\r\n\r\n" not in block[:4096] else block.partition("\r\n\r\n")
        headers = {}
        for line in head.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip()] = value.strip()
        yield headers, body.strip("\r\n")


def iter_wet(path: str | Path, min_text_chars: int = 1) -> Iterator[dict]:
    """``conversion`` records of a WET file (Common Crawl's extracted plain text). Files that warcio cannot
    parse (non-standard lengths or line endings) are read by splitting on record headers instead."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    def record(url: str, text: str, rid: str | None) -> dict | None:
        if len(text.strip()) < min_text_chars:
            return None
        title = text.split("\n", 1)[0].strip()[:300]  # WET puts the page title on the first line
        return _record(url, title, text, f"wet:{Path(path).name}", (rid or "").strip("<>") or None)

    done = 0  # conversion records already seen, so a fallback resumes after them
    try:
        with _open(path) as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type != "conversion":
                    continue
                done += 1
                text = rec.content_stream().read().decode("utf-8", errors="replace")
                url = rec.rec_headers.get_header("WARC-Target-URI") or ""
                doc = record(url, text, rec.rec_headers.get_header("WARC-Record-ID"))
                if doc is not None:
                    yield doc
    except ArchiveLoadFailed:
        conversions = (
            (h, body) for h, body in _wet_records_lenient(path) if h.get("WARC-Type", "").lower() == "conversion"
        )
        for i, (headers, body) in enumerate(conversions):
            if i < done:
                continue
            doc = record(headers.get("WARC-Target-URI", ""), body, headers.get("WARC-Record-ID"))
            if doc is not None:
                yield doc


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
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        if not path.is_file():
            raise FileNotFoundError(f"input file {path} does not exist")
        rows = (row for batch in pq.ParquetFile(path).iter_batches() for row in batch.to_pylist())
    elif name.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz")):

        def _rows():
            with _open(path) as raw, gzip.open(raw, "rt") if name.endswith(".gz") else _text(raw) as f:
                yield from iter_jsonl(f, str(path))

        rows = _rows()
    else:
        raise ValueError(f"{path}: expected a .jsonl, .jsonl.gz or .parquet file")
    for i, row in enumerate(rows):
        if text_column not in row:
            raise KeyError(f"{path}: row {i} has no column {text_column!r} (columns: {sorted(row)})")
        text = row[text_column] or ""
        url = (row.get(url_column) or "") if url_column else ""
        title = (row.get(title_column) or "") if title_column else ""
        rid = str(row[id_column]) if id_column and row.get(id_column) is not None else None
        yield _record(url, title, text, f"table:{name}", rid)


def _text(raw):
    import io

    return io.TextIOWrapper(raw, encoding="utf-8")


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
    extra: dict = field(default_factory=dict)


def _expand(paths: Sequence[str]) -> list[str]:
    import glob

    files = []
    for pattern in paths:
        matched = sorted(glob.glob(str(pattern)))
        if not matched:
            raise FileNotFoundError(f"input {pattern!r} matches no file")
        files += matched
    return files


class _WebBuilder(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIG_CLASS = WebDocsConfig

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=self.__doc__, features=FEATURES)

    def _split_generators(self, dl_manager):
        if not self.config.paths:
            raise ValueError(f"{type(self).__name__}: give paths=[...] (files or globs)")
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN, gen_kwargs={"files": _expand(self.config.paths)})]

    def _iter(self, path: str) -> Iterator[dict]:
        raise NotImplementedError

    def _generate_examples(self, files: list[str]):
        for file_index, path in enumerate(files):
            for row_index, doc in enumerate(self._iter(path)):
                yield f"{file_index}-{row_index}", doc


class WarcBuilder(_WebBuilder):
    """HTML pages of WARC files, converted to main text with math kept as TeX."""

    def _iter(self, path: str) -> Iterator[dict]:
        return iter_warc(path, self.config.min_text_chars)


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
    def from_dict(cls, spec: dict | SourceSpec) -> SourceSpec:
        if isinstance(spec, SourceSpec):
            return spec
        unknown = sorted(set(spec) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"input spec has unknown key(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        if "type" not in spec:
            raise ValueError(f"input spec {spec} needs a 'type' ({', '.join([*BUILDERS, 'hf'])})")
        out = cls(**spec)
        if out.type not in (*BUILDERS, "hf"):
            raise ValueError(f"input type {out.type!r} unknown; use one of {[*BUILDERS, 'hf']}")
        if isinstance(out.paths, str):
            out.paths = [out.paths]
        return out


def load_documents(spec: dict | SourceSpec, cache_dir: str | Path | None = None, num_proc: int | None = None):
    """A ``datasets.Dataset`` with :data:`COLUMNS` from one source spec."""
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
        # The cache is keyed by the config: include the files' sizes and mtimes so edited inputs are re-read.
        extra={"files": [[f, Path(f).stat().st_size, Path(f).stat().st_mtime] for f in _expand(spec.paths)]},
    )
    builder.download_and_prepare()
    return builder.as_dataset(split="train")
