# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""10-gram benchmark decontamination (DeepSeekMath §2.1)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference_decontamination import SetDecontaminator
from trl_dsm.decontamination import (
    BenchmarkText,
    Decontaminator,
    NgramIndex,
    load_benchmark_texts,
    ngram_hashes,
    resolve_benchmarks,
    tokenize,
)
from trl_dsm.decontamination.ngrams import (
    HASH_BASE,
    LINE_BREAK,
    PARAGRAPH_BREAK,
    TOKEN_RE,
    is_informative,
    sequence_hash,
    window_counts,
)
from trl_dsm.decontamination.vectorized import VocabularyHashes, batch_gram_ids, batch_grams, token_hash


GSM_Q = (
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
    "friends every day with four."
)
CMATH_Q = "妈咪买了3盒茶叶，一盒茶叶有6小包，一共买了多少小包茶叶？"


def _index(*texts: tuple[str, str], **kwargs) -> NgramIndex:
    return NgramIndex.build([BenchmarkText(b, str(i), "question", t) for i, (b, t) in enumerate(texts)], **kwargs)


# -- the math ---------------------------------------------------------------------------------------------
def test_ngram_hashes_match_hand_computation():
    b = int(HASH_BASE)
    mask = 2**64 - 1
    hashes = ngram_hashes(np.array([3, 1, 4, 1]), 3).tolist()
    assert hashes == [((3 * b + 1) * b + 4) & mask, ((1 * b + 4) * b + 1) & mask]
    assert sequence_hash([3, 1, 4]) == hashes[0]
    assert ngram_hashes(np.array([1, 2]), 3).tolist() == []


def test_window_counts_and_validity_exact():
    flags = np.array([1, 0, 1, 1, 0, 0], dtype=bool)
    assert window_counts(flags, 3).tolist() == [2, 2, 2, 1]


def test_tokenize_english_chinese_digits_and_width():
    assert tokenize("Janet's ducks lay 16 eggs.") == ["janet", "s", "ducks", "lay", "16", "eggs"]
    assert tokenize("妈咪买了3盒") == ["妈", "咪", "买", "了", "3", "盒"]
    assert tokenize("ＡＢ１２ x² snake_case") == ["ab12", "x2", "snake", "case"]  # NFKC; "_" separates
    assert tokenize(r"$\frac{1}{2}$") == ["frac", "1", "2"]
    assert [is_informative(t) for t in ["the", "of", "frac", "x", "2", "中"]] == [
        True,
        True,
        False,
        False,
        False,
        True,
    ]


def _regex_grams(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200))
def test_vectorized_grams_equal_regex_grams(text):
    text = text.lower().replace(PARAGRAPH_BREAK, " ").replace(LINE_BREAK, " ").replace("\ue002", " ")
    expected = _regex_grams(text)
    hashes, starts, ends = batch_grams(text)
    assert [text[a:b] for a, b in zip(starts.tolist(), ends.tolist())] == expected
    assert hashes.tolist() == [token_hash(t) for t in expected]
    vocab = {t: i + 1 for i, t in enumerate(dict.fromkeys(expected[::2]))}
    table = VocabularyHashes(vocab, {})
    ids, starts2, ends2 = batch_gram_ids(text, table)  # the numba kernel
    assert starts2.tolist() == starts.tolist() and ends2.tolist() == ends.tolist()
    assert ids.tolist() == [vocab.get(t, 0) for t in expected]


def test_vectorized_grams_on_real_pages(shared_data):
    for line in (shared_data / "web" / "web_docs.jsonl").open(encoding="utf-8"):
        text = json.loads(line)["text"].lower()
        _, starts, ends = batch_grams(text)
        assert [text[a:b] for a, b in zip(starts.tolist(), ends.tolist())] == _regex_grams(text)


# -- rules --------------------------------------------------------------------------------------------------
def test_segment_mode_removes_only_the_contaminated_paragraph():
    index = _index(("gsm8k", GSM_Q))
    doc = f"Intro paragraph.\n\nAs we know, {GSM_Q[:80]} indeed.\n\nClosing words here."
    (result,) = Decontaminator(index).check(doc)
    assert result.text == "Intro paragraph.\n\nClosing words here."
    assert result.segments_removed == 1
    finding = result.findings[0]
    assert (finding.benchmark, finding.item_id, finding.rule, finding.segment_index) == ("gsm8k", "0", "ngram", 1)
    assert len(finding.match.split()) == 10
    assert finding.match in " ".join(tokenize(GSM_Q)) and finding.match in " ".join(tokenize(doc))


def test_document_mode_drops_the_document_and_clean_docs_pass_unchanged():
    index = _index(("gsm8k", GSM_Q))
    clean = "Nothing to see.\n\nReally nothing."
    dirty, kept = Decontaminator(index, mode="document").check(f"Hi.\n\n{GSM_Q}", clean)
    assert dirty.text is None and dirty.contaminated
    assert kept.text == clean and not kept.findings


def test_chinese_contamination_is_found():
    index = _index(("cmath", CMATH_Q))
    (result,) = Decontaminator(index).check(f"前言。\n\n题目：{CMATH_Q}\n\n结束。")
    assert result.text == "前言。\n\n结束。"
    assert result.findings[0].benchmark == "cmath"


def test_ngram_across_a_paragraph_break_marks_both_paragraphs():
    index = _index(("gsm8k", GSM_Q))
    words = GSM_Q.split()
    doc = "Start.\n\n" + " ".join(words[:6]) + "\n\n" + " ".join(words[6:12]) + "\n\nEnd."
    (result,) = Decontaminator(index).check(doc)
    assert result.text == "Start.\n\nEnd."
    assert result.segments_removed == 2


def test_short_texts_match_whole_lines_only():
    index = _index(("math", "Find the smallest prime"), ("gsm8k", GSM_Q))
    (whole_line, inside, other) = Decontaminator(index).check(
        "Homework:\nFind the smallest prime\nThanks", "Please find the smallest prime above 100 for me.", "x y z"
    )
    assert whole_line.contaminated and whole_line.findings[0].rule == "exact"
    assert not inside.contaminated  # a 4-gram inside a longer line is not evidence (it is everywhere)
    assert not other.contaminated


def test_formula_pieces_need_wording_or_a_long_match():
    formula = "a^2+b^2+c^2+d^2+e^2 = (a+b+c+d+e)^2 - 2(ab+ac+ad+ae+bc+bd+be+cd+ce+de)"
    index = _index(("math", formula))
    short, long_match = Decontaminator(index).check("We know a^2+b^2+c^2+d^2+e^2 well.", f"Recall {formula}.")
    assert not short.contaminated  # 10 formula grams, no wording: generic notation
    assert long_match.contaminated  # >= 2n grams of the same formula: a quotation
    assert Decontaminator(index, min_informative=0).check("We know a^2+b^2+c^2+d^2+e^2 well.")[0].contaminated


def test_bad_arguments_raise_clear_errors():
    index = _index(("gsm8k", GSM_Q))
    with pytest.raises(ValueError, match="mode must be"):
        Decontaminator(index, mode="paragraph")
    with pytest.raises(ValueError, match="segment_by must be"):
        Decontaminator(index, segment_by="sentence")
    with pytest.raises(TypeError, match="document 1: expected a string"):
        Decontaminator(index).check_batch(["ok", 3])
    with pytest.raises(ValueError, match="unknown benchmark 'gsm9k'"):
        resolve_benchmarks("gsm9k")
    assert resolve_benchmarks("agieval,MGSM-zh")[-1] == "mgsm_zh"


def test_index_save_load_roundtrip(tmp_path):
    index = _index(("gsm8k", GSM_Q), ("cmath", CMATH_Q))
    index.save(tmp_path / "idx")
    loaded = NgramIndex.load(tmp_path / "idx")
    assert loaded.stats() == index.stats() and loaded.fingerprint() == index.fingerprint()
    assert Decontaminator(loaded).check(GSM_Q)[0].contaminated
    with pytest.raises(FileNotFoundError, match="index.npz"):
        NgramIndex.load(tmp_path)


# -- on the real benchmarks and web pages ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def full_index(shared_data):
    texts = load_benchmark_texts("all", shared_data / "benchmarks")
    return texts, NgramIndex.build(texts)


def test_full_index_memory(full_index):
    _, index = full_index
    stats = index.stats()
    assert stats["ngram_entries"] > 800_000 and len(stats["benchmarks"]) == 9
    per_entry = (index.nbytes - 2**21) / stats["ngram_entries"]  # arrays, without the fixed 2 MiB bitmap
    assert per_entry <= 12.1
    assert (per_entry * 1_000_000 + 2**21) / 2**20 <= 16  # a 1M-entry index, bitmap included, fits in 16 MB


def test_planted_passages_from_every_benchmark_are_found(full_index, shared_data):
    texts, index = full_index
    web = [json.loads(line)["text"] for line in (shared_data / "web" / "web_docs.jsonl").open(encoding="utf-8")]
    rng = random.Random(0)
    by_benchmark: dict[str, list[BenchmarkText]] = {}
    for text in texts:
        by_benchmark.setdefault(text.benchmark, []).append(text)
    docs, expected = [], []
    for benchmark, items in sorted(by_benchmark.items()):
        planted = 0
        while planted < 25:
            text = rng.choice(items).text
            spans = [m.span() for m in TOKEN_RE.finditer(text)]
            if len(spans) < 10:
                continue
            start = rng.randrange(len(spans) - 9)
            passage = text[spans[start][0] : spans[start + 9][1]]
            if not any(map(is_informative, tokenize(passage))):
                continue  # formula-only windows are not evidence by design (docs/decontamination.md)
            host = rng.choice(web).split("\n\n")
            k = rng.randrange(len(host))
            host[k] = host[k] + " " + passage + " and so on."
            docs.append("\n\n".join(host))
            expected.append(benchmark)
            planted += 1
    assert {b for b in expected} >= {"gsm8k", "math", "cmath", "mgsm_zh", "agieval-gaokao-mathqa"}
    results = Decontaminator(index).check_batch(docs)
    missed = [(b, d[:80]) for b, d, r in zip(expected, docs, results) if not r.contaminated]
    assert not missed
    # ...and the real web pages themselves are clean
    assert not [r.findings for r in Decontaminator(index).check_batch(web) if r.contaminated]


def test_matches_the_reference_implementation(full_index, shared_data):
    texts, index = full_index
    web = [json.loads(line)["text"] for line in (shared_data / "web" / "web_docs.jsonl").open(encoding="utf-8")]
    rng = random.Random(1)
    docs = web[:150] + [f"{rng.choice(web)}\n\n{rng.choice(texts).text}" for _ in range(100)]
    reference = SetDecontaminator(texts)
    ours = [{f.segment_index for f in r.findings} for r in Decontaminator(index).check_batch(docs)]
    assert ours == [reference.contaminated_segments(d) for d in docs]
    assert sum(bool(f) for f in ours) >= 75  # most appended texts are long enough to be evidence


# -- datasets and CLI --------------------------------------------------------------------------------------
def test_decontaminate_dataset_with_two_processes(full_index):
    from datasets import Dataset

    from trl_dsm.decontamination.pipeline import decontaminate_dataset

    _, index = full_index
    texts = [f"Doc {i}. A harmless paragraph about apples." for i in range(40)]
    texts[5] += f"\n\n{GSM_Q}"
    texts[17] = GSM_Q
    data = Dataset.from_dict({"text": texts, "id": list(range(40))})
    clean, report = decontaminate_dataset(data, index=index, num_proc=2, batch_size=8)
    assert len(clean) == 39 and clean.column_names == ["text", "id"]  # row 17 emptied, then dropped
    assert clean[5]["text"] == "Doc 5. A harmless paragraph about apples."
    assert report.summary["documents_contaminated"] == 2
    assert report.summary["by_benchmark"]["gsm8k"]["documents"] == 2
    assert {f["row"] for f in report.findings} == {5, 17}
    assert "| gsm8k | 2 | 2 | 1 |" in report.card_section()
    dropped, report = decontaminate_dataset(data, index=index, mode="document", num_proc=2)
    assert len(dropped) == 38 and report.summary["documents_out"] == 38
    with pytest.raises(KeyError, match="column 'body' not in the dataset"):
        decontaminate_dataset(data, "body", index=index)
    bad = Dataset.from_dict({"text": [21 if i == 21 else None for i in range(24)]})  # nulls are fine
    with pytest.raises(TypeError, match="column 'text', row 21: expected a string, got int"):
        decontaminate_dataset(bad, index=index, batch_size=8)


@pytest.mark.parametrize("mode", ["segment", "document"])
def test_merged_shard_reports_equal_one_report_over_the_concatenation(mode):
    """Shards decontaminated one by one (the mining pipeline's tasks), their reports merged: the same report,
    documents and numbers as one run over the concatenated shards."""
    from datasets import Dataset, concatenate_datasets

    from trl_dsm.benchmarks import BenchmarkText
    from trl_dsm.decontamination.pipeline import build_index, decontaminate_dataset, merge_reports

    question = "one two three four five six seven eight nine ten eleven twelve"
    other = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda"
    index = build_index(
        benchmarks=[],
        extra=[BenchmarkText("b", "0", "question", question), BenchmarkText("c", "7", "answer", other)],
    )
    texts = [f"page {i} about apples" for i in range(12)]
    texts[1] += f"\n\n{question}"
    texts[4] = question  # emptied in segment mode, then dropped
    texts[7] += f"\n\n{other}\n\n{question}"
    texts[11] = f"{other}\n\nkept"
    data = Dataset.from_dict({"text": texts, "id": list(range(12))})
    whole, expected = decontaminate_dataset(data, index=index, mode=mode)
    bounds = [(0, 3), (3, 3), (3, 8), (8, 12)]  # an empty shard too
    parts = [decontaminate_dataset(data.select(range(a, b)), index=index, mode=mode) for a, b in bounds]
    merged = merge_reports([report for _, report in parts])
    assert merged.summary == expected.summary and merged.findings == expected.findings
    assert merged.index_stats == expected.index_stats and merged.card_section() == expected.card_section()
    assert concatenate_datasets([d for d, _ in parts]).to_list() == whole.to_list()
    assert expected.summary["by_benchmark"]["b"] == {"documents": 3, "segments": 3, "benchmark_items": 1}
    with pytest.raises(ValueError, match="reports: nothing to merge"):
        merge_reports([])
    other_mode = decontaminate_dataset(data, index=index, mode="document" if mode == "segment" else "segment")[1]
    with pytest.raises(ValueError, match=r"reports\[1\]\.summary\.mode is"):
        merge_reports([expected, other_mode])
    small = build_index(benchmarks=[], extra=[BenchmarkText("b", "0", "question", question)])
    with pytest.raises(ValueError, match=r"reports\[1\]\.index_stats differs"):
        merge_reports([expected, decontaminate_dataset(data, index=small, mode=mode)[1]])


def test_cli_decontaminate(tmp_path, shared_data):
    data = tmp_path / "in.jsonl"
    rows = [{"text": "Clean text about cats."}, {"text": f"Intro.\n\n{CMATH_Q}"}]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "trl_dsm.cli", "decontaminate", "--input", str(data), "--benchmarks", "cmath,gsm8k",
           "--benchmarks-dir", str(shared_data / "benchmarks"), "--output-dir", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| cmath | 1 | 1 | 1 |" in proc.stdout
    clean = [json.loads(line) for line in (out / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in clean] == ["Clean text about cats.", "Intro."]
    report = [json.loads(line) for line in (out / "report.jsonl").read_text(encoding="utf-8").splitlines()]
    assert report[0]["benchmark"] == "cmath" and report[0]["row"] == 1
    assert "## Decontamination" in (out / "summary.md").read_text(encoding="utf-8")
    bad = subprocess.run([*cmd[:5], str(tmp_path / "missing.jsonl"), *cmd[6:]], capture_output=True, text=True)
    assert bad.returncode == 2 and "trl-dsm decontaminate: error:" in bad.stderr and "not found" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_decontaminate_empty_dataset():
    from datasets import Dataset

    from trl_dsm.benchmarks import BenchmarkText
    from trl_dsm.decontamination.pipeline import build_index, decontaminate_dataset

    index = build_index(
        benchmarks=[],
        extra=[BenchmarkText("b", "0", "question", "one two three four five six seven eight nine ten eleven")],
    )
    empty = Dataset.from_dict({"text": []})
    clean, report = decontaminate_dataset(empty, "text", index=index)
    assert len(clean) == 0 and report.findings == []
    assert report.summary["documents_in"] == 0 and report.summary["documents_out"] == 0


def test_findings_column_has_one_schema():
    """Empty, clean and contaminated inputs give the same findings-column type, so their outputs concatenate."""
    from datasets import Dataset, concatenate_datasets

    from trl_dsm.benchmarks import BenchmarkText
    from trl_dsm.decontamination.decontaminate import findings_feature
    from trl_dsm.decontamination.pipeline import FINDINGS_COLUMN, build_index, decontaminate_dataset

    question = "one two three four five six seven eight nine ten eleven"
    index = build_index(benchmarks=[], extra=[BenchmarkText("b", "0", "question", question)])
    outs = [
        decontaminate_dataset(Dataset.from_dict({"text": texts}), "text", index=index, keep_findings_column=True)[0]
        for texts in ([], ["clean text"], [f"intro\n\n{question}\n\nend"])
    ]
    assert [out.features[FINDINGS_COLUMN] for out in outs] == [findings_feature()] * 3
    both = concatenate_datasets(outs)
    assert both["text"] == ["clean text", "intro\n\nend"]
    assert both[FINDINGS_COLUMN][0] == [] and both[FINDINGS_COLUMN][1][0]["benchmark"] == "b"
    assert both[FINDINGS_COLUMN][1][0]["segment_index"] == 1


@pytest.mark.parametrize("rows", [0, 2])
def test_input_columns_named_like_the_outputs_are_refused(rows):
    """A user column called ``contaminated`` or ``decontamination_findings`` would be overwritten and dropped."""
    from datasets import Dataset

    from trl_dsm.benchmarks import BenchmarkText
    from trl_dsm.decontamination.pipeline import build_index, decontaminate_dataset

    index = build_index(benchmarks=[], extra=[BenchmarkText("b", "0", "question", "one two three four five")])
    for name in ("contaminated", "decontamination_findings"):
        data = Dataset.from_dict({"text": ["a page"] * rows, name: ["kept"] * rows})
        with pytest.raises(ValueError, match=f"already has column\\(s\\) \\['{name}'\\].*rename them first"):
            decontaminate_dataset(data, "text", index=index)


def test_unreachable_hub_names_the_local_way_out(monkeypatch):
    import datasets

    from trl_dsm.benchmarks import benchmark_records

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ValueError, match=r"could not load benchmark 'gsm8k' from the Hub \(openai/gsm8k\): "
                       r"ConnectionError: .* --benchmarks-dir DIR .* needs gsm8k/test\.jsonl"):  # fmt: skip
        list(benchmark_records("gsm8k"))
