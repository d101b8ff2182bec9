# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The DeepSeekMath corpus-mining pipeline (§2.1), resumable, from web pages to a selected math corpus: the driver.

Stages, each leaving its output in the run directory (written to a temporary name, then renamed, so a file that
exists is complete; a killed run restarts where it stopped and redoes at most the tasks that were in flight):

1. ``ingest`` (per input file or dataset, on the executor): readers -> ``raw/part-*.parquet``.
2. ``reshard``: the parts, in order, cut into ``num_shards`` shards -> ``docs/shard-*.parquet``.
3. ``prepare`` (per shard): MinHash signatures, token counts, normalized URL keys by hash partition.
4. ``dedup`` (tasks, bounded memory): exact URL dedup per URL partition, LSH band buckets per shard, merged per
   band and partition into duplicate pairs, clusters by union-find over the pairs -> ``dedup/keep.npy``,
   ``dedup/clusters.jsonl``, ``dedup/summary.json``.
5. iterations ``k = 1..K``: train fastText on seeds (+ pages added by domain discovery) vs random pages
   (``iter_k/model.bin``); score every kept page (per shard, ``iter_k/scores/shard-*.npy``); select by threshold
   or token budget; domain discovery (per-shard domain counts merged per domain hash partition into the math
   domains, per-shard URL-prefix counts of those merged into ``iter_k/annotations.jsonl``) and, once accepted
   (automatically or by a person), adds the uncollected pages under accepted prefixes (found per shard) to the next
   iteration's seeds.
6. ``final`` (per shard): the last iteration's selection -> ``final/shard-*.parquet``.
7. ``export``: optional 10-gram decontamination, then ``export/data/*.parquet``, ``export/README.md`` (dataset
   card) and ``stats.json``.

The tasks live in :mod:`trl_dsm.mining.stages`, the configuration in :mod:`trl_dsm.mining.config`, the run
directory in :mod:`trl_dsm.mining.rundir`; :mod:`trl_dsm.mining.executors` runs the tasks it is given.
:func:`mine` runs it all from Python (documents and seeds in memory, no YAML); ``trl-dsm mine --config`` from a
YAML recipe.
"""

from __future__ import annotations

import json
import os
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
    build,
)
from trl_dsm.mining.executors import run_tasks, slurm_environment
from trl_dsm.mining.inputs import as_documents, load_seed_texts
from trl_dsm.mining.readers import BUILDERS, COLUMNS, SourceSpec, _expand
from trl_dsm.mining.rundir import (
    RunDir,
    atomic_json,
    atomic_npy,
    atomic_parquet,
    atomic_write_bytes,
    json_default,
    read_files,
    read_shard,
)
from trl_dsm.mining.select import select
from trl_dsm.mining.stages import StageTask, lsh_tasks


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
    """What :func:`mine` / :meth:`MiningPipeline.run` return."""

    dataset: object  # datasets.Dataset of the selected (and decontaminated) pages
    stats: dict
    output_dir: Path


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
        """Run the missing tasks of ``stage`` (iteration ``k``) on the configured executor."""
        work = StageTask(str(self.run_dir.root), stage, k)
        run_tasks(
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
        import datasets

        run = self.run_dir
        if run.shards_meta().is_file():
            return
        units = json.loads(run.units().read_text())
        parts = [read_shard(run.raw(u)) for u in range(len(units))]
        docs = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
        n = self.config.num_shards
        rows = []
        for shard in range(n):
            part = docs.shard(n, shard, contiguous=True)
            atomic_parquet(run.doc_shard(shard), part)
            rows.append(len(part))
        offsets = np.concatenate([[0], np.cumsum(rows)]).tolist()
        atomic_json(run.shards_meta(), {"rows": rows, "offsets": offsets, "total": int(sum(rows))})

    def _meta(self) -> dict:
        return json.loads(self.run_dir.shards_meta().read_text())

    def _prepared(self, key: str) -> np.ndarray:
        arrays = [np.load(self.run_dir.prepared(s))[key] for s in range(self.config.num_shards)]
        return np.concatenate(arrays) if arrays else np.zeros(0)

    def _dedup(self) -> dict:
        """URL and near-dedup as tasks (no process holds every URL or signature): URL partitions, LSH band buckets
        per shard, merges per band and partition, then clusters from the duplicate pairs."""
        run, cfg = self.run_dir, self.config
        if run.dedup_summary().is_file():
            return json.loads(run.dedup_summary().read_text())
        if cfg.dedup.url:
            self._tasks("url_dedup", 0, range(cfg.dedup.partitions), "URL dedup")
        if cfg.dedup.minhash:
            self._tasks("lsh_buckets", 0, range(cfg.num_shards), "LSH band buckets")
            self._tasks("lsh_merge", 0, range(lsh_tasks(cfg)), "LSH duplicate pairs")
        self._tasks("clusters", 0, [0], "duplicate clusters")
        return json.loads(run.dedup_summary().read_text())

    def _seed_texts(self) -> list[str]:
        path = self.run_dir.root / "seeds.jsonl"
        if not path.is_file():
            texts = list(self.seed_texts) if self.seed_texts is not None else []
            for spec in self.config.seeds:
                texts += load_seed_texts(build(SeedSpec, spec, "seeds[]"))
            if not texts:
                raise ValueError("the seed corpus is empty")
            atomic_write_bytes(path, "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts).encode())
        with path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def _texts_at(self, rows: np.ndarray) -> list[str]:
        """Texts of global ``rows`` (sorted) read shard by shard."""
        meta = self._meta()
        offsets = np.asarray(meta["offsets"])
        rows = np.sort(np.asarray(rows, dtype=np.int64))
        out: list[str] = []
        for shard in range(self.config.num_shards):
            lo, hi = offsets[shard], offsets[shard + 1]
            local = rows[(rows >= lo) & (rows < hi)] - lo
            if len(local):
                out += read_shard(self.run_dir.doc_shard(shard), ["text"]).select(local)["text"]
        return out

    def _iteration(self, k: int, added: np.ndarray, previous: np.ndarray | None) -> dict:
        run, cfg = self.run_dir, self.config
        if run.report(k).is_file():
            return json.loads(run.report(k).read_text())
        keep = np.load(run.dedup_keep())
        # 1. train
        if not run.model(k).is_file() or (cfg.classifier.quantize and not run.model(k).with_suffix(".ftz").is_file()):
            positives = self._seed_texts() + self._texts_at(added)
            pool = np.flatnonzero(keep)
            pool = pool[~np.isin(pool, added)]
            rng = np.random.default_rng(cfg.classifier.seed + k)
            negatives_rows = rng.choice(pool, size=min(len(pool), cfg.classifier.n_negatives), replace=False)
            self._timed(
                "train", train_classifier, positives, self._texts_at(negatives_rows), run.model(k), cfg.classifier
            )
        # 2. score
        n_shards = cfg.num_shards
        self._timed(
            "score",
            self._tasks,
            "score",
            k,
            range(n_shards),
            f"iteration {k}: scoring",
        )
        scores = np.concatenate([np.load(run.scores(k, s)) for s in range(n_shards)])
        # 3. select
        tokens = self._prepared("tokens")
        selected = select(scores, tokens, cfg.selection) & keep
        atomic_npy(run.iter_dir(k) / "selected.npy", selected)
        new, overlap = domains_lib.overlap(previous, selected)
        report = domains_lib.IterationReport(
            iteration=k,
            collected=int(selected.sum()),
            new=new,
            overlap_with_previous=overlap,
            seeds=len(self._seed_texts()) + len(added),
            threshold_or_budget=cfg.selection.threshold
            if cfg.selection.method == "threshold"
            else cfg.selection.token_budget,
            extra={"tokens_collected": int(tokens[selected].sum())},
        )
        # 4. domain discovery (not after the last iteration, nor once the collection has converged)
        converged = (
            overlap is not None and cfg.domains.stop_overlap is not None and overlap >= cfg.domains.stop_overlap
        )
        if k < cfg.iterations and not converged:
            self._discover(k, added, report)
        report.extra["converged"] = bool(converged)
        out = report.to_dict()
        atomic_json(run.report(k), out)
        return out

    def _discover(self, k: int, added: np.ndarray, report: domains_lib.IterationReport) -> None:
        """Domain discovery (§2.1) from per-shard partial counts: math domains (per-domain counts merged per
        domain hash partition), then the URL prefixes of those domains (per-shard counts merged here: only
        math domains' prefixes), the annotation round trip, and the uncollected pages under accepted prefixes
        (per shard) -> ``iter_k/seeds_added.npy``. The driver never holds every URL or domain."""
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
        partials = []
        for shard in shards:
            with run.prefix_counts(k, shard).open(encoding="utf-8") as f:
                partials.append([json.loads(line) for line in f])
        rows = domains_lib.merge_prefix_partials(partials, cfg.domains)
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
            atomic_json(run.accepted(k), accepted)
        self._tasks("prefix_pages", k, shards, f"iteration {k}: pages under accepted prefixes")
        found = [np.load(run.prefix_pages(k, s)) for s in shards]
        extra_rows = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        report.seeds_added = int(len(extra_rows))
        atomic_npy(run.iter_dir(k) / "seeds_added.npy", np.union1d(added, extra_rows).astype(np.int64))

    def _export(self, k: int, dedup_summary: dict, reports: list[dict]) -> MiningResult:
        import datasets

        run, cfg = self.run_dir, self.config
        self._tasks("final", k, range(cfg.num_shards), "writing selection")
        export = run.export()
        stats_path = run.stats()
        if stats_path.is_file() and (export / "README.md").is_file():
            stats = json.loads(stats_path.read_text())
            files = sorted((export / "data").glob("*.parquet"))
            dataset = read_files(files)
            return MiningResult(dataset, stats, run.root)
        parts = [read_shard(run.final(s)) for s in range(cfg.num_shards)]
        selected = datasets.concatenate_datasets(parts)
        decontam = None
        if cfg.decontamination.enabled and len(selected):
            from trl_dsm.decontamination.pipeline import decontaminate_dataset

            d = cfg.decontamination
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
        tmp = export.with_name(".export.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        (tmp / "data").mkdir(parents=True)
        n_files = max(1, min(cfg.num_shards, len(selected)))
        for i in range(n_files):
            part = selected.shard(n_files, i, contiguous=True)
            atomic_parquet(tmp / "data" / f"train-{i:05d}-of-{n_files:05d}.parquet", part)
        meta = self._meta()
        stats = {
            "documents_in": meta["total"],
            "dedup": dedup_summary,
            "iterations": reports,
            "final_iteration": k,
            "documents_out": len(selected),
            "tokens_out": int(sum(len(t.split()) for t in selected["text"])) if len(selected) else 0,
            "decontamination": decontam["summary"] if decontam else None,
            "classifier": asdict(cfg.classifier),
            "selection": asdict(cfg.selection),
            "domains": asdict(cfg.domains),
            "seconds": self.timings,
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
        return MiningResult(read_files(sorted((export / "data").glob("*.parquet"))), stats, run.root)

    def run(self) -> MiningResult:
        cfg, run = self.config, self.run_dir
        self._timed("ingest", self._ingest)
        self._timed("reshard", self._reshard)
        self._timed(
            "prepare",
            self._tasks,
            "prepare",
            0,
            range(cfg.num_shards),
            "signatures, URL keys and token counts",
        )
        dedup_summary = self._timed("dedup", self._dedup)
        self._seed_texts()
        added = np.zeros(0, dtype=np.int64)
        previous = None
        reports = []
        k = 1
        for k in range(1, cfg.iterations + 1):
            report = self._iteration(k, added, previous)
            reports.append(report)
            previous = np.load(run.iter_dir(k) / "selected.npy")
            added_path = run.iter_dir(k) / "seeds_added.npy"
            if report["extra"].get("converged") or not added_path.is_file():
                break
            added = np.load(added_path)
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
