# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The run directory of a mining run (§2.1) and its atomic writers.

Every output is written under a temporary name in its final directory, then renamed: a file that exists is
complete, so a killed run restarts where it stopped and the driver checks a task's completion by its output.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file in its directory, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def json_default(obj):
    """``json.dumps`` ``default`` for numpy scalars and arrays."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def atomic_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (numpy values as Python numbers)."""
    atomic_write_bytes(path, json.dumps(obj, indent=2, ensure_ascii=False, default=json_default).encode())


def atomic_jsonl(path: Path, rows: Sequence[dict]) -> None:
    """Write ``rows`` as JSON Lines to ``path`` atomically."""
    atomic_write_bytes(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode())


def atomic_npy(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a ``.npy`` file to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_npy_memmap(path: Path, shape: tuple[int, ...], dtype, enabled: bool = True):
    """A ``.npy`` file of ``shape`` written through a memory map under a temporary name, renamed to ``path`` when the
    block ends without an error (yields None and writes nothing when not ``enabled``)."""
    if not enabled:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
    try:
        yield array
        del array  # a shared mapping: readers see its pages through the page cache, no msync (a disk write) needed
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_npz(path: Path, **arrays) -> None:
    """Write ``arrays`` as one ``.npz`` file to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def atomic_parquet(path: Path, dataset, row_group_size: int | None = None) -> None:
    """Write a ``datasets.Dataset`` (or a ``pyarrow.Table``) as one parquet file (row groups of at most
    ``row_group_size`` rows when given, so that :func:`read_rows` decodes only the groups of a row range)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    table = dataset if isinstance(dataset, pa.Table) else dataset.with_format("arrow")[:]  # one table, no bar
    pq.write_table(table, tmp, row_group_size=row_group_size)
    os.replace(tmp, path)


def parquet_threads() -> bool:
    """Whether the readers here decode a file's columns on Arrow's CPU pool: not when that pool has one thread (a
    local executor's pool worker on its share of the cores, :func:`trl_dsm.mining.executors.limit_native_threads`),
    where handing the decoding to it only adds thread switches (two per read, each a chance for another process to
    take the core)."""
    import pyarrow

    return pyarrow.cpu_count() > 1


def read_rows(path: Path, start: int, stop: int, columns: Sequence[str] | None = None):
    """Rows ``[start, stop)`` of a parquet file as a ``pyarrow.Table``, decoding only the row groups that hold
    them (the whole file when it is one row group)."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    groups, first, at = [], 0, 0
    for group in range(file.metadata.num_row_groups):
        rows = file.metadata.row_group(group).num_rows
        if at < stop and at + rows > start:
            first = first if groups else at
            groups.append(group)
        at += rows
    columns = list(columns) if columns is not None else None
    if not groups or stop <= start:
        table = file.schema_arrow.empty_table()
        return table.select(columns) if columns is not None else table
    table = file.read_row_groups(groups, columns=columns, use_threads=parquet_threads())
    return table.slice(start - first, stop - start)


def atomic_parquet_stream(path: Path, schema, tables: Iterable) -> None:
    """Write ``pyarrow.Table``s of ``schema``, one after another, as one parquet file (memory: one table at a time),
    renamed to ``path`` once the last is written."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for table in tables:
                writer.write_table(table)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_partitioned_parquet(path: Path, tables: Sequence) -> None:
    """One parquet file whose row group ``p`` is ``tables[p]`` (``pyarrow.Table``s of one schema, empty ones
    included): a shard's rows split by hash partition in one file, of which a partition's task reads one row group
    (a file per shard and partition would be shards x partitions files at a crawl's scale)."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with pq.ParquetWriter(tmp, tables[0].schema) as writer:
        for table in tables:
            writer.write_table(table, row_group_size=max(1, table.num_rows))  # exactly one row group per partition
    os.replace(tmp, path)


def read_partition(path: Path, partition: int):
    """Row group ``partition`` of a file written by :func:`atomic_partitioned_parquet` (a ``pyarrow.Table``)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read_row_group(partition, use_threads=parquet_threads())


def read_shard(path: Path, columns: Sequence[str] | None = None):
    """A parquet shard as an in-memory ``Dataset`` (no copy into the ``datasets`` cache)."""
    import datasets
    import pyarrow.parquet as pq

    columns = list(columns) if columns else None
    return datasets.Dataset(pq.read_table(path, columns=columns, use_threads=parquet_threads()))


def iter_batches(path: Path, columns: Sequence[str], batch_size: int):
    """The ``columns`` of a parquet file as dicts of lists, ``batch_size`` rows at a time, in row order."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    for batch in file.iter_batches(batch_size=batch_size, columns=list(columns), use_threads=parquet_threads()):
        yield batch.to_pydict()


def read_files(files: Sequence[Path]):
    """Parquet files concatenated into one ``Dataset``."""
    import datasets

    parts = [read_shard(f) for f in files]
    return datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]


class RunDir:
    """Paths of one run."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def config(self) -> Path:
        """``config.json``: the run's configuration (checked on resume)."""
        return self.root / "config.json"

    def units(self) -> Path:
        """``raw/units.json``: the input units (one file or dataset each) of the ``ingest`` stage."""
        return self.root / "raw" / "units.json"

    def raw(self, unit: int) -> Path:
        """``raw/part-U.parquet``: the documents read from input unit ``unit``."""
        return self.root / "raw" / f"part-{unit:05d}.parquet"

    def raw_offsets(self, unit: int) -> Path:
        """``raw/part-U.offsets.npy``: with ``extraction.in_run``, the WARC record offset of each row of a part read
        from a WARC file (int64)."""
        return self.root / "raw" / f"part-{unit:05d}.offsets.npy"

    def shards_meta(self) -> Path:
        """``docs/shards.json``: rows and global offsets of the shards and of the input parts."""
        return self.root / "docs" / "shards.json"

    def doc_shard(self, shard: int) -> Path:
        """``docs/shard-S.parquet``: the documents of shard ``shard``."""
        return self.root / "docs" / f"shard-{shard:05d}.parquet"

    def prepared(self, shard: int) -> Path:
        """``prepare/shard-S.npz``: a shard's token counts and empty-text flags."""
        return self.root / "prepare" / f"shard-{shard:05d}.npz"

    def signatures(self, shard: int) -> Path:
        """MinHash signatures of a shard, ``(rows, num_perm)`` uint32 (a ``.npy``: read rows by memory map)."""
        return self.root / "prepare" / f"signatures-{shard:05d}.npy"

    def url_folder(self) -> Path:
        """``dedup/urls/``: URL keys per shard (``keys/``) and duplicates per hash partition (``removed/``), the layout
        of :mod:`trl_dsm.mining.urls`."""
        return self.root / "dedup" / "urls"

    def url_removed(self, partition: int) -> Path:
        """``dedup/urls/removed/PART.npy``: the URL duplicates found in one hash partition of the keys."""
        return self.url_folder() / "removed" / f"{partition:05d}.npy"

    def lsh_buckets(self, shard: int) -> Path:
        """``(bucket hash, row)`` of a shard for every LSH band and hash range, sorted by band, range, hash, row."""
        return self.root / "dedup" / "lsh" / f"buckets-{shard:05d}.npy"

    def lsh_offsets(self, shard: int) -> Path:
        """Where each (band, hash range) slice of :meth:`lsh_buckets` starts (``bands x partitions + 1``)."""
        return self.root / "dedup" / "lsh" / f"offsets-{shard:05d}.npy"

    def lsh_edges(self, band: int, partition: int) -> Path:
        """Duplicate pairs (a spanning forest) found in one band and hash range."""
        return self.root / "dedup" / "edges" / f"band-{band:03d}-part-{partition:05d}.npy"

    def components(self, round_: int, partition: int) -> Path:
        """Round ``round_``'s pairs from node partition ``partition`` (its ``components`` task), sorted by the node
        partition they go to (slice offsets in :meth:`component_offsets`)."""
        return self.root / "dedup" / "components" / f"round-{round_:03d}" / f"part-{partition:05d}.npy"

    def component_offsets(self, round_: int, partition: int) -> Path:
        """Where each node partition's slice of :meth:`components` starts (``partitions + 1`` offsets)."""
        return self.components(round_, partition).with_suffix(".offsets.npy")

    def component_counts(self, round_: int, partition: int) -> Path:
        """A ``components`` task's counts (pairs read and written, pairs changed; written last: marks it done)."""
        return self.components(round_, partition).with_suffix(".json")

    def near_removed(self, partition: int) -> Path:
        """Node partition ``partition``'s rows removed as near-duplicates (every cluster member but its smallest
        row), sorted."""
        return self.root / "dedup" / "near" / f"removed-{partition:05d}.npy"

    def cluster_roots(self, partition: int) -> Path:
        """``(2, c)``: smallest row and size of each cluster whose smallest row is in node partition ``partition``."""
        return self.root / "dedup" / "near" / f"roots-{partition:05d}.npy"

    def cluster_shown(self, partition: int) -> Path:
        """``(3, s)``: the first members of the clusters of :meth:`cluster_roots` (member, smallest row, position),
        by member."""
        return self.root / "dedup" / "near" / f"shown-{partition:05d}.npy"

    def cluster_counts(self, partition: int) -> Path:
        """A ``clusters`` task's counts (clusters, removed rows, largest cluster; written last: marks it done)."""
        return self.root / "dedup" / "near" / f"counts-{partition:05d}.json"

    def cluster_members(self, shard: int) -> Path:
        """A shard's rows shown in the cluster report with their URLs and ids, a row group per report part."""
        return self.root / "dedup" / "near" / f"members-{shard:05d}.parquet"

    def keep(self, shard: int) -> Path:
        """A shard's keep-mask after URL and near-dedup (bool per row)."""
        return self.root / "dedup" / "keep" / f"shard-{shard:05d}.npy"

    def dedup_summary(self) -> Path:
        """``dedup/summary.json``: URL and near-dedup counts (written by the ``dedup_summary`` task)."""
        return self.root / "dedup" / "summary.json"

    def clusters(self, part: int) -> Path:
        """``dedup/clusters/part-Q.jsonl``: the near-duplicate clusters whose smallest row is in row range ``part``
        (one a line, by smallest row; the parts in order are every cluster in order)."""
        return self.root / "dedup" / "clusters" / f"part-{part:05d}.jsonl"

    def refined(self, shard: int) -> Path:
        """``refine/shard-S.parquet``: with ``extraction.in_run``, shard ``shard``'s documents after stage two (the
        math-preserving text for the pages that reached it, the fast text for the others)."""
        return self.root / "refine" / f"shard-{shard:05d}.parquet"

    def refined_meta(self, shard: int) -> Path:
        """``refine/shard-S.npz``: the refined shard's token counts, stage-one scores and stage-two flags."""
        return self.root / "refine" / f"shard-{shard:05d}.npz"

    def iter_dir(self, k: int) -> Path:
        """``iter_K/``: the directory of iteration ``k``."""
        return self.root / f"iter_{k}"

    def model(self, k: int) -> Path:
        """``iter_K/model.bin``: iteration ``k``'s fastText classifier (``.ftz`` beside it when quantized)."""
        return self.iter_dir(k) / "model.bin"

    def sample_params(self, k: int) -> Path:
        """The priority cuts of iteration ``k``'s training samples (``negatives``, ``positives``)."""
        return self.iter_dir(k) / "sample" / "params.json"

    def sample(self, k: int, shard: int) -> Path:
        """A shard's sample candidates (parquet: priority, row, positive, text)."""
        return self.iter_dir(k) / "sample" / f"shard-{shard:05d}.parquet"

    def scores(self, k: int, shard: int) -> Path:
        """``iter_K/scores/shard-S.npy``: a shard's math scores in iteration ``k`` (NaN for removed rows)."""
        return self.iter_dir(k) / "scores" / f"shard-{shard:05d}.npy"

    def budget(self, k: int) -> Path:
        """``top_tokens``: the per-shard partial histograms and rankings (``hist/``, ``ranked/``) and the cut."""
        return self.iter_dir(k) / "budget"

    def budget_cut(self, k: int, token_budget: int) -> Path:
        """``iter_K/budget/cut-B.json``: the token-budget cut merged from the partial histograms."""
        return self.budget(k) / f"cut-{int(token_budget)}.json"

    def selected(self, k: int, shard: int) -> Path:
        """A shard's selection in iteration ``k`` (bool per row)."""
        return self.iter_dir(k) / "selected" / f"shard-{shard:05d}.npy"

    def selection_counts(self, k: int, shard: int) -> Path:
        """A shard's selected pages and tokens, and pages new / also collected in iteration ``k - 1``."""
        return self.iter_dir(k) / "selected" / f"shard-{shard:05d}.json"

    def domain_counts(self, k: int, shard: int) -> Path:
        """``(domain, pages, collected)`` of a shard's kept rows, row group ``p``: the domains hashing to ``p``."""
        return self.iter_dir(k) / "domains" / f"shard-{shard:05d}.parquet"

    def math_domains(self, k: int, partition: int) -> Path:
        """The math domains (more than ``math_fraction`` collected) of one domain hash partition, with counts."""
        return self.iter_dir(k) / "domains" / f"math-{partition:05d}.parquet"

    def math_domain_list(self, k: int) -> Path:
        """``iter_K/domains/math_domains.json``: iteration ``k``'s math domains, most collected first."""
        return self.iter_dir(k) / "domains" / "math_domains.json"

    def prefix_counts(self, k: int, shard: int) -> Path:
        """Partial counts of the URL prefixes of math domains in one shard (JSONL)."""
        return self.iter_dir(k) / "prefixes" / f"shard-{shard:05d}.jsonl"

    def accepted(self, k: int) -> Path:
        """``iter_K/accepted.json``: the URL prefixes accepted as math in iteration ``k``."""
        return self.iter_dir(k) / "accepted.json"

    def prefix_pages(self, k: int, shard: int) -> Path:
        """Rows of a shard added to the seeds through iteration ``k`` (under accepted prefixes, not collected)."""
        return self.iter_dir(k) / "seeds_added" / f"shard-{shard:05d}.npy"

    def seeds_added(self, k: int) -> Path:
        """Counts of the rows added to the seeds by iteration ``k`` (``added``) and through it (``total``)."""
        return self.iter_dir(k) / "seeds_added.json"

    def report(self, k: int) -> Path:
        """``iter_K/report.json``: iteration ``k``'s report (collected, new, overlap, discovery counts)."""
        return self.iter_dir(k) / "report.json"

    def final(self, shard: int) -> Path:
        """``final/shard-S.parquet``: a shard's pages in the last iteration's selection, with scores."""
        return self.root / "final" / f"shard-{shard:05d}.parquet"

    def final_counts(self, shard: int) -> Path:
        """A final shard's documents and whitespace tokens."""
        return self.root / "final" / f"shard-{shard:05d}.json"

    def decontaminated(self, shard: int) -> Path:
        """A final shard after 10-gram decontamination (parquet; written last by its ``decontaminate`` task)."""
        return self.root / "decontamination" / "shards" / f"shard-{shard:05d}.parquet"

    def decontaminated_report(self, shard: int) -> Path:
        """A final shard's decontamination report: summary, findings (shard rows), index stats, tokens out."""
        return self.root / "decontamination" / "shards" / f"shard-{shard:05d}.json"

    def export(self) -> Path:
        """``export/``: the exported dataset (``data/*.parquet``, ``README.md``, ``mining_stats.json``)."""
        return self.root / "export"

    def stats(self) -> Path:
        """``stats.json``: the run's stats (written last: a run with it is finished)."""
        return self.root / "stats.json"

    def meta(self) -> dict:
        """``docs/shards.json``: rows per shard, global offsets, total; rows and offsets of the input parts."""
        return json.loads(self.shards_meta().read_text())

    def load_config(self):
        """The run's :class:`~trl_dsm.mining.config.MiningConfig`, read from :meth:`config`."""
        from trl_dsm.mining.config import MiningConfig

        return MiningConfig.from_dict(json.loads(self.config().read_text()))
