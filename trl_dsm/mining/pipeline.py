# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The DeepSeekMath corpus-mining pipeline (§2.1), resumable, from web pages to a selected math corpus: the driver.

Stages, each leaving its output in the run directory (written to a temporary name, then renamed, so a file that
exists is complete; a killed run restarts where it stopped and redoes at most the tasks that were in flight):

1. ``ingest`` (per input file or dataset, on the executor): readers -> ``raw/part-*.parquet``.
2. ``reshard`` (per shard): the parts, in order, cut into ``num_shards`` shards -> ``docs/shard-*.parquet`` (the
   driver only adds up the parts' row counts into ``docs/shards.json``).
3. ``prepare`` (per shard): MinHash signatures, token counts, normalized URL keys by hash partition.
4. dedup (tasks, bounded memory): exact URL dedup per URL partition, LSH band buckets per shard, merged per band
   and partition into duplicate pairs, their connected components in rounds of tasks per node hash partition,
   each partition's removed rows and clusters, ``dedup/summary.json``, keep-masks per shard
   (``dedup/keep/shard-*.npy``), the cluster report per row range (``dedup/clusters/part-*.jsonl``).
5. iterations ``k = 1..K``: training samples drawn per shard (random kept pages, pages added by domain discovery),
   fastText trained on seeds + added pages vs the random pages (``iter_k/model.bin``); with ``extraction.in_run``,
   iteration 1 then gives the pages its classifier passes on their fast text the math-preserving extraction
   (``refine``, per shard: :mod:`trl_dsm.mining.refine`), and the stages after read the refined shards; every kept page
   scored and selected per shard (a threshold, or a token budget cut from per-shard partial histograms merged here);
   domain discovery (per-shard domain counts merged per domain hash partition into the math domains, per-shard
   URL-prefix counts of those merged into ``iter_k/annotations.jsonl``) and, once accepted (automatically or by a
   person), the uncollected pages under accepted prefixes (found per shard) join the next iteration's seeds.
6. ``final`` (per shard): the last iteration's selection -> ``final/shard-*.parquet``.
7. ``decontaminate`` (per shard, with ``decontamination.enabled``): 10-gram decontamination of each final shard
   -> its clean rows and report; the driver merges the reports.
8. ``export``: the final (or clean) shards linked as ``export/data/*.parquet``, ``export/README.md`` (dataset card)
   and ``stats.json``.

The driver holds no per-page state: keep-masks, scores, selections, token counts and added seed rows stay in
per-shard files; it reads per-shard counts, a fixed-size histogram, and training samples of bounded size.

The tasks live in :mod:`trl_dsm.mining.stages`, the configuration in :mod:`trl_dsm.mining.config`, the run
directory in :mod:`trl_dsm.mining.rundir`, domain discovery's driver side in :mod:`trl_dsm.mining.discovery`, the
decontamination tasks and the export in :mod:`trl_dsm.mining.export`; :mod:`trl_dsm.mining.executors` runs the
tasks it is given. :func:`mine` runs it all from Python (documents and seeds in memory, no YAML); ``trl-dsm mine
--config`` from a YAML recipe.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from trl_dsm.mining import domains as domains_lib
from trl_dsm.mining.classifier import train_classifier
from trl_dsm.mining.config import (
    RESUMABLE_CHANGES,
    DecontaminationConfig,
    DedupConfig,
    MiningConfig,
    SeedSpec,
)
from trl_dsm.mining.discovery import AnnotationPending, discover
from trl_dsm.mining.documents import COLUMNS, expand_paths
from trl_dsm.mining.executors import close_shared_pool, run_stage, slurm_environment
from trl_dsm.mining.export import write_export
from trl_dsm.mining.inputs import as_documents, load_seed_texts
from trl_dsm.mining.lsh import component_round_limit, components_converged
from trl_dsm.mining.readers import BUILDERS, SourceSpec, check_table_file
from trl_dsm.mining.rundir import (
    RunDir,
    atomic_json,
    atomic_parquet,
    json_default,
    read_files,
)
from trl_dsm.mining.samples import seed_sample, training_sample, write_seeds
from trl_dsm.mining.stages import (
    ClusterMembersStep,
    ClusterReportStep,
    ClustersStep,
    ComponentsStep,
    DecontaminateStep,
    DedupSummaryStep,
    FinalStep,
    IngestStep,
    KeepStep,
    LshBucketsStep,
    LshMergeStep,
    PrepareStep,
    RefineStep,
    ReshardStep,
    RunStep,
    ScoreStep,
    SelectStep,
    preload,
    shard_bounds,
)
from trl_dsm.mining.stages_dedup import component_changes, lsh_tasks
from trl_dsm.mining.steps import UrlDedupFind, budget_cut_from_folder


__all__ = [
    "AnnotationPending",
    "DecontaminationConfig",
    "DedupConfig",
    "MiningConfig",
    "MiningPipeline",
    "MiningResult",
    "SeedSpec",
    "load_seed_texts",
    "mine",
]


@dataclass
class MiningResult:
    """What :meth:`MiningPipeline.run` returns: the stats and the run directory; ``dataset`` (the selected, and
    decontaminated, pages) is read from ``export/data`` on first use, so a run that does not ask holds none of it."""

    stats: dict
    output_dir: Path

    @functools.cached_property
    def dataset(self):
        """The exported pages (``export/data/*.parquet``) as one in-memory ``datasets.Dataset``."""
        return read_files(sorted((Path(self.output_dir) / "export" / "data").glob("*.parquet")))


class MiningPipeline:
    """Runs (or resumes) a mining run in ``config.output_dir``."""

    def __init__(
        self,
        config: MiningConfig,
        documents=None,
        seed_texts: Sequence[str] | None = None,
        overwrite: bool = False,
    ):
        if config.executor.kind == "datatrove-slurm":
            slurm_environment(config.executor.options)  # refuse before any work when sbatch cannot activate it
        self.config = config
        self.run_dir = RunDir(config.output_dir)
        self.documents = documents
        self.seed_texts = seed_texts
        if overwrite and self.run_dir.root.exists():
            shutil.rmtree(self.run_dir.root)
        self._check_or_write_config()
        self.timings: dict[str, float] = {}

    # -- bookkeeping

    def _check_or_write_config(self) -> None:
        current = json.loads(json.dumps(self.config.to_dict(), default=json_default))
        path = self.run_dir.config()
        if path.is_file():
            previous = json.loads(path.read_text())
            changed = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
            changed = [k for k in changed if k not in RESUMABLE_CHANGES]
            if changed:
                raise ValueError(
                    f"{self.run_dir.root} holds a run with a different config (changed: {changed}); "
                    "use another output_dir, or --overwrite to start over"
                )
        if not self.config.inputs and self.documents is None and not self.run_dir.units().is_file():
            raise ValueError("no inputs: give config.inputs (warc/wet/jsonl/parquet/hf sources) or documents")
        if not self.config.seeds and self.seed_texts is None and not (self.run_dir.root / "seeds.jsonl").is_file():
            raise ValueError("no seed positives: give config.seeds or seed_texts")
        atomic_json(path, current)

    def _timed(self, name: str, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        return out

    def _stage(self, step: type[RunStep], k: int, units: Sequence[int], url_dedup: bool = False) -> None:
        """Run the units of ``step`` (iteration ``k``) whose output is missing on the configured datatrove executor
        (wall time per stage in ``timings``; the driver's own work is under ``driver:*`` and ``train``). With
        ``url_dedup`` the stage is :class:`~trl_dsm.mining.steps.UrlDedupFind` over the URL partitions."""
        run = self.run_dir
        if url_dedup:
            name = "url_dedup"
            todo = [p for p in units if not run.url_removed(p).is_file()]
            pipeline = [UrlDedupFind(str(run.url_folder()), todo)]

            def missing() -> list[int]:
                return [p for p in todo if not run.url_removed(p).is_file()]
        else:
            name = step.name
            todo = step(run.root, k).todo(units)
            pipeline = [step(run.root, k, todo)]

            def missing() -> list[int]:
                return step(run.root, k).todo(todo)

        self._timed(
            name, run_stage, self.config.executor, pipeline, len(todo), missing, run.root / "datatrove", f"{name}-{k}"
        )

    # -- stages

    def _ingest(self) -> None:
        run = self.run_dir
        if not run.units().is_file():
            units = []
            if self.documents is not None:
                dataset = as_documents(self.documents)
                atomic_parquet(run.raw(0), dataset.select_columns(COLUMNS))
                units.append({"spec": {"type": "memory"}, "done": True})
            for spec in self.config.inputs:
                spec = SourceSpec.from_dict(spec)
                if spec.type in BUILDERS:
                    for path in expand_paths(spec.paths):
                        if spec.type in ("jsonl", "parquet"):
                            check_table_file(path, spec.text_column)  # one line naming the file, before any work
                        units.append({"spec": {**asdict(spec), "paths": [path]}})
                else:
                    units.append({"spec": asdict(spec)})
            atomic_json(run.units(), units)
        units = json.loads(run.units().read_text())
        self._stage(IngestStep, 0, range(len(units)))

    def _reshard(self) -> None:
        """The parts, in order, cut into ``num_shards`` contiguous shards by tasks; the driver only adds up the
        parts' row counts (parquet metadata) into the offsets."""
        import pyarrow.parquet as pq

        run, n = self.run_dir, self.config.num_shards
        if not run.shards_meta().is_file():
            units = json.loads(run.units().read_text())
            part_rows = [pq.ParquetFile(run.raw(u)).metadata.num_rows for u in range(len(units))]
            total = int(sum(part_rows))
            if not total:
                inputs = [u["spec"].get("paths") or u["spec"].get("path") or u["spec"]["type"] for u in units]
                raise ValueError(f"empty input: no documents read from {inputs}")
            bounds = [shard_bounds(total, n, shard) for shard in range(n)]
            meta = {
                "rows": [b - a for a, b in bounds],
                "offsets": [a for a, _ in bounds] + [total],
                "total": total,
                "part_rows": part_rows,
                "part_offsets": np.concatenate([[0], np.cumsum(part_rows, dtype=np.int64)]).tolist(),
            }
            atomic_json(run.shards_meta(), meta)
        self._stage(ReshardStep, 0, range(n))

    def _meta(self) -> dict:
        return json.loads(self.run_dir.shards_meta().read_text())

    def _dedup(self) -> dict:
        """URL and near-dedup as tasks (no process holds every URL, signature or clustered row): URL partitions, LSH
        band buckets per shard, merges per band and partition, connected components in rounds per node partition
        until no pair changes (the driver reads one count per task), each node partition's removed rows and
        clusters, the summary, keep-masks per shard, the cluster report's URLs per shard and its parts per row
        range."""
        run, cfg = self.run_dir, self.config
        parts = range(cfg.dedup.partitions)
        if not run.dedup_summary().is_file():
            if cfg.dedup.url:
                self._stage(None, 0, parts, url_dedup=True)
            if cfg.dedup.minhash:
                self._stage(LshBucketsStep, 0, range(cfg.num_shards))
                self._stage(LshMergeStep, 0, range(lsh_tasks(cfg)))
                changed: list[int] = []
                limit = component_round_limit(self._meta()["total"])
                while not components_converged(changed):
                    if len(changed) > limit:
                        raise RuntimeError(f"near-dedup components did not converge in {limit} rounds")
                    self._stage(ComponentsStep, len(changed), parts)
                    changed.append(component_changes(run, cfg, len(changed)))
                self._stage(ClustersStep, len(changed) - 1, parts)
            self._stage(DedupSummaryStep, 0, [0])
        self._stage(KeepStep, 0, range(cfg.num_shards))
        if cfg.dedup.minhash:
            self._stage(ClusterMembersStep, 0, range(cfg.num_shards))
            self._stage(ClusterReportStep, 0, parts)
        return json.loads(run.dedup_summary().read_text())

    def _write_seeds(self) -> int:
        """``seeds.jsonl`` written once (:func:`trl_dsm.mining.samples.write_seeds`); returns the number of seeds."""
        return write_seeds(self.run_dir, self.config, self.seed_texts)

    def _iteration(self, k: int, dedup_summary: dict) -> dict:
        run, cfg = self.run_dir, self.config
        if run.report(k).is_file():
            return json.loads(run.report(k).read_text())
        shards = range(cfg.num_shards)
        added_total = json.loads(run.seeds_added(k - 1).read_text())["total"] if k > 1 else 0
        # 1. train
        if not run.model(k).is_file() or (cfg.classifier.quantize and not run.model(k).with_suffix(".ftz").is_file()):
            negatives, added = training_sample(
                run, cfg, k, added_total, dedup_summary["kept"], self._stage, self.timings
            )
            positives = self._timed("driver:samples", seed_sample, run, cfg, k) + added
            self._timed("train", train_classifier, positives, negatives, run.model(k), cfg.classifier)
        # 2. (extraction.in_run, iteration 1) stage two for the pages the new classifier passes on their fast text
        if k == 1 and cfg.extraction.in_run:
            self._stage(RefineStep, k, shards)
        # 3. score (and, for a threshold, select)
        self._stage(ScoreStep, k, shards)
        # 4. select by token budget: the cut merged from the shards' partial histograms, then a filter per shard
        if cfg.selection.method == "top_tokens":
            self._timed(
                "driver:budget_cut", budget_cut_from_folder, str(run.budget(k)), int(cfg.selection.token_budget)
            )
            self._stage(SelectStep, k, shards)
        counts = [json.loads(run.selection_counts(k, s).read_text()) for s in shards]
        collected = sum(c["collected"] for c in counts)
        if k == 1:
            new, overlap = collected, None
        else:
            both = sum(c["both"] for c in counts)
            new, overlap = collected - both, (both / collected if collected else 1.0)
        report = domains_lib.IterationReport(
            iteration=k,
            collected=collected,
            new=new,
            overlap_with_previous=overlap,
            seeds=self._write_seeds() + added_total,
            threshold_or_budget=cfg.selection.threshold
            if cfg.selection.method == "threshold"
            else cfg.selection.token_budget,
            extra={"tokens_collected": sum(c["tokens"] for c in counts)},
        )
        # 5. domain discovery (not after the last iteration, nor once the collection has converged)
        converged = (
            overlap is not None and cfg.domains.stop_overlap is not None and overlap >= cfg.domains.stop_overlap
        )
        if k < cfg.iterations and not converged:
            discover(run, cfg, k, added_total, report, self._stage)
        report.extra["converged"] = bool(converged)
        out = report.to_dict()
        atomic_json(run.report(k), out)
        return out

    def _export(self, k: int, dedup_summary: dict, reports: list[dict]) -> MiningResult:
        """With ``decontamination.enabled``, the ``decontaminate`` tasks (one per final shard) and their reports
        merged; then the export (:func:`trl_dsm.mining.export.write_export`). Done once: a finished export is
        read back."""
        run, cfg = self.run_dir, self.config
        if run.stats().is_file() and (run.export() / "README.md").is_file():
            return MiningResult(json.loads(run.stats().read_text()), run.root)
        shards = range(cfg.num_shards)
        if cfg.decontamination.enabled and sum(
            json.loads(run.final_counts(s).read_text())["documents"] for s in shards
        ):
            self._stage(DecontaminateStep, k, shards)
        start = time.perf_counter()
        stats = write_export(run, cfg, k, dedup_summary, reports, self.timings)
        self.timings["driver:export"] = self.timings.get("driver:export", 0.0) + time.perf_counter() - start
        return MiningResult(stats, run.root)

    def run(self) -> MiningResult:
        """Run the missing stages (all of them on a new run), export, and return the result."""
        try:
            return self._run()
        finally:
            close_shared_pool()  # the local executor's workers, shared by the stages

    def _run(self) -> MiningResult:
        cfg, run = self.config, self.run_dir
        if cfg.executor.kind == "local":
            preload(cfg)  # before datatrove's pool forks: its workers inherit the imports and kernels
        self._ingest()
        self._reshard()
        self._stage(PrepareStep, 0, range(cfg.num_shards))
        dedup_summary = self._dedup()
        self._write_seeds()
        reports = []
        k = 1
        for k in range(1, cfg.iterations + 1):
            report = self._iteration(k, dedup_summary)
            reports.append(report)
            if report["extra"].get("converged") or not run.seeds_added(k).is_file():
                break
        self._stage(FinalStep, k, range(cfg.num_shards))
        return self._export(k, dedup_summary, reports)


def mine(
    documents,
    seeds: Iterable[str] | None = None,
    config: MiningConfig | dict | None = None,
    output_dir: str | Path | None = None,
    overwrite: bool = False,
) -> tuple[object, dict]:
    """Mine ``documents`` (a ``datasets.Dataset`` with a ``text`` and ideally a ``url`` column, or an iterable of
    dicts/strings) with ``seeds`` as the classifier's positives. Returns ``(selected Dataset, stats)``.

    Without ``output_dir`` the run lives in a temporary directory that is deleted afterwards (the returned dataset
    is loaded in memory first)."""
    import tempfile

    if isinstance(config, dict) or config is None:
        config = MiningConfig.from_dict(config or {})
    if config.domains.auto_accept_score is None and config.iterations > 1:
        raise ValueError("mine() runs unattended: set domains.auto_accept_score, or iterations=1")
    seeds = list(seeds) if seeds is not None else None
    if output_dir is None:
        with tempfile.TemporaryDirectory(prefix="trl-dsm-mine-") as tmp:
            config.output_dir = tmp
            result = MiningPipeline(config, documents=documents, seed_texts=seeds).run()
            return result.dataset, result.stats  # in memory (pyarrow tables), safe past the directory
    config.output_dir = str(output_dir)
    result = MiningPipeline(config, documents=documents, seed_texts=seeds, overwrite=overwrite).run()
    return result.dataset, result.stats
