# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Distributed near-dedup and sharded URL dedup (§2.1): the staged scheme (band buckets per shard, merged per band
and hash partition, pairs, union-find) finds exactly the clusters of the in-memory datasketch LSH, whatever the
number of shards and partitions; recall on planted near-duplicates; the pipeline's dedup files and summary."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from tests.reference_mining import url_dedup_mask_reference
from trl_dsm.mining import lsh as lsh_lib
from trl_dsm.mining import minhash
from trl_dsm.mining.documents import doc_id
from trl_dsm.mining.pipeline import mine


def planted_crawl(n_base: int = 300, seed: int = 0) -> tuple[list[str], list[tuple[int, int]]]:
    """Texts of ``n_base`` random 150-word pages, each with 0-3 copies that edit 0-12 words (Jaccard of the
    5-shingle sets from 1.0 down to about 0.5), shuffled; and the planted ``(original, copy)`` pairs."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    texts, origin = [], []
    for b in range(n_base):
        words = [rng.choice(vocab) for _ in range(150)]
        texts.append(words)
        origin.append(b)
        for _ in range(rng.randint(0, 3)):
            copy = list(words)
            for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 6, 12])):
                copy[rng.randrange(len(copy))] = rng.choice(vocab)
            texts.append(copy)
            origin.append(b)
    order = list(range(len(texts)))
    rng.shuffle(order)
    texts = [" ".join(texts[i]) for i in order]
    origin = [origin[i] for i in order]
    first: dict[int, int] = {}
    pairs = []
    for row, b in enumerate(origin):
        if b in first:
            pairs.append((first[b], row))
        else:
            first[b] = row
    return texts, pairs


def staged_clusters(signatures: np.ndarray, shards: int, partitions: int, threshold: float = 0.8, verify=True):
    """The pipeline's stages on in-memory arrays: per-shard sorted bucket files, merged per (band, partition), then
    the ``components`` rounds and ``clusters`` tasks per node partition (round 0: one LSH partition's pairs of every
    band)."""
    bands, rows = lsh_lib.lsh_params(threshold, signatures.shape[1])
    bounds = np.linspace(0, len(signatures), shards + 1).astype(int)
    files: dict[tuple[int, int], list[np.ndarray]] = {}
    for s in range(shards):
        lo, hi = bounds[s], bounds[s + 1]
        keys = lsh_lib.band_hashes(signatures[lo:hi], bands, rows)
        for band in range(bands):
            part = lsh_lib.hash_partition(keys[:, band], partitions)
            for p in range(partitions):
                mask = part == p
                files.setdefault((band, p), []).append(
                    lsh_lib.sorted_buckets(keys[mask, band], np.arange(lo, hi)[mask])
                )
    edges: list[list[np.ndarray]] = [[] for _ in range(partitions)]
    for (_band, p), parts in files.items():
        entries = np.concatenate(parts)
        entries = entries[np.lexsort((entries[:, 1], entries[:, 0]))]
        edges[p].append(lsh_lib.bucket_edges(entries, lambda r: signatures[r], threshold, verify))
    clusters, _ = lsh_lib.partitioned_components([np.concatenate(e) for e in edges], partitions)
    return clusters


def test_lsh_params_are_datasketchs():
    """Our exact quadrature picks datasketch's (bands, rows) over a grid of thresholds, num_perm and weights."""
    from datasketch import MinHashLSH
    from datasketch.lsh import _optimal_param

    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    assert lsh_lib.lsh_params(0.8, 128) == (lsh.b, lsh.r) == (9, 13)
    for num_perm in (7, 64, 128, 256):
        for threshold in (0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0):
            for weights in ((0.5, 0.5), (0.2, 0.8)):
                expected = _optimal_param(threshold, num_perm, *weights)
                assert lsh_lib.lsh_params(threshold, num_perm, weights) == expected, (num_perm, threshold, weights)
    with pytest.raises(ValueError, match="threshold"):
        lsh_lib.lsh_params(0.0, 128)


def test_band_buckets_are_datasketchs_buckets():
    """Two rows share a band key exactly when datasketch puts them in the same bucket of that band."""
    from datasketch import MinHashLSH

    texts, _ = planted_crawl(60, seed=3)
    sigs = minhash.minhash_signatures(texts)
    keys = lsh_lib.band_hashes(sigs, 9, 13)
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for row, sig in enumerate(sigs):
        lsh.insert(row, minhash.to_datasketch(sig))
    for band, table in enumerate(lsh.hashtables):
        ours = sorted(sorted(np.flatnonzero(keys[:, band] == k).tolist()) for k in np.unique(keys[:, band]))
        theirs = sorted(sorted(table.get(h)) for h in table)
        assert ours == theirs


@pytest.mark.parametrize(("shards", "partitions"), [(1, 1), (4, 1), (3, 5)])
@pytest.mark.parametrize("verify", [True, False])
def test_staged_near_dedup_equals_in_memory_lsh(shards, partitions, verify):
    texts, pairs = planted_crawl()
    sigs = minhash.minhash_signatures(texts)
    expected = lsh_lib.near_dedup(sigs, threshold=0.8, verify=verify).clusters
    assert len(expected) == (188 if verify else 191)  # many clusters, of several sizes
    assert max(len(c) for c in expected) >= 4
    assert staged_clusters(sigs, shards, partitions, verify=verify) == expected


def test_exact_duplicate_bucket_needs_one_check_per_row():
    """A bucket of 2,000 identical pages becomes one cluster (a chain of 1,999 pairs, each verified once)."""
    sig = minhash.minhash_signatures(["the same page " * 20])
    sigs = np.repeat(sig, 2000, axis=0)
    entries = lsh_lib.sorted_buckets(np.zeros(2000, dtype=np.uint64), np.arange(2000))
    edges = lsh_lib.bucket_edges(entries, lambda r: sigs[r], 0.8)
    assert edges.tolist() == [[0, j] for j in range(1, 2000)]
    assert lsh_lib.clusters_from_edges(edges) == [list(range(2000))]


def test_recall_on_planted_near_duplicates_at_jaccard_0_9():
    texts, pairs = planted_crawl(1000, seed=1)
    sigs = minhash.minhash_signatures(texts)
    clusters = staged_clusters(sigs, shards=4, partitions=2)
    cluster_of = {m: i for i, c in enumerate(clusters) for m in c}
    shingle_sets = [set(minhash.shingles(t)) for t in texts]

    def jaccard(a, b):
        return len(shingle_sets[a] & shingle_sets[b]) / len(shingle_sets[a] | shingle_sets[b])

    high = [(a, b) for a, b in pairs if jaccard(a, b) >= 0.9]
    found = [a in cluster_of and cluster_of.get(a) == cluster_of.get(b) for a, b in high]
    assert (len(high), sum(found)) == (405, 403)  # recall 0.995; 112 of the 405 pairs are exact copies
    # no false clusters: every clustered pair of rows comes from one planted page
    origin = {}
    for a, b in pairs:
        origin.setdefault(a, a)
        origin[b] = origin[a]
    assert all(len({origin.get(m, m) for m in c}) == 1 for c in clusters)


def test_url_dedup_by_partition_equals_one_pass(tmp_path):
    """The pipeline's sharded URL dedup (any number of partitions) removes what one pass over all rows removes, and its
    near-dedup files reproduce the in-memory clusters on the same rows."""
    texts, _ = planted_crawl(40, seed=2)
    rng = random.Random(0)
    urls = [
        f"https://example.org/p/{rng.randrange(60)}" + rng.choice(["", "/", "#top", "?utm_source=x"]) for _ in texts
    ]
    docs = [{"text": t, "url": u} for t, u in zip(texts, urls)]
    docs[5]["url"] = ""  # rows without a URL are all kept
    docs[6]["url"] = ""
    config = {"iterations": 1, "num_shards": 3, "classifier": {"bucket": 1000, "n_positives": 20, "n_negatives": 20}}
    results = {}
    for partitions in (1, 4):
        out = tmp_path / f"p{partitions}"
        mine(docs, texts[:20], {**config, "dedup": {"partitions": partitions}}, output_dir=out)
        results[partitions] = (
            json.loads((out / "dedup" / "summary.json").read_text()),
            "".join(f.read_text() for f in sorted((out / "dedup" / "clusters").glob("part-*.jsonl"))),
            np.concatenate([np.load(f) for f in sorted((out / "dedup" / "keep").glob("shard-*.npy"))]).tolist(),
        )
        assert len(list((out / "dedup" / "urls" / "removed").glob("*.npy"))) == partitions
        assert len(list((out / "dedup" / "edges").glob("band-*-part-*.npy"))) == 9 * partitions
        # components: a task per node partition in each round, an even number of rounds after round 0; the
        # clusters, its counts and the report in as many parts
        rounds = sorted((out / "dedup" / "components").glob("round-*"))
        assert len(rounds) >= 3 and len(rounds) % 2 == 1
        for r in rounds:
            assert sorted(f.name for f in r.glob("*.json")) == [f"part-{p:05d}.json" for p in range(partitions)]
        assert len(list((out / "dedup" / "near").glob("counts-*.json"))) == partitions
        assert len(list((out / "dedup" / "clusters").glob("part-*.jsonl"))) == partitions
    assert results[1] == results[4]
    summary, clusters_text, keep = results[1]
    url_keep = url_dedup_mask_reference([d["url"] for d in docs])
    assert summary["url_duplicates_removed"] == int((~url_keep).sum()) > 0
    rows = np.flatnonzero(url_keep)
    near = lsh_lib.near_dedup(minhash.minhash_signatures([texts[r] for r in rows]), threshold=0.8)
    expected = [[int(rows[m]) for m in c] for c in near.clusters]
    clusters = [json.loads(line) for line in clusters_text.splitlines()]
    assert [c["members"] for c in clusters] == [c[:20] for c in expected] and len(expected) > 0
    assert [c["urls"] for c in clusters] == [[docs[m]["url"] for m in c[:20]] for c in expected]
    assert [c["ids"] for c in clusters] == [
        [doc_id(docs[m]["url"], docs[m]["text"]) for m in c[:20]] for c in expected
    ]
    assert summary["near_duplicates_removed"] == near.removed
    expected_keep = url_keep.copy()
    expected_keep[rows[~near.keep]] = False
    assert keep == expected_keep.tolist() and summary["kept"] == int(expected_keep.sum())
