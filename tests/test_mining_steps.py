# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The mining steps (§2.1) as datatrove pipeline steps in a datatrove user's own ``LocalPipelineExecutor``
pipelines: JSONL reader -> URL normalization -> sharded exact URL dedup (three stages) -> fastText math filter ->
10-gram decontamination -> JSONL writer, with datatrove's stats; and the math-preserving HTML extractor."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest


pytest.importorskip("orjson")  # datatrove's JsonlReader

from datatrove.data import Document  # noqa: E402
from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.pipeline.writers import JsonlWriter  # noqa: E402

from trl_dsm.mining.classifier import FastTextClassifier, FastTextConfig, train_classifier  # noqa: E402
from trl_dsm.mining.dedup import url_dedup_mask  # noqa: E402
from trl_dsm.mining.steps import (  # noqa: E402
    DecontaminationFilter,
    MathHtmlExtractor,
    MathScoreFilter,
    UrlDedupFilter,
    UrlDedupFind,
    UrlDedupSignature,
    UrlNormalizer,
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

    # the docs/mining.md example, as written there
    reader = JsonlReader(str(data), glob_pattern="*.jsonl.gz")
    LocalPipelineExecutor(
        [reader, UrlNormalizer(), UrlDedupSignature(work / "url_keys", partitions=3)],
        tasks=2,
        logging_dir=str(logs / "1"),
    ).run()
    LocalPipelineExecutor(
        [UrlDedupFind(work / "url_keys", work / "url_dups")], tasks=3, logging_dir=str(logs / "2")
    ).run()
    LocalPipelineExecutor(
        [
            JsonlReader(str(data), glob_pattern="*.jsonl.gz"),
            UrlDedupFilter(work / "url_dups"),
            DecontaminationFilter(["gsm8k"], benchmarks_dir=str(shared_data / "benchmarks")),
            MathScoreFilter(str(model), threshold=0.5, max_chars=20_000),
            JsonlWriter(str(tmp_path / "out")),
        ],
        tasks=2,
        logging_dir=str(logs / "3"),
    ).run()

    out = []
    for path in sorted((tmp_path / "out").glob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            out += [json.loads(line) for line in f]
    keep, _ = url_dedup_mask([d["url"] for d in docs])
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
