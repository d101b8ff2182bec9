# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Sizes of the split ``clusters`` stage (§2.1 near-dedup): duplicate pairs vs the forests that replace them.

    python benchmarks/mining_forests.py [--base 1000 4000] [--partitions 4] [--fan-in 16]

On planted near-duplicate crawls (``tests/test_mining_dedup.planted_crawl``: 150-word pages with 0-3 edited
copies), the per-(band, partition) duplicate pairs of ``lsh_merge`` go through the ``forests`` rounds; printed: the
pairs in all, the pairs (or forest pairs) the largest task of each round reads, the last forest's size and the
ratio pairs / last forest (the anchor is the one-process ``clusters`` of all pairs, which reads every pair). The
clusters of the last forest are checked equal to one union-find over every pair.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_mining_dedup import planted_crawl  # noqa: E402
from trl_dsm.mining import lsh, minhash  # noqa: E402


def main() -> None:
    """Print the pair and forest sizes for each ``--base``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--fan-in", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=0.8)
    args = parser.parse_args()
    for n_base in args.base:
        texts, _ = planted_crawl(n_base, seed=n_base)
        sigs = minhash.minhash_signatures(texts)
        bands, rows = lsh.lsh_params(args.threshold, sigs.shape[1])
        keys = lsh.band_hashes(sigs, bands, rows)
        files = []
        for b in range(bands):
            part = lsh.hash_partition(keys[:, b], args.partitions)
            for p in range(args.partitions):
                at = np.flatnonzero(part == p)
                buckets = lsh.sorted_buckets(keys[at, b], at)
                files.append(lsh.bucket_edges(buckets, sigs.__getitem__, args.threshold))
        plan = lsh.forest_rounds(len(files), args.fan_in)
        current, largest = files, []
        for r, tasks in enumerate(plan):
            groups = [lsh.forest_group(len(files), args.fan_in, r, t) for t in range(tasks)]
            largest.append(max(sum(len(current[i]) for i in g) for g in groups))
            current = [lsh.star_forest(np.concatenate([current[i] for i in g])) for g in groups]
        pairs, final = sum(len(f) for f in files), len(current[0])
        same = lsh.clusters_from_edges(current[0]) == lsh.clusters_from_edges(np.concatenate(files))
        print(
            f"rows {len(texts)}: {len(files)} pair files ({bands} bands x {args.partitions} partitions), rounds {plan}; "
            f"pairs {pairs}; largest task input per round {largest}; last forest {final}; "
            f"pairs / last forest {pairs / max(final, 1):.2f}; same clusters as one union-find: {same}"
        )


if __name__ == "__main__":
    main()
