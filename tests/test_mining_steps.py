# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The mining steps (§2.1) as datatrove pipeline steps in a datatrove user's own ``LocalPipelineExecutor``
pipelines: JSONL reader -> URL normalization -> sharded exact URL dedup (three stages) -> fastText math filter ->
10-gram decontamination -> JSONL writer, with datatrove's stats; and the math-preserving HTML extractor."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest


pytest.importorskip("orjson")  # datatrove's JsonlReader

from datatrove.data import Document  # noqa: E402
from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.pipeline.writers import JsonlWriter  # noqa: E402

from tests.reference_mining import select_top_tokens_reference, url_dedup_mask_reference  # noqa: E402
from trl_dsm.mining.classifier import FastTextClassifier, FastTextConfig, train_classifier  # noqa: E402
from trl_dsm.mining.select import budget_cut, budget_partial, count_tokens  # noqa: E402
from trl_dsm.mining.steps import (  # noqa: E402
    DecontaminationFilter,
    MathHtmlExtractor,
    MathScoreFilter,
    ScoreHistogram,
    TokenBudgetFilter,
    UrlDedupFilter,
    UrlDedupFind,
    UrlDedupSignature,
    UrlNormalizer,
    budget_cut_from_folder,
    write_budget_partial,
)


def _stats(logging_dir: Path) -> dict[str, dict]:
    """``{step name: {stat: total}}`` of a finished datatrove run (merged over tasks)."""
    steps = json.loads((logging_dir / "stats.json").read_text())
    return {s["name"]: {k: v["total"] if isinstance(v, dict) else v for k, v in s["stats"].items()} for s in steps}


@pytest.mark.slow
def test_datatrove_user_pipeline_with_mining_steps(shared_data, tmp_path):
    docs = [json.loads(line) for line in (shared_data / "web" / "web_docs.jsonl").open()]
    docs += [dict(d, id=d["id"] + "-dup", url=d["url"].replace("https://", "http://") + "#x") for d in docs[:15]]
    question = json.loads((shared_data / "benchmarks" / "gsm8k" / "test.jsonl").open().readline())["question"]
    docs.append({"id": "leak", "url": "https://leak.example/q", "text": f"Intro line.\n\n{question}\n\nOutro."})
    data = tmp_path / "input"
    data.mkdir()
    for i, part in enumerate((docs[: len(docs) // 2], docs[len(docs) // 2 :])):  # task i reads file i
        with gzip.open(data / f"part-{i}.jsonl.gz", "wt") as f:
            f.writelines(json.dumps(d) + "\n" for d in part)
    math = [d["text"] for d in docs if d.get("category_hint") == "math"]
    other = [d["text"] for d in docs if d.get("category_hint") != "math"]
    model = tmp_path / "math.bin"
    train_classifier(math * 5, other, model, FastTextConfig(dim=32, bucket=20_000, epoch=10, n_positives=500))
    cleaned = {d["id"]: d["text"] if d["id"] != "leak" else "Intro line.\n\nOutro." for d in docs}
    expected_scores = FastTextClassifier(model, max_chars=20_000).predict_proba([cleaned[d["id"]] for d in docs])
    logs, work = tmp_path / "logs", tmp_path / "work"

    # the docs/mining.md example, as written there (stage 3 also writes the token-budget partials, stage 4 keeps
    # the top-ranked pages within the budget)
    reader = JsonlReader(str(data), glob_pattern="*.jsonl.gz")
    LocalPipelineExecutor(
        [reader, UrlNormalizer(), UrlDedupSignature(work / "urls", partitions=3)],
        tasks=2,
        logging_dir=str(logs / "1"),
    ).run()
    LocalPipelineExecutor([UrlDedupFind(work / "urls")], tasks=3, logging_dir=str(logs / "2")).run()
    LocalPipelineExecutor(
        [
            JsonlReader(str(data), glob_pattern="*.jsonl.gz"),
            UrlDedupFilter(work / "urls"),
            DecontaminationFilter(["gsm8k"], benchmarks_dir=str(shared_data / "benchmarks")),
            MathScoreFilter(str(model), threshold=0.5, max_chars=20_000),
            ScoreHistogram(work / "budget"),
            JsonlWriter(str(tmp_path / "out")),
        ],
        tasks=2,
        logging_dir=str(logs / "3"),
    ).run()
    LocalPipelineExecutor(
        [
            JsonlReader(str(tmp_path / "out")),
            TokenBudgetFilter(work / "budget", token_budget=5_000),
            JsonlWriter(str(tmp_path / "top")),
        ],
        tasks=2,
        logging_dir=str(logs / "4"),
    ).run()

    out = []
    for path in sorted((tmp_path / "out").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            out += [json.loads(line) for line in f]
    keep = url_dedup_mask_reference([d["url"] for d in docs])
    assert int((~keep).sum()) == 16  # the 15 planted copies and one in the shared file
    kept = [d for d, k in zip(docs, keep) if k]
    scores = dict(zip([d["id"] for d in docs], expected_scores))
    math_kept = [d for d in kept if scores[d["id"]] >= 0.5]
    assert [d["id"] for d in out] == [d["id"] for d in math_kept]
    assert all(d["metadata"]["math_score"] == pytest.approx(float(scores[d["id"]]), abs=1e-6) for d in out)
    assert all(d["text"] == cleaned[d["id"]] for d in out)
    stats = _stats(logs / "3")
    assert stats["🔻 - FILTER: trl-dsm URL dedup 3: filter"]["dropped"] == 16
    assert stats["🔻 - FILTER: trl-dsm URL dedup 3: filter"]["forwarded"] == len(kept)
    assert stats["🔻 - FILTER: trl-dsm math classifier"]["forwarded"] == len(math_kept)
    decontamination = stats["🔻 - FILTER: trl-dsm 10-gram decontamination"]
    assert (decontamination["contaminated"], decontamination["forwarded"]) == (1, len(kept))
    assert _stats(logs / "2")["trl-dsm: trl-dsm URL dedup 2: duplicates"]["duplicates"] == 16
    assert _stats(logs / "1")["trl-dsm: trl-dsm URL normalization"]["normalized"] == len(docs)
    # stage 4: the longest prefix of the ranking (score descending, then input order) within 5,000 words
    top = []
    for path in sorted((tmp_path / "top").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            top += [json.loads(line)["id"] for line in f]
    in_budget = select_top_tokens_reference(
        [d["metadata"]["math_score"] for d in out], count_tokens([d["text"] for d in out]), 5_000
    )
    assert top == [d["id"] for d, keep in zip(out, in_budget) if keep] and 0 < len(top) < len(out)


def test_math_html_extractor_keeps_tex():
    html = (
        "<html><head><title>Quadratics</title></head><body><article><h1>Quadratics</h1>"
        "<p>The roots of a quadratic are given by the formula below, which every student should know well.</p>"
        '<script type="math/tex; mode=display">x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}</script>'
        "<p>It follows from completing the square, as shown in many textbooks and lecture notes.</p>"
        "</article></body></html>"
    )
    step = MathHtmlExtractor(timeout=30)
    out = list(step.run(iter([Document(text=html, id="a"), Document(text="<html></html>", id="b")])))
    assert [d.id for d in out] == ["a"]
    assert "$$x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}$$" in out[0].text
    assert step.stats["extracted"].total == 2 and step.stats["forwarded"].total == 1


def _random_ranking(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores with many exact ties (a few distinct values, 0, 1, 0.5) and NaNs (unscored pages), and token counts
    with zeros."""
    values = np.r_[rng.random(4), np.nan, 0.0, 1.0, 0.5]
    return rng.choice(values, size=n), rng.integers(0, 40, n)


@pytest.mark.parametrize("bins", [1, 4, 1 << 16])
def test_budget_cut_from_partials_equals_select_top_tokens(bins):
    """Token-budget selection from per-task partial histograms + the exact order of the cut bin selects exactly what
    ``select_top_tokens`` selects over all pages (ties by task, then position = by global row)."""
    rng = np.random.default_rng(bins)
    for trial in range(60):
        n = int(rng.integers(1, 300))
        scores, tokens = (
            _random_ranking(rng, n) if trial % 2 else (rng.random(n).astype(np.float32), rng.integers(0, 40, n))
        )
        bounds = np.r_[0, np.sort(rng.integers(0, n + 1, int(rng.integers(0, 5)))), n]  # empty tasks too
        tasks = list(zip(bounds[:-1], bounds[1:]))
        parts = [budget_partial(scores[a:b], tokens[a:b], bins) for a, b in tasks]
        total = int(tokens[np.isfinite(scores)].sum())
        for budget in (0, 1, int(rng.integers(0, total + 2)), total - 1, total, total + 7):
            hist_of, ranked_slice = (lambda r, p=parts: p[r][0]), (lambda r, a, b, p=parts: p[r][1][a:b])
            cut = budget_cut(hist_of, ranked_slice, len(parts), max(0, budget), bins)
            got = np.concatenate([cut.mask(scores[a:b], rank) for rank, (a, b) in enumerate(tasks)])
            want = select_top_tokens_reference(scores, tokens, max(0, budget))
            assert got.tolist() == want.tolist()
            assert (cut.pages, cut.tokens) == (int(want.sum()), int(tokens[want].sum()))


def test_budget_partials_in_a_folder(tmp_path):
    """The partials written per task and the cut merged from the folder (cached as ``cut-B.json``)."""
    scores = np.array([0.9, np.nan, 0.5, 0.5, 0.2, 0.5, 1.0])
    tokens = np.array([10, 99, 5, 5, 7, 5, 3])
    assert write_budget_partial(tmp_path, 0, scores[:3], tokens[:3]) == (2, 15)
    assert write_budget_partial(tmp_path, 1, scores[3:], tokens[3:]) == (4, 20)
    cut = budget_cut_from_folder(tmp_path, 23)  # 1.0 (3) + 0.9 (10) + 0.5 at row 2 (5) + 0.5 at row 3 (5) = 23
    assert (cut.pages, cut.tokens, cut.score, cut.rank, cut.position) == (4, 23, 0.5, 1, 0)
    assert json.loads((tmp_path / "cut-23.json").read_text())["tokens"] == 23
    assert cut.mask(scores[:3], 0).tolist() == [True, False, True]
    assert cut.mask(scores[3:], 1).tolist() == [True, False, False, True]
    (tmp_path / "hist" / "00000.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"partial histograms of tasks \[0\] are missing"):
        budget_cut_from_folder(tmp_path, 10)


def test_token_budget_steps_in_a_datatrove_pipeline(tmp_path):
    """ScoreHistogram -> TokenBudgetFilter in a user's LocalPipelineExecutor pipelines (3 tasks, ties and unscored
    pages) keep the top-ranked pages within the budget, as ``select_top_tokens`` over all pages in input order."""
    rng = np.random.default_rng(7)
    scores, _ = _random_ranking(rng, 90)
    words = rng.integers(1, 30, 90)
    docs = [
        {"id": f"d{i}", "text": " ".join(["w"] * int(words[i])), "metadata": {} if np.isnan(s) else {"math_score": s}}
        for i, s in enumerate(scores.tolist())
    ]
    data = tmp_path / "scored"
    data.mkdir()
    for i in range(3):  # task i reads file i
        with gzip.open(data / f"{i:05d}.jsonl.gz", "wt") as f:
            f.writelines(json.dumps(d) + "\n" for d in docs[30 * i : 30 * (i + 1)])
    LocalPipelineExecutor(
        [JsonlReader(str(data)), ScoreHistogram(tmp_path / "budget")], tasks=3, logging_dir=str(tmp_path / "l1")
    ).run()
    LocalPipelineExecutor(
        [
            JsonlReader(str(data)),
            TokenBudgetFilter(tmp_path / "budget", token_budget=600),
            JsonlWriter(str(tmp_path / "top")),
        ],
        tasks=3,
        logging_dir=str(tmp_path / "l2"),
    ).run()
    kept = []
    for path in sorted((tmp_path / "top").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            kept += [json.loads(line)["id"] for line in f]
    want = select_top_tokens_reference(scores, words, 600)
    assert kept == [d["id"] for d, keep in zip(docs, want) if keep] and 0 < len(kept) < len(docs)
    assert _stats(tmp_path / "l1")["trl-dsm: trl-dsm token budget 1: score histogram"]["tokens"] == int(
        words[~np.isnan(scores)].sum()
    )
    assert _stats(tmp_path / "l2")["🔻 - FILTER: trl-dsm token budget 2: filter"]["forwarded"] == len(kept)


@pytest.mark.parametrize("prefilter", [False, True])
def test_two_stage_extractor_keeps_what_one_stage_keeps_above_the_recall_threshold(shared_data, tmp_path, prefilter):
    """Two-stage extraction on the labelled extract_dev pages: a page reaches the math-preserving extraction iff it
    passes the prefilter (when on) and its fast-text score is >= the recall threshold or it has no fast text (the
    extract_dev KaTeX page whose text is all in scripts); what it keeps is then what
    one stage (the math-preserving extraction of every page) keeps, restricted to those pages, with the same text."""
    from trl_dsm.mining.extraction.fast import fast_text
    from trl_dsm.mining.extraction.prefilter import looks_like_math
    from trl_dsm.mining.steps import MathHtmlExtractor, TwoStageMathExtractor

    pages = sorted((shared_data / "extract_dev").glob("*/*.html"))
    web = [json.loads(line) for line in (shared_data / "web" / "web_docs.jsonl").open()]
    with (shared_data / "benchmarks" / "math" / "train.jsonl").open() as f:
        seeds = [(lambda r: r["problem"] + "\n" + r["solution"])(json.loads(line)) for line, _ in zip(f, range(2000))]
    model = tmp_path / "math.bin"
    config = FastTextConfig(dim=32, bucket=20_000, epoch=5, n_positives=2000, n_negatives=2000)
    classifier = train_classifier(seeds, [d["text"] for d in web if d["category_hint"] != "math"], model, config)

    def docs():
        return [Document(text=p.read_text(errors="replace"), id=f"{p.parent.name}/{p.stem}") for p in pages]

    cut, recall = 0.5, 0.25
    one = list(MathScoreFilter(str(model), threshold=cut)(MathHtmlExtractor(timeout=120)(docs())))
    two = list(
        MathScoreFilter(str(model), threshold=cut)(
            TwoStageMathExtractor(str(model), recall_threshold=recall, prefilter=prefilter)(docs())
        )
    )
    fast = {d.id: fast_text(d.text)[1] for d in docs()}
    fast_scores = dict(zip(fast, classifier.predict_proba(list(fast.values()))))
    passes = {d.id: looks_like_math(d.text) or not prefilter for d in docs()}
    reached = {i for i in fast if passes[i] and (fast_scores[i] >= recall or not fast[i].strip())}
    assert [d.id for d in two] == [d.id for d in one if d.id in reached]
    assert all(d.metadata["fast_score"] == pytest.approx(float(fast_scores[d.id]), abs=1e-6) for d in two)
    texts = {d.id: d.text for d in one}
    assert all(d.text == texts[d.id] for d in two)
    math_one = sum(d.id.startswith("math/") for d in one)
    assert math_one >= 5 and len(reached) < len(fast)  # stage two skips pages, and one stage finds math pages
