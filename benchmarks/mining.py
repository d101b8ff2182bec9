# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Corpus-mining throughput and quality, side by side in one process.

    python benchmarks/mining.py [--data ../shared/data] [--repeat 3]

1. fastText scoring: trl-dsm's ``datasets.map`` step (:func:`score_dataset`: normalization, predict, Arrow
   columns) vs raw ``model.predict`` on the same pages already normalized (the strictest baseline), interleaved
   ``--repeat`` times; target >= 0.85x.
2. MinHash signatures of 500-word documents: trl-dsm's numba kernel vs datasketch's per-shingle ``update`` loop
   (and ``update_batch``), on one core, with bit-identical signatures checked and Jaccard estimates compared;
   target >= 4,000 docs/s per core.
3. Text normalization: the numba kernel (:func:`normalize_text`) vs its ``str.translate`` specification
   (``tests/reference_mining.py``), outputs checked equal.
4. precision@k of the classifier for the 22 math pages among the 523 shared web pages: positives are MATH and
   GSM8K training solutions, negatives the pages of the other domain fold (2-fold by domain, so no page is scored
   by a model that saw it); paper settings (dim 256, lr 0.1, word n-grams 3, min count 3, 3 epochs).
5. Two-stage extraction (``--only two_stage`` runs it alone): math pages selected with the raw-HTML prefilter and
   the fast plain text scored first, and the math-preserving extraction only above a recall threshold, against
   the math-preserving extraction of every page; CPU per page of each stage on real pages (extract_dev and the
   shared Common Crawl WARC pages), and the prefilter's pass rate (also on the shared web pages, text only, as
   HTML paragraphs).
6. Two-stage extraction inside one run (``--only two_stage_in_run``): whole ``trl-dsm mine`` runs on one WARC of
   the labelled pages, one stage against ``extraction.in_run`` (the run's own iteration-1 classifier picks the
   pages of stage two) at several recall thresholds: math pages selected, stage-two share, ingest + refine time.
"""

from __future__ import annotations

import argparse
import gzip
import html
import io
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from datasketch import MinHash

from trl_dsm.mining.classifier import (
    FastTextClassifier,
    FastTextConfig,
    normalize_text,
    precision_at_k,
    score_dataset,
    train_classifier,
)
from trl_dsm.mining.minhash import minhash_signatures, shingles


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the reference normalization (the baseline)
from tests.reference_mining import normalize_text_reference  # noqa: E402


def load(data: Path):
    docs = [json.loads(line) for line in (data / "web" / "web_docs.jsonl").open()]
    positives = []
    for line in (data / "benchmarks" / "math" / "train.jsonl").open():
        row = json.loads(line)
        positives.append(row["problem"] + "\n" + row["solution"])
    for line in (data / "benchmarks" / "gsm8k" / "train.jsonl").open():
        row = json.loads(line)
        positives.append(row["question"] + "\n" + row["answer"])
    return docs, positives


def bench_scoring(classifier: FastTextClassifier, texts: list[str], repeat: int) -> None:
    import datasets

    datasets.disable_progress_bars()
    model = classifier.model
    lines = [normalize_text(t) for t in texts]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    raw, ours = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        model.predict(lines, k=1)
        raw.append(time.perf_counter() - start)
        dataset = datasets.Dataset.from_dict({"text": texts})
        start = time.perf_counter()
        scored = score_dataset(dataset, classifier, batch_size=1000)
        ours.append(time.perf_counter() - start)
    expected = classifier.predict_proba(texts)
    same = np.allclose(np.asarray(scored["math_score"]), expected, rtol=1e-6)
    r, o = statistics.median(raw), statistics.median(ours)
    print(f"\n== fastText scoring: {len(texts)} pages, {mb:.1f} MB, dim {model.get_dimension()}, median of {repeat}")
    print(f"{'':34}{'pages/s':>10}{'MB/s':>8}")
    print(f"{'raw fastText predict (normalized)':34}{len(texts) / r:>10.0f}{mb / r:>8.1f}")
    print(f"{'trl-dsm datasets.map step':34}{len(texts) / o:>10.0f}{mb / o:>8.1f}")
    print(f"ratio trl-dsm / raw: {r / o:.3f}x (target >= 0.85x); scores equal to predict_proba: {same}")
    print("  per run raw s:", " ".join(f"{x:.3f}" for x in raw), "| ours s:", " ".join(f"{x:.3f}" for x in ours))


def bench_normalization(texts: list[str], repeat: int) -> None:
    normalize_text(texts[0])  # numba compile (cached on disk after the first run)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    fast, slow = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        ours = [normalize_text(t) for t in texts]
        fast.append(time.perf_counter() - start)
        start = time.perf_counter()
        reference = [normalize_text_reference(t) for t in texts]
        slow.append(time.perf_counter() - start)
    f, r = statistics.median(fast), statistics.median(slow)
    print(f"\n== text normalization: {len(texts)} pages, {mb:.1f} MB, median of {repeat}")
    print(
        f"numba kernel {mb / f:.1f} MB/s | str.translate {mb / r:.1f} MB/s | ratio {r / f:.2f}x | equal: {ours == reference}"
    )


def bench_minhash(vocabulary: list[str], n_docs: int, n_reference: int, repeat: int) -> None:
    rng = random.Random(0)
    docs = [" ".join(rng.choices(vocabulary, k=500)) for _ in range(n_docs)]
    minhash_signatures(docs[:2])  # compile
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        sigs = minhash_signatures(docs, num_perm=128, seed=1, ngram=5)
        times.append(time.perf_counter() - start)
    ours = n_docs / statistics.median(times)
    start = time.perf_counter()
    reference = []
    for doc in docs[:n_reference]:
        m = MinHash(num_perm=128, seed=1)
        for shingle in shingles(doc, 5):
            m.update(shingle)
        reference.append(m)
    loop = n_reference / (time.perf_counter() - start)
    start = time.perf_counter()
    for doc in docs[:n_reference]:
        MinHash(num_perm=128, seed=1).update_batch(shingles(doc, 5))
    batch = n_reference / (time.perf_counter() - start)
    identical = all(np.array_equal(m.hashvalues, sigs[i]) for i, m in enumerate(reference))
    # Jaccard estimates on near-duplicate pairs (a doc and a copy with 10% of its words replaced)
    pairs_equal = True
    for i in range(20):
        words = docs[i].split()
        for j in rng.sample(range(500), 50):
            words[j] = rng.choice(vocabulary)
        pair = minhash_signatures([docs[i], " ".join(words)])
        m2 = MinHash(num_perm=128, seed=1)
        m2.update_batch(shingles(" ".join(words), 5))
        ours_j = float(np.count_nonzero(pair[0] == pair[1])) / 128
        pairs_equal &= ours_j == reference[i].jaccard(m2)
    print("\n== MinHash signatures: 500-word documents, 5-word shingles, 128 permutations, one core (numba threads 1)")
    print(f"{'':40}{'docs/s':>10}")
    print(
        f"{'trl-dsm numba kernel':40}{ours:>10.0f}   (target >= 4000; runs: "
        + " ".join(f"{n_docs / t:.0f}" for t in times)
        + ")"
    )
    print(f"{'datasketch per-shingle update loop':40}{loop:>10.0f}")
    print(f"{'datasketch update_batch':40}{batch:>10.0f}")
    print(
        f"speedup vs update loop: {ours / loop:.1f}x; signatures bit-identical on {n_reference} docs: {identical}; "
        f"Jaccard estimates equal on 20 near-duplicate pairs: {pairs_equal}"
    )


def bench_precision(docs: list[dict], positives: list[str]) -> None:
    texts = [d["text"] for d in docs]
    is_math = np.array([d["category_hint"] == "math" for d in docs])
    fold = np.array([zlib.crc32(d["domain"].encode()) % 2 for d in docs])
    config = FastTextConfig(bucket=2_000_000, n_positives=len(positives), n_negatives=len(docs))
    scores = np.zeros(len(docs))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for f in (0, 1):
            clf = train_classifier(
                positives, [texts[i] for i in np.flatnonzero(fold == f)], Path(tmp) / f"{f}.bin", config
            )
            held_out = np.flatnonzero(fold != f)
            scores[held_out] = clf.predict_proba([texts[i] for i in held_out])
    order = np.argsort(-scores, kind="stable")
    print(
        f"\n== classifier quality: {int(is_math.sum())} math pages among {len(docs)} shared web pages "
        f"({len(positives)} MATH+GSM8K positives, paper fastText settings, 2-fold by domain, "
        f"{time.perf_counter() - start:.0f} s)"
    )
    for k in (5, 10, 22, 30):
        print(f"precision@{k}: {precision_at_k(scores, is_math, k):.3f}")
    ranks = np.empty(len(docs), dtype=int)
    ranks[order] = np.arange(1, len(docs) + 1)
    print("ranks of the math pages:", sorted(ranks[is_math].tolist()))
    print("non-math pages in the top 22:", [docs[i]["url"][:70] for i in order[:22] if not is_math[i]])


def as_html(text: str, title: str = "page", article: bool = False) -> bytes:
    """A text page as HTML: its lines as paragraphs (in an ``<article>`` when ``article``), UTF-8."""
    body = "".join(f"<p>{html.escape(par)}</p>" for par in text.split("\n"))
    body = f"<article>{body}</article>" if article else body
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


def labelled_html(data: Path, crawl_pages: int) -> list[tuple[str, str, bytes, bool | None]]:
    """``(set, name, HTML bytes, is_math)`` of the labelled pages: extract_dev's math and non-math pages, the HTML
    responses of the shared WARC files (Common Crawl pages, unlabelled: ``None``), and ``crawl_pages`` pages of
    benchmarks/mining_scale.py's generated crawl wrapped in HTML (its MATH solutions are the math pages)."""

    from warcio.archiveiterator import ArchiveIterator

    pages = []
    for kind in ("math", "nonmath"):
        for f in sorted((data / "extract_dev" / kind).glob("*.html")):
            pages.append(("extract_dev", f.stem, f.read_bytes(), kind == "math"))
    for path in sorted((data / "web" / "raw").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                if "html" not in (record.http_headers.get_header("Content-Type") or "").lower():
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI")
                pages.append(("common_crawl", uri, record.content_stream().read(), None))
    if crawl_pages:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from mining_scale import make_crawl

        with tempfile.TemporaryDirectory() as tmp:
            make_crawl(crawl_pages, data, Path(tmp), seed=1)
            rows = []
            for f in sorted(Path(tmp).glob("*.jsonl.gz")):
                with gzip.open(f, "rt") as lines:
                    rows += [json.loads(line) for line in lines]
        for i, row in enumerate(rows[crawl_pages // 10 :]):  # the generated pages (the first tenth: shared pages)
            page = as_html(row["text"], f"page {i}", article=True)
            pages.append(("generated", row["url"], page, row["url"].startswith("https://math")))
    return pages


def bench_two_stage(data: Path, docs: list[dict], positives: list[str], repeat: int, crawl_pages: int) -> None:
    """Two-stage extraction (§2.1 at Common Crawl scale) against one stage, on labelled HTML pages.

    One stage: every page through the math-preserving extraction (``html_to_text``), scored, selected at
    ``score >= cut``. Two stages: the raw-HTML prefilter (optional), the fast plain text (``fast_text``) scored
    for every page, the math-preserving extraction only for pages scoring ``>= recall`` on the fast text, selected
    at ``score >= cut`` on that text. The classifier: MATH+GSM8K solutions vs the shared web pages that are not
    among the labelled HTML pages (paper fastText settings); recall thresholds 0.25-0.9 of the cut. CPU seconds per page of each stage by
    ``time.process_time`` (median of ``repeat`` passes) on the extract_dev and Common Crawl pages."""
    from trl_dsm.mining.extraction.fast import fast_text
    from trl_dsm.mining.extraction.prefilter import looks_like_math
    from trl_dsm.mining.html_text import html_to_text

    pages = labelled_html(data, crawl_pages)
    # negatives: the shared web pages that are not labelled HTML pages here (every known math page is one of them)
    labelled_urls = {json.loads(f.read_text())["url"] for f in (data / "extract_dev").glob("*/*.json")}
    negatives = [d["text"] for d in docs if d["url"] not in labelled_urls]
    config = FastTextConfig(bucket=2_000_000, n_positives=len(positives), n_negatives=len(negatives))
    tmp = tempfile.TemporaryDirectory()  # the model is loaded on first use: keep its file until the end
    clf = train_classifier(positives, negatives, Path(tmp.name) / "model.bin", config)
    real = [p for p in pages if p[0] != "generated"]

    def cpu(fn, items) -> float:
        runs = []
        for _ in range(repeat):
            start = time.process_time()
            for item in items:
                fn(item)
            runs.append(time.process_time() - start)
        return statistics.median(runs) / len(items)

    for subset in ("extract_dev", "common_crawl"):
        htmls = [p[2] for p in real if p[0] == subset]
        fast_texts = [fast_text(h)[1] for h in htmls]
        per_page = {
            "prefilter (looks_like_math)": cpu(looks_like_math, htmls),
            "stage 1: fast_text": cpu(fast_text, htmls),
            "stage 1: classifier on fast text": cpu(lambda t: clf.predict_proba([t]), fast_texts),
            "stage 2: html_to_text": cpu(html_to_text, htmls),
        }
        kb = sum(len(h) for h in htmls) / len(htmls) / 1e3
        print(
            f"\n== two-stage extraction: {subset}, {len(htmls)} HTML pages ({kb:.0f} KB average), CPU per page "
            f"(median of {repeat})"
        )
        for name, seconds in per_page.items():
            print(f"{name:36s} {seconds * 1e3:9.3f} ms  {1 / seconds:10.1f} pages/s")

    fast = {p[1]: fast_text(p[2])[1] for p in pages}
    full = {p[1]: html_to_text(p[2])[1] for p in pages}
    passes = {p[1]: looks_like_math(p[2]) for p in pages}
    names = [p[1] for p in pages]
    fast_score = dict(zip(names, clf.predict_proba([fast[n] for n in names])))
    full_score = dict(zip(names, clf.predict_proba([full[n] for n in names])))
    for subset in ("extract_dev", "common_crawl", "generated"):
        group = [p for p in pages if p[0] == subset]
        if not group:
            continue
        labelled = [p for p in group if p[3] is not None]
        math = sum(bool(p[3]) for p in group)
        rate = sum(passes[p[1]] for p in group) / len(group)
        print(f"-- {subset}: {len(group)} pages, {math} math; prefilter passes {rate:.3f}")
        for cut in (0.5, 0.8):
            one = {p[1] for p in group if full_score[p[1]] >= cut}
            math_one = sum(bool(p[3]) for p in group if p[1] in one)
            for prefilter in (False, True):
                for recall in [round(cut * f, 3) for f in (0.25, 0.5, 0.75, 0.9)]:
                    second = [
                        p
                        for p in group
                        if (passes[p[1]] or not prefilter) and (fast_score[p[1]] >= recall or not fast[p[1]].strip())
                    ]
                    two = {p[1] for p in second if full_score[p[1]] >= cut}
                    math_two = sum(bool(p[3]) for p in group if p[1] in two)
                    share = math_two / math_one if math_one else float("nan")
                    print(
                        f"cut {cut} prefilter {'on ' if prefilter else 'off'} recall {recall:4.2f}: stage 2 on "
                        f"{len(second) / len(group):.3f} of pages; selected {len(two)} (one stage {len(one)}); "
                        f"math selected {math_two} vs {math_one}: {share:.3f}" + ("" if labelled else " (unlabelled)")
                    )
    # the shared web pages (text only) as HTML paragraphs: the prefilter's pass rates on their known math pages
    # (category_hint "math") and on the others
    passed = {True: [], False: []}
    for doc in docs:
        page = as_html(doc["text"])
        passed[doc["category_hint"] == "math"].append(looks_like_math(page))
    print(
        f"-- web_docs.jsonl as HTML paragraphs: prefilter passes {sum(passed[True])}/{len(passed[True])} math pages, "
        f"{sum(passed[False])}/{len(passed[False])} other pages"
    )


def bench_two_stage_in_run(
    data: Path, docs: list[dict], positives: list[str], crawl_pages: int, epochs: int = 10
) -> None:
    """Two-stage extraction inside one ``trl-dsm mine`` run (``extraction.in_run``), end to end.

    One WARC file (gzipped record by record) holds the labelled pages of :func:`labelled_html` and the shared web
    pages as HTML paragraphs (their 22 known math pages labelled). Each setting is a whole run (one iteration, one
    worker, MATH+GSM8K solutions as seeds, 2,000 each of positives and negatives drawn by the run itself, the
    paper's fastText settings but ``epochs`` epochs and 200k buckets). The classifier of an ``in_run`` run is
    trained before stage two, on the fast text, so it is the same at every recall threshold: recall 0 (every kept
    page reaches stage two) is the one-stage selection with that classifier, the reference each threshold's math
    pages selected (``score >= cut``, the run's iteration-1 scores) are counted against, prefilter off and on
    (against recall 0 with the prefilter). Also printed: the share of kept pages that reached stage two, the wall
    seconds of ingest and refine, and a one-stage run (its classifier trained on math-preserving text) against
    ``in_run`` at recall 0."""
    import pyarrow.parquet as pq
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from trl_dsm.mining.config import MiningConfig
    from trl_dsm.mining.pipeline import MiningPipeline
    from trl_dsm.mining.rundir import RunDir

    pages = [
        (f"https://{s}.example/{n}" if s == "extract_dev" else n, h, m, s)
        for s, n, h, m in labelled_html(data, crawl_pages)
    ]
    for doc in docs:
        page = as_html(doc["text"])
        pages.append((doc["url"], page, doc["category_hint"] == "math", "web_docs"))
    label = {url: (subset, is_math) for url, _, is_math, subset in pages}
    tmp = Path(tempfile.mkdtemp(prefix="two-stage-in-run-"))
    with (tmp / "crawl.warc.gz").open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        seen = set()
        for url, body, _, _ in pages:
            if url in seen:
                continue
            seen.add(url)
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
            )
    with (tmp / "seeds.jsonl").open("w") as f:
        f.writelines(json.dumps({"text": t}) + "\n" for t in positives)

    def run(name: str, extraction: dict) -> tuple[dict[str, float], dict]:
        config = MiningConfig.from_dict(
            {
                "output_dir": str(tmp / name),
                "inputs": [{"type": "warc", "paths": [str(tmp / "crawl.warc.gz")]}],
                "seeds": [{"type": "jsonl", "paths": [str(tmp / "seeds.jsonl")]}],
                "num_shards": 4,
                "iterations": 1,
                "classifier": {"bucket": 200_000, "epoch": epochs, "n_positives": 2000, "n_negatives": 2000},
                "selection": {"threshold": 0.5},
                "extraction": extraction,
                "executor": {"kind": "local", "workers": 1},
            }
        )
        stats = MiningPipeline(config).run().stats
        rd, scores = RunDir(config.output_dir), {}
        for shard in range(config.num_shards):
            urls = pq.read_table(rd.doc_shard(shard), columns=["url"]).column("url").to_pylist()
            scores.update(zip(urls, np.load(rd.scores(1, shard)).tolist()))
        return scores, stats

    def math_selected(scores: dict[str, float], cut: float, subset: str) -> set[str]:
        return {u for u, v in scores.items() if v >= cut and label[u] == (subset, True)}

    subsets = ("extract_dev", "generated", "web_docs")

    def compare(scores: dict[str, float], base: dict[str, float], cut: float) -> str:
        parts, got, want = [], 0, 0
        for subset in subsets:
            a, b = math_selected(base, cut, subset), math_selected(scores, cut, subset)
            got, want = got + len(a & b), want + len(a)
            parts.append(f"{subset} {len(a & b)}/{len(a)}")
        missed = sorted(
            u
            for subset in subsets
            for u in math_selected(base, cut, subset) - set(u for u in math_selected(scores, cut, subset))
        )
        text = f"cut {cut}: {got}/{want} = {got / want if want else float('nan'):.3f} ({', '.join(parts)})"
        return text + (f"; missed {', '.join(missed)}" if missed else "")

    one, one_stats = run("one", {})
    reference = {}
    print(
        f"\n== two-stage extraction in one run: {len(one)} pages in the WARC; math pages selected by each setting "
        "among those its reference selects (recall 0: every kept page reaches stage two, same classifier)"
    )
    for prefilter in (False, True):
        for recall in (0.0, 0.05, 0.1, 0.15, 0.25, 0.4) if not prefilter else (0.0, 0.1):
            scores, stats = run(
                f"r{recall}-p{int(prefilter)}", {"in_run": True, "recall_threshold": recall, "prefilter": prefilter}
            )
            if recall == 0.0:
                reference[prefilter] = scores
            summary, seconds = stats["two_stage_in_run"], stats["seconds"]
            print(
                f"recall {recall:.2f} prefilter {'on ' if prefilter else 'off'}: stage two on "
                f"{summary['stage_two_share']:.3f} of {summary['kept']} kept pages; ingest {seconds['ingest']:.1f} s"
                f" + refine {seconds['refine']:.1f} s"
            )
            for cut in (0.5, 0.8):
                print("   " + compare(scores, reference[prefilter], cut))
    print(
        f"one stage (its classifier trained on math-preserving text; ingest {one_stats['seconds']['ingest']:.1f} s)"
        " against in_run at recall 0 (trained on fast text):"
    )
    for cut in (0.5, 0.8):
        print("   " + compare(reference[False], one, cut))
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=8, help="copies of the 523 pages to score")
    parser.add_argument("--only", choices=["two_stage", "two_stage_in_run"], help="run one section only")
    parser.add_argument("--crawl-pages", type=int, default=2000, help="generated-crawl pages in the two-stage test")
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    docs, positives = load(args.data)
    if args.only:
        if args.only == "two_stage":
            bench_two_stage(args.data, docs, positives, args.repeat, args.crawl_pages)
        else:
            bench_two_stage_in_run(args.data, docs, positives, args.crawl_pages)
        print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
        return
    texts = [d["text"] for d in docs if d["text"].strip()] * args.copies
    with tempfile.TemporaryDirectory() as tmp:
        config = FastTextConfig(bucket=2_000_000, n_positives=20_000, n_negatives=20_000)
        clf = train_classifier(positives, [d["text"] for d in docs], Path(tmp) / "model.bin", config)
        bench_scoring(clf, texts, args.repeat)
    bench_normalization(texts, args.repeat)
    vocabulary = sorted({w for d in docs for w in d["text"].split() if w.isascii() and w.isalpha()})
    bench_minhash(vocabulary, n_docs=4000, n_reference=200, repeat=args.repeat)
    bench_precision(docs, positives)
    bench_two_stage(args.data, docs, positives, args.repeat, args.crawl_pages)
    bench_two_stage_in_run(args.data, docs, positives, args.crawl_pages)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
