# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""MinHash-LSH near-dedup clusters (DeepSeekMath §2.1 near-deduplication), in memory and in stages.

* :func:`near_dedup` feeds signatures to ``datasketch.MinHashLSH``, verifies candidate pairs by estimated Jaccard,
  forms clusters with union-find and keeps the lowest row of each cluster (deterministic).
* :func:`band_hashes`, :func:`bucket_edges`, :func:`component_round` and :func:`star_clusters` are the same
  near-dedup in stages with bounded memory (band buckets per shard, merged per band and hash range into pairs,
  connected components in rounds over node hash partitions, each partition's part of the clusters); the mining
  pipeline runs them as tasks (:mod:`trl_dsm.mining.stages`) and finds the same clusters
  (:func:`partitioned_components` runs the same tasks in memory).
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
# shards wrote and turns each bucket into duplicate pairs; (3) rounds of tasks, one per node hash partition, find
# the connected components (:func:`component_round`: a star forest per LSH range, then large-star / small-star
# rounds) until every component is a star around its smallest row; (4) each node partition writes its removed rows
# and its clusters (:func:`star_clusters`): no task reads more than one node partition's pairs. The components
# equal those of
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


def node_partition(rows: np.ndarray, partitions: int) -> np.ndarray:
    """The node partition (``0 .. partitions - 1``) of global ``rows`` in the connected-components rounds: the
    splitmix64 finalizer of the row, modulo ``partitions``, so the rows of a cluster (and the smallest rows, which
    the rounds make star centres) spread evenly whatever their order in the crawl.

    >>> node_partition(np.arange(6), 4).tolist()
    [3, 1, 2, 1, 2, 2]
    """
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z ^= z >> np.uint64(31)
    return (z % np.uint64(partitions)).astype(np.int64)


def _unique_pairs(pairs: np.ndarray) -> np.ndarray:
    """``(n, 2)`` int64 pairs without repeats, sorted by the first column, then the second."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) < 2:
        return pairs.copy()
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    return pairs[np.r_[True, (pairs[1:] != pairs[:-1]).any(axis=1)]]


def component_round(edges: np.ndarray, round_: int) -> tuple[np.ndarray, int]:
    """One node partition's work in round ``round_`` of the connected components (the large-star / small-star
    alternation of Kiveris et al. 2014, "Connected Components in MapReduce and Beyond"): ``edges`` are ``[key,
    other]`` pairs keyed at the partition's rows; returns the pairs for the next round (keyed at the row whose task
    must see them) and how many of this round's pairs changed.

    * round 0: ``edges`` are duplicate pairs (one LSH partition's, every band); their star forest
      (:func:`star_forest`), keyed at both ends.
    * odd rounds, large-star: each row ``u`` links every larger neighbour to the smallest of ``u`` and its
      neighbours (input keyed at both ends; output keyed at the larger end). Changed: links of a row that has a
      smaller neighbour.
    * even rounds, small-star: each row ``u`` links itself and its smaller neighbours to the smallest of them (input
      keyed at the larger end; output keyed at both ends). Changed: every smaller neighbour but the smallest.

    Neither step adds pairs or splits a component. An odd and the next even round that both change nothing leave
    every component a star around its smallest row (:func:`components_converged`), which :func:`star_clusters`
    reads. Deterministic: the output depends only on the set of input pairs.

    >>> both, _ = component_round(np.array([[1, 2], [2, 3]]), 0)
    >>> both.tolist()
    [[1, 2], [1, 3], [2, 1], [3, 1]]
    >>> component_round(np.array([[1, 2], [2, 1], [2, 3], [3, 2]]), 1)
    (array([[2, 1],
           [3, 1]]), 1)
    """
    edges = _unique_pairs(edges)
    if round_ == 0:
        forest = star_forest(edges)
        return _unique_pairs(np.concatenate([forest, forest[:, ::-1]])), 0
    if not len(edges):
        return edges, 0
    key, other = edges[:, 0], edges[:, 1]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    low = np.repeat(other[starts], sizes)  # each key's smallest neighbour (others are sorted)
    if round_ % 2:
        label = np.minimum(key, low)
        up = other > key
        return _unique_pairs(np.stack([other[up], label[up]], axis=1)), int(np.count_nonzero(up & (label < key)))
    if (other >= key).any():
        raise ValueError("small-star round: every pair must be keyed at its larger row")
    rest = other != low
    out = np.concatenate([np.stack([other[rest], low[rest]], axis=1), edges[starts]])
    return _unique_pairs(np.concatenate([out, out[:, ::-1]])), int(np.count_nonzero(rest))


def components_converged(changed: Sequence[int]) -> bool:
    """Whether the rounds are done, from the pairs each round changed (``changed[r]`` for round ``r``, summed over
    the partitions): the last round is a small-star round (so its output is keyed at both ends) and it and the
    large-star round before it changed nothing.

    >>> components_converged([0, 3, 0]), components_converged([0, 3, 0, 0, 0])
    (False, True)
    """
    r = len(changed) - 1
    return r >= 2 and r % 2 == 0 and changed[r - 1] == 0 and changed[r] == 0


def component_round_limit(rows: int) -> int:
    """A hard bound on the rounds for a graph of ``rows`` rows: the alternation converges in O(log^2 rows) rounds
    (Kiveris et al. 2014); ``2 * ceil(log2(rows + 2))^2 + 4`` is far above what it takes (a 2,000-row
    path in random row order: 20 rounds), and more raises an error instead of running on."""
    return 2 * int(np.ceil(np.log2(rows + 2))) ** 2 + 4


def scatter(pairs: np.ndarray, partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """``pairs`` sorted by the :func:`node_partition` of their key, then key and other, and where each partition's
    slice starts (``partitions + 1`` offsets): one file per task whose slice ``p`` only partition ``p``'s task
    reads."""
    part = node_partition(pairs[:, 0], partitions)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], part))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(part, minlength=partitions))]).astype(np.int64)
    return pairs[order], offsets


def star_clusters(edges: np.ndarray, max_members: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One node partition's part of the clusters, from converged pairs keyed at both ends (every component a star
    around its smallest row): ``removed`` (the partition's rows that have a smaller neighbour, sorted: every member
    of a cluster but its smallest row), ``roots`` (``(2, c)``: the smallest row and the size of each cluster whose
    smallest row is in the partition, by row) and ``shown`` (``(3, s)``: member, smallest row, position in the
    cluster for its first ``max_members`` members, by member).

    >>> removed, roots, shown = star_clusters(np.array([[1, 4], [1, 6], [4, 1], [6, 1]]), max_members=2)
    >>> removed.tolist(), roots.tolist(), shown.tolist()
    ([4, 6], [[1], [3]], [[1, 4], [1, 1], [0, 1]])
    """
    edges = _unique_pairs(edges)
    if not len(edges):
        return np.zeros(0, dtype=np.int64), np.zeros((2, 0), dtype=np.int64), np.zeros((3, 0), dtype=np.int64)
    key, other = edges[:, 0], edges[:, 1]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    rows, root = key[starts], other[starts] > key[starts]
    if (sizes[~root] != 1).any():
        raise RuntimeError("components not converged: a row has a smaller neighbour and another neighbour")
    centre = np.repeat(root, sizes)
    position = np.arange(len(key)) - np.repeat(starts, sizes) + 1
    shown = centre & (position < max_members)
    member = np.concatenate([rows[root], other[shown]])
    order = np.argsort(member, kind="stable")
    first = np.zeros(int(root.sum()), dtype=np.int64)  # the smallest row is its cluster's member 0
    shown = np.stack([member, np.concatenate([rows[root], key[shown]]), np.concatenate([first, position[shown]])])
    return rows[~root], np.stack([rows[root], sizes[root] + 1]), shown[:, order].astype(np.int64)


def partitioned_components(
    inputs: Sequence[np.ndarray], partitions: int
) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
    """The ``components`` rounds and the ``clusters`` step in memory, task by task, with the functions the
    pipeline's tasks run on files: round 0 has a task per input (one LSH partition's pairs), every later round and
    the clusters a task per node partition, reading slice ``p`` of every output of the round before. Returns the
    clusters (as :func:`clusters_from_edges` orders them) and, per round, each task's ``(pairs, rows)`` read
    (``rows``: distinct keys; the last entry is the clusters tasks')."""
    outputs, changed, read = [], [], [[]]
    for edges in inputs:
        read[0].append((len(edges), len(np.unique(np.asarray(edges).ravel()))))
        pairs, _ = component_round(edges, 0)
        outputs.append(scatter(pairs, partitions))
    changed.append(0)
    limit = component_round_limit(sum(len(e) for e in inputs) * 2)
    while True:
        slices = [np.concatenate([e[o[p] : o[p + 1]] for e, o in outputs]) for p in range(partitions)]
        read.append([(len(s), len(np.unique(s[:, 0]))) for s in slices])
        if components_converged(changed):
            break
        if len(changed) > limit:
            raise RuntimeError(f"components did not converge in {limit} rounds")
        outputs, moved = [], 0
        for s in slices:
            pairs, c = component_round(s, len(changed))
            outputs.append(scatter(pairs, partitions))
            moved += c
        changed.append(moved)
    groups: dict[int, list[int]] = {}
    for s in slices:
        _, _, shown = star_clusters(s, max_members=len(s) + 1)
        for member, root, _ in sorted(zip(*shown.tolist()), key=lambda x: (x[1], x[2])):
            groups.setdefault(root, []).append(member)
    return [groups[r] for r in sorted(groups)], read
