# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""URL dedup and MinHash-LSH near-dedup (DeepSeekMath §2.1): "URL-based deduplication and near-deduplication"
of Common Crawl before mining. One module per job, re-exported here (the import path of earlier releases):

* :mod:`trl_dsm.mining.urls`: :func:`normalize_url`, :func:`url_dedup_mask`.
* :mod:`trl_dsm.mining.minhash`: :func:`minhash_signatures` (numba, bit-identical to datasketch), :func:`shingles`,
  :func:`to_datasketch`, :func:`datasketch_permutations`.
* :mod:`trl_dsm.mining.lsh`: :func:`near_dedup` (in memory) and the staged, bounded-memory form
  (:func:`lsh_params`, :func:`band_hashes`, :func:`hash_partition`, :func:`sorted_buckets`, :func:`bucket_edges`,
  :func:`clusters_from_edges`).
"""

from __future__ import annotations

from trl_dsm.mining.lsh import (
    NearDedupResult,
    band_hashes,
    bucket_edges,
    clusters_from_edges,
    hash_partition,
    lsh_params,
    near_dedup,
    sorted_buckets,
)
from trl_dsm.mining.minhash import (
    datasketch_permutations,
    minhash_signatures,
    shingle_text,
    shingles,
    to_datasketch,
)
from trl_dsm.mining.urls import TRACKING_PARAMS, normalize_url, url_dedup_mask


__all__ = [
    "TRACKING_PARAMS",
    "NearDedupResult",
    "band_hashes",
    "bucket_edges",
    "clusters_from_edges",
    "datasketch_permutations",
    "hash_partition",
    "lsh_params",
    "minhash_signatures",
    "near_dedup",
    "normalize_url",
    "shingle_text",
    "shingles",
    "sorted_buckets",
    "to_datasketch",
    "url_dedup_mask",
]
