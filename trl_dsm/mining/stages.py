# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The tasks of a mining run (§2.1): each reads what it needs from the run directory and writes its output
atomically, so any executor can run it on any worker, repeat it after a crash, and tell it done by its output.

A :class:`StageTask` ``(run_dir, stage, iteration)`` is the picklable unit an executor receives; ``task(i)`` runs
task ``i`` of the stage. Stages and what their task ``i`` is:

* ``ingest``: input unit ``i`` (one file or dataset) -> ``raw/part-i.parquet``.
* ``reshard``: shard ``i`` -> its rows of the parts, in order (``docs/shard-i.parquet``; the driver wrote the offsets
  from the parts' row counts in ``docs/shards.json``).
* ``prepare``: shard ``i`` -> MinHash signatures (``prepare/signatures-i.npy``), token counts and empty flags
  (``prepare/shard-i.npz``), normalized URL keys, a row group per hash partition (``dedup/urls/keys-i.parquet``).
* ``url_dedup``: URL partition ``i`` -> the rows whose normalized URL an earlier row has
  (``dedup/urls/removed/part-i.npy``).
* ``lsh_buckets``: shard ``i`` -> ``(band key, row)`` of its remaining non-empty rows, sorted per band and hash
  partition in one file with the slices' offsets (``dedup/lsh/buckets-i.npy``, ``dedup/lsh/offsets-i.npy``).
* ``lsh_merge``: band ``i // partitions``, partition ``i % partitions`` -> duplicate pairs from all shards'
  buckets (``dedup/edges/band-B-part-P.npy``).
* ``clusters`` (one task): union-find over the pairs -> the removed rows (``dedup/near_removed.npy``),
  ``dedup/clusters.jsonl``, ``dedup/summary.json``.
* ``keep``: shard ``i`` -> its keep-mask (``dedup/keep/shard-i.npy``).
  (The dedup tasks, ``url_dedup`` to ``keep``, live in :mod:`trl_dsm.mining.stages_dedup`.)
* ``sample`` (per iteration): shard ``i`` -> its candidates for the classifier's random negatives (kept pages not
  added to the seeds) and added seed pages, with their hash priorities below the driver's cut
  (``iter_k/sample/shard-i.parquet``); the driver keeps the ``n_negatives`` / ``n_positives`` smallest.
* ``score`` (per iteration): shard ``i`` -> ``iter_k/scores/shard-i.npy``; for ``threshold`` selection also the
  selection (``iter_k/selected/shard-i.npy`` + ``.json`` counts), for ``top_tokens`` the partial histogram and
  ranking (``iter_k/budget/{hist,ranked}/i.npy``, :func:`trl_dsm.mining.steps.write_budget_partial`).
* ``select`` (``top_tokens``, per iteration): shard ``i`` -> its pages within the budget's cut (merged by the
  driver from the histograms: ``iter_k/budget/cut-B.json``) -> ``iter_k/selected/shard-i.npy`` + ``.json``.
* ``domain_counts`` (per iteration): shard ``i`` -> pages and collected pages per domain of its kept rows, split by
  domain hash partition (``iter_k/domains/shard-i.parquet``, a row group per partition).
* ``domain_merge``: partition ``i`` -> its domains' counts summed over shards; only the math domains (more than
  ``math_fraction`` collected) are written (``iter_k/domains/math-i.parquet``).
* ``prefix_counts``: shard ``i`` -> partial counts of the URL prefixes of the math domains
  (``iter_k/prefixes/shard-i.jsonl``), merged by the driver into the annotation rows.
* ``prefix_pages``: shard ``i`` -> its rows added to the seeds so far: those of the previous iteration and its
  uncollected rows under accepted prefixes (``iter_k/seeds_added/shard-i.npy``).
* ``final``: shard ``i`` -> ``final/shard-i.parquet`` (the last iteration's selection with its scores) and its
  counts (``final/shard-i.json``).
* ``decontaminate`` (with ``decontamination.enabled``): shard ``i`` -> its final shard's clean rows and report
  (``decontamination/shards/shard-i.{parquet,json}``; the task lives in :mod:`trl_dsm.mining.export`).

No task holds more than one shard's documents, one partition's URL keys, band buckets or domain counts, the
duplicate pairs (and removed rows), or the math domains; per-page state (keep, scores, selection, tokens, added
seeds) lives in per-shard files, never in one array.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trl_dsm.mining import dedup as dedup_lib
from trl_dsm.mining import domains as domains_lib
from trl_dsm.mining.classifier import SCORE_COLUMN, FastTextClassifier, score_dataset
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.export import decontaminate_shard
from trl_dsm.mining.readers import COLUMNS, load_documents
from trl_dsm.mining.rundir import (
    RunDir,
    atomic_json,
    atomic_jsonl,
    atomic_npy,
    atomic_npz,
    atomic_parquet,
    atomic_partitioned_parquet,
    read_partition,
    read_shard,
)
from trl_dsm.mining.select import BudgetCut, count_tokens, select_threshold
from trl_dsm.mining.stages_dedup import (
    clusters_task,
    keep_shard,
    lsh_buckets_shard,
    lsh_done,
    lsh_merge_task,
    url_dedup_partition,
)
from trl_dsm.mining.steps import write_budget_partial


def ingest_unit(run: RunDir, config: MiningConfig, iteration: int, unit: int) -> None:
    """The ``ingest`` task: input unit ``unit`` read (:func:`load_documents`) -> ``raw/part-U.parquet``."""
    units = json.loads(run.units().read_text())
    dataset = load_documents(dict(units[unit]["spec"]), cache_dir=run.root / "cache")
    atomic_parquet(run.raw(unit), dataset.select_columns(COLUMNS))


def shard_bounds(total: int, shards: int, shard: int) -> tuple[int, int]:
    """``[start, end)`` of contiguous shard ``shard`` of ``total`` rows (``datasets.Dataset.shard(contiguous=True)``:
    the first ``total % shards`` shards have one row more)."""
    div, mod = divmod(total, shards)
    start = div * shard + min(shard, mod)
    return start, start + div + (1 if shard < mod else 0)


def reshard_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    """Shard ``shard``'s rows, read from the parts it overlaps (one part at a time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = run.meta()
    lo = meta["offsets"][shard]
    hi = lo + meta["rows"][shard]
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    pieces = []
    for unit, (a, b) in enumerate(zip(meta["part_offsets"][:-1], meta["part_offsets"][1:])):
        if b > lo and a < hi:
            table = pq.read_table(run.raw(unit), columns=COLUMNS)
            pieces.append(table.slice(max(lo, a) - a, min(hi, b) - max(lo, a)).cast(schema))
    atomic_parquet(run.doc_shard(shard), pa.concat_tables(pieces) if pieces else schema.empty_table())


def url_partition(key: str, partitions: int) -> int:
    """The URL-dedup partition of a normalized URL key (stable across processes and machines)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") % partitions


def prepare_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    """The ``prepare`` task: a shard's MinHash signatures, URL keys by hash partition, token counts and empty flags."""
    import pyarrow as pa

    d = config.dedup
    start = run.meta()["offsets"][shard]
    docs = read_shard(run.doc_shard(shard), ["text", "url"])
    texts = docs["text"]
    if d.minhash:
        sigs = dedup_lib.minhash_signatures(texts, num_perm=d.num_perm, seed=d.seed, ngram=d.ngram)
        atomic_npy(run.signatures(shard), sigs)
    if d.url:
        parts: list[tuple[list[str], list[int]]] = [([], []) for _ in range(d.partitions)]
        for i, url in enumerate(docs["url"]):
            key = dedup_lib.normalize_url(url)
            if key:  # rows without a URL cannot be compared: all kept
                keys, rows = parts[url_partition(key, d.partitions)]
                keys.append(key)
                rows.append(start + i)
        tables = [pa.table({"key": pa.array(k, pa.string()), "row": pa.array(r, pa.int64())}) for k, r in parts]
        atomic_partitioned_parquet(run.url_keys(shard), tables)
    tokens = count_tokens(texts, config.selection.tokenizer)
    empty = np.array([not (t or "").strip() for t in texts], dtype=bool)
    atomic_npz(run.prepared(shard), tokens=tokens, empty=empty)  # last: marks the task done


def preload(config: MiningConfig) -> None:
    """Import the tasks' modules and load their compiled kernels (numba's cache) in this process: the driver calls
    it before the ``local`` executor forks its pool, so the workers inherit them instead of each loading them."""
    import datasets  # noqa: F401
    import fasttext  # noqa: F401

    from trl_dsm.mining.classifier import normalize_text

    d = config.dedup
    dedup_lib.lsh_params(d.threshold, d.num_perm)  # imports datasketch (and scipy): ~1 s
    dedup_lib.minhash_signatures(["warm up the kernels"], num_perm=d.num_perm, seed=d.seed, ngram=d.ngram)
    normalize_text("warm up")


def shard_keep(run: RunDir, shard: int) -> np.ndarray:
    """A shard's keep-mask after URL and near-dedup (bool per row)."""
    return np.load(run.keep(shard))


def added_before(run: RunDir, k: int, shard: int) -> np.ndarray:
    """The shard's rows added to the seeds by domain discovery before iteration ``k`` (global, sorted)."""
    path = run.prefix_pages(k - 1, shard) if k > 1 else None
    return np.load(path) if path is not None and path.is_file() else np.zeros(0, dtype=np.int64)


def sample_priority(rows: np.ndarray, salt: int) -> np.ndarray:
    """A uniform [0, 1) priority per global row (splitmix64 of ``row + salt``): the classifier's random samples are
    the rows of smallest priority, the same whatever the sharding."""
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) % (1 << 64))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def sample_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """Candidates for iteration ``k``'s training samples in the shard: kept pages not added to the seeds (negatives)
    and added pages (positives) whose priority is below the driver's cuts, with their texts."""
    import pyarrow as pa

    params = json.loads(run.sample_params(k).read_text())
    start = run.meta()["offsets"][shard]
    keep = shard_keep(run, shard)
    added = added_before(run, k, shard) - start
    is_added = np.zeros(len(keep), dtype=bool)
    is_added[added] = True
    rows = np.arange(len(keep), dtype=np.int64)
    seed = config.classifier.seed + k
    negative = keep & ~is_added & (sample_priority(rows + start, 2 * seed) < params["negatives"])
    positive = is_added & (sample_priority(rows + start, 2 * seed + 1) < params["positives"])
    take = np.flatnonzero(negative | positive)
    texts = read_shard(run.doc_shard(shard), ["text"]).select(take)["text"] if len(take) else []
    priority = np.where(
        positive[take], sample_priority(take + start, 2 * seed + 1), sample_priority(take + start, 2 * seed)
    )
    table = {
        "priority": priority,
        "row": take + start,
        "positive": positive[take],
        "text": pa.array(texts, pa.string()),
    }
    atomic_parquet(run.sample(k, shard), pa.table(table))


@functools.lru_cache(maxsize=2)
def _classifier(path: str, mtime_ns: int, max_chars: int | None) -> FastTextClassifier:
    """One fastText model per worker process and iteration (a persistent pool scores many shards)."""
    return FastTextClassifier(path, max_chars=max_chars)


def _write_selection(run: RunDir, k: int, shard: int, selected: np.ndarray) -> None:
    """The shard's selection and its counts: pages, tokens, and (after iteration 1) pages new / also collected in
    the previous iteration."""
    tokens = np.load(run.prepared(shard))["tokens"]
    counts = {"collected": int(selected.sum()), "tokens": int(tokens[selected].sum())}
    if k > 1:
        both = int((np.load(run.selected(k - 1, shard)) & selected).sum())
        counts.update(both=both, new=counts["collected"] - both)
    atomic_json(run.selection_counts(k, shard), counts)
    atomic_npy(run.selected(k, shard), selected)  # last: marks the select task done


def score_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """The ``score`` task: a shard's kept pages scored by iteration ``k``'s classifier, then selected by threshold
    (or, for ``top_tokens``, its partial histogram and ranking written)."""
    keep = shard_keep(run, shard)
    scores = np.full(len(keep), np.nan, dtype=np.float32)
    rows = np.flatnonzero(keep)
    if len(rows):
        docs = read_shard(run.doc_shard(shard), ["text"]).select(rows)
        model_path = run.model(k).with_suffix(".ftz") if config.classifier.quantize else run.model(k)
        classifier = _classifier(str(model_path), model_path.stat().st_mtime_ns, config.classifier.max_chars)
        scored = score_dataset(docs, classifier, num_proc=config.num_proc, batch_size=config.batch_size)
        scores[rows] = np.asarray(scored[SCORE_COLUMN], dtype=np.float32)
    if config.selection.method == "threshold":
        _write_selection(run, k, shard, select_threshold(scores, config.selection.threshold))
    else:
        write_budget_partial(str(run.budget(k)), shard, scores, np.load(run.prepared(shard))["tokens"])
    atomic_npy(run.scores(k, shard), scores)  # last: marks the task done


def select_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """``top_tokens``: the shard's pages within the cut the driver merged from the partial histograms."""
    cut = BudgetCut(**json.loads(run.budget_cut(k, config.selection.token_budget).read_text()))
    _write_selection(run, k, shard, cut.mask(np.load(run.scores(k, shard)), shard))


def final_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """The ``final`` task: a shard's selected pages with their scores, and their page and whitespace-token counts."""
    mask = np.load(run.selected(k, shard))
    docs = read_shard(run.doc_shard(shard))
    scores = np.load(run.scores(k, shard))
    rows = np.flatnonzero(mask)
    out = docs.select(rows).add_column(SCORE_COLUMN, scores[rows].astype(np.float64).tolist())
    atomic_json(
        run.final_counts(shard), {"documents": len(rows), "tokens": int(sum(len(t.split()) for t in out["text"]))}
    )
    atomic_parquet(run.final(shard), out)


def _selected_in(run: RunDir, k: int, shard: int) -> np.ndarray:
    return np.load(run.selected(k, shard))


def domain_counts_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """Pages and collected pages per domain of the shard's kept rows, one file per domain hash partition."""
    import pyarrow as pa

    keep, selected = shard_keep(run, shard), _selected_in(run, k, shard)
    domains = read_shard(run.doc_shard(shard), ["domain"])["domain"]
    counts: dict[str, list[int]] = {}
    for i in np.flatnonzero(keep).tolist():
        if domains[i]:
            c = counts.setdefault(domains[i], [0, 0])
            c[0] += 1
            c[1] += int(selected[i])
    parts = config.dedup.partitions
    split: list[list[tuple[str, int, int]]] = [[] for _ in range(parts)]
    for domain, (pages, got) in counts.items():
        split[url_partition(domain, parts)].append((domain, pages, got))
    tables = []
    for p in range(parts):
        names, pages, got = zip(*split[p]) if split[p] else ((), (), ())
        table = {"domain": pa.array(names, pa.string()), "pages": pa.array(pages, pa.int64())}
        table["collected"] = pa.array(got, pa.int64())
        tables.append(pa.table(table))
    atomic_partitioned_parquet(run.domain_counts(k, shard), tables)


def domain_merge_partition(run: RunDir, config: MiningConfig, k: int, partition: int) -> None:
    """The counts of one domain hash partition summed over shards; the math domains written with their counts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.concat_tables([read_partition(run.domain_counts(k, s), partition) for s in range(config.num_shards)])
    table = table.group_by("domain").aggregate([("pages", "sum"), ("collected", "sum")])
    table = table.rename_columns({"pages_sum": "pages", "collected_sum": "collected"})
    d = config.domains
    fraction = pc.divide(pc.cast(table["collected"], pa.float64()), pc.cast(table["pages"], pa.float64()))
    mask = pc.and_(pc.greater_equal(table["pages"], d.min_domain_pages), pc.greater(fraction, d.math_fraction))
    atomic_parquet(run.math_domains(k, partition), table.filter(mask).select(["domain", "pages", "collected"]))


def prefix_counts_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """Partial counts of the URL prefixes of the math domains over the shard's kept rows."""
    wanted = set(json.loads(run.math_domain_list(k).read_text()))
    keep, selected = shard_keep(run, shard), _selected_in(run, k, shard)
    scores = np.load(run.scores(k, shard))
    start = run.meta()["offsets"][shard]
    rows = np.flatnonzero(keep)
    docs = read_shard(run.doc_shard(shard), ["url", "title", "domain"]).select(rows)
    partials = domains_lib.prefix_partials(
        (rows + start).tolist(),
        docs["url"],
        docs["title"],
        docs["domain"],
        selected[rows],
        scores[rows],
        wanted,
        config.domains,
    )
    atomic_jsonl(run.prefix_counts(k, shard), partials)


def prefix_pages_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """The shard's rows added to the seeds through iteration ``k``: those added before and its kept rows under an
    accepted prefix that are neither collected nor seeds already."""
    accepted = set(json.loads(run.accepted(k).read_text()))
    start = run.meta()["offsets"][shard]
    exclude = _selected_in(run, k, shard) | ~shard_keep(run, shard)
    added = added_before(run, k, shard)
    exclude[added - start] = True
    rows = np.flatnonzero(~exclude)
    urls = read_shard(run.doc_shard(shard), ["url"]).select(rows)["url"] if accepted else []
    hits = [
        r
        for r, url in zip(rows.tolist(), urls)
        if domains_lib.url_prefix(url, config.domains.prefix_depth) in accepted
    ]
    atomic_npy(run.prefix_pages(k, shard), np.union1d(added, np.array(hits, dtype=np.int64) + start).astype(np.int64))


@dataclass(frozen=True)
class Stage:
    """A stage: its task function and the file whose existence marks task ``i`` of iteration ``k`` done."""

    run: Callable[[RunDir, MiningConfig, int, int], None]
    output: Callable[[RunDir, MiningConfig, int, int], Path]


STAGES: dict[str, Stage] = {
    "ingest": Stage(ingest_unit, lambda run, cfg, k, i: run.raw(i)),
    "reshard": Stage(reshard_shard, lambda run, cfg, k, i: run.doc_shard(i)),
    "prepare": Stage(prepare_shard, lambda run, cfg, k, i: run.prepared(i)),
    "url_dedup": Stage(url_dedup_partition, lambda run, cfg, k, i: run.url_removed(i)),
    "lsh_buckets": Stage(lsh_buckets_shard, lambda run, cfg, k, i: lsh_done(run, i)),
    "lsh_merge": Stage(lsh_merge_task, lambda run, cfg, k, i: run.lsh_edges(*divmod(i, cfg.dedup.partitions))),
    "clusters": Stage(clusters_task, lambda run, cfg, k, i: run.dedup_summary()),
    "keep": Stage(keep_shard, lambda run, cfg, k, i: run.keep(i)),
    "sample": Stage(sample_shard, lambda run, cfg, k, i: run.sample(k, i)),
    "score": Stage(score_shard, lambda run, cfg, k, i: run.scores(k, i)),
    "select": Stage(select_shard, lambda run, cfg, k, i: run.selected(k, i)),
    "domain_counts": Stage(domain_counts_shard, lambda run, cfg, k, i: run.domain_counts(k, i)),
    "domain_merge": Stage(domain_merge_partition, lambda run, cfg, k, i: run.math_domains(k, i)),
    "prefix_counts": Stage(prefix_counts_shard, lambda run, cfg, k, i: run.prefix_counts(k, i)),
    "prefix_pages": Stage(prefix_pages_shard, lambda run, cfg, k, i: run.prefix_pages(k, i)),
    "final": Stage(final_shard, lambda run, cfg, k, i: run.final(i)),
    "decontaminate": Stage(decontaminate_shard, lambda run, cfg, k, i: run.decontaminated(i)),
}


@dataclass(frozen=True)
class StageTask:
    """The work an executor receives: ``task(i)`` runs task ``i`` of ``stage`` (picklable: three plain fields)."""

    run_dir: str
    stage: str
    iteration: int = 0

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; known: {sorted(STAGES)}")

    def __call__(self, task: int) -> None:
        run = RunDir(self.run_dir)
        STAGES[self.stage].run(run, run.load_config(), self.iteration, task)

    def is_done(self, task: int, config: MiningConfig) -> bool:
        """Whether task ``task``'s output (its completion marker) exists."""
        return STAGES[self.stage].output(RunDir(self.run_dir), config, self.iteration, task).is_file()
