# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Corpus mining building blocks (DeepSeekMath §2.1): MinHash vs datasketch, URL dedup, selection, domain
discovery, readers on the shared WARC/WET/JSONL pages, and the fastText classifier on the shared web pages."""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from tests.reference_mining import select_top_tokens_reference, url_dedup_mask_reference
from trl_dsm.mining import domains, lsh, minhash, urls
from trl_dsm.mining.classifier import (
    FastTextClassifier,
    FastTextConfig,
    FastTextScorer,
    normalize_text,
    precision_at_k,
    score_dataset,
    train_classifier,
)
from trl_dsm.mining.documents import url_domain
from trl_dsm.mining.html_text import html_to_text
from trl_dsm.mining.readers import from_hf_dataset, load_documents
from trl_dsm.mining.select import SelectionConfig, count_tokens, select_threshold, select_top_tokens
from trl_dsm.mining.warc import iter_wet


# ----------------------------------------------------------------------------------------------- MinHash


@pytest.mark.parametrize("length", [0, 1, 3, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 300])
def test_sha1_word_equals_datasketch_hash(length):
    data = bytes((i * 37 + 11) % 256 for i in range(length))
    buf = np.frombuffer(data or b"\0", dtype=np.uint8)
    expected = struct.unpack("<I", hashlib.sha1(data).digest()[:4])[0]
    assert minhash._sha1_word0(buf, 0, length, np.empty(80, dtype=np.int64)) == expected


def _random_docs(n: int, words: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyzé中∫", k=rng.randint(1, 14))) for _ in range(3000)]
    return [" ".join(rng.choices(vocab, k=words)) for _ in range(n)]


def test_minhash_signatures_equal_datasketch_update_loop():
    docs = _random_docs(40, 120) + [
        "",
        "   ",
        "one",
        "two words",
        "a b c d e",
        "X" * 150 + " Y\n\tZ",
        "Ünïcode ∑ 数学 x",
    ]
    for num_perm, seed, ngram in [(128, 1, 5), (64, 7, 3), (16, 42, 1)]:
        sigs = minhash.minhash_signatures(docs, num_perm=num_perm, seed=seed, ngram=ngram)
        assert sigs.dtype == np.uint32 and sigs.shape == (len(docs), num_perm)
        for i, doc in enumerate(docs):
            reference = MinHash(num_perm=num_perm, seed=seed)
            for shingle in minhash.shingles(doc, ngram):
                reference.update(shingle)
            assert np.array_equal(reference.hashvalues, sigs[i]), (i, num_perm, seed, ngram)
    # Jaccard estimates are datasketch's
    a, b = minhash.to_datasketch(sigs[0], seed=42), minhash.to_datasketch(sigs[1], seed=42)
    ref_a, ref_b = MinHash(num_perm=16, seed=42), MinHash(num_perm=16, seed=42)
    ref_a.update_batch(minhash.shingles(docs[0], 1))
    ref_b.update_batch(minhash.shingles(docs[1], 1))
    assert a.jaccard(b) == ref_a.jaccard(ref_b)


def test_permutations_are_datasketch_permutations():
    for num_perm, seed in [(1, 1), (128, 1), (256, 123)]:
        assert np.array_equal(minhash.datasketch_permutations(num_perm, seed), MinHash(num_perm, seed).permutations)


def test_near_dedup_clusters_planted_duplicates_deterministically():
    base = _random_docs(30, 200, seed=3)
    docs = list(base)
    words = base[4].split()
    docs.append(" ".join(words[:-3] + ["changed", "tail", "words"]))  # row 30 ~ row 4
    docs.append(base[9])  # row 31 == row 9
    docs.append(base[9].upper())  # row 32 == row 9 after lower-casing
    sigs = minhash.minhash_signatures(docs)
    result = lsh.near_dedup(sigs, threshold=0.8)
    assert result.clusters == [[4, 30], [9, 31, 32]]
    assert result.keep.sum() == len(docs) - 3
    assert not result.keep[[30, 31, 32]].any()
    again = lsh.near_dedup(sigs[::-1].copy(), threshold=0.8)  # order decides which copy is kept
    assert again.removed == 3
    summary, rows = result.report(urls=[f"u{i}" for i in range(len(docs))])
    assert summary["clusters"] == 2 and summary["largest_cluster"] == 3
    assert rows[1]["urls"] == ["u9", "u31", "u32"] and rows[1]["kept"] == 9


def test_near_dedup_skips_flagged_rows_and_checks_threshold():
    sigs = minhash.minhash_signatures(["", "", "same text here ok", "same text here ok"])
    result = lsh.near_dedup(sigs, skip=np.array([True, True, False, False]))
    assert result.keep.tolist() == [True, True, True, False]
    with pytest.raises(ValueError, match="threshold"):
        lsh.near_dedup(sigs, threshold=0.0)


# ----------------------------------------------------------------------------------------------- URL dedup


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://WWW.Example.com:80/a/b/?utm_source=x&b=2&a=1#top", "example.com/a/b?a=1&b=2"),
        ("https://example.com/a/b?a=1&b=2", "example.com/a/b?a=1&b=2"),
        ("https://example.com:8443/x", "example.com:8443/x"),
        ("https://example.com/%7euser//page", "example.com/~user/page"),
        ("https://example.com/a%2fb", "example.com/a%2Fb"),
        (
            "https://math.stackexchange.com/questions/1/?answertab=active",
            "math.stackexchange.com/questions/1?answertab=active",
        ),
        ("example.com/path", "example.com/path"),
        ("", ""),
    ],
)
def test_normalize_url(url, key):
    assert urls.normalize_url(url) == key


@pytest.mark.parametrize("partitions", [1, 3])
def test_url_dedup_keeps_first_occurrence_and_empty_urls(tmp_path, partitions):
    """The three URL-dedup stages over two units (shards): the first (unit, position) of each key stays."""
    units = [["http://a.com/x", "https://www.a.com/x/", "", "", "https://a.com/y", "http://a.com/x#frag"],
             ["https://a.com/y", "https://b.com", ""]]  # fmt: skip
    for unit, page_urls in enumerate(units):
        urls.write_url_keys(tmp_path, unit, [urls.normalize_url(u) for u in page_urls], partitions)
    assert sum(urls.find_url_duplicates(tmp_path, p) for p in range(partitions)) == 3
    assert urls.url_duplicates(tmp_path, 0, partitions).tolist() == [1, 5]
    assert urls.url_duplicates(tmp_path, 1, partitions).tolist() == [0]  # a later unit's copy
    assert urls.url_duplicates_total(tmp_path, partitions) == 3
    keep = url_dedup_mask_reference(units[0] + units[1])
    assert np.flatnonzero(~keep).tolist() == [1, 5, 6]


# ----------------------------------------------------------------------------------------------- selection


def test_select_threshold_and_top_tokens():
    scores = np.array([0.9, 0.2, np.nan, 0.95, 0.5, 0.9])
    assert select_threshold(scores, 0.5).tolist() == [True, False, False, True, True, True]
    tokens = np.array([10, 5, 100, 20, 7, 3])
    # ranking: row3 (20), row0 (10, tie with row5 broken by row order), row5 (3), row4 (7), row1 (5); NaN never
    for budget in range(0, 150):
        assert (
            select_top_tokens(scores, tokens, budget).tolist()
            == select_top_tokens_reference(scores, tokens, budget).tolist()
        )
    assert np.flatnonzero(select_top_tokens(scores, tokens, 33)).tolist() == [0, 3, 5]
    assert np.flatnonzero(select_top_tokens(scores, tokens, 32)).tolist() == [0, 3]
    assert np.flatnonzero(select_top_tokens(scores, tokens, 1000)).tolist() == [0, 1, 3, 4, 5]
    assert not select_top_tokens(scores, tokens, 19).any()
    assert count_tokens(["a b  c", "", None]).tolist() == [3, 0, 0]
    with pytest.raises(ValueError, match="token_budget"):
        SelectionConfig(method="top_tokens")


def test_token_counts_by_a_saved_tokenizer_load_it_once(tmp_path):
    """A ``selection.tokenizer`` path counts the tokenizer's ids (no special tokens), and the mining tasks, which
    count batch after batch, load it once per process."""
    from tests.conftest import build_tiny_tokenizer
    from trl_dsm.mining.select import counting_tokenizer

    texts = ["the sum of x and y is z", "integrals of sin x", ""]
    tokenizer = build_tiny_tokenizer(texts * 20)
    tokenizer.save_pretrained(tmp_path / "tok")
    want = [len(tokenizer(t, add_special_tokens=False).input_ids) for t in texts]
    counting_tokenizer.cache_clear()
    for _ in range(3):
        assert count_tokens(texts, str(tmp_path / "tok")).tolist() == want
    assert want[0] > 0 and want[2] == 0
    assert (counting_tokenizer.cache_info().misses, counting_tokenizer.cache_info().hits) == (1, 2)


# ----------------------------------------------------------------------------------------------- domains


def test_url_prefix_and_math_domains():
    assert domains.url_prefix("https://mathoverflow.net/questions/62764/a-title?rq=1") == "mathoverflow.net/questions/"
    assert domains.url_prefix("https://www.x.org/a/b/c.html", depth=2) == "x.org/a/b/"
    assert domains.url_prefix("https://x.org/page.html") == "x.org/"
    assert domains.url_prefix("https://x.org/dir/") == "x.org/dir/"
    doms = ["m.net"] * 10 + ["n.com"] * 10 + ["one.org"]
    collected = np.zeros(21, dtype=bool)
    collected[:2] = True  # m.net 20% > 10%
    collected[10] = True  # n.com exactly 10%: not "more than 10%"
    assert domains.math_domains(doms, collected) == ["m.net"]
    collected[20] = True
    assert domains.math_domains(doms, collected) == ["m.net", "one.org"]
    assert domains.math_domains(doms, collected, domains.DomainConfig(min_domain_pages=2)) == ["m.net"]


def test_prefix_rows_annotations_round_trip_and_seed_addition(tmp_path):
    urls = [
        "https://m.net/questions/1",
        "https://m.net/questions/2",
        "https://m.net/questions/3",
        "https://m.net/users/9",
        "https://m.net/users/10",
        "https://news.com/a/1",
    ]
    titles = ["q1", "q2", "q3", "u9", "u10", "n"]
    doms = [url_domain(u) for u in urls]
    collected = np.array([True, True, False, False, False, False])
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.05])
    rows = domains.prefix_rows(urls, titles, collected, scores, doms, domains.DomainConfig(samples=2))
    assert [r["prefix"] for r in rows] == ["m.net/questions/", "m.net/users/"]
    assert rows[0] | {"sample_titles": None} == {
        "label": "",
        "prefix": "m.net/questions/",
        "domain": "m.net",
        "pages": 3,
        "collected": 2,
        "uncollected": 1,
        "fraction_collected": 0.6667,
        "mean_score": 0.8,
        "sample_urls": urls[:2],
        "sample_titles": None,
    }
    assert domains.auto_accept(rows, 0.5) == ["m.net/questions/"]
    for name in ("ann.jsonl", "ann.csv"):
        path = domains.write_annotations(rows, tmp_path / name)
        assert domains.read_annotations(path) == ([], [], 2)
        text = path.read_text()
        if name.endswith(".csv"):
            lines = text.splitlines()
            lines[1] = "math" + lines[1]
            lines[2] = "not_math" + lines[2]
            path.write_text("\n".join(lines) + "\n")
        else:
            labelled = [dict(json.loads(line), label=lab) for line, lab in zip(text.splitlines(), ["math", "no"])]
            path.write_text("".join(json.dumps(r) + "\n" for r in labelled))
        assert domains.read_annotations(path) == (["m.net/questions/"], ["m.net/users/"], 0)
    added = domains.pages_under_prefixes(urls, ["m.net/questions/"], collected, depth=1)
    assert added.tolist() == [2]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prefix": "a/", "label": "maybe"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: label 'maybe'"):
        domains.read_annotations(bad)
    bad.write_text(json.dumps({"prefix": "a/", "label": "math"}) + "\n5\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: expected a JSON object, got int"):
        domains.read_annotations(bad)
    bad.write_bytes(b'{"prefix": "a/", "label": "math"}\n{"prefix": "\xff"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl: not UTF-8 at or after line 1 \(invalid start byte\)"):
        domains.read_annotations(bad)
    assert domains.overlap(None, np.array([True, False])) == (1, None)
    assert domains.overlap(np.array([True, False, True]), np.array([True, True, True])) == (1, 2 / 3)


def test_prefix_counts_merged_over_shards_equal_in_memory_rows():
    """Domain discovery over shards (§2.1): per-shard partial prefix counts, merged, give the rows computed over
    all pages at once (counts, mean scores, the first samples, the first row's domain), however the rows are cut."""
    rng = np.random.default_rng(0)
    n = 3000
    host = rng.integers(40, size=n)
    urls = [f"https://d{h}.org/s{rng.integers(6)}/p{i}" for i, h in enumerate(host)]
    urls[5] = "https://d1.org/top.html"  # a page at the root
    doms = [url_domain(u) for u in urls]
    doms[7] = ""  # a page without a domain never counts
    titles = [f"t{i}" for i in range(n)]
    collected = rng.random(n) < np.where(host < 10, 0.4, 0.05)  # d0-d9 are math domains, a few others by chance
    scores = rng.random(n).astype(np.float32)
    scores[rng.integers(n, size=50)] = np.nan
    config = domains.DomainConfig(samples=3)
    expected = domains.prefix_rows(urls, titles, collected, scores, doms, config)
    assert sum(len(r["sample_urls"]) == 3 for r in expected) > 40
    wanted = set(domains.math_domains(doms, collected, config))
    for cuts in ([0, n], [0, 1, 2, 1000, 2999, n], list(range(0, n + 1, 250))):
        partials = [
            domains.prefix_partials(
                range(a, b), urls[a:b], titles[a:b], doms[a:b], collected[a:b], scores[a:b], wanted, config
            )
            for a, b in zip(cuts, cuts[1:])
        ]
        assert domains.merge_prefix_partials(partials, config) == expected
        # shards merged in any order give the same rows
        assert domains.merge_prefix_partials(partials[::-1], config) == expected


# ----------------------------------------------------------------------------------------------- readers


def test_math_markup_survives_html_extraction():
    html = """<html><head><title>Quadratic formula</title></head><body><article>
    <p>The roots of <script type="math/tex">ax^2+bx+c=0</script> are given by the formula below, which we derive.</p>
    <span class="MathJax_Preview">x=...</span><script type="math/tex; mode=display">x=\\frac{-b\\pm\\sqrt{b^2-4ac}}{2a}</script>
    <p>KaTeX: <span class="katex"><span class="katex-mathml"><math><semantics><mrow><mi>e</mi></mrow>
    <annotation encoding="application/x-tex">e^{i\\pi}+1=0</annotation></semantics></math></span>
    <span class="katex-html">e iπ+1=0</span></span> is Euler's identity, a classic of complex analysis.</p>
    <p>MathML <math alttext="\\alpha+\\beta"><mi>α</mi><mo>+</mo><mi>β</mi></math>, an image
    <img class="latex" src="https://s0.wp.com/latex.php?latex=x" alt="\\int_0^1 x\\,dx"> and raw $y = mx + b$ stay,
    with enough words around them for the paragraph to count as the main content of this page.</p>
    </article></body></html>"""
    title, text = html_to_text(html)
    assert title
    for tex in ("$ax^2+bx+c=0$", "$$x=\\frac{-b\\pm\\sqrt{b^2-4ac}}{2a}$$", "$e^{i\\pi}+1=0$", "$\\alpha+\\beta$"):
        assert tex in text
    assert "$\\int_0^1 x\\,dx$" in text and "$y = mx + b$" in text
    assert "x=..." not in text and "e iπ+1=0" not in text  # rendered duplicates dropped


def test_readers_on_shared_web_files(shared_data, tmp_path):
    raw = shared_data / "web" / "raw"
    warc = load_documents({"type": "warc", "paths": [str(raw / "*.warc.gz")]}, cache_dir=tmp_path)
    assert len(warc) == 17 and warc.column_names == ["id", "url", "domain", "title", "text", "source"]
    wiki = warc.filter(lambda r: r["url"] == "https://an.wikipedia.org/wiki/Escopete")[0]
    assert wiki["domain"] == "an.wikipedia.org" and "Escopete" in wiki["text"] and wiki["id"].startswith("urn:uuid:")
    assert "01spb.ru" in warc["domain"]
    wet = load_documents(
        {"type": "wet", "paths": [str(raw / "whirlwind.warc.wet.gz"), str(raw / "cc_net_sample.warc.wet.txt")]},
        cache_dir=tmp_path,
    )
    # the cc_net fixture has non-standard Content-Length values: read by the lenient record splitter
    assert wet["url"] == [
        "https://an.wikipedia.org/wiki/Escopete",
        "http://sample_english.com",
        "http://sample_chinese.zh",
        "http://sample_russian.ru",
    ]
    assert wet[1]["title"] == "Famous Mark Twain Quotes"
    assert len(list(iter_wet(raw / "cc_net_sample.warc.wet.txt"))) == 3
    table = load_documents(
        {"type": "jsonl", "paths": [str(shared_data / "web" / "web_docs.jsonl")]}, cache_dir=tmp_path
    )
    assert len(table) == 523 and table[0]["id"] == "e89eddea97ebdb17" and table[0]["domain"] == "health.com"
    with pytest.raises(FileNotFoundError, match="matches no file"):
        load_documents({"type": "warc", "paths": [str(raw / "missing-*.warc.gz")]}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="input type 'html'"):
        load_documents({"type": "html", "paths": ["x"]})


def test_from_hf_dataset_maps_columns():
    import datasets

    ds = datasets.Dataset.from_dict({"content": ["a b", "c"], "link": ["https://www.q.org/x", None]})
    docs = from_hf_dataset(ds, text_column="content", url_column="link")
    assert docs.column_names == ["id", "url", "domain", "title", "text", "source"]
    assert docs["domain"] == ["q.org", ""] and docs["text"] == ["a b", "c"]
    with pytest.raises(KeyError, match="not in the dataset"):
        from_hf_dataset(ds, text_column="text")


def test_mining_exports_resolve():
    import trl_dsm.mining as mining

    for name in mining.__all__:
        assert getattr(mining, name) is not None


def test_known_positives_from_the_shared_pages(shared_data, tmp_path):
    from trl_dsm.mining.config import MiningConfig
    from trl_dsm.mining.known import (
        KnownPositivesConfig,
        known_positives_report,
        load_known_positives,
        summary_line,
    )

    web = str(shared_data / "web" / "web_docs.jsonl")
    by_url = load_known_positives(KnownPositivesConfig(paths=[web], where={"category_hint": "math"}))
    assert len(by_url) == 22 and "up-skill.me/math/find-interquartile-range.html" in by_url
    by_id = load_known_positives(KnownPositivesConfig(paths=[web], where={"category_hint": "math"}, key="id"))
    assert len(by_id) == 22 and "f08c96a1cae0957b" in by_id
    # the same page spelled differently (scheme, www., trailing slash, tracking parameter) still counts
    selected = [
        "http://mathhelpforum.com/t/integral-question.76128?utm_source=x",
        "https://www.lmfdb.org/ModularForm/GL2/Q/holomorphic/3332/1/bc/b/2027/1",
        "https://news.example/a",
        "",
    ]
    report = known_positives_report(selected, by_url)
    assert (report["known"], report["kept"], report["other"]) == (22, 2, 2)
    assert report["recall"] == 2 / 22 and report["precision"] == 2 / 4 and len(report["missed"]) == 20
    assert report["missed"] == sorted(report["missed"])
    assert summary_line(report) == "kept 2 of 22 known math pages (recall 0.09); 2 other pages selected"
    assert summary_line(None) is None
    with pytest.raises(KeyError, match="no column 'label'"):
        load_known_positives(KnownPositivesConfig(paths=[web], where={"label": 1}))
    with pytest.raises(FileNotFoundError, match="matches no file"):
        load_known_positives(KnownPositivesConfig(paths=[str(tmp_path / "none-*.jsonl")]))

    # the documented example selects by the paper's rule and reports against the same 22 pages
    config = MiningConfig.from_yaml(Path(__file__).resolve().parents[1] / "recipes" / "mining" / "shared_web.yaml")
    assert (config.selection.method, config.selection.token_budget) == ("top_tokens", 36000)
    assert config.known_positives.where == {"category_hint": "math"}
    assert config.known_positives.paths == ["../shared/data/web/web_docs.jsonl"]


# ----------------------------------------------------------------------------------------------- classifier


def _benchmark_positives(shared_data, n_math: int = 1500, n_gsm: int = 500) -> list[str]:
    out = []
    with (shared_data / "benchmarks" / "math" / "train.jsonl").open() as f:
        for line, _ in zip(f, range(n_math)):
            row = json.loads(line)
            out.append(row["problem"] + "\n" + row["solution"])
    with (shared_data / "benchmarks" / "gsm8k" / "train.jsonl").open() as f:
        for line, _ in zip(f, range(n_gsm)):
            row = json.loads(line)
            out.append(row["question"] + "\n" + row["answer"])
    return out


def test_normalize_text_splits_latex_and_cjk():
    line = normalize_text("Let $\\frac{a}{b}$\nbe 数学")
    assert "\n" not in line
    assert line.split() == ["let", "$", "\\", "frac", "{", "a", "}", "{", "b", "}", "$", "be", "数", "学"]
    assert normalize_text("abcdef", max_chars=3) == "abc"


def test_fast_normalization_equals_reference(shared_data):
    from tests.reference_mining import normalize_text_reference

    texts = [json.loads(line)["text"] for line in (shared_data / "web" / "web_docs.jsonl").open()]
    texts += ["Ünïcode ∑ 数学 x\ud800y", "", "\n", "a\x00b", "ｶﾀｶﾅ 한국어 ひらがな 가", "😀 \U0010ffff", "ÀÉ\u3000。"]
    for text in texts:
        assert normalize_text(text) == normalize_text_reference(text)


def test_classifier_ranks_math_pages_above_news(shared_data, tmp_path):
    """2-fold by domain: a page is never scored by a model that saw it (as a random negative)."""
    docs = [json.loads(line) for line in (shared_data / "web" / "web_docs.jsonl").open()]
    texts = [d["text"] for d in docs]
    is_math = np.array([d["category_hint"] == "math" for d in docs])
    assert is_math.sum() == 22
    fold = np.array([zlib.crc32(d["domain"].encode()) % 2 for d in docs])
    positives = _benchmark_positives(shared_data)
    config = FastTextConfig(bucket=200_000, n_positives=1000, n_negatives=1000)
    scores = np.zeros(len(docs))
    for f in (0, 1):
        clf = train_classifier(
            positives, [texts[i] for i in np.flatnonzero(fold == f)], tmp_path / f"m{f}.bin", config
        )
        held_out = np.flatnonzero(fold != f)
        scores[held_out] = clf.predict_proba([texts[i] for i in held_out])
    assert precision_at_k(scores, is_math, 10) == 1.0
    assert precision_at_k(scores, is_math) >= 0.75  # 22 math pages among 523 (0.86 measured)


def test_classifier_save_load_quantize_and_map_step(shared_data, tmp_path):
    import datasets

    positives = _benchmark_positives(shared_data, 300, 100)
    docs = [json.loads(line)["text"] for line in (shared_data / "web" / "web_docs.jsonl").open()]
    config = FastTextConfig(
        bucket=10_000, n_positives=200, n_negatives=200, epoch=5, quantize=True, quantize_cutoff=1000
    )
    clf = train_classifier(positives, docs, tmp_path / "model.bin", config)
    assert clf.path.suffix == ".ftz" and (tmp_path / "model.bin").is_file()
    assert clf.training["positives"] == 200 and clf.training["negatives"] == 200
    full = FastTextClassifier(tmp_path / "model.bin")
    again = train_classifier(positives, docs, tmp_path / "again.bin", config)  # one thread: deterministic
    assert np.array_equal(
        full.predict_proba(docs[:50]), FastTextClassifier(tmp_path / "again.bin").predict_proba(docs[:50])
    )
    assert (tmp_path / "model.ftz").stat().st_size < (tmp_path / "model.bin").stat().st_size
    assert again.predict_proba(docs[:5]).shape == (5,)
    expected = full.predict_proba(docs)
    scorer = full.scorer()
    assert len(pickle.dumps(scorer)) < 1000  # the model is not pickled into workers
    ds = datasets.Dataset.from_dict({"text": docs})
    for num_proc in (None, 2):
        scored = score_dataset(ds, full, num_proc=num_proc, batch_size=64)
        np.testing.assert_allclose(scored["math_score"], expected, rtol=1e-6)
    assert FastTextScorer(full.path)({"text": []}) == {"math_score": []}
    with pytest.raises(KeyError, match="column 'body'"):
        score_dataset(ds, full, text_column="body")
    with pytest.raises(ValueError, match="positives and negatives"):
        train_classifier([], docs, tmp_path / "x.bin", config)
