# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""WARC and WET files (Common Crawl's formats; DeepSeekMath §2.1 mines Common Crawl) as mining documents.

* :func:`html_response`: one WARC ``response`` record -> its HTML (decoded by declared charset) and metadata, or
  ``None`` for non-HTML records. Shared by both WARC paths below, so they read the same pages.
* :func:`iter_warc`: documents of a WARC file, main text extracted with math kept as TeX (``html_to_text``).
* :func:`read_warc_pages`: the pages at given record offsets of a WARC file (stage two of a two-stage run).
* :class:`WarcHtmlReader`: the same records as a datatrove reader, to compose with
  :class:`trl_dsm.mining.steps.MathHtmlExtractor` and datatrove's writers in a datatrove pipeline.
* :func:`warc_adapter`: maps datatrove's own ``WarcReader`` output to the same ids and metadata.
* :func:`iter_wet`: ``conversion`` records of WET files, with a lenient fallback for hand-made files.

Why not datatrove's ``WarcReader`` for our own path: it decodes UTF-8 or else what ``cchardet`` detects, ignoring
the charset the page declares. On the shared Common Crawl WARC it reads the two pages declaring ``iso-8859-1`` as
IBM865 (one's main text changes: ``über`` -> ``ⁿber``), and a page whose detected codec fails is dropped; it also
needs ``cchardet`` and ``libmagic``. Both readers are warcio underneath (tests/test_mining_warc.py compares them page by page).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Literal

from datatrove.data import DocumentsPipeline
from datatrove.io import DataFileLike, DataFolderLike
from datatrove.pipeline.readers.base import BaseDiskReader

from trl_dsm.mining.documents import make_record, open_input, url_domain
from trl_dsm.mining.extraction.bound import ExtractionTimeout
from trl_dsm.mining.html_text import decode_html, html_to_text


if TYPE_CHECKING:
    from warcio.recordloader import ArcWarcRecord


_CHARSET = re.compile(r"charset\s*=\s*([^\s;]+)", re.IGNORECASE)
logger = logging.getLogger(__name__)
#: The ``stats`` key of :func:`iter_warc` counting pages skipped because their extraction passed its bound.
TIMEOUT_STAT = "extraction_timeout"
#: The counters of the :func:`counting_pages` blocks open in this process.
_ACTIVE_COUNTERS: list[Counter] = []


@contextlib.contextmanager
def counting_pages() -> Iterator[Counter]:
    """A ``Counter`` of what every :func:`iter_warc` in this process does inside the block: ``pages`` (HTML
    responses read) and :data:`TIMEOUT_STAT` (pages skipped at their extraction's bound). For callers whose reading
    goes through a ``datasets`` builder (the mining pipeline's ``ingest``), which cannot pass a ``stats`` counter:
    when the builder reads its cache instead, ``pages`` stays 0."""
    counts: Counter = Counter()
    _ACTIVE_COUNTERS.append(counts)
    try:
        yield counts
    finally:
        _ACTIVE_COUNTERS.remove(counts)


def _count(key: str, stats: Counter | None) -> None:
    for counts in ([stats] if stats is not None else []) + _ACTIVE_COUNTERS:
        counts[key] += 1


def html_response(record: ArcWarcRecord) -> dict | None:
    """``{"text": html, "id", "url", "date"}`` of an HTML ``response`` record, else ``None``.

    A record is HTML when its HTTP ``Content-Type`` says so, or (without one) Common Crawl's
    ``WARC-Identified-Payload-Type`` does; a record with neither is read as HTML. The bytes are decoded by
    :func:`~trl_dsm.mining.html_text.decode_html`: the HTTP charset, then ``<meta charset>``, then detection. The id
    is the ``WARC-Record-ID`` without its angle brackets."""
    if record.rec_type != "response" or record.http_headers is None:
        return None
    content_type = record.http_headers.get_header("Content-Type") or ""
    declared = content_type or record.rec_headers.get_header("WARC-Identified-Payload-Type") or ""
    if declared and "html" not in declared.lower():
        return None
    match = _CHARSET.search(content_type)
    charset = match.group(1).strip("\"'") if match else None
    return {
        "text": decode_html(record.content_stream().read(), charset),
        "id": (record.rec_headers.get_header("WARC-Record-ID") or "").strip("<>") or None,
        "url": record.rec_headers.get_header("WARC-Target-URI") or "",
        "date": record.rec_headers.get_header("WARC-Date"),
    }


def iter_warc(
    path: str | Path, min_text_chars: int = 1, two_stage: dict | None = None, stats: Counter | None = None
) -> Iterator[dict]:
    """HTML responses of a WARC file (gzipped or not) as documents, main text with math as TeX; non-HTML pages
    and pages with fewer than ``min_text_chars`` characters of text are skipped.

    ``two_stage`` (the ``extraction`` section of a mining config): stage one for every page, the raw-HTML prefilter
    (with ``prefilter`` on, pages it rejects are skipped) and the fast plain text. With ``model`` (a fastText
    classifier), stage two, the math-preserving extraction, replaces the fast text of pages scoring >=
    ``recall_threshold``; the other pages keep their fast text (they still count as pages of their domain and as random
    pages for the classifier). A page whose fast text is shorter than ``min_text_chars`` (nothing to score) gets the
    math-preserving extraction at once, as one stage would give it. With ``in_run`` every page keeps its fast text and
    its record's byte offset in the file (``warc_offset``), for :func:`read_warc_pages` to read again the pages that
    reach stage two.

    A page whose extraction passes its bound (:class:`~trl_dsm.mining.extraction.bound.ExtractionTimeout`: nesting
    too deep or over the CPU budget, at either stage) is skipped and the reading goes on; each such page is logged
    as a warning naming its URL and record id (logger ``trl_dsm.mining.warc``) and counted in
    ``stats[TIMEOUT_STAT]`` when a ``stats`` counter is given (and in the :func:`counting_pages` blocks open)."""
    from warcio.archiveiterator import ArchiveIterator

    two_stage = two_stage or {}
    in_run, classifier = bool(two_stage.get("in_run")), None
    if in_run or two_stage.get("model"):
        from trl_dsm.mining.extraction.fast import fast_text
        from trl_dsm.mining.extraction.prefilter import looks_like_math
    if two_stage.get("model") and not in_run:
        from trl_dsm.mining.classifier import FastTextClassifier

        classifier = FastTextClassifier(two_stage["model"])
    with open_input(path) as fh:
        records = ArchiveIterator(fh)
        for rec in _readable(records, path):
            page = html_response(rec)
            if page is None:
                continue
            _count("pages", None)
            try:
                if not in_run and classifier is None:
                    title, text = html_to_text(page["text"], url=page["url"])
                elif two_stage.get("prefilter") and not looks_like_math(page["text"]):
                    continue
                else:
                    title, text = fast_text(page["text"])
                    if len(text.strip()) < min_text_chars or (
                        classifier is not None and classifier.predict_proba([text])[0] >= two_stage["recall_threshold"]
                    ):  # (no fast text to judge, e.g. a page of scripts: extracted as one stage would)
                        title, text = html_to_text(page["text"], url=page["url"])
            except ExtractionTimeout as err:
                logger.warning("%s: page %s (%s) skipped: %s", Path(path).name, page["url"], page["id"], err)
                _count(TIMEOUT_STAT, stats)
                continue
            if len(text.strip()) >= min_text_chars:
                doc = make_record(page["url"], title, text, f"warc:{Path(path).name}", page["id"])
                if in_run:
                    doc["warc_offset"] = records.get_record_offset()
                yield doc


def _readable(records, path: str | Path) -> Iterator:
    """The records of a warcio iterator; a file warcio cannot read (e.g. gzipped as a whole instead of record by
    record) is a one-line ``ValueError`` naming it."""
    from warcio.exceptions import ArchiveLoadFailed

    try:
        yield from records
    except ArchiveLoadFailed as err:
        raise ValueError(f"{path}: {' '.join(str(err).split())}") from None


def _page_at(fh, offset: int) -> dict | None:
    """The HTML page of the record starting at byte ``offset`` of ``fh``; None when none starts there."""
    import zlib

    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    fh.seek(offset)
    try:
        return next((html_response(rec) for rec in ArchiveIterator(fh)), None)
    except (ArchiveLoadFailed, EOFError, OSError, ValueError, zlib.error):
        return None


def read_warc_pages(path: str | Path, offsets: dict[int, str]) -> dict[str, dict]:
    """The HTML pages (:func:`html_response`) of ``path`` whose records start at the given byte offsets
    (``{offset: WARC-Record-ID}``, as :func:`iter_warc` recorded them), keyed by record id: each read by seeking
    to its offset, as Common Crawl's index reads one record of a WARC file gzipped record by record (or not
    gzipped). A file whose record at an offset is not the one expected (rewritten since) is read through once
    instead; a page missing from it is a ``ValueError`` naming the file and record."""
    from warcio.archiveiterator import ArchiveIterator

    pages: dict[str, dict] = {}
    with open_input(path) as fh:
        for offset, rid in sorted(offsets.items()):
            page = _page_at(fh, offset)
            if page is None or page["id"] != rid:
                break
            pages[rid] = page
        else:
            return pages
        wanted = set(offsets.values())
        fh.seek(0)
        for rec in _readable(ArchiveIterator(fh), path):
            page = html_response(rec)
            if page is not None and page["id"] in wanted:
                pages[page["id"]] = page
    missing = sorted(set(offsets.values()) - set(pages))
    if missing:
        raise ValueError(f"{path}: record {missing[0]} is missing from the file (was it changed after it was read?)")
    return pages


class WarcHtmlReader(BaseDiskReader):
    """datatrove reader of WARC files yielding each HTML response's decoded HTML (:func:`html_response`) as
    ``Document.text``, for :class:`~trl_dsm.mining.steps.MathHtmlExtractor` to extract. ``id`` is the
    WARC-Record-ID; ``metadata`` has ``url``, ``domain``, ``date`` and ``source`` (``warc:<file name>``), as
    :func:`iter_warc`'s documents. Arguments as datatrove's ``WarcReader`` (it needs only ``warcio``)."""

    name = "🕷 Warc (trl-dsm: declared charsets)"
    _requires_dependencies = ["warcio"]

    def __init__(
        self,
        data_folder: DataFolderLike,
        paths_file: DataFileLike | None = None,
        compression: Literal["infer", "gzip", "zstd"] | None = "infer",
        limit: int = -1,
        skip: int = 0,
        file_progress: bool = False,
        doc_progress: bool = False,
        default_metadata: dict | None = None,
        recursive: bool = True,
        glob_pattern: str | None = None,
        shuffle_files: bool = False,
    ):
        super().__init__(
            data_folder,
            paths_file,
            limit,
            skip,
            file_progress,
            doc_progress,
            default_metadata=default_metadata,
            recursive=recursive,
            glob_pattern=glob_pattern,
            shuffle_files=shuffle_files,
        )
        self.compression = compression

    def read_file(self, filepath: str) -> DocumentsPipeline:
        """The HTML response documents of one WARC file (datatrove's reader interface)."""
        from warcio.archiveiterator import ArchiveIterator

        source = f"warc:{PurePath(filepath).name}"
        with self.data_folder.open(filepath, "rb", compression=self.compression) as f:
            for index, record in enumerate(ArchiveIterator(f)):
                with self.track_time():
                    page = html_response(record)
                    if page is None:
                        continue
                    page["domain"], page["source"] = url_domain(page["url"]), source
                    if page["id"] is None:
                        del page["id"]  # datatrove's default: path/index
                    document = self.get_document_from_dict(page, filepath, index)
                    if not document:
                        continue
                yield document


def warc_adapter(reader: BaseDiskReader, data: dict, path: str, id_in_file: int | str) -> dict:
    """``adapter=`` for datatrove's own ``WarcReader``: the ids and metadata of :class:`WarcHtmlReader` (record id
    without angle brackets; ``url``, ``domain``, ``date``, ``source``)."""
    url = data.get("url") or ""
    return {
        "text": data.get("text", ""),
        "id": str(data.get("id") or f"{path}/{id_in_file}").strip("<>"),
        "metadata": {
            "url": url,
            "domain": url_domain(url),
            "date": data.get("date"),
            "source": f"warc:{PurePath(path).name}",
        },
    }


def _wet_records_lenient(path: str | Path) -> Iterator[tuple[dict, str]]:
    """WET records split on their ``WARC/1.x`` + ``WARC-Type:`` lines, for hand-made files whose
    ``Content-Length`` or line endings do not match the standard (warcio refuses those)."""
    with open_input(path) as fh:
        raw = fh.read()
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
        return make_record(url, title, text, f"wet:{Path(path).name}", (rid or "").strip("<>") or None)

    done = 0  # conversion records already seen, so a fallback resumes after them
    try:
        with open_input(path) as fh:
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
