# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The tasks of a mining run (§2.1): each reads what it needs from the run directory and writes its output
atomically, so any executor can run it on any worker, repeat it after a crash, and tell it done by its output.

A :class:`StageTask` ``(run_dir, stage, iteration)`` is the picklable unit an executor receives; ``task(i)`` runs
task ``i`` of the stage. Stages and what their task ``i`` is:

* ``ingest``: input unit ``i`` (one file or dataset) -> ``raw/part-i.parquet``.
* ``prepare``: shard ``i`` -> MinHash signatures (``prepare/signatures-i.npy``), token counts and empty flags
  (``prepare/shard-i.npz``), normalized URL keys per hash partition (``dedup/urls/shard-i/part-*.parquet``).
* ``url_dedup``: URL partition ``i`` -> the rows whose normalized URL an earlier row has
  (``dedup/urls/removed/part-i.npy``).
* ``lsh_buckets``: shard ``i`` -> ``(band key, row)`` of its remaining non-empty rows, sorted per band and hash
  partition (``dedup/lsh/shard-i/band-B-part-P.npy``).
* ``lsh_merge``: band ``i // partitions``, partition ``i % partitions`` -> duplicate pairs from all shards'
  buckets (``dedup/edges/band-B-part-P.npy``).
* ``clusters`` (one task): union-find over the pairs -> ``dedup/keep.npy``, ``dedup/clusters.jsonl``,
  ``dedup/summary.json``.
* ``score`` (per iteration): shard ``i`` -> ``iter_k/scores/shard-i.npy``.
* ``domain_counts`` (per iteration): shard ``i`` -> pages and collected pages per domain of its kept rows, split by
  domain hash partition (``iter_k/domains/shard-i/part-*.parquet``).
* ``domain_merge``: partition ``i`` -> its domains' counts summed over shards; only the math domains (more than
  ``math_fraction`` collected) are written (``iter_k/domains/math-i.parquet``).
* ``prefix_counts``: shard ``i`` -> partial counts of the URL prefixes of the math domains
  (``iter_k/prefixes/shard-i.jsonl``), merged by the driver into the annotation rows.
* ``prefix_pages``: shard ``i`` -> its uncollected rows under accepted prefixes (``iter_k/seeds_added/shard-i.npy``).
* ``final``: shard ``i`` -> ``final/shard-i.parquet`` (the last iteration's selection with its scores).

No task holds more than one shard's documents, one partition's URL keys, band buckets or domain counts, the
duplicate pairs, or the math domains.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trl_dsm.mining import dedup as dedup_lib
from trl_dsm.mining import domains as domains_lib
from trl_dsm.mining.classifier import SCORE_COLUMN, FastTextClassifier, score_dataset
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.readers import COLUMNS, load_documents
from trl_dsm.mining.rundir import (
    RunDir,
    atomic_json,
    atomic_jsonl,
    atomic_npy,
    atomic_npz,
    atomic_parquet,
    read_shard,
)
from trl_dsm.mining.select import count_tokens


def ingest_unit(run: RunDir, config: MiningConfig, iteration: int, unit: int) -> None:
    units = json.loads(run.units().read_text())
    dataset = load_documents(dict(units[unit]["spec"]), cache_dir=run.root / "cache")
    atomic_parquet(run.raw(unit), dataset.select_columns(COLUMNS))


def url_partition(key: str, partitions: int) -> int:
    """The URL-dedup partition of a normalized URL key (stable across processes and machines)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") % partitions


def prepare_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    import pyarrow as pa

    d = config.dedup
    start = run.meta()["offsets"][shard]
    docs = read_shard(run.doc_shard(shard), ["text", "url"])
    texts = docs["text"]
    if d.minhash:
        sigs = dedup_lib.minhash_signatures(texts, num_perm=d.num_perm, seed=d.seed, ngram=d.ngram)
        atomic_npy(run.signatures(shard), sigs)
    if d.url:
        parts: list[tuple[list[str], list[int]]] = [([], []) for _ in range(d.partitions)]
        for i, url in enumerate(docs["url"]):
            key = dedup_lib.normalize_url(url)
            if key:  # rows without a URL cannot be compared: all kept
                keys, rows = parts[url_partition(key, d.partitions)]
                keys.append(key)
                rows.append(start + i)
        for p, (keys, rows) in enumerate(parts):
            table = pa.table({"key": pa.array(keys, pa.string()), "row": pa.array(rows, pa.int64())})
            atomic_parquet(run.url_keys(shard, p), table)
    tokens = count_tokens(texts, config.selection.tokenizer)
    empty = np.array([not (t or "").strip() for t in texts], dtype=bool)
    atomic_npz(run.prepared(shard), tokens=tokens, empty=empty)  # last: marks the task done


def url_dedup_partition(run: RunDir, config: MiningConfig, iteration: int, partition: int) -> None:
    """Exact URL dedup of one hash partition of the keys: the smallest row of each key stays (the first occurrence
    in input order, as :func:`trl_dsm.mining.dedup.url_dedup_mask`)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables = [pq.read_table(run.url_keys(s, partition)) for s in range(config.num_shards)]
    table = pa.concat_tables(tables)
    removed = np.zeros(0, dtype=np.int64)
    if table.num_rows:
        table = table.take(pc.sort_indices(table, sort_keys=[("key", "ascending"), ("row", "ascending")]))
        keys = table.column("key").combine_chunks()
        repeat = np.r_[False, pc.equal(keys.slice(1), keys.slice(0, len(keys) - 1)).to_numpy(zero_copy_only=False)]
        removed = np.sort(table.column("row").to_numpy()[repeat])
    atomic_npy(run.url_removed(partition), removed.astype(np.int64))


def _url_removed_in(run: RunDir, config: MiningConfig, lo: int, hi: int) -> np.ndarray:
    if not config.dedup.url:
        return np.zeros(0, dtype=np.int64)
    out = [r[(r >= lo) & (r < hi)] for r in (np.load(run.url_removed(p)) for p in range(config.dedup.partitions))]
    return np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def lsh_done(run: RunDir, shard: int) -> Path:
    return run.lsh_buckets(shard, 0, 0).parent / "done.json"


def lsh_buckets_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    d = config.dedup
    meta = run.meta()
    lo, n = meta["offsets"][shard], meta["rows"][shard]
    keep = ~np.load(run.prepared(shard))["empty"].astype(bool)
    keep[_url_removed_in(run, config, lo, lo + n) - lo] = False
    local = np.flatnonzero(keep)
    bands, rows_per_band = dedup_lib.lsh_params(d.threshold, d.num_perm)
    keys = dedup_lib.band_hashes(np.load(run.signatures(shard))[local], bands, rows_per_band)
    rows = local.astype(np.int64) + lo
    for band in range(bands):
        part = dedup_lib.hash_partition(keys[:, band], d.partitions)
        for p in range(d.partitions):
            mask = part == p
            atomic_npy(run.lsh_buckets(shard, band, p), dedup_lib.sorted_buckets(keys[mask, band], rows[mask]))
    atomic_json(lsh_done(run, shard), {"rows": int(len(rows)), "bands": bands})


class SignatureLookup:
    """Signatures of global rows, read from the shards' ``.npy`` files by memory map (only those rows)."""

    def __init__(self, run: RunDir, offsets: list[int]):
        self.run, self.offsets = run, np.asarray(offsets)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        shards = np.searchsorted(self.offsets, rows, side="right") - 1
        out = None
        for s in np.unique(shards):
            sigs = np.load(self.run.signatures(int(s)), mmap_mode="r")
            at = np.flatnonzero(shards == s)
            block = np.asarray(sigs[rows[at] - self.offsets[s]])
            if out is None:
                out = np.empty((len(rows), block.shape[1]), dtype=block.dtype)
            out[at] = block
        return out if out is not None else np.zeros((0, 0), dtype=np.uint32)


def lsh_merge_task(run: RunDir, config: MiningConfig, iteration: int, task: int) -> None:
    d = config.dedup
    band, part = divmod(task, d.partitions)
    parts = [np.load(run.lsh_buckets(s, band, part)) for s in range(config.num_shards)]
    entries = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.uint64)
    entries = entries[np.lexsort((entries[:, 1], entries[:, 0]))]
    edges = dedup_lib.bucket_edges(entries, SignatureLookup(run, run.meta()["offsets"]), d.threshold, d.verify)
    atomic_npy(run.lsh_edges(band, part), edges)


def lsh_tasks(config: MiningConfig) -> int:
    return dedup_lib.lsh_params(config.dedup.threshold, config.dedup.num_perm)[0] * config.dedup.partitions


def _column_at(run: RunDir, config: MiningConfig, column: str, rows: np.ndarray) -> dict[int, object]:
    """``{row: value}`` of one column for sorted global ``rows``, read shard by shard."""
    offsets = np.asarray(run.meta()["offsets"])
    out: dict[int, object] = {}
    for shard in range(config.num_shards):
        lo, hi = offsets[shard], offsets[shard + 1]
        local = rows[(rows >= lo) & (rows < hi)] - lo
        if len(local):
            values = read_shard(run.doc_shard(shard), [column]).select(local)[column]
            out.update(zip((local + lo).tolist(), values))
    return out


def clusters_task(run: RunDir, config: MiningConfig, iteration: int, task: int, max_members: int = 20) -> None:
    """Union-find over the duplicate pairs; the keep-mask, the cluster report and the dedup summary."""
    d = config.dedup
    meta = run.meta()
    n = meta["total"]
    keep = np.ones(n, dtype=bool)
    url_removed = _url_removed_in(run, config, 0, n)
    keep[url_removed] = False
    summary = {"documents": n, "url_duplicates_removed": int(len(url_removed))}
    if d.minhash:
        bands = dedup_lib.lsh_params(d.threshold, d.num_perm)[0]
        edges = [np.load(run.lsh_edges(b, p)) for b in range(bands) for p in range(d.partitions)]
        clusters = dedup_lib.clusters_from_edges(np.concatenate(edges))
        for members in clusters:
            keep[members[1:]] = False
        shown = np.unique(np.array([m for c in clusters for m in c[:max_members]], dtype=np.int64))
        urls, ids = _column_at(run, config, "url", shown), _column_at(run, config, "id", shown)
        rows = []
        for cid, members in enumerate(clusters):
            head = members[:max_members]
            rows.append(
                {
                    "cluster": cid,
                    "size": len(members),
                    "kept": members[0],
                    "members": head,
                    "urls": [urls[m] for m in head],
                    "ids": [ids[m] for m in head],
                }
            )
        atomic_jsonl(run.clusters(), rows)
        summary.update(
            near_duplicates_removed=sum(len(c) - 1 for c in clusters),
            clusters=len(clusters),
            largest_cluster=max((len(c) for c in clusters), default=0),
            threshold=d.threshold,
            num_perm=d.num_perm,
            ngram=d.ngram,
        )
    summary["kept"] = int(keep.sum())
    atomic_npy(run.dedup_keep(), keep)
    atomic_json(run.dedup_summary(), summary)  # last: marks the task done


def shard_keep(run: RunDir, shard: int) -> np.ndarray:
    meta = run.meta()
    start = meta["offsets"][shard]
    return np.load(run.dedup_keep(), mmap_mode="r")[start : start + meta["rows"][shard]].copy()


def score_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    keep = shard_keep(run, shard)
    scores = np.full(len(keep), np.nan, dtype=np.float32)
    rows = np.flatnonzero(keep)
    if len(rows):
        docs = read_shard(run.doc_shard(shard), ["text"]).select(rows)
        model_path = run.model(k).with_suffix(".ftz") if config.classifier.quantize else run.model(k)
        classifier = FastTextClassifier(model_path, max_chars=config.classifier.max_chars)
        scored = score_dataset(docs, classifier, num_proc=config.num_proc, batch_size=config.batch_size)
        scores[rows] = np.asarray(scored[SCORE_COLUMN], dtype=np.float32)
    atomic_npy(run.scores(k, shard), scores)


def final_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    meta = run.meta()
    start = meta["offsets"][shard]
    mask = np.load(run.iter_dir(k) / "selected.npy", mmap_mode="r")[start : start + meta["rows"][shard]]
    docs = read_shard(run.doc_shard(shard))
    scores = np.load(run.scores(k, shard))
    rows = np.flatnonzero(mask)
    out = docs.select(rows).add_column(SCORE_COLUMN, scores[rows].astype(np.float64).tolist())
    atomic_parquet(run.final(shard), out)


def _selected_in(run: RunDir, k: int, shard: int) -> np.ndarray:
    meta = run.meta()
    start = meta["offsets"][shard]
    return np.load(run.iter_dir(k) / "selected.npy", mmap_mode="r")[start : start + meta["rows"][shard]].copy()


def domain_counts_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """Pages and collected pages per domain of the shard's kept rows, one file per domain hash partition."""
    import pyarrow as pa

    keep, selected = shard_keep(run, shard), _selected_in(run, k, shard)
    domains = read_shard(run.doc_shard(shard), ["domain"])["domain"]
    counts: dict[str, list[int]] = {}
    for i in np.flatnonzero(keep).tolist():
        if domains[i]:
            c = counts.setdefault(domains[i], [0, 0])
            c[0] += 1
            c[1] += int(selected[i])
    parts = config.dedup.partitions
    split: list[list[tuple[str, int, int]]] = [[] for _ in range(parts)]
    for domain, (pages, got) in counts.items():
        split[url_partition(domain, parts)].append((domain, pages, got))
    for p in range(parts):  # the last partition's file marks the task done
        names, pages, got = zip(*split[p]) if split[p] else ((), (), ())
        table = {"domain": pa.array(names, pa.string()), "pages": pa.array(pages, pa.int64())}
        table["collected"] = pa.array(got, pa.int64())
        atomic_parquet(run.domain_counts(k, shard, p), pa.table(table))


def domain_merge_partition(run: RunDir, config: MiningConfig, k: int, partition: int) -> None:
    """The counts of one domain hash partition summed over shards; the math domains written with their counts."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(run.domain_counts(k, s, partition)) for s in range(config.num_shards)])
    table = table.group_by("domain").aggregate([("pages", "sum"), ("collected", "sum")])
    table = table.rename_columns({"pages_sum": "pages", "collected_sum": "collected"})
    d = config.domains
    fraction = pc.divide(pc.cast(table["collected"], pa.float64()), pc.cast(table["pages"], pa.float64()))
    mask = pc.and_(pc.greater_equal(table["pages"], d.min_domain_pages), pc.greater(fraction, d.math_fraction))
    atomic_parquet(run.math_domains(k, partition), table.filter(mask).select(["domain", "pages", "collected"]))


def prefix_counts_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """Partial counts of the URL prefixes of the math domains over the shard's kept rows."""
    wanted = set(json.loads(run.math_domain_list(k).read_text()))
    keep, selected = shard_keep(run, shard), _selected_in(run, k, shard)
    scores = np.load(run.scores(k, shard))
    start = run.meta()["offsets"][shard]
    rows = np.flatnonzero(keep)
    docs = read_shard(run.doc_shard(shard), ["url", "title", "domain"]).select(rows)
    partials = domains_lib.prefix_partials(
        (rows + start).tolist(),
        docs["url"],
        docs["title"],
        docs["domain"],
        selected[rows],
        scores[rows],
        wanted,
        config.domains,
    )
    atomic_jsonl(run.prefix_counts(k, shard), partials)


def seeds_added_before(run: RunDir, k: int) -> np.ndarray:
    """Rows added to the seeds by domain discovery before iteration ``k`` (global, sorted)."""
    path = run.iter_dir(k - 1) / "seeds_added.npy"
    return np.load(path) if k > 1 and path.is_file() else np.zeros(0, dtype=np.int64)


def prefix_pages_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """The shard's kept rows under an accepted prefix that are neither collected nor seeds already."""
    accepted = set(json.loads(run.accepted(k).read_text()))
    meta = run.meta()
    start, n = meta["offsets"][shard], meta["rows"][shard]
    exclude = _selected_in(run, k, shard) | ~shard_keep(run, shard)
    added = seeds_added_before(run, k)
    exclude[added[(added >= start) & (added < start + n)] - start] = True
    rows = np.flatnonzero(~exclude)
    urls = read_shard(run.doc_shard(shard), ["url"]).select(rows)["url"] if accepted else []
    hits = [
        r
        for r, url in zip(rows.tolist(), urls)
        if domains_lib.url_prefix(url, config.domains.prefix_depth) in accepted
    ]
    atomic_npy(run.prefix_pages(k, shard), np.array(hits, dtype=np.int64) + start)


@dataclass(frozen=True)
class Stage:
    """A stage: its task function and the file whose existence marks task ``i`` of iteration ``k`` done."""

    run: Callable[[RunDir, MiningConfig, int, int], None]
    output: Callable[[RunDir, MiningConfig, int, int], Path]


STAGES: dict[str, Stage] = {
    "ingest": Stage(ingest_unit, lambda run, cfg, k, i: run.raw(i)),
    "prepare": Stage(prepare_shard, lambda run, cfg, k, i: run.prepared(i)),
    "url_dedup": Stage(url_dedup_partition, lambda run, cfg, k, i: run.url_removed(i)),
    "lsh_buckets": Stage(lsh_buckets_shard, lambda run, cfg, k, i: lsh_done(run, i)),
    "lsh_merge": Stage(lsh_merge_task, lambda run, cfg, k, i: run.lsh_edges(*divmod(i, cfg.dedup.partitions))),
    "clusters": Stage(clusters_task, lambda run, cfg, k, i: run.dedup_summary()),
    "score": Stage(score_shard, lambda run, cfg, k, i: run.scores(k, i)),
    "domain_counts": Stage(
        domain_counts_shard, lambda run, cfg, k, i: run.domain_counts(k, i, cfg.dedup.partitions - 1)
    ),
    "domain_merge": Stage(domain_merge_partition, lambda run, cfg, k, i: run.math_domains(k, i)),
    "prefix_counts": Stage(prefix_counts_shard, lambda run, cfg, k, i: run.prefix_counts(k, i)),
    "prefix_pages": Stage(prefix_pages_shard, lambda run, cfg, k, i: run.prefix_pages(k, i)),
    "final": Stage(final_shard, lambda run, cfg, k, i: run.final(i)),
}


@dataclass(frozen=True)
class StageTask:
    """The work an executor receives: ``task(i)`` runs task ``i`` of ``stage`` (picklable: three plain fields)."""

    run_dir: str
    stage: str
    iteration: int = 0

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; known: {sorted(STAGES)}")

    def __call__(self, task: int) -> None:
        run = RunDir(self.run_dir)
        STAGES[self.stage].run(run, run.load_config(), self.iteration, task)

    def is_done(self, task: int, config: MiningConfig) -> bool:
        return STAGES[self.stage].output(RunDir(self.run_dir), config, self.iteration, task).is_file()
