# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Sizes of the near-dedup's connected components by node partition (§2.1): what the largest task holds.

    python benchmarks/mining_forests.py [--base 1000 4000] [--partitions 4 64]

On planted near-duplicate crawls (``tests/test_mining_dedup.planted_crawl``: 150-word pages with 0-3 edited
copies), the per-(band, partition) duplicate pairs of ``lsh_merge`` go through the ``components`` rounds and the
``clusters`` tasks (``trl_dsm.mining.lsh.partitioned_components``, the functions the pipeline's tasks run, here in
memory). Printed per crawl and number of partitions: the pairs and the clustered rows in all (the anchor: one
process holding every pair, or every clustered row), the number of rounds, per round the most pairs and the most
rows (keys) a task reads, and the ratios pairs / the largest node-partition task's pairs and clustered rows / its
rows. The clusters are checked equal to one union-find over every pair.
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
    """Print the largest task's pairs and rows per round for each ``--base`` and ``--partitions``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--partitions", type=int, nargs="+", default=[4, 64])
    parser.add_argument("--threshold", type=float, default=0.8)
    args = parser.parse_args()
    for n_base in args.base:
        texts, _ = planted_crawl(n_base, seed=n_base)
        sigs = minhash.minhash_signatures(texts)
        bands, rows = lsh.lsh_params(args.threshold, sigs.shape[1])
        keys = lsh.band_hashes(sigs, bands, rows)
        for partitions in args.partitions:
            inputs: list[list[np.ndarray]] = [[] for _ in range(partitions)]
            for b in range(bands):
                part = lsh.hash_partition(keys[:, b], partitions)
                for p in range(partitions):
                    at = np.flatnonzero(part == p)
                    buckets = lsh.sorted_buckets(keys[at, b], at)
                    inputs[p].append(lsh.bucket_edges(buckets, sigs.__getitem__, args.threshold))
            inputs = [np.concatenate(e) for e in inputs]
            pairs = np.concatenate(inputs)
            clusters, read = lsh.partitioned_components(inputs, partitions)
            clustered = sum(len(c) for c in clusters)
            same = clusters == lsh.clusters_from_edges(pairs)
            most = [(max(p for p, _ in r), max(k for _, k in r)) for r in read]  # per round: pairs, rows
            per_round = ", ".join(f"{p}/{k}" for p, k in most[1:-1])
            node_pairs, node_rows = max(p for p, _ in most[1:]), max(k for _, k in most[1:])
            print(
                f"rows {len(texts)}, {partitions} partitions ({bands} bands): pairs {len(pairs)}, clustered rows "
                f"{clustered} in {len(clusters)} clusters; round 0 (one LSH partition's pairs) at most "
                f"{most[0][0]} pairs / {most[0][1]} rows; {len(read) - 2} rounds, at most pairs/rows per round "
                f"{per_round}; clusters tasks {most[-1][0]}/{most[-1][1]}; largest node-partition task: "
                f"{node_pairs} pairs (pairs / it {len(pairs) / node_pairs:.1f}), {node_rows} rows (clustered rows / "
                f"it {clustered / node_rows:.1f}); same clusters as one union-find: {same}"
            )


if __name__ == "__main__":
    main()
