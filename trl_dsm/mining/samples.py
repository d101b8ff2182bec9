# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The classifier's training data, the driver's side (DeepSeekMath §2.1): the seed corpus written once, a bounded
sample of it per iteration, and the random kept pages (negatives) and pages added by domain discovery (positives)
merged from the per-shard ``sample`` tasks' candidates."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence

from trl_dsm.configs import from_dict
from trl_dsm.mining.config import MiningConfig, SeedSpec
from trl_dsm.mining.inputs import load_seed_texts
from trl_dsm.mining.rundir import RunDir, atomic_json, atomic_write_bytes


def write_seeds(run: RunDir, config: MiningConfig, seed_texts: Sequence[str] | None) -> int:
    """``seeds.jsonl`` from ``seed_texts`` and ``config.seeds`` (once); returns the number of seeds."""
    path = run.root / "seeds.jsonl"
    if not path.is_file():
        texts = list(seed_texts) if seed_texts is not None else []
        for spec in config.seeds:
            texts += load_seed_texts(from_dict(SeedSpec, spec, "seeds[]"))
        if not texts:
            raise ValueError("the seed corpus is empty")
        atomic_write_bytes(path, "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts).encode())
    with path.open("rb") as f:
        return sum(1 for _ in f)


def seed_sample(run: RunDir, config: MiningConfig, k: int) -> list[str]:
    """Up to ``n_positives`` seed texts (all when there are fewer; else a reservoir sample, seeded per
    iteration), streamed from ``seeds.jsonl``: the driver never holds a large seed corpus."""
    m = config.classifier.n_positives
    rng = random.Random(config.classifier.seed + k)
    sample: list[str] = []
    with (run.root / "seeds.jsonl").open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < m:
                sample.append(json.loads(line))
            elif (j := rng.randrange(i + 1)) < m:
                sample[j] = json.loads(line)
    return sample


def training_sample(
    run: RunDir,
    cfg: MiningConfig,
    k: int,
    added_total: int,
    kept: int,
    tasks: Callable[[type, int, Sequence[int]], None],
    timings: dict[str, float],
) -> tuple[list[str], list[str]]:
    """Iteration ``k``'s random kept pages (negatives) and pages added to the seeds (positives): each shard's
    task writes its candidates below a priority cut set for about 3x the sample size; the driver keeps the
    ``n_negatives`` / ``n_positives`` of smallest priority, shard by shard (memory: the samples)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    sizes = {False: cfg.classifier.n_negatives, True: cfg.classifier.n_positives if added_total else 0}
    pools = {False: max(1, kept - added_total), True: max(1, added_total)}
    if not run.sample_params(k).is_file():
        cuts = {"negatives": min(1.0, (3 * sizes[False] + 100) / pools[False])}
        cuts["positives"] = min(1.0, (3 * sizes[True] + 100) / pools[True]) if sizes[True] else 0.0
        atomic_json(run.sample_params(k), cuts)
    from trl_dsm.mining.stages import SampleStep

    tasks(SampleStep, k, range(cfg.num_shards))
    start = time.perf_counter()
    best: dict[bool, pa.Table | None] = {False: None, True: None}
    order = [("priority", "ascending"), ("row", "ascending")]
    for shard in range(cfg.num_shards):
        table = pq.read_table(run.sample(k, shard))
        for label in (False, True):
            part = table.filter(pc.equal(table["positive"], label))
            merged = part if best[label] is None else pa.concat_tables([best[label], part])
            if merged.num_rows > 2 * sizes[label]:
                merged = merged.take(pc.sort_indices(merged, sort_keys=order)[: sizes[label]])
            best[label] = merged
    texts = {}
    for label, table in best.items():
        table = table.take(pc.sort_indices(table, sort_keys=order)[: sizes[label]])
        texts[label] = table["text"].to_pylist()
    timings["driver:samples"] = timings.get("driver:samples", 0.0) + time.perf_counter() - start
    return texts[False], texts[True]
