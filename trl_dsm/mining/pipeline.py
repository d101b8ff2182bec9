# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The DeepSeekMath corpus-mining pipeline (§2.1), resumable, from web pages to a selected math corpus: the driver.

Stages, each leaving its output in the run directory (written to a temporary name, then renamed, so a file that
exists is complete; a killed run restarts where it stopped and redoes at most the tasks that were in flight):

1. ``ingest`` (per input file or dataset, on the executor): readers -> ``raw/part-*.parquet``.
2. ``reshard`` (per shard): the parts, in order, cut into ``num_shards`` shards -> ``docs/shard-*.parquet`` (the
   driver only adds up the parts' row counts into ``docs/shards.json``).
3. ``prepare`` (per shard): MinHash signatures, token counts, normalized URL keys by hash partition.
4. dedup (tasks, bounded memory): exact URL dedup per URL partition, LSH band buckets per shard, merged per band
   and partition into duplicate pairs, clusters by union-find over the pairs (``dedup/clusters.jsonl``,
   ``dedup/summary.json``), keep-masks per shard (``dedup/keep/shard-*.npy``).
5. iterations ``k = 1..K``: training samples drawn per shard (random kept pages, pages added by domain discovery),
   fastText trained on seeds + added pages vs the random pages (``iter_k/model.bin``); every kept page scored and
   selected per shard (a threshold, or a token budget cut from per-shard partial histograms merged here); domain
   discovery (per-shard domain counts merged per domain hash partition into the math domains, per-shard URL-prefix
   counts of those merged into ``iter_k/annotations.jsonl``) and, once accepted (automatically or by a person), the
   uncollected pages under accepted prefixes (found per shard) join the next iteration's seeds.
6. ``final`` (per shard): the last iteration's selection -> ``final/shard-*.parquet``.
7. ``export``: the final shards (or, with 10-gram decontamination, the decontaminated selection) as
   ``export/data/*.parquet``, ``export/README.md`` (dataset card) and ``stats.json``.

The driver holds no per-page state: keep-masks, scores, selections, token counts and added seed rows stay in
per-shard files; it reads per-shard counts, a fixed-size histogram, and training samples of bounded size.

The tasks live in :mod:`trl_dsm.mining.stages`, the configuration in :mod:`trl_dsm.mining.config`, the run
directory in :mod:`trl_dsm.mining.rundir`; :mod:`trl_dsm.mining.executors` runs the tasks it is given.
:func:`mine` runs it all from Python (documents and seeds in memory, no YAML); ``trl-dsm mine --config`` from a
YAML recipe.

(Over 400 lines: one class whose methods are the driver's side of each stage, kept together so the order of a run
reads top to bottom; the tasks themselves are in :mod:`trl_dsm.mining.stages`.)
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from trl_dsm.mining import domains as domains_lib
from trl_dsm.mining import known as known_lib
from trl_dsm.mining.classifier import train_classifier
from trl_dsm.mining.config import (
    RESUMABLE_CHANGES,
    DecontaminationConfig,
    DedupConfig,
    MiningConfig,
    SeedSpec,
    build,
)
from trl_dsm.mining.executors import close_pools, run_tasks, slurm_environment
from trl_dsm.mining.inputs import as_documents, load_seed_texts
from trl_dsm.mining.readers import BUILDERS, COLUMNS, SourceSpec, _expand
from trl_dsm.mining.rundir import (
    RunDir,
    atomic_json,
    atomic_parquet,
    atomic_write_bytes,
    json_default,
    read_files,
    read_shard,
)
from trl_dsm.mining.stages import StageTask, preload, shard_bounds
from trl_dsm.mining.stages_dedup import lsh_tasks
from trl_dsm.mining.steps import budget_cut_from_folder


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


class AnnotationPending(RuntimeError):
    """Domain discovery wrote an annotation file that a person must label before the run can go on."""


@dataclass
class MiningResult:
    """What :meth:`MiningPipeline.run` returns: the stats and the run directory; ``dataset`` (the selected, and
    decontaminated, pages) is read from ``export/data`` on first use, so a run that does not ask holds none of it."""

    stats: dict
    output_dir: Path

    @functools.cached_property
    def dataset(self):
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

    def _tasks(self, stage: str, k: int, tasks: Sequence[int], desc: str) -> None:
        """Run the missing tasks of ``stage`` (iteration ``k``) on the configured executor (wall time per stage in
        ``timings``; the driver's own work is under ``driver:*`` and ``train``)."""
        work = StageTask(str(self.run_dir.root), stage, k)
        self._timed(
            stage,
            run_tasks,
            self.config.executor,
            work,
            tasks,
            lambda t: work.is_done(t, self.config),
            self.run_dir.root / "datatrove",
            f"{stage}-{k}",
            desc,
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
                    for path in _expand(spec.paths):
                        units.append({"spec": {**asdict(spec), "paths": [path]}})
                else:
                    units.append({"spec": asdict(spec)})
            atomic_json(run.units(), units)
        units = json.loads(run.units().read_text())
        self._tasks("ingest", 0, range(len(units)), "reading inputs")

    def _reshard(self) -> None:
        """The parts, in order, cut into ``num_shards`` contiguous shards by tasks; the driver only adds up the
        parts' row counts (parquet metadata) into the offsets."""
        import pyarrow.parquet as pq

        run, n = self.run_dir, self.config.num_shards
        if not run.shards_meta().is_file():
            units = json.loads(run.units().read_text())
            part_rows = [pq.ParquetFile(run.raw(u)).metadata.num_rows for u in range(len(units))]
            total = int(sum(part_rows))
            bounds = [shard_bounds(total, n, shard) for shard in range(n)]
            meta = {
                "rows": [b - a for a, b in bounds],
                "offsets": [a for a, _ in bounds] + [total],
                "total": total,
                "part_rows": part_rows,
                "part_offsets": np.concatenate([[0], np.cumsum(part_rows, dtype=np.int64)]).tolist(),
            }
            atomic_json(run.shards_meta(), meta)
        self._tasks("reshard", 0, range(n), "resharding")

    def _meta(self) -> dict:
        return json.loads(self.run_dir.shards_meta().read_text())

    def _dedup(self) -> dict:
        """URL and near-dedup as tasks (no process holds every URL or signature): URL partitions, LSH band buckets
        per shard, merges per band and partition, clusters from the duplicate pairs, keep-masks per shard."""
        run, cfg = self.run_dir, self.config
        if not run.dedup_summary().is_file():
            if cfg.dedup.url:
                self._tasks("url_dedup", 0, range(cfg.dedup.partitions), "URL dedup")
            if cfg.dedup.minhash:
                self._tasks("lsh_buckets", 0, range(cfg.num_shards), "LSH band buckets")
                self._tasks("lsh_merge", 0, range(lsh_tasks(cfg)), "LSH duplicate pairs")
            self._tasks("clusters", 0, [0], "duplicate clusters")
        self._tasks("keep", 0, range(cfg.num_shards), "keep-masks")
        return json.loads(run.dedup_summary().read_text())

    def _write_seeds(self) -> int:
        """``seeds.jsonl`` from ``seed_texts`` and ``config.seeds`` (once); returns the number of seeds."""
        path = self.run_dir.root / "seeds.jsonl"
        if not path.is_file():
            texts = list(self.seed_texts) if self.seed_texts is not None else []
            for spec in self.config.seeds:
                texts += load_seed_texts(build(SeedSpec, spec, "seeds[]"))
            if not texts:
                raise ValueError("the seed corpus is empty")
            atomic_write_bytes(path, "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts).encode())
        with path.open("rb") as f:
            return sum(1 for _ in f)

    def _seed_sample(self, k: int) -> list[str]:
        """Up to ``n_positives`` seed texts (all when there are fewer; else a reservoir sample, seeded per
        iteration), streamed from ``seeds.jsonl``: the driver never holds a large seed corpus."""
        m = self.config.classifier.n_positives
        rng = random.Random(self.config.classifier.seed + k)
        sample: list[str] = []
        with (self.run_dir.root / "seeds.jsonl").open(encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i < m:
                    sample.append(json.loads(line))
                elif (j := rng.randrange(i + 1)) < m:
                    sample[j] = json.loads(line)
        return sample

    def _training_sample(self, k: int, added_total: int, kept: int) -> tuple[list[str], list[str]]:
        """Iteration ``k``'s random kept pages (negatives) and pages added to the seeds (positives): each shard's
        task writes its candidates below a priority cut set for about 3x the sample size; the driver keeps the
        ``n_negatives`` / ``n_positives`` of smallest priority, shard by shard (memory: the samples)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        run, cfg = self.run_dir, self.config
        sizes = {False: cfg.classifier.n_negatives, True: cfg.classifier.n_positives if added_total else 0}
        pools = {False: max(1, kept - added_total), True: max(1, added_total)}
        if not run.sample_params(k).is_file():
            cuts = {"negatives": min(1.0, (3 * sizes[False] + 100) / pools[False])}
            cuts["positives"] = min(1.0, (3 * sizes[True] + 100) / pools[True]) if sizes[True] else 0.0
            atomic_json(run.sample_params(k), cuts)
        self._tasks("sample", k, range(cfg.num_shards), f"iteration {k}: training samples")
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
        self.timings["driver:samples"] = self.timings.get("driver:samples", 0.0) + time.perf_counter() - start
        return texts[False], texts[True]

    def _iteration(self, k: int, dedup_summary: dict) -> dict:
        run, cfg = self.run_dir, self.config
        if run.report(k).is_file():
            return json.loads(run.report(k).read_text())
        shards = range(cfg.num_shards)
        added_total = json.loads(run.seeds_added(k - 1).read_text())["total"] if k > 1 else 0
        # 1. train
        if not run.model(k).is_file() or (cfg.classifier.quantize and not run.model(k).with_suffix(".ftz").is_file()):
            negatives, added = self._training_sample(k, added_total, dedup_summary["kept"])
            positives = self._timed("driver:samples", self._seed_sample, k) + added
            self._timed("train", train_classifier, positives, negatives, run.model(k), cfg.classifier)
        # 2. score (and, for a threshold, select)
        self._tasks("score", k, shards, f"iteration {k}: scoring")
        # 3. select by token budget: the cut merged from the shards' partial histograms, then a filter per shard
        if cfg.selection.method == "top_tokens":
            self._timed(
                "driver:budget_cut", budget_cut_from_folder, str(run.budget(k)), int(cfg.selection.token_budget)
            )
            self._tasks("select", k, shards, f"iteration {k}: selecting within the token budget")
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
        # 4. domain discovery (not after the last iteration, nor once the collection has converged)
        converged = (
            overlap is not None and cfg.domains.stop_overlap is not None and overlap >= cfg.domains.stop_overlap
        )
        if k < cfg.iterations and not converged:
            self._discover(k, added_total, report)
        report.extra["converged"] = bool(converged)
        out = report.to_dict()
        atomic_json(run.report(k), out)
        return out

    def _discover(self, k: int, added_total: int, report: domains_lib.IterationReport) -> None:
        """Domain discovery (§2.1) from per-shard partial counts: math domains (per-domain counts merged per
        domain hash partition), then the URL prefixes of those domains (per-shard counts merged here: only
        math domains' prefixes), the annotation round trip, and the uncollected pages under accepted prefixes
        (per shard, added to the shard's seed rows) -> ``iter_k/seeds_added/``. The driver never holds every URL,
        domain or added row."""
        import pyarrow.parquet as pq

        run, cfg = self.run_dir, self.config
        shards, parts = range(cfg.num_shards), range(cfg.dedup.partitions)
        self._tasks("domain_counts", k, shards, f"iteration {k}: domain counts")
        self._tasks("domain_merge", k, parts, f"iteration {k}: math domains")
        if not run.math_domain_list(k).is_file():
            tables = [pq.read_table(run.math_domains(k, p)).to_pylist() for p in parts]
            found = sorted((r for t in tables for r in t), key=lambda r: (-r["collected"], r["domain"]))
            atomic_json(run.math_domain_list(k), [r["domain"] for r in found])
        report.math_domains = len(json.loads(run.math_domain_list(k).read_text()))
        self._tasks("prefix_counts", k, shards, f"iteration {k}: URL prefix counts")

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
        self._tasks("prefix_pages", k, shards, f"iteration {k}: pages under accepted prefixes")
        total = sum(len(np.load(run.prefix_pages(k, s), mmap_mode="r")) for s in shards)
        report.seeds_added = int(total - added_total)
        atomic_json(run.seeds_added(k), {"added": report.seeds_added, "total": int(total)})

    def _export(self, k: int, dedup_summary: dict, reports: list[dict]) -> MiningResult:
        run, cfg = self.run_dir, self.config
        export = run.export()
        stats_path = run.stats()
        if stats_path.is_file() and (export / "README.md").is_file():
            return MiningResult(json.loads(stats_path.read_text()), run.root)
        tmp = export.with_name(".export.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        (tmp / "data").mkdir(parents=True)
        counts = [json.loads(run.final_counts(s).read_text()) for s in range(cfg.num_shards)]
        decontam = None
        if cfg.decontamination.enabled and sum(c["documents"] for c in counts):
            # the selection, in the driver: the decontamination report is built over all of it
            from trl_dsm.decontamination.pipeline import decontaminate_dataset

            d = cfg.decontamination
            selected = read_files([run.final(s) for s in range(cfg.num_shards)])
            selected, report = decontaminate_dataset(
                selected,
                "text",
                benchmarks=d.benchmarks,
                benchmarks_dir=d.benchmarks_dir,
                mode=d.mode,
                num_proc=cfg.num_proc,
            )
            report.write(run.root / "decontamination")
            decontam = {"summary": report.summary, "card_section": report.card_section()}
            n_files = max(1, min(cfg.num_shards, len(selected)))
            for i in range(n_files):
                part = selected.shard(n_files, i, contiguous=True)
                atomic_parquet(tmp / "data" / f"train-{i:05d}-of-{n_files:05d}.parquet", part)
            documents_out = len(selected)
            tokens_out = int(sum(len(t.split()) for t in selected["text"])) if len(selected) else 0
        else:  # the final shards are the export files (hard links where the file system allows)
            nonempty = [s for s, c in enumerate(counts) if c["documents"]] or [0]
            for i, shard in enumerate(nonempty):
                target = tmp / "data" / f"train-{i:05d}-of-{len(nonempty):05d}.parquet"
                try:
                    os.link(run.final(shard), target)
                except OSError:
                    shutil.copyfile(run.final(shard), target)
            documents_out = sum(c["documents"] for c in counts)
            tokens_out = sum(c["tokens"] for c in counts)
        known = None
        if cfg.known_positives.paths:  # an evaluation: the selection's key column against the known math pages
            key = cfg.known_positives.key
            files = sorted((tmp / "data").glob("*.parquet"))
            values = [v for f in files for v in read_shard(f, [key])[key]] if documents_out else []
            known = known_lib.known_positives_report(values, known_lib.load_known_positives(cfg.known_positives), key)
        stats = {
            "documents_in": self._meta()["total"],
            "dedup": dedup_summary,
            "iterations": reports,
            "final_iteration": k,
            "documents_out": documents_out,
            "tokens_out": tokens_out,
            "decontamination": decontam["summary"] if decontam else None,
            "known_positives": known,
            "classifier": asdict(cfg.classifier),
            "selection": asdict(cfg.selection),
            "domains": asdict(cfg.domains),
            "seconds": dict(self.timings),  # (the export itself is timed after)
        }
        (tmp / "mining_stats.json").write_text(json.dumps(stats, indent=2, default=json_default))
        from trl_dsm.mining.card import render_card

        render_card(stats, cfg, decontam_section=decontam["card_section"] if decontam else None).save(
            str(tmp / "README.md")
        )
        if export.exists():
            shutil.rmtree(export)
        os.replace(tmp, export)
        atomic_json(stats_path, stats)
        return MiningResult(stats, run.root)

    def run(self) -> MiningResult:
        try:
            return self._run()
        finally:
            close_pools()

    def _run(self) -> MiningResult:
        cfg, run = self.config, self.run_dir
        if cfg.executor.kind == "local":
            preload(cfg)  # before the pool forks: its workers inherit the imports and kernels
        self._ingest()
        self._reshard()
        self._tasks("prepare", 0, range(cfg.num_shards), "signatures, URL keys and token counts")
        dedup_summary = self._dedup()
        self._write_seeds()
        reports = []
        k = 1
        for k in range(1, cfg.iterations + 1):
            report = self._iteration(k, dedup_summary)
            reports.append(report)
            if report["extra"].get("converged") or not run.seeds_added(k).is_file():
                break
        self._tasks("final", k, range(cfg.num_shards), "writing selection")
        return self._timed("driver:export", self._export, k, dedup_summary, reports)


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
