# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The last stage of a mining run (DeepSeekMath §2.1): optional 10-gram decontamination of the final shards, one
task per shard, and the export the driver writes from them (data files, dataset card, stats).

``decontaminate`` (per shard): ``final/shard-i.parquet`` through
:func:`trl_dsm.decontamination.pipeline.decontaminate_dataset` (the n-gram index built once per worker process) ->
the shard's report (``decontamination/shards/shard-i.json``: summary, findings with shard rows, index stats,
whitespace tokens) and its clean rows (``decontamination/shards/shard-i.parquet``, last: marks the task done).
The driver merges the shard reports (:func:`trl_dsm.decontamination.pipeline.merge_reports`: the report of one
run over the concatenated selection) and links the clean shards as ``export/data``, as it links the final shards
without decontamination.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from trl_dsm.mining import known as known_lib
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.refine import stage_two_summary
from trl_dsm.mining.rundir import RunDir, atomic_json, atomic_parquet, json_default, read_shard


@functools.lru_cache(maxsize=2)
def _index(benchmarks: str | tuple[str, ...], benchmarks_dir: str | None):
    """The benchmarks' n-gram index, built once per worker process (a persistent pool decontaminates many
    shards)."""
    from trl_dsm.decontamination.pipeline import build_index

    return build_index(benchmarks if isinstance(benchmarks, str) else list(benchmarks), benchmarks_dir)


def decontaminate_shard(run: RunDir, config: MiningConfig, iteration: int, shard: int) -> None:
    """The ``decontaminate`` task: final shard ``shard`` decontaminated, its report, then its clean rows."""
    from trl_dsm.decontamination.pipeline import decontaminate_dataset

    d = config.decontamination
    benchmarks = d.benchmarks if isinstance(d.benchmarks, str) else tuple(d.benchmarks)
    clean, report = decontaminate_dataset(
        read_shard(run.final(shard)),
        "text",
        index=_index(benchmarks, d.benchmarks_dir),
        mode=d.mode,
        num_proc=config.num_proc,
    )
    tokens = int(sum(len(t.split()) for t in clean["text"])) if len(clean) else 0
    report_row = {"summary": report.summary, "findings": report.findings, "index": report.index_stats}
    atomic_json(run.decontaminated_report(shard), {**report_row, "tokens": tokens})
    atomic_parquet(run.decontaminated(shard), clean)  # last: marks the task done


def merge_shard_reports(run: RunDir, shards: int):
    """The shards' decontamination reports merged into one (the report over the concatenated selection)."""
    from trl_dsm.decontamination.pipeline import DecontaminationReport, merge_reports

    rows = [json.loads(run.decontaminated_report(s).read_text()) for s in range(shards)]
    return merge_reports([DecontaminationReport(r["summary"], r["findings"], r["index"]) for r in rows])


def _link_shards(files: list[Path], data_dir: Path) -> None:
    """``files`` as ``data_dir/train-i-of-n.parquet`` (hard links where the file system allows, else copies)."""
    for i, path in enumerate(files):
        target = data_dir / f"train-{i:05d}-of-{len(files):05d}.parquet"
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)


def _extraction_timeouts(run: RunDir) -> int | None:
    """WARC pages skipped at their extraction's bound, summed over the input parts (``raw/part-U.json``); None when
    a part's count is unknown (read from the ``datasets`` cache of an interrupted attempt)."""
    total = 0
    for path in sorted((run.root / "raw").glob("part-*.json")):
        count = json.loads(path.read_text()).get("extraction_timeout")
        if count is None:
            return None
        total += count
    return total


def write_export(
    run: RunDir, config: MiningConfig, k: int, dedup_summary: dict, reports: list[dict], timings: dict
) -> dict:
    """``export/`` (data files, ``mining_stats.json``, ``README.md``) and ``stats.json`` from the final shards, or
    from the decontaminated shards when ``decontamination.enabled`` (their ``decontaminate`` tasks done); returns
    the stats. Written under a temporary name and renamed: an export that exists is complete."""
    shards = range(config.num_shards)
    export = run.export()
    tmp = export.with_name(".export.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "data").mkdir(parents=True)
    counts = [json.loads(run.final_counts(s).read_text()) for s in shards]
    decontam = None
    if config.decontamination.enabled and sum(c["documents"] for c in counts):
        report = merge_shard_reports(run, config.num_shards)
        report.write(run.root / "decontamination")
        decontam = {"summary": report.summary, "card_section": report.card_section()}
        counts = [
            {"documents": r["summary"]["documents_out"], "tokens": r["tokens"]}
            for r in (json.loads(run.decontaminated_report(s).read_text()) for s in shards)
        ]
        shard_file = run.decontaminated
    else:
        shard_file = run.final
    nonempty = [s for s, c in enumerate(counts) if c["documents"]] or [0]
    _link_shards([shard_file(s) for s in nonempty], tmp / "data")
    documents_out = sum(c["documents"] for c in counts)
    known = None
    if config.known_positives.paths:  # an evaluation: the selection's key column against the known math pages
        key = config.known_positives.key
        files = sorted((tmp / "data").glob("*.parquet"))
        values = [v for f in files for v in read_shard(f, [key])[key]] if documents_out else []
        known = known_lib.known_positives_report(values, known_lib.load_known_positives(config.known_positives), key)
    stats = {
        "documents_in": run.meta()["total"],
        "pages_skipped_at_extraction_bound": _extraction_timeouts(run),
        "two_stage_in_run": stage_two_summary(run, config),
        "dedup": dedup_summary,
        "iterations": reports,
        "final_iteration": k,
        "documents_out": documents_out,
        "tokens_out": sum(c["tokens"] for c in counts),
        "decontamination": decontam["summary"] if decontam else None,
        "known_positives": known,
        "classifier": asdict(config.classifier),
        "selection": asdict(config.selection),
        "domains": asdict(config.domains),
        "seconds": dict(timings),  # (the export itself is timed after)
    }
    (tmp / "mining_stats.json").write_text(json.dumps(stats, indent=2, default=json_default))
    from trl_dsm.mining.card import render_card

    section = decontam["card_section"] if decontam else None
    render_card(stats, config, decontam_section=section).save(str(tmp / "README.md"))
    if export.exists():
        shutil.rmtree(export)
    os.replace(tmp, export)
    atomic_json(run.stats(), stats)
    return stats
