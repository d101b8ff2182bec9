# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""MinHash-LSH near-dedup clusters (DeepSeekMath §2.1 near-deduplication), in memory and in stages.

* :func:`near_dedup` feeds signatures to ``datasketch.MinHashLSH``, verifies candidate pairs by estimated Jaccard,
  forms clusters with union-find and keeps the lowest row of each cluster (deterministic).
* :func:`band_hashes`, :func:`bucket_edges`, :func:`star_forest` and :func:`clusters_from_edges` are the same
  near-dedup in stages with bounded memory (band buckets per shard, merged per band and hash range into pairs, the
  components of each range's pairs as a star forest, forests merged ``fan_in`` at a time by :func:`forest_rounds`,
  clusters of the last forest); the mining pipeline runs them as tasks (:mod:`trl_dsm.mining.stages`) and finds the
  same clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from trl_dsm.mining.minhash import datasketch_permutations, to_datasketch


@dataclass
class NearDedupResult:
    """Outcome of :func:`near_dedup`: a keep-mask and the duplicate clusters (row indices, lowest first)."""

    keep: np.ndarray
    clusters: list[list[int]] = field(default_factory=list)
    threshold: float = 0.8
    num_perm: int = 128

    @property
    def removed(self) -> int:
        """Rows removed as near-duplicates (every cluster member but its lowest row)."""
        return int((~self.keep).sum())

    def report(self, urls: Sequence[str] | None = None, ids: Sequence[str] | None = None, max_members: int = 20):
        """Summary dict and one row per cluster (kept row, members with URLs/ids, size)."""
        sizes = [len(c) for c in self.clusters]
        rows = []
        for cid, members in enumerate(self.clusters):
            row = {"cluster": cid, "size": len(members), "kept": members[0], "members": members[:max_members]}
            if urls is not None:
                row["urls"] = [urls[m] for m in members[:max_members]]
            if ids is not None:
                row["ids"] = [ids[m] for m in members[:max_members]]
            rows.append(row)
        summary = {
            "documents": len(self.keep),
            "kept": int(self.keep.sum()),
            "removed": self.removed,
            "clusters": len(self.clusters),
            "largest_cluster": max(sizes, default=0),
            "threshold": self.threshold,
            "num_perm": self.num_perm,
        }
        return summary, rows


def near_dedup(
    signatures: np.ndarray,
    threshold: float = 0.8,
    seed: int = 1,
    verify: bool = True,
    skip: np.ndarray | None = None,
    lsh_weights: tuple[float, float] = (0.5, 0.5),
) -> NearDedupResult:
    """Cluster near-duplicate rows with ``datasketch.MinHashLSH(threshold, num_perm)``; keep the lowest row of
    each cluster. With ``verify`` an LSH candidate pair joins a cluster only if its estimated Jaccard (fraction of
    equal signature entries) is >= ``threshold``. Rows flagged in ``skip`` (e.g. empty texts) are kept and never
    clustered. Deterministic: the result depends only on the signatures and the row order."""
    from datasketch import MinHashLSH

    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    n, num_perm = signatures.shape
    perms = datasketch_permutations(num_perm, seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=lsh_weights)
    skip = np.zeros(n, dtype=bool) if skip is None else np.asarray(skip, dtype=bool)
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in range(n):
        if skip[row]:
            continue
        mh = to_datasketch(signatures[row], seed, perms)
        for other in lsh.query(mh):
            if verify and np.count_nonzero(signatures[row] == signatures[other]) < threshold * num_perm:
                continue
            ra, rb = find(row), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        lsh.insert(row, mh, check_duplication=False)
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    keep = roots == np.arange(n)
    groups: dict[int, list[int]] = {}
    for row in np.flatnonzero(~keep):
        groups.setdefault(int(roots[row]), []).append(int(row))
    clusters = [[root, *members] for root, members in sorted(groups.items())]
    return NearDedupResult(keep=keep, clusters=clusters, threshold=threshold, num_perm=num_perm)


# ----------------------------------------------------------------------------------------------- distributed LSH
#
# The multi-stage near-dedup of §2.1 at crawl scale: (1) each task hashes the bands of its shard's signatures and
# writes ``(bucket hash, row)`` sorted per band and hash range; (2) one task per band and range merges what all
# shards wrote and turns each bucket into duplicate pairs; (3) union-find over one band and range's pairs gives
# its components as a star forest (:func:`star_forest`), and rounds of tasks merge ``fan_in`` forests each
# (:func:`forest_rounds`) down to one forest, whose components are the clusters, each represented by its smallest
# row: no task reads more than one range's pairs or ``fan_in`` forests. The components equal those of
# :func:`near_dedup` (datasketch's LSH with the same bands): a pair is a candidate iff it shares a band bucket,
# and a verified pair is skipped only when its rows are already connected.

_FNV_PRIME = np.uint64(0x100000001B3)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """``(bands, rows per band)`` that ``datasketch.MinHashLSH(threshold, num_perm, weights)`` chooses: of every
    ``b * r <= num_perm`` (``b``, then ``r``, ascending; the first minimum wins), the one minimizing ``weights[0]``
    x the false-positive area ``int_0^t 1 - (1 - s^r)^b ds`` + ``weights[1]`` x the false-negative area
    ``int_t^1 (1 - s^r)^b ds``. The integrands are polynomials of degree ``b * r <= num_perm``, so Gauss-Legendre
    with ``num_perm // 2 + 1`` nodes gives them exactly (datasketch integrates with scipy's ``quad``; importing it
    costs the driver ~0.9 s). Tested equal to datasketch's choice over a grid of thresholds and ``num_perm``."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1, got {num_perm}")
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=np.float64)
    b, r = pairs[:, :1], pairs[:, 1:]
    nodes, node_weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def area(lo: float, hi: float, below: bool) -> np.ndarray:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2
        miss = (1.0 - s**r) ** b  # a pair of similarity s is no candidate
        return (hi - lo) / 2 * ((1.0 - miss if below else miss) @ node_weights)

    error = weights[0] * area(0.0, threshold, True) + weights[1] * area(threshold, 1.0, False)
    best = pairs[int(np.argmin(error))]
    return int(best[0]), int(best[1])


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(n, bands)`` uint64 keys of each band ``signatures[:, b * rows : (b + 1) * rows]`` (FNV-1a over the
    32-bit values, then the splitmix64 finalizer). datasketch's bucket key is the band's bytes; two different
    bands share a 64-bit key with probability 2**-64 (and such a pair still has to pass verification)."""
    n = signatures.shape[0]
    out = np.empty((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b in range(bands):
            h = np.full(n, 0xCBF29CE484222325, dtype=np.uint64)
            for c in range(b * rows, (b + 1) * rows):
                h = (h ^ signatures[:, c].astype(np.uint64)) * _FNV_PRIME
            h ^= h >> np.uint64(30)
            h *= _MIX1
            h ^= h >> np.uint64(27)
            h *= _MIX2
            h ^= h >> np.uint64(31)
            out[:, b] = h
    return out


def hash_partition(keys: np.ndarray, partitions: int) -> np.ndarray:
    """The hash range (``0 .. partitions - 1``) of uint64 ``keys`` (from their high bits)."""
    return ((keys >> np.uint64(32)) % np.uint64(partitions)).astype(np.int64)


def sorted_buckets(keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``(n, 2)`` uint64 ``[key, row]`` sorted by key, then row."""
    order = np.lexsort((rows, keys))
    return np.stack([keys[order], rows[order].astype(np.uint64)], axis=1)


def bucket_edges(buckets: np.ndarray, signatures, threshold: float, verify: bool = True) -> np.ndarray:
    """Duplicate pairs ``(n, 2)`` int64 (``a < b``) from sorted ``[key, row]`` entries of one band: within each
    bucket, a later row is joined to each earlier component it has a verified pair with (estimated Jaccard >=
    ``threshold``, or any pair without ``verify``). The pairs form a spanning forest of the verified candidate
    graph restricted to this band. ``signatures(rows)`` returns the rows' signatures (rows are global)."""
    if len(buckets) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    keys, rows = buckets[:, 0], buckets[:, 1].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    multi = sizes >= 2
    if not multi.any():
        return np.zeros((0, 2), dtype=np.int64)
    starts, sizes = starts[multi], sizes[multi]
    members = np.concatenate([rows[s : s + k] for s, k in zip(starts, sizes)])
    uniq, inverse = np.unique(members, return_inverse=True)
    sigs = np.asarray(signatures(uniq))
    need = threshold * sigs.shape[1]
    edges: list[np.ndarray] = []
    pairs = sizes == 2  # the common case, checked in one pass
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    if pairs.any():
        a, b = inverse[first[pairs]], inverse[first[pairs] + 1]
        ok = np.ones(len(a), dtype=bool)
        if verify:
            ok = np.count_nonzero(sigs[a] == sigs[b], axis=1) >= need
        edges.append(np.stack([uniq[a][ok], uniq[b][ok]], axis=1))
    for s, k in zip(first[~pairs], sizes[~pairs]):
        local = inverse[s : s + k]
        label = np.arange(k)
        for j in range(1, k):
            if verify:
                ok = np.count_nonzero(sigs[local[:j]] == sigs[local[j]], axis=1) >= need
            else:
                ok = np.ones(j, dtype=bool)
            hit = np.flatnonzero(ok)
            if not len(hit):
                continue
            joined, at = np.unique(label[hit], return_index=True)
            for i in hit[at]:
                edges.append(np.array([[uniq[local[i]], uniq[local[j]]]], dtype=np.int64))
            label[j] = joined[0]
            label[np.isin(label, joined)] = joined[0]
    return np.concatenate(edges).astype(np.int64) if edges else np.zeros((0, 2), dtype=np.int64)


def _components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(nodes, roots)``: the sorted rows of ``edges`` and, for each, the index in ``nodes`` of its component's
    smallest row (union-find; memory O(rows in ``edges``))."""
    nodes, inverse = np.unique(np.asarray(edges, dtype=np.int64).reshape(-1, 2).ravel(), return_inverse=True)
    parent = np.arange(len(nodes))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in inverse.reshape(-1, 2):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # nodes are sorted: the smaller index is the smaller row
    return nodes, np.array([find(i) for i in range(len(nodes))], dtype=np.int64)


def clusters_from_edges(edges: np.ndarray) -> list[list[int]]:
    """Connected components of duplicate pairs, each sorted (its smallest row, the one kept, first), sorted by
    that row. Memory is O(rows that have a duplicate)."""
    if not len(edges):
        return []
    nodes, roots = _components(edges)
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(roots.tolist()):
        groups.setdefault(r, []).append(int(nodes[i]))
    return [groups[r] for r in sorted(groups)]


def star_forest(edges: np.ndarray) -> np.ndarray:
    """The components of ``edges`` as ``(n, 2)`` int64 pairs ``[smallest row of its component, row]``, one per row
    that is not its component's smallest, sorted by row: a spanning forest with the same components (and so the same
    :func:`clusters_from_edges`) in at most ``rows - components`` pairs, however many pairs ``edges`` has.

    >>> star_forest(np.array([[5, 7], [3, 5], [9, 8], [7, 3]])).tolist()
    [[3, 5], [3, 7], [8, 9]]
    """
    if not len(edges):
        return np.zeros((0, 2), dtype=np.int64)
    nodes, roots = _components(edges)
    child = roots != np.arange(len(nodes))
    return np.stack([nodes[roots[child]], nodes[child]], axis=1).astype(np.int64)


def forest_rounds(inputs: int, fan_in: int) -> list[int]:
    """The number of tasks of each round of the forest merge over ``inputs`` pair files: round 0 has a task per
    file, each later round a task per ``fan_in`` forests of the round before, down to one forest.

    >>> forest_rounds(144, 8)
    [144, 18, 3, 1]
    >>> forest_rounds(1, 8)
    [1]
    """
    if inputs < 1 or fan_in < 2:
        raise ValueError(f"forest_rounds needs inputs >= 1 and fan_in >= 2, got inputs={inputs}, fan_in={fan_in}")
    rounds = [inputs]
    while rounds[-1] > 1:
        rounds.append(-(-rounds[-1] // fan_in))
    return rounds


def forest_group(inputs: int, fan_in: int, round_: int, task: int) -> range:
    """The inputs of task ``task`` of round ``round_`` (:func:`forest_rounds`): pair file ``task`` in round 0, the
    forests ``task * fan_in`` up to ``(task + 1) * fan_in`` (the last group may be short) of the round before later.

    >>> list(forest_group(144, 8, 0, 5)), list(forest_group(144, 8, 2, 2))
    ([5], [16, 17])
    """
    rounds = forest_rounds(inputs, fan_in)
    if not 0 <= round_ < len(rounds) or not 0 <= task < rounds[round_]:
        raise ValueError(f"no task {task} in round {round_} of the forest merge (tasks per round: {rounds})")
    if round_ == 0:
        return range(task, task + 1)
    return range(task * fan_in, min((task + 1) * fan_in, rounds[round_ - 1]))
