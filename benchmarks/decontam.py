# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Decontamination throughput: trl-dsm's hashed index vs a plain Python set of word tuples.

    python benchmarks/decontam.py [--data ../shared/data] [--repeat 4]

Input: the real web pages of ``web/web_docs.jsonl`` (English and Chinese), plus copies of them with planted
benchmark passages, repeated ``--repeat`` times. Both implementations index the full benchmark list (GSM8K,
MATH, MATH-500, CMATH, MGSM-zh, AGIEval) and run one after the other in this process on one core; the script
prints MB/s and docs/s for each, the ratio, whether their findings are identical, and the index's memory.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the reference decontaminator (the baseline)

from tests.reference_decontamination import SetDecontaminator  # noqa: E402
from trl_dsm.decontamination import Decontaminator, NgramIndex, load_benchmark_texts  # noqa: E402
from trl_dsm.decontamination.ngrams import TOKEN_RE, is_informative, tokenize  # noqa: E402


def plant(docs: list[str], texts, count: int, seed: int = 0) -> tuple[list[str], list[bool]]:
    """Copies of random pages, each with a 10-15-gram passage of a random benchmark text inside a paragraph;
    also returns, per page, whether the passage has wording (formula-only passages are not evidence)."""
    rng = random.Random(seed)
    long_texts = [t for t in texts if len(TOKEN_RE.findall(t.text.lower())) >= 15]
    out, worded = [], []
    for _ in range(count):
        text = rng.choice(long_texts).text
        spans = [m.span() for m in TOKEN_RE.finditer(text)]
        start = rng.randrange(0, len(spans) - 14)
        passage = text[spans[start][0] : spans[start + rng.randint(9, 14)][1]]
        doc = rng.choice(docs)
        paragraphs = doc.split("\n\n")
        k = rng.randrange(len(paragraphs))
        paragraphs[k] = paragraphs[k] + " " + passage + " and so on."
        out.append("\n\n".join(paragraphs))
        worded.append(any(map(is_informative, tokenize(passage))))
    return out, worded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=4, help="copies of the input (more MB, steadier timings)")
    parser.add_argument("--planted", type=int, default=200, help="pages with a planted benchmark passage")
    args = parser.parse_args()

    web = [json.loads(line)["text"] for line in (args.data / "web" / "web_docs.jsonl").open(encoding="utf-8")]
    t0 = time.perf_counter()
    texts = load_benchmark_texts("all", args.data / "benchmarks")
    index = NgramIndex.build(texts)
    build_s = time.perf_counter() - t0
    planted, worded = plant(web, texts, args.planted)
    docs = (web + planted) * args.repeat
    megabytes = sum(len(d.encode()) for d in docs) / 1e6
    cjk = sum(bool(re.search(r"[\u4e00-\u9fff]", d)) for d in docs)
    print(
        f"input: {len(docs)} documents, {megabytes:.1f} MB ({cjk} with Chinese), {args.planted * args.repeat} planted"
    )
    stats = index.stats()
    per_entry = (index.nbytes - 2**21) / max(stats["ngram_entries"] + stats["exact_entries"], 1)
    print(
        f"index: {stats['ngram_entries']:,} 10-grams + {stats['exact_entries']} short texts from "
        f"{stats['texts']:,} benchmark texts; {stats['array_megabytes']} MB in memory "
        f"({per_entry:.1f} bytes per entry + a 2 MiB look-up bitmap: a 1M-entry index takes "
        f"{(per_entry * 1e6 + 2**21) / 2**20:.1f} MiB); built in {build_s:.2f}s"
    )

    ours = Decontaminator(index)
    ours.check_batch(docs[:50])  # warm-up (bitmap)
    t = time.perf_counter()
    results = []
    for start in range(0, len(docs), 256):
        results += ours.check_batch(docs[start : start + 256])
    ours_s = time.perf_counter() - t

    t = time.perf_counter()
    baseline = SetDecontaminator(texts)
    base_build_s = time.perf_counter() - t
    t = time.perf_counter()
    base_found = [baseline.contaminated_segments(d) for d in docs]
    base_s = time.perf_counter() - t

    ours_found = [{f.segment_index for f in r.findings} for r in results]
    identical = ours_found == base_found
    flagged = sum(bool(f) for f in ours_found)
    print(f"{'implementation':<28} {'MB/s/core':>10} {'docs/s':>9} {'flagged docs':>13}")
    print(f"{'trl-dsm (hashed, numpy)':<28} {megabytes / ours_s:>10.2f} {len(docs) / ours_s:>9.0f} {flagged:>13}")
    print(
        f"{'python set of word tuples':<28} {megabytes / base_s:>10.2f} {len(docs) / base_s:>9.0f} "
        f"{sum(bool(f) for f in base_found):>13}  (index build {base_build_s:.2f}s, not timed)"
    )
    print(f"speed-up: {base_s / ours_s:.2f}x; findings identical: {identical}")
    first_copy = ours_found[len(web) : len(web) + len(planted)]
    found_worded = sum(bool(f) for f, w in zip(first_copy, worded) if w)
    found_formula = sum(bool(f) for f, w in zip(first_copy, worded) if not w)
    print(
        f"planted passages found: {found_worded}/{sum(worded)} with wording (recall "
        f"{found_worded / max(sum(worded), 1):.1%}), {found_formula}/{len(worded) - sum(worded)} formula-only "
        f"(not evidence by design); real web pages flagged: {sum(bool(f) for f in ours_found[: len(web)])}"
    )
    if not identical:
        diff = [i for i, (a, b) in enumerate(zip(ours_found, base_found)) if a != b]
        print(f"  differing documents: {diff[:20]}")


if __name__ == "__main__":
    main()
