# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Two-stage extraction inside one mining run (§2.1 at Common Crawl scale, ``extraction.in_run``): ingest keeps the
fast text and each page's WARC record offset, iteration 1's classifier picks the pages of stage two, ``refine``
reads them again by offset and gives them the math-preserving extraction; later stages read the refined shards."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.extraction.fast import fast_text
from trl_dsm.mining.extraction.prefilter import looks_like_math
from trl_dsm.mining.html_text import html_to_text
from trl_dsm.mining.warc import html_response, iter_warc, read_warc_pages


def _labelled_pages(shared_data: Path) -> list[tuple[str, bytes]]:
    """``(url, HTML)`` of the extract_dev pages (23 math, 40 others), each under its own URL."""
    pages = []
    for kind in ("math", "nonmath"):
        for f in sorted((shared_data / "extract_dev" / kind).glob("*.html")):
            pages.append((f"https://{kind}.example/{f.stem}", f.read_bytes()))
    return pages


def write_warc(path: Path, pages: list[tuple[str, bytes]], compression: str = "record") -> None:
    """``pages`` as WARC responses: gzipped record by record (``record``, Common Crawl's layout), not at all
    (``none``), or the whole file as one gzip member (``whole``: its offsets cannot be seeked)."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=compression == "record")
    for url, body in pages:
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    data = buffer.getvalue()
    path.write_bytes(gzip.compress(data) if compression == "whole" else data)


def _html_by_id(path: Path) -> dict[str, bytes]:
    with path.open("rb") as f:
        pages = [html_response(record) for record in ArchiveIterator(f)]
    return {p["id"]: p["text"] for p in pages if p is not None}


@pytest.mark.parametrize("compression", ["record", "none"])
def test_pages_read_again_by_record_offset(shared_data, tmp_path, compression):
    """``iter_warc`` with ``in_run`` records each page's offset; ``read_warc_pages`` reads back exactly the pages
    asked for by seeking, in a file gzipped per record (Common Crawl's layout) or not gzipped; a file rewritten
    since is read through once, and a page no longer in it is an error naming the file."""
    path = tmp_path / ("pages.warc.gz" if compression != "none" else "pages.warc")
    write_warc(path, _labelled_pages(shared_data)[:12], compression)
    docs = list(iter_warc(path, two_stage={"in_run": True}))
    assert len({d["warc_offset"] for d in docs}) == len(docs) >= 10  # (a page without fast text is skipped)
    html = _html_by_id(path)
    wanted = {d["warc_offset"]: d["id"] for d in docs[1::3]}
    pages = read_warc_pages(path, wanted)
    assert {rid: page["text"] for rid, page in pages.items()} == {rid: html[rid] for rid in wanted.values()}
    assert [pages[d["id"]]["url"] for d in docs[1::3]] == [d["url"] for d in docs[1::3]]

    data = path.read_bytes()  # the same records in reverse order: offsets no longer point at them
    with path.open("rb") as f:
        reader = ArchiveIterator(f)
        starts = [reader.get_record_offset() for _ in reader] + [len(data)]
    path.write_bytes(b"".join(data[a:b] for a, b in reversed(list(zip(starts[:-1], starts[1:])))))
    moved = {d["warc_offset"]: d["id"] for d in docs[1:5]}
    again = read_warc_pages(path, moved)
    assert {rid: page["text"] for rid, page in again.items()} == {rid: html[rid] for rid in moved.values()}

    path.write_bytes(data[: starts[2]])  # truncated: the later records are gone
    with pytest.raises(ValueError, match=rf"{path.name}: record .* is missing from the file"):
        read_warc_pages(path, {d["warc_offset"]: d["id"] for d in docs[-2:]})


def test_a_warc_gzipped_as_a_whole_is_one_error_naming_it(shared_data, tmp_path):
    path = tmp_path / "whole.warc.gz"
    write_warc(path, _labelled_pages(shared_data)[:3], "whole")
    with pytest.raises(ValueError, match=rf"^{path}: ERROR: non-chunked gzip file detected.*warcio recompress"):
        list(iter_warc(path, two_stage={"in_run": True}))


def test_in_run_reading_is_stage_one(shared_data, tmp_path):
    """With ``in_run`` every page keeps its fast text (stage one), but a page without fast text (nothing to score)
    gets the one-stage text; with the prefilter on, the pages it rejects are skipped."""
    path = tmp_path / "pages.warc.gz"
    write_warc(path, _labelled_pages(shared_data))
    html = _html_by_id(path)
    docs = {d["id"]: d for d in iter_warc(path, two_stage={"in_run": True})}
    no_fast_text = {i for i in html if not fast_text(html[i])[1].strip()}
    assert no_fast_text and set(docs) == set(html)  # (the extract_dev pages all have one-stage text)
    for i, doc in docs.items():
        assert (doc["title"], doc["text"]) == (html_to_text(html[i]) if i in no_fast_text else fast_text(html[i]))
    filtered = {d["id"]: d for d in iter_warc(path, two_stage={"in_run": True, "prefilter": True})}
    assert set(filtered) == {i for i in docs if looks_like_math(html[i])} and 0 < len(filtered) < len(docs)


def _web_pages(shared_data: Path) -> list[tuple[str, bytes]]:
    """The shared web pages (text) as HTML paragraphs: the bulk of a small crawl."""
    import html

    pages = []
    for line in (shared_data / "web" / "web_docs.jsonl").open():
        doc = json.loads(line)
        body = "".join(f"<p>{html.escape(par)}</p>" for par in doc["text"].split("\n"))
        pages.append((doc["url"], f"<html><head><title>page</title></head><body>{body}</body></html>".encode()))
    return pages


def _stage_one(page: bytes) -> tuple[str, str]:
    """What ``ingest`` keeps of a page with ``in_run``: its fast text, or the one-stage text without one."""
    title, text = fast_text(page)
    return (title, text) if text.strip() else html_to_text(page)


def _in_run_config(shared_data: Path, tmp_path: Path, **extraction) -> dict:
    folder = tmp_path / "warc"
    folder.mkdir(exist_ok=True)
    pages = _labelled_pages(shared_data) + _web_pages(shared_data)
    write_warc(folder / "a.warc.gz", pages[::2])
    write_warc(folder / "b.warc", pages[1::2], "none")
    return {
        "output_dir": str(tmp_path / "run"),
        "inputs": [{"type": "warc", "paths": [str(folder / "a.warc.gz"), str(folder / "b.warc")]}],
        "seeds": [
            {
                "type": "jsonl",
                "paths": [str(shared_data / "benchmarks" / "math" / "train.jsonl")],
                "fields": ["problem", "solution"],
                "limit": 300,
            }
        ],
        "num_shards": 3,
        "iterations": 1,
        "batch_size": 50,
        "classifier": {"bucket": 20_000, "epoch": 10, "n_positives": 300, "n_negatives": 300},
        "selection": {"threshold": 0.55},
        "extraction": {"in_run": True, "recall_threshold": 0.5, **extraction},
    }


def test_in_run_two_stage_mining_run(shared_data, tmp_path):
    """A whole run on the extract_dev and shared web pages as two WARC files: the pages whose fast text iteration
    1's classifier scores >= the recall threshold get exactly the one-stage text (and title), read again from their
    records; the others keep their fast text; token counts follow the refined text; ``score`` reuses the fast-text
    scores of the pages left alone and scores the refined ones on their new text; the selection's texts are the
    refined ones."""
    from trl_dsm.mining.classifier import FastTextClassifier
    from trl_dsm.mining.pipeline import MiningPipeline
    from trl_dsm.mining.rundir import RunDir

    config = MiningConfig.from_dict(_in_run_config(shared_data, tmp_path))
    result = MiningPipeline(config).run()
    run = RunDir(config.output_dir)
    html = {**_html_by_id(tmp_path / "warc" / "a.warc.gz"), **_html_by_id(tmp_path / "warc" / "b.warc")}
    classifier = FastTextClassifier(run.model(1))
    refined_total, selected_texts = 0, {}
    for shard in range(config.num_shards):
        docs = pq.read_table(run.doc_shard(shard)).to_pylist()
        refined = pq.read_table(run.refined(shard)).to_pylist()
        meta = np.load(run.refined_meta(shard))
        keep = np.load(run.keep(shard))
        assert len(refined) == len(docs) == len(keep) and [d["id"] for d in refined] == [d["id"] for d in docs]
        assert all((d["title"], d["text"]) == _stage_one(html[d["id"]]) for d in docs)
        fast_scores = classifier.predict_proba([d["text"] for d in docs])
        np.testing.assert_allclose(meta["fast_scores"][keep], fast_scores[keep], rtol=1e-6)
        assert np.isnan(meta["fast_scores"][~keep]).all()
        np.testing.assert_array_equal(meta["stage_two"], keep & (fast_scores >= 0.5))
        for row, (doc, new) in enumerate(zip(docs, refined)):
            want = html_to_text(html[doc["id"]]) if meta["stage_two"][row] else (doc["title"], doc["text"])
            assert (new["title"], new["text"]) == want
        assert meta["tokens"].tolist() == [len(d["text"].split()) for d in refined]
        scores = np.load(run.scores(1, shard))
        rescored = classifier.predict_proba([d["text"] for d in refined])
        want = np.where(meta["stage_two"], rescored, fast_scores)
        np.testing.assert_allclose(scores[keep], want[keep], rtol=1e-6)
        selected = np.load(run.selected(1, shard))
        selected_texts.update((refined[r]["id"], refined[r]["text"]) for r in np.flatnonzero(selected))
        refined_total += int(meta["stage_two"].sum())
    summary = result.stats["two_stage_in_run"]
    assert 0 < summary["stage_two"] == refined_total < summary["kept"] == result.stats["dedup"]["kept"]
    assert summary["extraction_timeout"] == summary["stage_two_too_short"] == 0
    assert summary["stage_two_share"] == pytest.approx(refined_total / summary["kept"])
    out = {row["id"]: row["text"] for row in result.dataset}
    assert out == selected_texts and len(out) > 5
    assert all(text == html_to_text(html[i])[1] for i, text in out.items())  # selected pages all reached stage two


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"extraction": {"in_run": True, "model": "m.bin"}}, "set model .* or in_run, not both"),
        ({"extraction": {"prefilter": True}}, "extraction.prefilter is part of two-stage extraction"),
        (
            {"extraction": {"in_run": True}, "inputs": [{"type": "jsonl", "paths": ["x.jsonl"]}]},
            "extraction.in_run refines pages read from WARC files: no input has type 'warc'",
        ),
    ],
)
def test_two_stage_settings_that_cannot_be_honoured(changes, message):
    with pytest.raises(ValueError, match=message):
        MiningConfig.from_dict(changes)
