# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Corpus mining (DeepSeekMath §2.1): readers as ``datasets`` builders, URL and MinHash dedup, a fastText math
classifier, selection, iterative domain discovery, and a resumable pipeline (``mine`` / ``trl-dsm mine``)."""

from trl_dsm.mining.classifier import (
    FastTextClassifier,
    FastTextConfig,
    FastTextScorer,
    normalize_text,
    precision_at_k,
    score_dataset,
    train_classifier,
)
from trl_dsm.mining.config import DecontaminationConfig, DedupConfig, MiningConfig, SeedSpec
from trl_dsm.mining.dedup import (
    minhash_signatures,
    near_dedup,
    normalize_url,
    shingles,
    to_datasketch,
    url_dedup_mask,
)
from trl_dsm.mining.domains import DomainConfig, IterationReport, read_annotations, write_annotations
from trl_dsm.mining.executors import ExecutorConfig
from trl_dsm.mining.pipeline import AnnotationPending, MiningPipeline, MiningResult, mine
from trl_dsm.mining.readers import (
    TableBuilder,
    WarcBuilder,
    WetBuilder,
    from_hf_dataset,
    html_to_text,
    load_documents,
)
from trl_dsm.mining.select import SelectionConfig, select_threshold, select_top_tokens


__all__ = [
    "AnnotationPending",
    "DecontaminationConfig",
    "DedupConfig",
    "DomainConfig",
    "ExecutorConfig",
    "FastTextClassifier",
    "FastTextConfig",
    "FastTextScorer",
    "IterationReport",
    "MiningConfig",
    "MiningPipeline",
    "MiningResult",
    "SeedSpec",
    "SelectionConfig",
    "TableBuilder",
    "WarcBuilder",
    "WetBuilder",
    "from_hf_dataset",
    "html_to_text",
    "load_documents",
    "mine",
    "minhash_signatures",
    "near_dedup",
    "normalize_text",
    "normalize_url",
    "precision_at_k",
    "read_annotations",
    "score_dataset",
    "select_threshold",
    "select_top_tokens",
    "shingles",
    "to_datasketch",
    "train_classifier",
    "url_dedup_mask",
    "write_annotations",
]
