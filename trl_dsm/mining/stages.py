# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The stages of a mining run (§2.1) as datatrove steps: each task of a stage runs some units (shards, hash
partitions, input files), reading what it needs from the run directory and writing its output atomically, so any
datatrove executor (local, Slurm, Ray) can run it on any worker, repeat it after a crash, and tell a unit done by
its output. The driver (:mod:`trl_dsm.mining.pipeline`) runs one executor per stage. Stages and their unit ``i``:

* :class:`IngestStep`: input unit ``i`` (one file or dataset) -> ``raw/part-i.parquet``.
* :class:`ReshardStep`: shard ``i`` -> its rows of the parts, in order (``docs/shard-i.parquet``; the driver wrote
  the offsets from the parts' row counts in ``docs/shards.json``).
* :class:`PrepareStep`: shard ``i`` -> MinHash signatures (``prepare/signatures-i.npy``), token counts and empty
  flags (``prepare/shard-i.npz``), normalized URL keys (``dedup/urls/keys/i.parquet``, a row group per partition).
* URL dedup (:class:`trl_dsm.mining.steps.UrlDedupFind`, the datatrove users' step): partition ``i`` -> the rows
  whose normalized URL an earlier row has (``dedup/urls/removed/i.npy``).
* :class:`LshBucketsStep`: shard ``i`` -> ``(band key, row)`` of its remaining non-empty rows, sorted per band and
  hash partition in one file with the slices' offsets (``dedup/lsh/buckets-i.npy``, ``dedup/lsh/offsets-i.npy``).
* :class:`LshMergeStep`: band ``i // partitions``, partition ``i % partitions`` -> duplicate pairs from all shards'
  buckets (``dedup/edges/band-B-part-P.npy``).
* :class:`ComponentsStep` (round ``r``, ``iteration`` is the round; rounds until no pair changes): node partition
  ``i`` -> the pairs of the next round, in one file sorted by the node partition they go to
  (``dedup/components/round-R/part-i.{npy,offsets.npy,json}``); round 0 reads LSH partition ``i``'s pairs of every
  band, a later round slice ``i`` of every file of the round before.
* :class:`ClustersStep` (``iteration``: the converged round): node partition ``i`` -> its removed rows, its
  clusters' smallest rows and sizes and their first members (``dedup/near/{removed,roots,shown,counts}-i``).
* :class:`DedupSummaryStep` (one unit): the partitions' counts -> ``dedup/summary.json``.
* :class:`KeepStep`: shard ``i`` -> its keep-mask (``dedup/keep/shard-i.npy``).
* :class:`ClusterMembersStep`: shard ``i`` -> its rows shown in the cluster report with URLs and ids, a row group
  per report part (``dedup/near/members-i.parquet``).
* :class:`ClusterReportStep`: report part ``i`` (a row range) -> the clusters whose smallest row is in it
  (``dedup/clusters/part-i.jsonl``).
  (The near-dedup work, ``lsh_buckets`` to ``cluster_report``, lives in :mod:`trl_dsm.mining.stages_dedup`.)
* :class:`SampleStep` (per iteration): shard ``i`` -> its candidates for the classifier's random negatives (kept
  pages not added to the seeds) and added seed pages, with their hash priorities below the driver's cut
  (``iter_k/sample/shard-i.parquet``); the driver keeps the ``n_negatives`` / ``n_positives`` smallest.
* :class:`RefineStep` (``extraction.in_run``, iteration 1 after training): shard ``i`` -> its pages whose fast
  text passes the recall threshold given the math-preserving extraction, read again from their WARC records
  (``refine/shard-i.{parquet,npz}``, which later stages read instead of the shard; :mod:`trl_dsm.mining.refine`).
* :class:`ScoreStep` (per iteration): shard ``i`` -> ``iter_k/scores/shard-i.npy``; for ``threshold`` selection
  also the selection (``iter_k/selected/shard-i.npy`` + ``.json`` counts), for ``top_tokens`` the partial histogram
  and ranking (``iter_k/budget/{hist,ranked}/i.npy``, :func:`trl_dsm.mining.steps.write_budget_partial`).
* :class:`SelectStep` (``top_tokens``, per iteration): shard ``i`` -> its pages within the budget's cut (merged by
  the driver from the histograms: ``iter_k/budget/cut-B.json``) -> ``iter_k/selected/shard-i.npy`` + ``.json``.
* :class:`DomainCountsStep` (per iteration): shard ``i`` -> pages and collected pages per domain of its kept rows,
  split by domain hash partition (``iter_k/domains/shard-i.parquet``, a row group per partition).
* :class:`DomainMergeStep`: partition ``i`` -> its domains' counts summed over shards; only the math domains (more
  than ``math_fraction`` collected) are written (``iter_k/domains/math-i.parquet``).
* :class:`PrefixCountsStep`: shard ``i`` -> partial counts of the URL prefixes of the math domains
  (``iter_k/prefixes/shard-i.jsonl``), merged by the driver into the annotation rows.
* :class:`PrefixPagesStep`: shard ``i`` -> its rows added to the seeds so far: those of the previous iteration and
  its uncollected rows under accepted prefixes (``iter_k/seeds_added/shard-i.npy``).
* :class:`FinalStep`: shard ``i`` -> ``final/shard-i.parquet`` (the last iteration's selection with its scores)
  and its counts (``final/shard-i.json``).
* :class:`DecontaminateStep` (with ``decontamination.enabled``): shard ``i`` -> its final shard's clean rows and
  report (``decontamination/shards/shard-i.{parquet,json}``; the work lives in :mod:`trl_dsm.mining.export`).

No task holds more than one shard's documents, one partition's URL keys, band buckets or domain counts, the
one partition's duplicate pairs, one node partition's share of the components' pairs, or the math domains; per-page state (keep, scores, selection, tokens, added
seeds) lives in per-shard files, never in one array.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from trl_dsm.mining import domains as domains_lib
from trl_dsm.mining.classifier import SCORE_COLUMN
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.documents import COLUMNS
from trl_dsm.mining.export import decontaminate_shard
from trl_dsm.mining.minhash import minhash_signatures
from trl_dsm.mining.readers import OFFSET_COLUMN, load_documents
from trl_dsm.mining.refine import docs_shard, iteration_classifier, refine_shard, shard_tokens, stage_one_scores
from trl_dsm.mining.rundir import (
    RunDir,
    atomic_json,
    atomic_jsonl,
    atomic_npy,
    atomic_npy_memmap,
    atomic_npz,
    atomic_parquet,
    atomic_partitioned_parquet,
    iter_batches,
    read_partition,
    read_rows,
    read_shard,
)
from trl_dsm.mining.select import BudgetCut, count_tokens, select_threshold
from trl_dsm.mining.stages_dedup import (
    band_layout,
    cluster_members_shard,
    cluster_report_part,
    clusters_task,
    components_task,
    dedup_summary_task,
    keep_shard,
    lsh_buckets_shard,
    lsh_done,
    lsh_merge_task,
)
from trl_dsm.mining.steps import write_budget_partial
from trl_dsm.mining.urls import normalize_url, url_partition, write_url_keys
from trl_dsm.mining.warc import TIMEOUT_STAT, counting_pages


def ingest_unit(run: RunDir, config: MiningConfig, iteration: int, unit: int) -> dict[str, int]:
    """The ``ingest`` task: input unit ``unit`` read (:func:`load_documents`) -> ``raw/part-U.parquet``, with the
    WARC pages skipped at their extraction's bound in ``raw/part-U.json`` (``extraction_timeout``; None when the
    pages came from the ``datasets`` cache of an earlier attempt, which does not record them). Returns the counts
    for the step's stats."""
    units = json.loads(run.units().read_text())
    spec = dict(units[unit]["spec"])
    with counting_pages() as counts:
        dataset = load_documents(spec, cache_dir=run.root / "cache", two_stage=asdict(config.extraction))
    from_cache = spec.get("type") == "warc" and not counts["pages"] and len(dataset) > 0
    timeouts = None if from_cache else counts[TIMEOUT_STAT]
    atomic_json(run.raw(unit).with_suffix(".json"), {TIMEOUT_STAT: timeouts, "pages_read": counts["pages"]})
    if OFFSET_COLUMN in dataset.column_names:  # extraction.in_run: where refine reads each page again
        atomic_npy(run.raw_offsets(unit), np.asarray(dataset[OFFSET_COLUMN], dtype=np.int64))
    # row groups of batch_size pages: a reshard task decodes the groups that hold its shard's rows, not the part
    atomic_parquet(run.raw(unit), dataset.select_columns(COLUMNS), row_group_size=config.batch_size)
    return {TIMEOUT_STAT: timeouts or 0}


def shard_bounds(total: int, shards: int, shard: int) -> tuple[int, int]:
    """``[start, end)`` of contiguous shard ``shard`` of ``total`` rows (``datasets.Dataset.shard(contiguous=True)``:
    the first ``total % shards`` shards have one row more)."""
    div, mod = divmod(total, shards)
    start = div * shard + min(shard, mod)
    return start, start + div + (1 if shard < mod else 0)


def reshard_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    """Shard ``shard``'s rows, read from the parts it overlaps (only the row groups that hold them,
    :func:`~trl_dsm.mining.rundir.read_rows`)."""
    import pyarrow as pa

    meta = run.meta()
    lo = meta["offsets"][shard]
    hi = lo + meta["rows"][shard]
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    pieces = []
    for unit, (a, b) in enumerate(zip(meta["part_offsets"][:-1], meta["part_offsets"][1:])):
        if b > lo and a < hi:
            pieces.append(read_rows(run.raw(unit), max(lo, a) - a, min(hi, b) - a, COLUMNS).cast(schema))
    atomic_parquet(run.doc_shard(shard), pa.concat_tables(pieces) if pieces else schema.empty_table())


def prepare_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    """The ``prepare`` task: a shard's MinHash signatures, URL keys by hash partition, token counts and empty flags,
    read ``batch_size`` pages at a time (memory: one batch of text; the signatures go to a memory-mapped file)."""
    d = config.dedup
    rows = run.meta()["rows"][shard]
    keys: list[str] = []
    tokens, empty = np.zeros(rows, dtype=np.int64), np.zeros(rows, dtype=bool)
    with atomic_npy_memmap(run.signatures(shard), (rows, d.num_perm), np.uint32, enabled=d.minhash) as sigs:
        start = 0
        for batch in iter_batches(run.doc_shard(shard), ["text", "url"], config.batch_size):
            texts, end = batch["text"], start + len(batch["text"])
            if d.minhash:
                sigs[start:end] = minhash_signatures(texts, num_perm=d.num_perm, seed=d.seed, ngram=d.ngram)
            if d.url:
                keys += [normalize_url(u) for u in batch["url"]]
            tokens[start:end] = count_tokens(texts, config.selection.tokenizer)
            empty[start:end] = [not (t or "").strip() for t in texts]
            start = end
    if d.url:
        write_url_keys(run.url_folder(), shard, keys, d.partitions)
    atomic_npz(run.prepared(shard), tokens=tokens, empty=empty)  # last: marks the task done


def preload(config: MiningConfig) -> None:
    """Import the tasks' modules and load their compiled kernels (numba's cache) in this process: the driver calls
    it before the ``local`` executor forks its pool, so the workers inherit them instead of each loading them. A
    one-page input is read too: a process's first ``datasets`` builder imports what the library patches for
    streaming (``scipy.io``, ``scipy.sparse``: ~0.1 s per pool worker, and again in the driver for the seeds)."""
    import tempfile

    import datasets
    import fasttext  # noqa: F401

    from trl_dsm.mining.classifier import normalize_text

    d = config.dedup
    band_layout(d.threshold, d.num_perm)  # cached: the pool's workers inherit it
    minhash_signatures(["warm up the kernels"], num_perm=d.num_perm, seed=d.seed, ngram=d.ngram)
    normalize_text("warm up")
    bars = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        with tempfile.TemporaryDirectory(prefix="trl-dsm-preload-") as tmp:
            page = Path(tmp) / "page.jsonl"
            page.write_text(json.dumps({"text": "warm up", "url": "https://example.org/"}) + "\n")
            load_documents({"type": "jsonl", "paths": [str(page)]}, cache_dir=Path(tmp) / "cache")
    finally:
        if bars:
            datasets.enable_progress_bars()


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
    source = docs_shard(run, config, shard) if k > 1 else run.doc_shard(shard)  # refine runs after iteration 1's
    texts = read_shard(source, ["text"]).select(take)["text"] if len(take) else []
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


def _write_selection(run: RunDir, config: MiningConfig, k: int, shard: int, selected: np.ndarray) -> None:
    """The shard's selection and its counts: pages, tokens, and (after iteration 1) pages new / also collected in
    the previous iteration."""
    tokens = shard_tokens(run, config, shard)
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
    scores = stage_one_scores(run, config, k, shard)  # refine scored the pages it left alone
    if scores is None:
        scores = np.full(len(keep), np.nan, dtype=np.float32)
    todo = keep & np.isnan(scores)
    if todo.any():  # batch_size pages at a time: memory is one batch of text
        classifier = iteration_classifier(run, config, k)
        scorer = classifier.scorer("text", SCORE_COLUMN)  # the scoring function of score_dataset
        start = 0
        for batch in iter_batches(docs_shard(run, config, shard), ["text"], config.batch_size):
            texts = batch["text"]
            rows = np.flatnonzero(todo[start : start + len(texts)])
            if len(rows):
                scored = scorer({"text": [texts[r] for r in rows]})[SCORE_COLUMN]
                scores[start + rows] = np.asarray(scored, dtype=np.float32)
            start += len(texts)
    if config.selection.method == "threshold":
        _write_selection(run, config, k, shard, select_threshold(scores, config.selection.threshold))
    else:
        write_budget_partial(str(run.budget(k)), shard, scores, shard_tokens(run, config, shard))
    atomic_npy(run.scores(k, shard), scores)  # last: marks the task done


def select_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """``top_tokens``: the shard's pages within the cut the driver merged from the partial histograms."""
    cut = BudgetCut(**json.loads(run.budget_cut(k, config.selection.token_budget).read_text()))
    _write_selection(run, config, k, shard, cut.mask(np.load(run.scores(k, shard)), shard))


def final_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    """The ``final`` task: a shard's selected pages with their scores, and their page and whitespace-token counts."""
    mask = np.load(run.selected(k, shard))
    docs = read_shard(docs_shard(run, config, shard))
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
    docs = read_shard(docs_shard(run, config, shard), ["url", "title", "domain"]).select(rows)
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


#: This process's reading of a run's ``config.json``, by path, inode, size and mtime (:func:`task_config`).
_CONFIG: tuple | None = None


def task_config(run: RunDir) -> MiningConfig:
    """The run's configuration for a task: read once per process while ``config.json`` is unchanged (parsing it
    costs ~1 ms, and a 100k-page run has ~400 tasks). Tasks only read it."""
    global _CONFIG
    stat = run.config().stat()
    key = (str(run.config()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if _CONFIG is None or _CONFIG[0] != key:
        _CONFIG = (key, run.load_config())
    return _CONFIG[1]


class RunStep(PipelineStep):
    """One stage of a mining run as a datatrove step: task ``rank`` runs the units ``units[rank::world_size]``
    (shards, partitions, input files) whose output is missing, reading its inputs from the run directory ``run_dir``
    and writing its output atomically; documents passing through are forwarded untouched. A subclass names its
    stage, its unit, the file that marks a unit done (:meth:`output`) and the work (:meth:`process`)."""

    type = "trl-dsm mining"
    #: The stage's work on one unit: ``work(run, config, iteration, i)``.
    work = None
    #: What one unit of the stage is (the stats count them).
    unit = "shard"

    def __init__(self, run_dir: str | Path, iteration: int = 0, units: Sequence[int] = ()):
        super().__init__()
        self.run_dir, self.iteration, self.units = str(run_dir), iteration, list(units)

    #: The :class:`~trl_dsm.mining.rundir.RunDir` method giving the file that marks a unit done: ``marker(i)``, or
    #: ``marker(iteration, i)`` for a stage that runs per iteration (``per_iteration``).
    marker: str | None = None
    per_iteration = False

    def output(self, run: RunDir, config: MiningConfig, i: int) -> Path:
        """The file whose existence marks unit ``i`` done (written last by :meth:`process`): :attr:`marker`'s."""
        if self.marker is None:
            raise NotImplementedError(f"{type(self).__name__}: set marker or override output()")
        path = getattr(run, self.marker)
        return path(self.iteration, i) if self.per_iteration else path(i)

    def process(self, run: RunDir, config: MiningConfig, i: int) -> None:
        """Run unit ``i``: the stage's ``work(run, config, iteration, i)``; counts it returns go to the stats."""
        counts = self.work(run, config, self.iteration, i)
        for key, value in (counts if isinstance(counts, dict) else {}).items():
            if value:
                self.stat_update(key, value=value)

    def todo(self, units: Sequence[int]) -> list[int]:
        """The ``units`` whose output is missing (the driver's resume check)."""
        run = RunDir(self.run_dir)
        config = task_config(run)
        return [i for i in units if not self.output(run, config, i).is_file()]

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Run this task's units that are not done yet, then pass the documents on."""
        run = RunDir(self.run_dir)
        config = task_config(run)
        for i in self.units[rank::world_size]:
            if self.output(run, config, i).is_file():
                self.stat_update("already_done")
                continue
            with self.track_time(self.unit):
                self.process(run, config, i)
            self.stat_update(self.unit)
        if data:
            yield from data


class IngestStep(RunStep):
    """``ingest``: input unit ``i`` (one file or dataset) read -> ``raw/part-i.parquet``."""

    name = "ingest"
    unit = "input"
    work = staticmethod(ingest_unit)
    marker = "raw"


class ReshardStep(RunStep):
    """``reshard``: shard ``i``'s rows of the input parts, in order -> ``docs/shard-i.parquet``."""

    name = "reshard"
    work = staticmethod(reshard_shard)
    marker = "doc_shard"


class PrepareStep(RunStep):
    """``prepare``: shard ``i``'s MinHash signatures, URL keys (:func:`trl_dsm.mining.urls.write_url_keys`), token
    counts and empty flags."""

    name = "prepare"
    work = staticmethod(prepare_shard)
    marker = "prepared"


class LshBucketsStep(RunStep):
    """``lsh_buckets``: shard ``i``'s ``(band key, row)`` entries, sorted per band and hash partition."""

    name = "lsh_buckets"
    work = staticmethod(lsh_buckets_shard)

    def output(self, run: RunDir, config: MiningConfig, i: int) -> Path:
        """The file that marks unit ``i`` done."""
        return lsh_done(run, i)


class LshMergeStep(RunStep):
    """``lsh_merge``: one band's and hash partition's buckets from every shard -> duplicate pairs."""

    name = "lsh_merge"
    unit = "band_partition"
    work = staticmethod(lsh_merge_task)

    def output(self, run: RunDir, config: MiningConfig, i: int) -> Path:
        """The file that marks unit ``i`` done."""
        return run.lsh_edges(*divmod(i, config.dedup.partitions))


class ComponentsStep(RunStep):
    """``components`` round ``iteration``: node partition ``i``'s pairs -> the next round's pairs by node partition
    and the pairs changed (:func:`trl_dsm.mining.stages_dedup.components_task`)."""

    name = "components"
    unit = "node_partition"
    work = staticmethod(components_task)
    marker = "component_counts"
    per_iteration = True


class ClustersStep(RunStep):
    """``clusters``: node partition ``i``'s pairs of the converged round ``iteration`` -> its removed rows and its
    clusters (:func:`trl_dsm.mining.stages_dedup.clusters_task`)."""

    name = "clusters"
    unit = "node_partition"
    work = staticmethod(clusters_task)
    marker = "cluster_counts"


class DedupSummaryStep(RunStep):
    """``dedup_summary``: the URL and near-dedup counts of every partition -> ``dedup/summary.json``."""

    name = "dedup_summary"
    unit = "run"
    work = staticmethod(dedup_summary_task)

    def output(self, run: RunDir, config: MiningConfig, i: int) -> Path:
        """The file that marks unit ``i`` done."""
        return run.dedup_summary()


class KeepStep(RunStep):
    """``keep``: shard ``i``'s keep-mask after URL and near-dedup."""

    name = "keep"
    work = staticmethod(keep_shard)
    marker = "keep"


class ClusterMembersStep(RunStep):
    """``cluster_members``: shard ``i``'s rows shown in the cluster report, with their URLs and ids."""

    name = "cluster_members"
    work = staticmethod(cluster_members_shard)
    marker = "cluster_members"


class ClusterReportStep(RunStep):
    """``cluster_report``: the clusters whose smallest row is in report part ``i`` (a row range) ->
    ``dedup/clusters/part-i.jsonl``."""

    name = "cluster_report"
    unit = "part"
    work = staticmethod(cluster_report_part)
    marker = "clusters"


class SampleStep(RunStep):
    """``sample``: shard ``i``'s candidates for the classifier's training samples."""

    name = "sample"
    work = staticmethod(sample_shard)
    marker = "sample"
    per_iteration = True


class RefineStep(RunStep):
    """``refine`` (``extraction.in_run``, iteration 1, after training): shard ``i``'s pages whose fast text scores
    >= the recall threshold given the math-preserving extraction from their WARC records (stage two,
    :func:`trl_dsm.mining.refine.refine_shard`) -> ``refine/shard-i.{parquet,npz}``."""

    name = "refine"
    work = staticmethod(refine_shard)
    marker = "refined_meta"


class ScoreStep(RunStep):
    """``score``: shard ``i``'s kept pages scored, then selected by threshold, or its token-budget partial written
    (:func:`trl_dsm.mining.steps.write_budget_partial`, what :class:`~trl_dsm.mining.steps.ScoreHistogram` writes)."""

    name = "score"
    work = staticmethod(score_shard)
    marker = "scores"
    per_iteration = True


class SelectStep(RunStep):
    """``select`` (``top_tokens``): shard ``i``'s pages within the budget's cut (the cut of
    :class:`~trl_dsm.mining.steps.TokenBudgetFilter`)."""

    name = "select"
    work = staticmethod(select_shard)
    marker = "selected"
    per_iteration = True


class DomainCountsStep(RunStep):
    """``domain_counts``: pages and collected pages per domain of shard ``i``, by domain hash partition."""

    name = "domain_counts"
    work = staticmethod(domain_counts_shard)
    marker = "domain_counts"
    per_iteration = True


class DomainMergeStep(RunStep):
    """``domain_merge``: one domain hash partition's counts summed over the shards; its math domains."""

    name = "domain_merge"
    unit = "partition"
    work = staticmethod(domain_merge_partition)
    marker = "math_domains"
    per_iteration = True


class PrefixCountsStep(RunStep):
    """``prefix_counts``: partial counts of the math domains' URL prefixes in shard ``i``."""

    name = "prefix_counts"
    work = staticmethod(prefix_counts_shard)
    marker = "prefix_counts"
    per_iteration = True


class PrefixPagesStep(RunStep):
    """``prefix_pages``: shard ``i``'s rows added to the seeds through the iteration."""

    name = "prefix_pages"
    work = staticmethod(prefix_pages_shard)
    marker = "prefix_pages"
    per_iteration = True


class FinalStep(RunStep):
    """``final``: shard ``i``'s selected pages with their scores, and their counts."""

    name = "final"
    work = staticmethod(final_shard)
    marker = "final"


class DecontaminateStep(RunStep):
    """``decontaminate``: final shard ``i`` through the 10-gram decontamination, its report and clean rows."""

    name = "decontaminate"
    work = staticmethod(decontaminate_shard)
    marker = "decontaminated"
