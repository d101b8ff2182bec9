# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Stage two of two-stage extraction inside one mining run (§2.1 at Common Crawl scale; ``extraction.in_run``).

Without a classifier trained before the run, ``ingest`` gives every WARC page stage one only (the raw-HTML
prefilter, if on, and the fast plain text) and keeps each page's record offset in its file
(``raw/part-U.offsets.npy``). Iteration 1 trains its classifier on that text as usual; then the ``refine`` stage,
per shard and ``batch_size`` pages at a time, scores the kept pages' fast text with it, reads the pages scoring
>= ``recall_threshold`` again from their WARC records (:func:`trl_dsm.mining.warc.read_warc_pages`, one seek per
page) and gives them the math-preserving extraction. The refined shard (``refine/shard-S.parquet``) replaces the
shard for every later stage (:func:`docs_shard`), with its token counts, the stage-one scores and the stage-two
flags in ``refine/shard-S.npz`` (:func:`shard_tokens`); iteration 1's ``score`` then scores only the refined pages
again. MinHash near-dedup stays on the fast text (it ran before), which finds the same duplicates: a page and its
copy have the same HTML, so the same fast text.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from trl_dsm.mining.classifier import FastTextClassifier, cached_classifier
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.documents import COLUMNS
from trl_dsm.mining.readers import SourceSpec
from trl_dsm.mining.rundir import RunDir, atomic_json, atomic_npz, atomic_parquet_stream, iter_batches
from trl_dsm.mining.select import count_tokens


logger = logging.getLogger(__name__)

__all__ = [
    "docs_shard",
    "iteration_classifier",
    "refine_shard",
    "shard_tokens",
    "stage_one_scores",
    "stage_two_summary",
]


def docs_shard(run: RunDir, config: MiningConfig, shard: int) -> Path:
    """The documents of ``shard`` as the stages after iteration 1's training read them: the refined shard with
    ``extraction.in_run``, else ``docs/shard-S.parquet``."""
    return run.refined(shard) if config.extraction.in_run else run.doc_shard(shard)


def shard_tokens(run: RunDir, config: MiningConfig, shard: int) -> np.ndarray:
    """Token counts per row of :func:`docs_shard`'s documents."""
    return np.load(run.refined_meta(shard) if config.extraction.in_run else run.prepared(shard))["tokens"]


def stage_one_scores(run: RunDir, config: MiningConfig, k: int, shard: int) -> np.ndarray | None:
    """With ``extraction.in_run`` and ``k == 1``: the scores ``refine`` gave the shard's pages (NaN for the pages
    it refined, which need scoring again, and for the pages dedup removed); else None."""
    if not (config.extraction.in_run and k == 1):
        return None
    meta = np.load(run.refined_meta(shard))
    return np.where(meta["stage_two"], np.nan, meta["fast_scores"]).astype(np.float32)


def iteration_classifier(run: RunDir, config: MiningConfig, k: int) -> FastTextClassifier:
    """Iteration ``k``'s classifier (the quantized ``.ftz`` with ``classifier.quantize``), once per process."""
    path = run.model(k).with_suffix(".ftz") if config.classifier.quantize else run.model(k)
    return cached_classifier(str(path), path.stat().st_mtime_ns, config.classifier.max_chars)


class _Locations:
    """Where each global row read from a WARC file came from: its input unit's file and the record's offset."""

    def __init__(self, run: RunDir):
        import json

        meta, units = run.meta(), json.loads(run.units().read_text())
        self.part_offsets = np.asarray(meta["part_offsets"], dtype=np.int64)
        self.paths: dict[int, str] = {}
        self.min_chars: dict[int, int] = {}
        self.offsets: dict[int, np.ndarray] = {}
        for unit, entry in enumerate(units):
            spec = entry["spec"]
            if spec.get("type") == "warc" and run.raw_offsets(unit).is_file():
                self.paths[unit] = spec["paths"][0]
                self.min_chars[unit] = SourceSpec.from_dict(spec).min_text_chars
                self.offsets[unit] = np.load(run.raw_offsets(unit), mmap_mode="r")

    def locate(self, rows: np.ndarray) -> list[tuple[int, int]]:
        """``(unit, record offset)`` per global row; unit -1 for rows not read from a WARC file."""
        units = np.searchsorted(self.part_offsets, rows, side="right") - 1
        out = []
        for row, unit in zip(rows.tolist(), units.tolist()):
            offsets = self.offsets.get(unit)
            out.append((unit, int(offsets[row - self.part_offsets[unit]])) if offsets is not None else (-1, -1))
        return out


def refine_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> dict[str, int]:
    """The ``refine`` task (``iteration`` = 1): shard ``shard``'s kept pages scored on their fast text by the
    iteration's classifier; those scoring >= ``extraction.recall_threshold`` that came from WARC files read again
    and given the math-preserving extraction (:func:`~trl_dsm.mining.html_text.html_to_text`). A page whose
    extraction passes its bound, or whose math-preserving text is shorter than its input's ``min_text_chars``,
    keeps its fast text (counted, and logged with its URL). Returns the counts for the stage's stats."""
    import pyarrow as pa

    from trl_dsm.mining.extraction.bound import ExtractionTimeout
    from trl_dsm.mining.html_text import html_to_text
    from trl_dsm.mining.warc import TIMEOUT_STAT, read_warc_pages

    keep = np.load(run.keep(shard))
    tokens = np.load(run.prepared(shard))["tokens"].copy()
    fast_scores = np.full(len(keep), np.nan, dtype=np.float32)
    stage_two = np.zeros(len(keep), dtype=bool)
    counts = {"stage_two": 0, TIMEOUT_STAT: 0, "stage_two_too_short": 0}
    classifier = iteration_classifier(run, config, k)
    locations = _Locations(run)
    first_row = run.meta()["offsets"][shard]
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])

    def batches():
        start = 0
        for batch in iter_batches(run.doc_shard(shard), COLUMNS, config.batch_size):
            n = len(batch["text"])
            rows = np.flatnonzero(keep[start : start + n])
            if len(rows):
                fast_scores[start + rows] = classifier.predict_proba([batch["text"][r] for r in rows])
            passing = rows[fast_scores[start + rows] >= config.extraction.recall_threshold]
            wanted: dict[int, dict[int, int]] = defaultdict(dict)  # unit -> {record offset: row in batch}
            for r, (unit, offset) in zip(passing.tolist(), locations.locate(passing + start + first_row)):
                if unit >= 0:
                    wanted[unit][offset] = r
            changed = []
            for unit, by_offset in wanted.items():
                path = locations.paths[unit]
                pages = read_warc_pages(path, {o: batch["id"][r] for o, r in by_offset.items()})
                for r in by_offset.values():
                    page = pages[batch["id"][r]]
                    try:
                        title, text = html_to_text(page["text"], url=page["url"])
                    except ExtractionTimeout as err:
                        logger.warning("%s: page %s kept its fast text: %s", Path(path).name, page["url"], err)
                        counts[TIMEOUT_STAT] += 1
                        continue
                    if len(text.strip()) < locations.min_chars[unit]:
                        counts["stage_two_too_short"] += 1
                        continue
                    batch["title"][r], batch["text"][r] = title, text
                    stage_two[start + r] = True
                    changed.append(r)
            if changed:
                changed.sort()
                counted = count_tokens([batch["text"][r] for r in changed], config.selection.tokenizer)
                tokens[start + np.asarray(changed)] = counted
            counts["stage_two"] += len(changed)
            start += n
            yield pa.table(batch, schema=schema)

    atomic_parquet_stream(run.refined(shard), schema, batches())
    atomic_json(run.refined_meta(shard).with_suffix(".json"), {**counts, "kept": int(keep.sum())})
    atomic_npz(run.refined_meta(shard), tokens=tokens, fast_scores=fast_scores, stage_two=stage_two)  # marker
    return counts


def stage_two_summary(run: RunDir, config: MiningConfig) -> dict | None:
    """With ``extraction.in_run``: the ``refine`` counts summed over the shards (``kept``: pages scored on their fast
    text; ``stage_two``: pages given the math-preserving extraction; pages that kept their fast text at the
    extraction's bound or for too short a text), and the share of kept pages that reached stage two; else None."""
    import json

    if not config.extraction.in_run:
        return None
    total: dict[str, int] = defaultdict(int)
    for shard in range(config.num_shards):
        for key, value in json.loads(run.refined_meta(shard).with_suffix(".json").read_text()).items():
            total[key] += value
    return {**total, "stage_two_share": total["stage_two"] / total["kept"] if total["kept"] else 0.0}
