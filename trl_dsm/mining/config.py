# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Configuration of a mining run (DeepSeekMath §2.1): dataclasses per YAML section and the YAML type checker.

``trl-dsm mine --config recipe.yaml`` reads a :class:`MiningConfig` with :meth:`MiningConfig.from_yaml`; unknown
keys, values of the wrong type and bad values are errors that name the file and the key.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

from trl_dsm.mining.classifier import FastTextConfig
from trl_dsm.mining.domains import DomainConfig
from trl_dsm.mining.executors import ExecutorConfig
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
        return build(cls, data, "config")

    @classmethod
    def from_yaml(cls, path: str | Path) -> MiningConfig:
        """The config of a YAML recipe; a missing file, bad YAML or a bad field is one error naming the file."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or exc
            raise ValueError(f"{path}{where}: not valid YAML: {problem}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the config must be a mapping of sections")
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None

    def to_dict(self) -> dict:
        return asdict(self)


#: Config sections that may change between a run and its resumption (they do not change results).
RESUMABLE_CHANGES = {"executor", "num_proc", "batch_size", "pretty_name", "repo_id"}


def build(cls, data, where: str):
    """``cls(**data)`` with nested sections built recursively and scalar types checked; errors name ``where``."""
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
            kwargs[name] = build(type(sub), value, f"{where}.{name}")
            continue
        if not any(t in str(known[name].type) for t in ("list", "dict", "tuple", "Sequence")):
            check_type(known[name].default, value, f"{where}.{name}", str(known[name].type))
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


_SCALARS = {"int": int, "float": float, "str": str, "bool": bool}


def check_type(default, value, where: str, annotation: str = "") -> None:
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
