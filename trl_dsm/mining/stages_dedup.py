# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The near-dedup work of a mining run (§2.1: MinHash-LSH near-dedup at the scale of a crawl), in the shape of
datatrove's multi-stage MinHash: LSH band buckets per shard (``lsh_buckets``) merged per band and hash partition
into duplicate pairs (``lsh_merge``), their connected components in rounds of tasks per node hash partition
(``components``), each partition's removed rows and clusters (``clusters``), the counts (``dedup_summary``),
keep-masks per shard (``keep``, which also drops the URL duplicates that :mod:`trl_dsm.mining.urls` found), the
report's URLs and ids per shard (``cluster_members``) and the report per row range (``cluster_report``). The
datatrove steps that run them are in :mod:`trl_dsm.mining.stages`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from trl_dsm.mining import lsh
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.rundir import (
    RunDir,
    atomic_json,
    atomic_jsonl,
    atomic_npy,
    atomic_partitioned_parquet,
    parquet_threads,
    read_partition,
)
from trl_dsm.mining.urls import url_duplicates, url_duplicates_total


@functools.cache
def band_layout(threshold: float, num_perm: int) -> tuple[int, int]:
    """``(bands, rows per band)`` of the LSH (:func:`trl_dsm.mining.lsh.lsh_params`), computed once per process:
    :func:`trl_dsm.mining.stages.preload` computes it in the driver before the local executor's pool forks, so no
    task repeats the quadrature (a matrix product that wakes OpenBLAS's threads in every task).

    >>> band_layout(0.8, 128)
    (9, 13)
    """
    return lsh.lsh_params(threshold, num_perm)


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
    bands, rows_per_band = band_layout(d.threshold, d.num_perm)
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
    return band_layout(config.dedup.threshold, config.dedup.num_perm)[0] * config.dedup.partitions


def _slice(path: Path, offsets: Path, partition: int) -> np.ndarray:
    """Slice ``partition`` of a file written by :func:`trl_dsm.mining.lsh.scatter` (by memory map: only that
    slice is read)."""
    start, end = np.load(offsets, mmap_mode="r")[partition : partition + 2]
    return np.asarray(np.load(path, mmap_mode="r")[start:end], dtype=np.int64)


def component_inputs(run: RunDir, config: MiningConfig, round_: int, partition: int) -> list[tuple[Path, Path | None]]:
    """What a ``components`` task reads: in round 0 every band's duplicate pairs of LSH partition ``partition``
    (``(pairs, None)``: whole files); later, slice ``partition`` of every task's output of the round before
    (``(pairs, offsets)``): ``dedup.partitions`` files, of which only the pairs keyed at the partition's rows."""
    d = config.dedup
    if round_ == 0:
        return [(run.lsh_edges(band, partition), None) for band in range(band_layout(d.threshold, d.num_perm)[0])]
    return [(run.components(round_ - 1, p), run.component_offsets(round_ - 1, p)) for p in range(d.partitions)]


def _read_inputs(inputs: list[tuple[Path, Path | None]], partition: int) -> np.ndarray:
    parts = [np.load(path) if offsets is None else _slice(path, offsets, partition) for path, offsets in inputs]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros((0, 2), dtype=np.int64)


def components_task(run: RunDir, config: MiningConfig, round_: int, partition: int) -> None:
    """The ``components`` task of node partition ``partition`` in round ``round_``
    (:func:`trl_dsm.mining.lsh.component_round`): its pairs in (round 0: one LSH partition's pairs of every band),
    the next round's pairs out in one file sorted by the node partition they go to, and its counts (written last)."""
    edges = _read_inputs(component_inputs(run, config, round_, partition), partition)
    pairs, changed = lsh.component_round(edges, round_)
    pairs, offsets = lsh.scatter(pairs, config.dedup.partitions)
    atomic_npy(run.components(round_, partition), pairs)
    atomic_npy(run.component_offsets(round_, partition), offsets)
    rows = len(np.unique(edges if round_ == 0 else edges[:, 0]))  # the rows it holds: all, or the keys
    counts = {"read": len(edges), "rows": rows, "written": len(pairs), "changed": changed}
    atomic_json(run.component_counts(round_, partition), counts)


def component_changes(run: RunDir, config: MiningConfig, round_: int) -> int:
    """The pairs round ``round_`` changed, summed over its tasks' counts (what the driver reads to decide whether
    another round is needed)."""
    return sum(
        json.loads(run.component_counts(round_, p).read_text())["changed"] for p in range(config.dedup.partitions)
    )


def clusters_task(run: RunDir, config: MiningConfig, last_round: int, partition: int, max_members: int = 20) -> None:
    """The ``clusters`` task of node partition ``partition``: slice ``partition`` of the converged round
    ``last_round``'s pairs (every component a star around its smallest row) -> the partition's removed rows, the
    smallest row and size of its clusters, their first ``max_members`` members (for the report), and its counts
    (written last)."""
    edges = _read_inputs(component_inputs(run, config, last_round + 1, partition), partition)
    removed, roots, shown = lsh.star_clusters(edges, max_members)
    atomic_npy(run.near_removed(partition), removed)
    atomic_npy(run.cluster_roots(partition), roots)
    atomic_npy(run.cluster_shown(partition), shown)
    counts = {"clusters": roots.shape[1], "removed": len(removed), "largest": int(roots[1].max(initial=0))}
    atomic_json(run.cluster_counts(partition), counts)


def dedup_summary_task(run: RunDir, config: MiningConfig, iteration: int, task: int) -> None:
    """The ``dedup_summary`` task: the URL and near-dedup counts of every partition summed -> ``dedup/summary.json``
    (the dedup's counts, read by the driver)."""
    d = config.dedup
    n = run.meta()["total"]
    url_removed = url_duplicates_total(run.url_folder(), d.partitions) if d.url else 0
    summary = {"documents": n, "url_duplicates_removed": int(url_removed)}
    near_removed = 0
    if d.minhash:
        counts = [json.loads(run.cluster_counts(p).read_text()) for p in range(d.partitions)]
        near_removed = sum(c["removed"] for c in counts)
        summary.update(
            near_duplicates_removed=near_removed,
            clusters=sum(c["clusters"] for c in counts),
            largest_cluster=max((c["largest"] for c in counts), default=0),
            threshold=d.threshold,
            num_perm=d.num_perm,
            ngram=d.ngram,
        )
    summary["kept"] = int(n - url_removed - near_removed)  # the LSH saw no URL duplicate
    atomic_json(run.dedup_summary(), summary)


def report_bounds(total: int, parts: int) -> np.ndarray:
    """Where each part of the cluster report starts (``parts + 1`` rows): part ``q`` holds the clusters whose
    smallest row is in ``[bounds[q], bounds[q + 1])``.

    >>> report_bounds(10, 4).tolist()
    [0, 2, 5, 7, 10]
    """
    return np.array([total * q // parts for q in range(parts + 1)], dtype=np.int64)


def cluster_members_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    """The ``cluster_members`` task: the shard's rows shown in the cluster report (found by binary search in every
    node partition's ``shown`` file) with their URLs and ids, a row group per report part (the part of their
    cluster's smallest row)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = config.dedup
    meta = run.meta()
    lo, hi = meta["offsets"][shard], meta["offsets"][shard + 1]
    found = []
    for p in range(d.partitions):
        shown = np.load(run.cluster_shown(p), mmap_mode="r")
        start, end = np.searchsorted(shown[0], [lo, hi])
        found.append(np.asarray(shown[:, start:end], dtype=np.int64))
    member, root, position = np.concatenate(found, axis=1) if found else np.zeros((3, 0), dtype=np.int64)
    table = pq.read_table(run.doc_shard(shard), columns=["url", "id"], use_threads=parquet_threads()).take(member - lo)
    part = np.searchsorted(report_bounds(meta["total"], d.partitions), root, side="right") - 1
    order = np.argsort(part, kind="stable")
    member, root, position, part = member[order], root[order], position[order], part[order]
    table = table.take(order)
    cuts = np.searchsorted(part, np.arange(d.partitions + 1)).tolist()
    columns = {"root": root, "position": position, "member": member}
    full = pa.table(
        {**{k: pa.array(v, pa.int64()) for k, v in columns.items()}, "url": table["url"], "id": table["id"]}
    )
    tables = [full.slice(a, b - a) for a, b in zip(cuts[:-1], cuts[1:])]
    atomic_partitioned_parquet(run.cluster_members(shard), tables)


def cluster_report_part(run: RunDir, config: MiningConfig, iteration: int, part: int) -> None:
    """The ``cluster_report`` task of report part ``part``: the clusters whose smallest row is in the part's row
    range, by smallest row, numbered after the clusters of the parts before (counted by binary search in every node
    partition's ``roots``), with their first members' URLs and ids (row group ``part`` of every shard's
    ``cluster_members``) -> ``dedup/clusters/part-Q.jsonl``."""
    import pyarrow as pa

    d = config.dedup
    lo, hi = report_bounds(run.meta()["total"], d.partitions)[part : part + 2]
    first, blocks = 0, []
    for p in range(d.partitions):
        roots = np.load(run.cluster_roots(p), mmap_mode="r")
        start, end = np.searchsorted(roots[0], [lo, hi])
        first += int(start)
        blocks.append(np.asarray(roots[:, start:end], dtype=np.int64))
    roots = np.concatenate(blocks, axis=1) if blocks else np.zeros((2, 0), dtype=np.int64)
    roots = roots[:, np.argsort(roots[0], kind="stable")]
    table = pa.concat_tables([read_partition(run.cluster_members(s), part) for s in range(config.num_shards)])
    table = table.sort_by([("root", "ascending"), ("position", "ascending")]).to_pydict()
    shown: dict[int, dict[str, list]] = {}
    for root, member, url, id_ in zip(table["root"], table["member"], table["url"], table["id"]):
        entry = shown.setdefault(root, {"members": [], "urls": [], "ids": []})
        entry["members"].append(member)
        entry["urls"].append(url)
        entry["ids"].append(id_)
    rows = []
    for cid, (root, size) in enumerate(roots.T.tolist(), start=first):
        rows.append({"cluster": cid, "size": size, "kept": root, **shown[root]})
    atomic_jsonl(run.clusters(part), rows)


def keep_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    """The shard's keep-mask: neither a URL duplicate nor a near-duplicate of a kept row (the shard's rows of every
    node partition's sorted removed rows, by binary search)."""
    meta = run.meta()
    lo, n = meta["offsets"][shard], meta["rows"][shard]
    keep = np.ones(n, dtype=bool)
    keep[_url_removed_in(run, config, shard)] = False
    if config.dedup.minhash:
        for p in range(config.dedup.partitions):
            keep[_sorted_rows_in(run.near_removed(p), lo, lo + n) - lo] = False
    atomic_npy(run.keep(shard), keep)
