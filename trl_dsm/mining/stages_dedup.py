# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The near-dedup work of a mining run (§2.1: MinHash-LSH near-dedup at the scale of a crawl), in the shape of
datatrove's multi-stage MinHash: LSH band buckets per shard (``lsh_buckets``) merged per band and hash partition
into duplicate pairs (``lsh_merge``), their components as star forests merged in rounds (``forests``), the
clusters from the last forest (``clusters``), keep-masks per shard (``keep``,
which also drops the URL duplicates that :mod:`trl_dsm.mining.urls` found). The datatrove steps that run them are
in :mod:`trl_dsm.mining.stages`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trl_dsm.mining import lsh
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.rundir import RunDir, atomic_json, atomic_jsonl, atomic_npy
from trl_dsm.mining.urls import url_duplicates, url_duplicates_total


def _sorted_rows_in(path: Path, lo: int, hi: int) -> np.ndarray:
    """The rows in ``[lo, hi)`` of a sorted ``.npy`` of rows, found by binary search in a memory map."""
    rows = np.load(path, mmap_mode="r")
    start, end = np.searchsorted(rows, [lo, hi])
    return np.asarray(rows[start:end], dtype=np.int64)


def _url_removed_in(run: RunDir, config: MiningConfig, shard: int) -> np.ndarray:
    """The shard's rows (local, sorted) removed as URL duplicates."""
    if not config.dedup.url:
        return np.zeros(0, dtype=np.int64)
    return url_duplicates(run.url_folder(), shard, config.dedup.partitions)


def lsh_done(run: RunDir, shard: int) -> Path:
    """The file whose existence marks shard ``shard``'s ``lsh_buckets`` task done (its offsets, written last)."""
    return run.lsh_offsets(shard)


def lsh_buckets_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    """The shard's ``(band key, row)`` entries of its remaining non-empty rows in one file, sorted by band, hash
    partition, key, row, with the offsets of each (band, partition) slice: two files per shard whatever the
    partitions (a file per band and partition would be shards x bands x partitions files at a crawl's scale)."""
    d = config.dedup
    meta = run.meta()
    lo = meta["offsets"][shard]
    keep = ~np.load(run.prepared(shard))["empty"].astype(bool)
    keep[_url_removed_in(run, config, shard)] = False
    local = np.flatnonzero(keep)
    bands, rows_per_band = lsh.lsh_params(d.threshold, d.num_perm)
    keys = lsh.band_hashes(np.load(run.signatures(shard))[local], bands, rows_per_band)
    rows = local.astype(np.int64) + lo
    blocks, counts = [], []
    for band in range(bands):
        part = lsh.hash_partition(keys[:, band], d.partitions)
        order = np.lexsort((rows, keys[:, band], part))  # = sorted_buckets' order within each partition
        blocks.append(np.stack([keys[order, band], rows[order].astype(np.uint64)], axis=1))
        counts.append(np.bincount(part, minlength=d.partitions))
    entries = np.concatenate(blocks) if blocks else np.zeros((0, 2), dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    atomic_npy(run.lsh_buckets(shard), entries.astype(np.uint64))
    atomic_npy(run.lsh_offsets(shard), offsets)  # last: marks the task done


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
    """The ``lsh_merge`` task: one band's and hash partition's buckets from every shard -> duplicate pairs
    (candidates checked against their signatures' Jaccard when ``verify``)."""
    d = config.dedup
    band, part = divmod(task, d.partitions)
    slot = band * d.partitions + part
    parts = []
    for shard in range(config.num_shards):  # the (band, partition) slice of each shard's file, by memory map
        start, end = np.load(run.lsh_offsets(shard))[slot : slot + 2]
        if end > start:
            parts.append(np.asarray(np.load(run.lsh_buckets(shard), mmap_mode="r")[start:end]))
    entries = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.uint64)
    entries = entries[np.lexsort((entries[:, 1], entries[:, 0]))]
    edges = lsh.bucket_edges(entries, SignatureLookup(run, run.meta()["offsets"]), d.threshold, d.verify)
    atomic_npy(run.lsh_edges(band, part), edges)


def lsh_tasks(config: MiningConfig) -> int:
    """The number of ``lsh_merge`` tasks: LSH bands x hash partitions."""
    return lsh.lsh_params(config.dedup.threshold, config.dedup.num_perm)[0] * config.dedup.partitions


#: How many forests one task of a later ``forests`` round merges (:func:`trl_dsm.mining.lsh.forest_rounds`).
FOREST_FAN_IN = 16


def forest_plan(config: MiningConfig, fan_in: int | None = None) -> list[int]:
    """The number of tasks of each ``forests`` round: one per ``lsh_merge`` task, then one per ``fan_in`` (default
    :data:`FOREST_FAN_IN`) forests."""
    return lsh.forest_rounds(lsh_tasks(config), fan_in or FOREST_FAN_IN)


def forest_file(run: RunDir, round_: int, task: int) -> Path:
    """``dedup/forests/round-R-task-T.npy``: the star forest of one ``forests`` task (its completion marker)."""
    return run.root / "dedup" / "forests" / f"round-{round_:02d}-task-{task:05d}.npy"


def forest_inputs(run: RunDir, config: MiningConfig, round_: int, task: int, fan_in: int | None = None) -> list[Path]:
    """The files a ``forests`` task reads: one band and partition's duplicate pairs in round 0, ``fan_in`` forests
    of the round before later (:func:`trl_dsm.mining.lsh.forest_group`)."""
    group = lsh.forest_group(lsh_tasks(config), fan_in or FOREST_FAN_IN, round_, task)
    if round_ == 0:
        return [run.lsh_edges(*divmod(i, config.dedup.partitions)) for i in group]
    return [forest_file(run, round_ - 1, i) for i in group]


def forest_task(run: RunDir, config: MiningConfig, round_: int, task: int) -> None:
    """The ``forests`` task ``task`` of round ``round_``: union-find over its inputs (one partition's pairs, or
    ``FOREST_FAN_IN`` forests) -> the star forest of their components (:func:`trl_dsm.mining.lsh.star_forest`, at most
    one pair per row with a duplicate in its inputs)."""
    edges = [np.load(path) for path in forest_inputs(run, config, round_, task)]
    atomic_npy(forest_file(run, round_, task), lsh.star_forest(np.concatenate(edges)))


def _columns_at(run: RunDir, config: MiningConfig, columns: list[str], rows: np.ndarray) -> dict[str, dict]:
    """``{column: {row: value}}`` for sorted global ``rows``, read shard by shard (only the shards holding some)."""
    import pyarrow.parquet as pq

    offsets = np.asarray(run.meta()["offsets"])
    out: dict[str, dict] = {c: {} for c in columns}
    for shard in range(config.num_shards):
        lo, hi = offsets[shard], offsets[shard + 1]
        local = rows[(rows >= lo) & (rows < hi)] - lo
        if len(local):
            table = pq.read_table(run.doc_shard(shard), columns=columns).take(local)
            for column in columns:
                out[column].update(zip((local + lo).tolist(), table.column(column).to_pylist()))
    return out


def clusters_task(run: RunDir, config: MiningConfig, iteration: int, task: int, max_members: int = 20) -> None:
    """The clusters of the last ``forests`` round's forest (one pair per row with a duplicate, not the duplicate
    pairs); the removed rows, the cluster report and the dedup summary (memory: the clustered rows)."""
    d = config.dedup
    meta = run.meta()
    n = meta["total"]
    url_removed = url_duplicates_total(run.url_folder(), d.partitions) if d.url else 0
    summary = {"documents": n, "url_duplicates_removed": int(url_removed)}
    near_removed = np.zeros(0, dtype=np.int64)
    if d.minhash:
        clusters = lsh.clusters_from_edges(np.load(forest_file(run, len(forest_plan(config)) - 1, 0)))
        near_removed = np.sort(np.array([m for c in clusters for m in c[1:]], dtype=np.int64))
        shown = np.unique(np.array([m for c in clusters for m in c[:max_members]], dtype=np.int64))
        found = _columns_at(run, config, ["url", "id"], shown)
        urls, ids = found["url"], found["id"]
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
    atomic_npy(run.near_removed(), near_removed)
    summary["kept"] = int(n - url_removed - len(near_removed))  # the LSH saw no URL duplicate
    atomic_json(run.dedup_summary(), summary)  # last: marks the task done


def keep_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    """The shard's keep-mask: neither a URL duplicate nor a near-duplicate of a kept row."""
    meta = run.meta()
    lo, n = meta["offsets"][shard], meta["rows"][shard]
    keep = np.ones(n, dtype=bool)
    keep[_url_removed_in(run, config, shard)] = False
    if config.dedup.minhash:
        keep[_sorted_rows_in(run.near_removed(), lo, lo + n) - lo] = False
    atomic_npy(run.keep(shard), keep)
