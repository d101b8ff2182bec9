# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The DeepSeekMath corpus-mining pipeline (§2.1), resumable, from web pages to a selected math corpus.

Stages, each leaving its output in the run directory (written to a temporary name, then renamed, so a file that
exists is complete; a killed run restarts where it stopped and redoes at most the shards that were in flight):

1. ``ingest`` (per input file or dataset, on the executor): readers -> ``raw/part-*.parquet``.
2. ``reshard``: the parts, in order, cut into ``num_shards`` shards -> ``docs/shard-*.parquet``.
3. ``prepare`` (per shard): MinHash signatures and token counts -> ``prepare/shard-*.npz``.
4. ``dedup``: exact URL dedup, then MinHash-LSH near-dedup -> ``dedup/keep.npy``, ``dedup/clusters.jsonl``.
5. iterations ``k = 1..K``: train fastText on seeds (+ pages added by domain discovery) vs random pages
   (``iter_k/model.bin``); score every kept page (per shard, ``iter_k/scores/shard-*.npy``); select by threshold
   or token budget; domain discovery writes ``iter_k/annotations.jsonl`` and, once accepted (automatically or by
   a person), adds the uncollected pages under accepted prefixes to the next iteration's seeds.
6. ``final`` (per shard): the last iteration's selection -> ``final/shard-*.parquet``.
7. ``export``: optional 10-gram decontamination, then ``export/data/*.parquet``, ``export/README.md`` (dataset
   card) and ``stats.json``.

:func:`mine` runs it all from Python (documents and seeds in memory, no YAML); ``trl-dsm mine --config`` from a
YAML recipe.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import numpy as np

from trl_dsm.mining import dedup as dedup_lib
from trl_dsm.mining import domains as domains_lib
from trl_dsm.mining.classifier import SCORE_COLUMN, FastTextClassifier, FastTextConfig, score_dataset, train_classifier
from trl_dsm.mining.executors import ExecutorConfig, run_tasks
from trl_dsm.mining.readers import BUILDERS, COLUMNS, SourceSpec, _expand, from_hf_dataset, load_documents
from trl_dsm.mining.select import SelectionConfig, count_tokens, select


class AnnotationPending(RuntimeError):
    """Domain discovery wrote an annotation file that a person must label before the run can go on."""


# ----------------------------------------------------------------------------------------------- configuration


@dataclass
class SeedSpec:
    """Positive seed texts: a JSONL/Parquet file list or an ``hf`` dataset (Hub id or local directory);
    ``fields`` are joined with a newline (e.g. ``[problem, solution]``). The paper's seed is OpenWebMath
    (``{type: hf, path: open-web-math/open-web-math, fields: [text]}``)."""

    type: str = "jsonl"
    paths: list[str] = field(default_factory=list)
    path: str | None = None
    split: str = "train"
    fields: list[str] = field(default_factory=lambda: ["text"])
    limit: int | None = None


@dataclass
class DedupConfig:
    url: bool = True
    minhash: bool = True
    num_perm: int = 128
    threshold: float = 0.8
    ngram: int = 5
    seed: int = 1
    #: Drop LSH candidate pairs whose estimated Jaccard is below the threshold.
    verify: bool = True


@dataclass
class DecontaminationConfig:
    """Optional last step: :func:`trl_dsm.decontamination.pipeline.decontaminate_dataset` on the selection."""

    enabled: bool = False
    benchmarks: str | list[str] = "all"
    benchmarks_dir: str | None = None
    mode: str = "segment"


@dataclass
class MiningConfig:
    """Everything a mining run needs; ``trl-dsm mine`` reads it from YAML (nested mappings per section)."""

    output_dir: str = "mined"
    inputs: list[dict] = field(default_factory=list)
    seeds: list[dict] = field(default_factory=list)
    num_shards: int = 8
    #: Classifier/select/discover rounds (the paper ran 4).
    iterations: int = 4
    classifier: FastTextConfig = field(default_factory=FastTextConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    domains: domains_lib.DomainConfig = field(default_factory=domains_lib.DomainConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontamination: DecontaminationConfig = field(default_factory=DecontaminationConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    #: ``datasets.map`` processes inside one scoring task.
    num_proc: int | None = None
    batch_size: int = 1000
    #: Dataset card fields.
    pretty_name: str = "Mined math corpus"
    repo_id: str | None = None

    def __post_init__(self):
        if self.num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {self.num_shards}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")

    @classmethod
    def from_dict(cls, data: dict) -> MiningConfig:
        return _build(cls, data, "config")

    @classmethod
    def from_yaml(cls, path: str | Path) -> MiningConfig:
        import yaml

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the config must be a mapping of sections")
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None

    def to_dict(self) -> dict:
        return asdict(self)


def _build(cls, data, where: str):
    if is_dataclass(data):
        return data
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in data.items():
        factory = known[name].default_factory
        sub = factory() if factory is not MISSING else None
        if is_dataclass(sub):
            kwargs[name] = _build(type(sub), value, f"{where}.{name}")
            continue
        if not any(t in str(known[name].type) for t in ("list", "dict", "tuple", "Sequence")):
            _check_type(known[name].default, value, f"{where}.{name}", str(known[name].type))
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


_SCALARS = {"int": int, "float": float, "str": str, "bool": bool}


def _check_type(default, value, where: str, annotation: str = "") -> None:
    """A value of the field's scalar type: read from its annotation (``float``, ``int | None``, ...) when it names
    scalars, otherwise from the default; an int where a float is expected is fine; null only where the annotation
    allows None (or, without one, where the default is None)."""
    parts = [t.strip() for t in annotation.split("|")] if annotation else []
    from_annotation = bool(parts) and all(t in _SCALARS or t == "None" for t in parts)
    if from_annotation:
        expected = tuple(_SCALARS[t] for t in parts if t != "None")
        nullable = "None" in parts
    elif default is MISSING or default is None or not isinstance(default, int | float | str):
        return  # a type this check does not know (Literal, Path, ...): left to the field
    else:
        expected, nullable = (type(default),), False
    if value is None:
        if not nullable:
            raise ValueError(f"{where} must be of type {annotation or expected[0].__name__}, got null")
        return
    ok = any(isinstance(value, t) and not (isinstance(value, bool) and t is not bool) for t in expected)
    ok = ok or (float in expected and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        names = " or ".join(t.__name__ for t in expected)
        raise ValueError(f"{where} must be of type {names}, got {value!r}")


#: Config sections that may change between a run and its resumption (they do not change results).
_RESUMABLE_CHANGES = {"executor", "num_proc", "batch_size", "pretty_name", "repo_id"}


# ----------------------------------------------------------------------------------------------- run layout


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _atomic_json(path: Path, obj) -> None:
    _atomic_write_bytes(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default).encode())


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _atomic_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def _atomic_npz(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _atomic_parquet(path: Path, dataset) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(dataset.with_format("arrow")[:], tmp)  # one table, no per-file progress bar
    os.replace(tmp, path)


_KILL_COUNTS: dict[str, int] = {}


def _fault_injection(stage: str) -> None:
    """``TRL_DSM_MINING_KILL_AFTER=stage:N`` SIGKILLs the process after its N-th completed task of ``stage``
    (tests use it to prove a killed run resumes with nothing lost or duplicated)."""
    spec = os.environ.get("TRL_DSM_MINING_KILL_AFTER")
    if not spec:
        return
    want, _, count = spec.partition(":")
    if want != stage:
        return
    _KILL_COUNTS[stage] = _KILL_COUNTS.get(stage, 0) + 1
    if _KILL_COUNTS[stage] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


class RunDir:
    """Paths of one run."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def config(self) -> Path:
        return self.root / "config.json"

    def units(self) -> Path:
        return self.root / "raw" / "units.json"

    def raw(self, unit: int) -> Path:
        return self.root / "raw" / f"part-{unit:05d}.parquet"

    def shards_meta(self) -> Path:
        return self.root / "docs" / "shards.json"

    def doc_shard(self, shard: int) -> Path:
        return self.root / "docs" / f"shard-{shard:05d}.parquet"

    def prepared(self, shard: int) -> Path:
        return self.root / "prepare" / f"shard-{shard:05d}.npz"

    def dedup_keep(self) -> Path:
        return self.root / "dedup" / "keep.npy"

    def dedup_summary(self) -> Path:
        return self.root / "dedup" / "summary.json"

    def iter_dir(self, k: int) -> Path:
        return self.root / f"iter_{k}"

    def model(self, k: int) -> Path:
        return self.iter_dir(k) / "model.bin"

    def scores(self, k: int, shard: int) -> Path:
        return self.iter_dir(k) / "scores" / f"shard-{shard:05d}.npy"

    def report(self, k: int) -> Path:
        return self.iter_dir(k) / "report.json"

    def final(self, shard: int) -> Path:
        return self.root / "final" / f"shard-{shard:05d}.parquet"

    def export(self) -> Path:
        return self.root / "export"

    def stats(self) -> Path:
        return self.root / "stats.json"


def _load_config(run: RunDir) -> MiningConfig:
    return MiningConfig.from_dict(json.loads(run.config().read_text()))


def _read_shard(path: Path, columns: Sequence[str] | None = None):
    """A parquet shard as an in-memory ``Dataset`` (no copy into the ``datasets`` cache)."""
    import datasets
    import pyarrow.parquet as pq

    return datasets.Dataset(pq.read_table(path, columns=list(columns) if columns else None))


# ----------------------------------------------------------------------------------------------- shard tasks


def run_shard_task(run_dir: str, stage: str, iteration: int, shard: int) -> None:
    """One unit of work; everything it needs is in ``run_dir``. Safe to repeat (output written atomically)."""
    run = RunDir(run_dir)
    config = _load_config(run)
    if stage == "ingest":
        _ingest_unit(run, config, shard)
    elif stage == "prepare":
        _prepare_shard(run, config, shard)
    elif stage == "score":
        _score_shard(run, config, iteration, shard)
    elif stage == "final":
        _final_shard(run, config, iteration, shard)
    else:
        raise ValueError(f"unknown stage {stage!r}")
    _fault_injection(stage)


def _ingest_unit(run: RunDir, config: MiningConfig, unit: int) -> None:
    units = json.loads(run.units().read_text())
    spec = dict(units[unit]["spec"])
    dataset = load_documents(spec, cache_dir=run.root / "cache")
    _atomic_parquet(run.raw(unit), dataset.select_columns(COLUMNS))


def _prepare_shard(run: RunDir, config: MiningConfig, shard: int) -> None:
    docs = _read_shard(run.doc_shard(shard), ["text"])
    texts = docs["text"]
    d = config.dedup
    sigs = (
        dedup_lib.minhash_signatures(texts, num_perm=d.num_perm, seed=d.seed, ngram=d.ngram)
        if d.minhash
        else np.zeros((len(texts), 0), dtype=np.uint32)
    )
    tokens = count_tokens(texts, config.selection.tokenizer)
    empty = np.array([not (t or "").strip() for t in texts], dtype=bool)
    _atomic_npz(run.prepared(shard), signatures=sigs, tokens=tokens, empty=empty)


def _shard_keep(run: RunDir, shard: int) -> np.ndarray:
    meta = json.loads(run.shards_meta().read_text())
    start = meta["offsets"][shard]
    return np.load(run.dedup_keep())[start : start + meta["rows"][shard]]


def _score_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    keep = _shard_keep(run, shard)
    scores = np.full(len(keep), np.nan, dtype=np.float32)
    rows = np.flatnonzero(keep)
    if len(rows):
        docs = _read_shard(run.doc_shard(shard), ["text"]).select(rows)
        model_path = run.model(k).with_suffix(".ftz") if config.classifier.quantize else run.model(k)
        classifier = FastTextClassifier(model_path, max_chars=config.classifier.max_chars)
        scored = score_dataset(docs, classifier, num_proc=config.num_proc, batch_size=config.batch_size)
        scores[rows] = np.asarray(scored[SCORE_COLUMN], dtype=np.float32)
    _atomic_npy(run.scores(k, shard), scores)


def _final_shard(run: RunDir, config: MiningConfig, k: int, shard: int) -> None:
    selected = np.load(run.iter_dir(k) / "selected.npy")
    meta = json.loads(run.shards_meta().read_text())
    start = meta["offsets"][shard]
    mask = selected[start : start + meta["rows"][shard]]
    docs = _read_shard(run.doc_shard(shard))
    scores = np.load(run.scores(k, shard))
    rows = np.flatnonzero(mask)
    out = docs.select(rows).add_column(SCORE_COLUMN, scores[rows].astype(np.float64).tolist())
    _atomic_parquet(run.final(shard), out)


# ----------------------------------------------------------------------------------------------- driver


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
        current = json.loads(json.dumps(self.config.to_dict(), default=_json_default))
        path = self.run_dir.config()
        if path.is_file():
            previous = json.loads(path.read_text())
            changed = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
            changed = [k for k in changed if k not in _RESUMABLE_CHANGES]
            if changed:
                raise ValueError(
                    f"{self.run_dir.root} holds a run with a different config (changed: {changed}); "
                    "use another output_dir, or --overwrite to start over"
                )
        if not self.config.inputs and self.documents is None and not self.run_dir.units().is_file():
            raise ValueError("no inputs: give config.inputs (warc/wet/jsonl/parquet/hf sources) or documents")
        if not self.config.seeds and self.seed_texts is None and not (self.run_dir.root / "seeds.jsonl").is_file():
            raise ValueError("no seed positives: give config.seeds or seed_texts")
        _atomic_json(path, current)

    def _timed(self, name: str, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        return out

    def _tasks(self, stage: str, k: int, shards: Sequence[int], is_done, desc: str) -> None:
        run_tasks(self.config.executor, self.run_dir.root, stage, k, shards, is_done, desc)

    # -- stages

    def _ingest(self) -> None:
        run = self.run_dir
        if not run.units().is_file():
            units = []
            if self.documents is not None:
                dataset = _as_documents(self.documents)
                _atomic_parquet(run.raw(0), dataset.select_columns(COLUMNS))
                units.append({"spec": {"type": "memory"}, "done": True})
            for spec in self.config.inputs:
                spec = SourceSpec.from_dict(spec)
                if spec.type in BUILDERS:
                    for path in _expand(spec.paths):
                        units.append({"spec": {**asdict(spec), "paths": [path]}})
                else:
                    units.append({"spec": asdict(spec)})
            _atomic_json(run.units(), units)
        units = json.loads(run.units().read_text())
        self._tasks("ingest", 0, range(len(units)), lambda u: run.raw(u).is_file(), "reading inputs")

    def _reshard(self) -> None:
        import datasets

        run = self.run_dir
        if run.shards_meta().is_file():
            return
        units = json.loads(run.units().read_text())
        parts = [_read_shard(run.raw(u)) for u in range(len(units))]
        docs = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
        n = self.config.num_shards
        rows = []
        for shard in range(n):
            part = docs.shard(n, shard, contiguous=True)
            _atomic_parquet(run.doc_shard(shard), part)
            rows.append(len(part))
        offsets = np.concatenate([[0], np.cumsum(rows)]).tolist()
        _atomic_json(run.shards_meta(), {"rows": rows, "offsets": offsets, "total": int(sum(rows))})

    def _meta(self) -> dict:
        return json.loads(self.run_dir.shards_meta().read_text())

    def _column(self, column: str) -> list:
        out = []
        for shard in range(self.config.num_shards):
            out += _read_shard(self.run_dir.doc_shard(shard), [column])[column]
        return out

    def _prepared(self, key: str) -> np.ndarray:
        arrays = [np.load(self.run_dir.prepared(s))[key] for s in range(self.config.num_shards)]
        return np.concatenate(arrays) if arrays else np.zeros(0)

    def _dedup(self) -> dict:
        run = self.run_dir
        if run.dedup_summary().is_file():
            return json.loads(run.dedup_summary().read_text())
        d = self.config.dedup
        urls = self._column("url")
        n = len(urls)
        keep = np.ones(n, dtype=bool)
        if d.url:
            keep, _ = dedup_lib.url_dedup_mask(urls)
        url_removed = int((~keep).sum())
        summary = {"documents": n, "url_duplicates_removed": url_removed}
        if d.minhash:
            sigs = self._prepared("signatures")
            empty = self._prepared("empty").astype(bool)
            candidates = np.flatnonzero(keep & ~empty)
            result = dedup_lib.near_dedup(sigs[candidates], threshold=d.threshold, seed=d.seed, verify=d.verify)
            keep[candidates[~result.keep]] = False
            result.clusters = [[int(candidates[m]) for m in c] for c in result.clusters]
            cluster_summary, rows = result.report(urls=urls)
            with_ids = self._column("id")
            for row in rows:
                row["ids"] = [with_ids[m] for m in row["members"]]
            lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            _atomic_write_bytes(run.root / "dedup" / "clusters.jsonl", lines.encode())
            summary.update(
                near_duplicates_removed=cluster_summary["removed"],
                clusters=cluster_summary["clusters"],
                largest_cluster=cluster_summary["largest_cluster"],
                threshold=d.threshold,
                num_perm=d.num_perm,
                ngram=d.ngram,
            )
        summary["kept"] = int(keep.sum())
        _atomic_npy(run.dedup_keep(), keep)
        _atomic_json(run.dedup_summary(), summary)
        return summary

    def _seed_texts(self) -> list[str]:
        path = self.run_dir.root / "seeds.jsonl"
        if not path.is_file():
            texts = list(self.seed_texts) if self.seed_texts is not None else []
            for spec in self.config.seeds:
                texts += load_seed_texts(_build(SeedSpec, spec, "seeds[]"))
            if not texts:
                raise ValueError("the seed corpus is empty")
            _atomic_write_bytes(path, "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts).encode())
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
                out += _read_shard(self.run_dir.doc_shard(shard), ["text"]).select(local)["text"]
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
            lambda s: run.scores(k, s).is_file(),
            f"iteration {k}: scoring",
        )
        scores = np.concatenate([np.load(run.scores(k, s)) for s in range(n_shards)])
        # 3. select
        tokens = self._prepared("tokens")
        selected = select(scores, tokens, cfg.selection) & keep
        _atomic_npy(run.iter_dir(k) / "selected.npy", selected)
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
            urls, titles, domains = self._column("url"), self._column("title"), self._column("domain")
            urls_k = [u if keep[i] else "" for i, u in enumerate(urls)]
            doms_k = [d if keep[i] else "" for i, d in enumerate(domains)]
            rows = domains_lib.prefix_rows(urls_k, titles, selected, scores, doms_k, cfg.domains)
            report.math_domains = len(domains_lib.math_domains(doms_k, selected, cfg.domains))
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
            exclude = selected.copy()
            exclude[added] = True
            exclude |= ~keep
            extra_rows = domains_lib.pages_under_prefixes(urls, accepted, exclude, cfg.domains.prefix_depth)
            report.seeds_added = int(len(extra_rows))
            _atomic_npy(run.iter_dir(k) / "seeds_added.npy", np.union1d(added, extra_rows).astype(np.int64))
        report.extra["converged"] = bool(converged)
        out = report.to_dict()
        _atomic_json(run.report(k), out)
        return out

    def _export(self, k: int, dedup_summary: dict, reports: list[dict]) -> MiningResult:
        import datasets

        run, cfg = self.run_dir, self.config
        self._tasks("final", k, range(cfg.num_shards), lambda s: run.final(s).is_file(), "writing selection")
        export = run.export()
        stats_path = run.stats()
        if stats_path.is_file() and (export / "README.md").is_file():
            stats = json.loads(stats_path.read_text())
            files = sorted((export / "data").glob("*.parquet"))
            dataset = _read_files(files)
            return MiningResult(dataset, stats, run.root)
        parts = [_read_shard(run.final(s)) for s in range(cfg.num_shards)]
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
            _atomic_parquet(tmp / "data" / f"train-{i:05d}-of-{n_files:05d}.parquet", part)
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
        (tmp / "mining_stats.json").write_text(json.dumps(stats, indent=2, default=_json_default))
        from trl_dsm.mining.card import render_card

        render_card(stats, cfg, decontam_section=decontam["card_section"] if decontam else None).save(
            str(tmp / "README.md")
        )
        if export.exists():
            shutil.rmtree(export)
        os.replace(tmp, export)
        _atomic_json(stats_path, stats)
        return MiningResult(_read_files(sorted((export / "data").glob("*.parquet"))), stats, run.root)

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
            lambda s: run.prepared(s).is_file(),
            "signatures and token counts",
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


def _read_files(files: Sequence[Path]):
    import datasets

    parts = [_read_shard(f) for f in files]
    return datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def _as_documents(documents):
    """A documents ``Dataset`` from a Dataset with text (+url) columns, or an iterable of dicts/strings."""
    import datasets

    if isinstance(documents, datasets.Dataset):
        if list(documents.features) == COLUMNS:
            return documents
        cols = documents.column_names
        return from_hf_dataset(
            documents,
            "text",
            "url" if "url" in cols else None,
            "id" if "id" in cols else None,
            "title" if "title" in cols else None,
            source="memory",
        )
    rows = [{"text": d} if isinstance(d, str) else dict(d) for d in documents]
    if any("text" not in r for r in rows):
        raise KeyError("every document needs a 'text' field")
    keys = sorted({k for r in rows for k in r} & {"text", "url", "id", "title"})
    table = {k: [r.get(k) for r in rows] for k in keys}
    if "id" in table:
        table["id"] = [None if v is None else str(v) for v in table["id"]]
    return _as_documents(datasets.Dataset.from_dict(table))


def load_seed_texts(spec: SeedSpec) -> list[str]:
    """Seed positives from JSONL/Parquet files or a Hub/local dataset, ``fields`` joined by newlines."""
    import datasets

    if spec.type == "hf":
        from trl_dsm.decontamination.pipeline import load_input

        if not spec.path:
            raise ValueError("an 'hf' seed spec needs 'path'")
        ds = load_input(spec.path, split=spec.split)
    elif spec.type in ("jsonl", "parquet"):
        files = _expand(spec.paths if not isinstance(spec.paths, str) else [spec.paths])
        ds = datasets.load_dataset("json" if spec.type == "jsonl" else "parquet", data_files=files, split="train")
    else:
        raise ValueError(f"seed type {spec.type!r} unknown; use jsonl, parquet or hf")
    missing = [f for f in spec.fields if f not in ds.column_names]
    if missing:
        raise KeyError(f"seed field(s) {missing} not in {spec.path or spec.paths} (columns: {ds.column_names})")
    if spec.limit is not None:
        ds = ds.select(range(min(spec.limit, len(ds))))
    columns = [ds[f] for f in spec.fields]
    return ["\n".join(str(v) for v in values if v) for values in zip(*columns)]


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
