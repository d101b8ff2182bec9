# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Domain discovery, the driver's side (DeepSeekMath §2.1): math domains and URL prefixes merged from per-shard
partial counts, the annotation round trip, and the pages under accepted prefixes added to the next iteration's
seeds. The per-shard work runs as datatrove steps (:mod:`trl_dsm.mining.stages`)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence

import numpy as np

from trl_dsm.mining import domains as domains_lib
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.rundir import RunDir, atomic_json
from trl_dsm.mining.stages import DomainCountsStep, DomainMergeStep, PrefixCountsStep, PrefixPagesStep


class AnnotationPending(RuntimeError):
    """Domain discovery wrote an annotation file that a person must label before the run can go on."""


def discover(
    run: RunDir,
    cfg: MiningConfig,
    k: int,
    added_total: int,
    report: domains_lib.IterationReport,
    tasks: Callable[[type, int, Sequence[int]], None],
) -> None:
    """Domain discovery of iteration ``k`` from per-shard partial counts: math domains (per-domain counts merged per
    domain hash partition), then the URL prefixes of those domains (per-shard counts merged here: only math
    domains' prefixes), the annotation round trip, and the uncollected pages under accepted prefixes (per shard,
    added to the shard's seed rows) -> ``iter_k/seeds_added/``; counts go into ``report``. ``tasks(step, k, units)``
    runs a stage's missing units. The driver never holds every URL, domain or added row."""
    import pyarrow.parquet as pq

    shards, parts = range(cfg.num_shards), range(cfg.dedup.partitions)
    tasks(DomainCountsStep, k, shards)
    tasks(DomainMergeStep, k, parts)
    if not run.math_domain_list(k).is_file():
        tables = [pq.read_table(run.math_domains(k, p)).to_pylist() for p in parts]
        found = sorted((r for t in tables for r in t), key=lambda r: (-r["collected"], r["domain"]))
        atomic_json(run.math_domain_list(k), [r["domain"] for r in found])
    report.math_domains = len(json.loads(run.math_domain_list(k).read_text()))
    tasks(PrefixCountsStep, k, shards)

    def partials():  # one shard's partial counts at a time: memory is the merged prefixes and their samples
        for shard in shards:
            with run.prefix_counts(k, shard).open(encoding="utf-8") as f:
                yield [json.loads(line) for line in f]

    rows = domains_lib.merge_prefix_partials(partials(), cfg.domains)
    report.prefixes_proposed = len(rows)
    path = run.iter_dir(k) / "annotations.jsonl"
    if cfg.domains.auto_accept_score is not None:
        accepted = domains_lib.auto_accept(rows, cfg.domains.auto_accept_score)
        for row in rows:
            row["label"] = "math" if row["prefix"] in set(accepted) else "not_math"
        domains_lib.write_annotations(rows, path)
    else:
        if not path.is_file():
            domains_lib.write_annotations(rows, path)
        accepted, rejected, unlabelled = domains_lib.read_annotations(path)
        if rows and not accepted and not rejected:
            raise AnnotationPending(
                f"iteration {k}: label the {unlabelled} URL prefixes in {path} ('math' or 'not_math' in "
                "the label field), then rerun the same command to continue"
            )
    report.prefixes_accepted = len(accepted)
    if not run.accepted(k).is_file() or json.loads(run.accepted(k).read_text()) != accepted:
        # labels changed since an interrupted run: the pages found under the old ones do not count
        shutil.rmtree(run.prefix_pages(k, 0).parent, ignore_errors=True)
        run.seeds_added(k).unlink(missing_ok=True)
        atomic_json(run.accepted(k), accepted)
    tasks(PrefixPagesStep, k, shards)
    total = sum(len(np.load(run.prefix_pages(k, s), mmap_mode="r")) for s in shards)
    report.seeds_added = int(total - added_total)
    atomic_json(run.seeds_added(k), {"added": report.seeds_added, "total": int(total)})
