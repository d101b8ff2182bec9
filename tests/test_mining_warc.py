# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""WARC files through datatrove (§2.1 mines Common Crawl): ``WarcHtmlReader -> MathHtmlExtractor -> JsonlWriter``
on ``LocalPipelineExecutor`` reads the same pages as our own reader (``iter_warc``) with math kept as TeX; datatrove's
stock ``WarcReader`` differs only where it ignores a declared charset."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.writers import JsonlWriter
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from trl_dsm.mining.steps import MathHtmlExtractor
from trl_dsm.mining.warc import WarcHtmlReader, html_response, iter_warc, warc_adapter


_FILLER = "<p>This paragraph gives the page enough ordinary words for the extractor to treat it as main content.</p>"
MATHJAX = (
    "<html><head><title>Quadratics</title></head><body><article><h1>Quadratic equations</h1>"
    '<p>The roots of <script type="math/tex">ax^2+bx+c=0</script> follow from completing the square.</p>'
    '<span class="MathJax_Preview">x=...</span>'
    '<script type="math/tex; mode=display">x=\\frac{-b\\pm\\sqrt{b^2-4ac}}{2a}</script>'
    f"{_FILLER}</article></body></html>"
)
KATEX_LATIN1 = (
    "<html><head><title>Übung</title></head><body><article><h1>Übung zur Analysis</h1>"
    '<p>Für alle reellen Zahlen gilt <span class="katex"><span class="katex-mathml"><math><semantics>'
    '<mrow><mi>e</mi></mrow><annotation encoding="application/x-tex">e^{i\\pi}+1=0</annotation></semantics></math>'
    '</span><span class="katex-html">e i&#960;+1=0</span></span>, die Eulersche Identität, über die man viel liest.</p>'
    f"{_FILLER}</article></body></html>"
)
MATHML = (
    "<html><head><title>Sums</title></head><body><article><h1>Sums of angles</h1>"
    '<p>By linearity <math alttext="\\alpha+\\beta"><mi>α</mi><mo>+</mo><mi>β</mi></math> is a sum of two angles,'
    ' and the formula image <img class="latex" src="https://s0.wp.com/latex.php?latex=x" alt="\\int_0^1 x\\,dx">'
    f" equals one half.</p>{_FILLER}</article></body></html>"
)


def _response(writer: WARCWriter, url: str, body: bytes, content_type: str, payload_type: str | None = None):
    http = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
    warc_headers = {"WARC-Identified-Payload-Type": payload_type} if payload_type else None
    record = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict=warc_headers
    )
    writer.write_record(record)


def write_math_warc(path: Path) -> None:
    """Three math pages (MathJax; KaTeX in ISO-8859-1 declared by HTTP; MathML with a LaTeX image and Common
    Crawl's payload type), a page with no text, a PDF and a request record."""
    with path.open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        _response(writer, "https://math.example/quadratic", MATHJAX.encode(), "text/html; charset=utf-8")
        _response(
            writer, "https://www.uni.example/uebung", KATEX_LATIN1.encode("latin-1"), "text/html; charset=iso-8859-1"
        )
        _response(writer, "https://blog.example/sums", MATHML.encode(), "text/html", "application/xhtml+xml")
        _response(writer, "https://empty.example/", b"<html><body></body></html>", "text/html")
        _response(writer, "https://papers.example/a.pdf", b"%PDF-1.4 not a page", "application/pdf", "application/pdf")
        writer.write_record(
            writer.create_warc_record("https://math.example/quadratic", "request", payload=io.BytesIO(b"GET /"))
        )


@pytest.fixture
def warc_dir(shared_data: Path, tmp_path: Path) -> Path:
    """The two shared Common Crawl WARCs (linked, not copied) and the math WARC, in one folder."""
    folder = tmp_path / "warc"
    folder.mkdir()
    for name in ("resiliparse_warcfile.warc.gz", "whirlwind.warc.gz"):
        (folder / name).symlink_to(shared_data / "web" / "raw" / name)
    write_math_warc(folder / "math.warc.gz")
    return folder


def _run(reader, tmp_path: Path, name: str) -> tuple[dict[str, dict], dict[str, dict]]:
    """Run ``reader -> MathHtmlExtractor -> JsonlWriter`` (2 tasks, one at a time); ``(documents by id, stats)``."""
    out, logs = tmp_path / f"out-{name}", tmp_path / f"logs-{name}"
    LocalPipelineExecutor(
        [reader, MathHtmlExtractor(timeout=60), JsonlWriter(str(out))], tasks=2, workers=1, logging_dir=str(logs)
    ).run()
    docs = {}
    for path in sorted(out.glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            docs.update((d["id"], d) for d in map(json.loads, f))
    steps = json.loads((logs / "stats.json").read_text())
    stats = {s["name"]: {k: v["total"] if isinstance(v, dict) else v for k, v in s["stats"].items()} for s in steps}
    return docs, stats


def _ours(folder: Path) -> dict[str, dict]:
    return {d["id"]: d for path in sorted(folder.glob("*.warc.gz")) for d in iter_warc(path)}


def test_warc_reader_extractor_writer_equals_iter_warc(warc_dir, tmp_path):
    docs, stats = _run(WarcHtmlReader(str(warc_dir), glob_pattern="*.warc.gz"), tmp_path, "ours")
    reader = stats["📖 - READER: 🕷 Warc (trl-dsm: declared charsets)"]
    extractor = stats["🛢 - EXTRAC: trl-dsm math-preserving extraction"]
    # 16 responses in the resiliparse head + 1 in whirlwind + 4 HTML responses in the math file (the PDF skipped)
    assert (reader["input_files"], reader["documents"]) == (3, 21)
    assert (extractor["extracted"], extractor["forwarded"], extractor["dropped"]) == (21, 20, 1)  # the empty page

    ours = _ours(warc_dir)
    assert len(ours) == 20 and set(docs) == set(ours)
    for rid, doc in docs.items():
        meta = doc["metadata"]
        assert doc["text"] == ours[rid]["text"], meta["url"]
        assert (meta["url"], meta["domain"], meta["source"]) == (
            ours[rid]["url"],
            ours[rid]["domain"],
            ours[rid]["source"],
        )
        assert rid.startswith("urn:uuid:") and meta["date"]

    by_url = {d["metadata"]["url"]: d for d in docs.values()}
    quadratic = by_url["https://math.example/quadratic"]["text"]
    assert "$ax^2+bx+c=0$" in quadratic and "$$x=\\frac{-b\\pm\\sqrt{b^2-4ac}}{2a}$$" in quadratic
    assert "x=..." not in quadratic  # the rendered MathJax copy is dropped
    uebung = by_url["https://www.uni.example/uebung"]
    assert "$e^{i\\pi}+1=0$" in uebung["text"] and "über die man" in uebung["text"] and "e iπ" not in uebung["text"]
    assert uebung["metadata"]["domain"] == "uni.example"
    sums = by_url["https://blog.example/sums"]["text"]
    assert "$\\alpha+\\beta$" in sums and "$\\int_0^1 x\\,dx$" in sums
    wiki = by_url["https://an.wikipedia.org/wiki/Escopete"]
    assert "Escopete" in wiki["text"] and wiki["metadata"]["source"] == "warc:whirlwind.warc.gz"
    assert "Geburtsdatum" in by_url["http://06.live-radsport.ch/fahrerstatistik_801/Anthony_Ravard.html"]["text"]


def test_datatrove_stock_warc_reader_differs_only_on_declared_charsets(warc_dir, tmp_path):
    pytest.importorskip("cchardet")  # datatrove's WarcReader needs cchardet and python-magic (libmagic)
    pytest.importorskip("magic")
    from datatrove.pipeline.readers import WarcReader

    docs, stats = _run(WarcReader(str(warc_dir), glob_pattern="*.warc.gz", adapter=warc_adapter), tmp_path, "stock")
    ours = _ours(warc_dir)
    assert stats["🛢 - EXTRAC: trl-dsm math-preserving extraction"]["forwarded"] == 20 and set(docs) == set(ours)
    assert all(d["metadata"]["url"] == ours[rid]["url"] for rid, d in docs.items())
    # the two pages declaring ISO-8859-1 (in their <meta>) that cchardet reads as IBM865; the extracted texts differ
    # on them at most (the main text may leave out the passages that differ)
    ravard_url = "http://06.live-radsport.ch/fahrerstatistik_801/Anthony_Ravard.html"
    petzi_url = "http://06.live-radsport.ch/tippspiel/stats_140_petzi.html"
    differ = sorted(d["metadata"]["url"] for rid, d in docs.items() if d["text"] != ours[rid]["text"])
    assert set(differ) <= {ravard_url, petzi_url}
    stock_html = {d.id: d.text for d in WarcReader(str(warc_dir), glob_pattern="*.warc.gz", adapter=warc_adapter)()}
    our_html = {}
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                page = html_response(record)
                if page is not None:
                    our_html[page["id"]] = page
    decoded_differently = sorted(our_html[i]["url"] for i in stock_html if stock_html[i] != our_html[i]["text"])
    assert decoded_differently == [ravard_url, petzi_url]
    for i in stock_html:
        if our_html[i]["url"] in decoded_differently:
            assert stock_html[i] == our_html[i]["text"].encode("latin-1").decode("cp865")
    ravard = next(page for page in our_html.values() if page["url"] == ravard_url)
    assert "Informationen über" in ravard["text"] and "Informationen ⁿber" in stock_html[ravard["id"]]


def test_two_stage_warc_reading(warc_dir, shared_data, tmp_path):
    """``extraction`` with a model: every page's fast text is scored; pages at or above the recall threshold get
    the math-preserving extraction (the one-stage text), the others keep their fast text; with the prefilter on,
    pages it rejects are skipped. Read through ``load_documents`` (the ingest stage's path)."""
    from warcio.archiveiterator import ArchiveIterator

    from trl_dsm.mining.classifier import FastTextConfig, train_classifier
    from trl_dsm.mining.extraction.fast import fast_text
    from trl_dsm.mining.extraction.prefilter import looks_like_math
    from trl_dsm.mining.readers import load_documents
    from trl_dsm.mining.warc import html_response

    web = [json.loads(line) for line in (shared_data / "web" / "web_docs.jsonl").open()]
    math = [d["text"] for d in web if d["category_hint"] == "math"]
    model = tmp_path / "math.bin"
    config = FastTextConfig(dim=16, bucket=20_000, epoch=5, n_positives=500, n_negatives=500)
    classifier = train_classifier(math * 5, [d["text"] for d in web if d["category_hint"] != "math"], model, config)
    files = sorted(str(p) for p in warc_dir.glob("*.warc.gz"))
    one = {d["id"]: d for f in files for d in iter_warc(f)}
    html = {}
    for f in files:
        with open(f, "rb") as stream:
            for record in ArchiveIterator(stream):
                page = html_response(record)
                if page is not None:
                    html[page["id"]] = page["text"]
    fast = {i: fast_text(h) for i, h in html.items()}
    scores = dict(zip(fast, classifier.predict_proba([t for _, t in fast.values()])))
    threshold = float(np.median(list(scores.values())))

    def read(two_stage: dict) -> dict[str, dict]:
        spec = {"type": "warc", "paths": files}
        return {d["id"]: d for d in load_documents(spec, cache_dir=tmp_path / "cache", two_stage=two_stage)}

    assert read({"model": str(model), "recall_threshold": 0.0}) == one  # every page reaches stage two
    mixed = read({"model": str(model), "recall_threshold": threshold})
    stage_two = {i for i in mixed if scores[i] >= threshold}
    assert 0 < len(stage_two) < len(mixed)
    for i, doc in mixed.items():
        want = (one[i]["title"], one[i]["text"]) if i in stage_two else fast[i]
        assert (doc["title"], doc["text"]) == want
    filtered = read({"model": str(model), "recall_threshold": threshold, "prefilter": True})
    assert set(filtered) == {i for i in mixed if looks_like_math(html[i])} and len(filtered) < len(mixed)
    assert all(filtered[i] == mixed[i] for i in filtered)


def _hostile_warc(tmp_path: Path) -> Path:
    """A folder with one WARC: a MathJax page, a hostile page (100,000 nested elements), a MathML page."""
    hostile = "<html><body>" + "<div>" * 100_000 + "x" + "</div>" * 100_000 + "</body></html>"
    folder = tmp_path / "hostile"
    folder.mkdir()
    with (folder / "hostile.warc.gz").open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        _response(writer, "https://math.example/quadratic", MATHJAX.encode(), "text/html; charset=utf-8")
        _response(writer, "https://bad.example/deep", hostile.encode(), "text/html")
        _response(writer, "https://blog.example/sums", MATHML.encode(), "text/html")
    return folder


def test_ingest_records_the_pages_past_the_extraction_bound(tmp_path):
    """The mining run's ``ingest`` reads WARC files through a ``datasets`` builder: the skipped page is counted in
    ``raw/part-U.json``, in the stage's datatrove stats and in the export's stats; a part read again from the
    builder's cache (an interrupted attempt) records the count as unknown rather than 0."""
    from trl_dsm.mining.config import MiningConfig
    from trl_dsm.mining.export import _extraction_timeouts
    from trl_dsm.mining.pipeline import MiningPipeline

    folder = _hostile_warc(tmp_path)
    run = tmp_path / "run"
    config = MiningConfig.from_dict(
        {"output_dir": str(run), "inputs": [{"type": "warc", "paths": [str(folder / "*.warc.gz")]}]}
    )
    pipeline = MiningPipeline(config, seed_texts=["x^2"])
    pipeline._ingest()
    assert json.loads((run / "raw" / "part-00000.json").read_text()) == {"extraction_timeout": 1, "pages_read": 3}
    [stats_file] = (run / "datatrove").glob("ingest-*/stats.json")
    [ingest] = [s["stats"] for s in json.loads(stats_file.read_text()) if "ingest" in s["name"]]
    assert ingest["extraction_timeout"] == 1 and ingest["input"] == 1
    assert pq.ParquetFile(run / "raw" / "part-00000.parquet").metadata.num_rows == 2
    assert _extraction_timeouts(pipeline.run_dir) == 1

    (run / "raw" / "part-00000.parquet").unlink()  # killed after the builder wrote its cache
    MiningPipeline(config, seed_texts=["x^2"])._ingest()
    assert json.loads((run / "raw" / "part-00000.json").read_text()) == {"extraction_timeout": None, "pages_read": 0}
    assert _extraction_timeouts(pipeline.run_dir) is None


def test_pages_past_the_extraction_bound_are_counted_and_the_reading_goes_on(tmp_path, caplog):
    """A hostile page (100,000 nested elements: ``ExtractionTimeout`` before parsing) between two math pages:
    ``iter_warc`` skips it, logs it and counts it in ``stats``; the datatrove step counts it as ``timeout``."""
    import logging
    from collections import Counter

    from trl_dsm.mining.warc import TIMEOUT_STAT

    folder = _hostile_warc(tmp_path)
    stats = Counter()
    with caplog.at_level(logging.WARNING, logger="trl_dsm.mining.warc"):
        docs = list(iter_warc(folder / "hostile.warc.gz", stats=stats))
    assert [d["url"] for d in docs] == ["https://math.example/quadratic", "https://blog.example/sums"]
    assert stats == Counter({TIMEOUT_STAT: 1})
    assert "https://bad.example/deep" in caplog.text and "nests 100000 elements deep" in caplog.text
    assert list(iter_warc(folder / "hostile.warc.gz")) == docs  # without a counter: the same pages

    _, step_stats = _run(WarcHtmlReader(str(folder), glob_pattern="*.warc.gz"), tmp_path, "hostile")
    extractor = step_stats["🛢 - EXTRAC: trl-dsm math-preserving extraction"]
    assert (extractor["extracted"], extractor["timeout"], extractor["forwarded"]) == (2, 1, 2)


def test_math_html_extractor_defaults_above_the_cpu_bound():
    from trl_dsm.mining.extraction.bound import CPU_LIMIT_S

    assert MathHtmlExtractor().timeout >= 2.0 > CPU_LIMIT_S


def test_two_stage_step_drops_a_page_past_the_extraction_bound_and_goes_on(tmp_path):
    """The two-stage datatrove step on the hostile WARC with every page sent to stage two (recall threshold 0):
    the hostile page is dropped as ``timeout``, the two math pages get the one-stage text."""
    from trl_dsm.mining.classifier import FastTextConfig, train_classifier
    from trl_dsm.mining.steps import TwoStageMathExtractor

    folder = _hostile_warc(tmp_path)
    model = tmp_path / "math.bin"
    texts = ["solve x^2 + 1 = 0 for x", "the integral of sin x", "cats and dogs", "the weather today"] * 10
    train_classifier(texts[:2] * 10, texts[2:] * 10, model, FastTextConfig(dim=8, bucket=1000, min_count=1))
    out, logs = tmp_path / "out", tmp_path / "logs"
    LocalPipelineExecutor(
        [
            WarcHtmlReader(str(folder), glob_pattern="*.warc.gz"),
            TwoStageMathExtractor(str(model), recall_threshold=0.0),
            JsonlWriter(str(out)),
        ],
        tasks=1,
        workers=1,
        logging_dir=str(logs),
    ).run()
    with gzip.open(next(out.glob("*.jsonl.gz")), "rt") as f:
        docs = {d["metadata"]["url"]: d["text"] for d in map(json.loads, f)}
    one = {d["url"]: d["text"] for d in iter_warc(folder / "hostile.warc.gz")}
    assert docs == one and len(docs) == 2
    steps = json.loads((logs / "stats.json").read_text())
    [two] = [s["stats"] for s in steps if "two-stage" in s["name"]]
    assert two["dropped_timeout"] == 1 and two["stage_two"] == 2
