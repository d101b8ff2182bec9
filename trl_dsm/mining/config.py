# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Configuration of a mining run (DeepSeekMath §2.1): one dataclass per YAML section.

``trl-dsm mine --config recipe.yaml`` reads a :class:`MiningConfig` with :meth:`MiningConfig.from_yaml` through the
package's one loader (:mod:`trl_dsm.configs`); unknown keys, values of the wrong type and bad values are errors that
name the file, the key path and the list index.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from trl_dsm.configs import ConfigError, from_dict, load_yaml
from trl_dsm.mining.classifier import FastTextConfig
from trl_dsm.mining.domains import DomainConfig
from trl_dsm.mining.executors import ExecutorConfig
from trl_dsm.mining.known import KnownPositivesConfig
from trl_dsm.mining.select import SelectionConfig


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
    """URL and MinHash-LSH near-dedup (§2.1). ``partitions`` splits each LSH band (and the URL keys) into that many
    hash ranges, each merged by its own task: the memory of a merge task is about
    ``16 B x documents / partitions``; results do not depend on it."""

    url: bool = True
    minhash: bool = True
    num_perm: int = 128
    threshold: float = 0.8
    ngram: int = 5
    seed: int = 1
    #: Drop LSH candidate pairs whose estimated Jaccard is below the threshold.
    verify: bool = True
    partitions: int = 1

    def __post_init__(self):
        if self.partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {self.partitions}")


@dataclass
class ExtractionConfig:
    """Two-stage extraction of WARC inputs (§2.1 at Common Crawl scale): stage one for every page is the raw-HTML
    ``prefilter`` (off keeps every page) and the fast plain text; stage two, the math-preserving extraction, only
    for pages whose fast text a fastText classifier scores >= ``recall_threshold`` (set it below the selection's
    cut); the other pages keep their fast text. The classifier is either ``model`` (trained before the run, e.g.
    ``iter_1/model.bin`` of a run on a sample of the crawl; stage two then happens while reading), or, with
    ``in_run``, this run's own iteration-1 classifier, trained on the fast text (the ``refine`` stage reads the
    pages that pass again from their WARC records). With neither, every page gets the math-preserving extraction."""

    model: str | None = None
    in_run: bool = False
    recall_threshold: float = 0.1
    prefilter: bool = False

    def __post_init__(self):
        if not 0.0 <= self.recall_threshold <= 1.0:
            raise ValueError(f"recall_threshold must be in [0, 1], got {self.recall_threshold}")
        if self.model and self.in_run:
            raise ValueError("extraction: set model (a classifier trained before the run) or in_run, not both")
        if self.prefilter and not (self.model or self.in_run):
            raise ValueError("extraction.prefilter is part of two-stage extraction: set model or in_run too")


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
    domains: DomainConfig = field(default_factory=DomainConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    extraction: ExtractionConfig = field(default_factory=ExtractionConfig)
    decontamination: DecontaminationConfig = field(default_factory=DecontaminationConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    #: ``datasets.map`` processes inside one decontamination task.
    num_proc: int | None = None
    batch_size: int = 1000
    #: Dataset card fields.
    pretty_name: str = "Mined math corpus"
    repo_id: str | None = None
    #: Pages known to be math, counted in the selection for the stats and card (an evaluation only).
    known_positives: KnownPositivesConfig = field(default_factory=KnownPositivesConfig)

    def __post_init__(self):
        if self.num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {self.num_shards}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.extraction.in_run and not any(spec.get("type") == "warc" for spec in self.inputs):
            raise ValueError("extraction.in_run refines pages read from WARC files: no input has type 'warc'")

    @classmethod
    def from_dict(cls, data: dict) -> MiningConfig:
        """The config of a mapping (a parsed recipe, or a run's stored ``config.json``), checked by
        :func:`trl_dsm.configs.from_dict`; each ``inputs``/``seeds`` entry is checked against
        :class:`~trl_dsm.mining.readers.SourceSpec`/:class:`SeedSpec` too, so a bad one is named by its index
        (``config.inputs[2].paths must be of type list[str], got 3``) before anything runs."""
        from trl_dsm.mining.readers import SourceSpec

        config = from_dict(cls, data, "config")
        for i, spec in enumerate(config.inputs):
            SourceSpec.from_dict(spec, where=f"config.inputs[{i}]")
        for i, spec in enumerate(config.seeds):
            from_dict(SeedSpec, spec, f"config.seeds[{i}]")
        return config

    @classmethod
    def from_yaml(cls, path: str | Path) -> MiningConfig:
        """The config of a YAML recipe; a missing file, bad YAML or a bad field is one error naming the file
        (``recipe.yaml: config.dedup: unknown key(s) ['thresold']; known: [...]``)."""
        data = load_yaml(path)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def to_dict(self) -> dict:
        """The config as plain data (what a run stores in its ``config.json``)."""
        return asdict(self)


#: Config sections that may change between a run and its resumption (they do not change results).
RESUMABLE_CHANGES = {"executor", "num_proc", "batch_size", "pretty_name", "repo_id"}
