# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Corpus mining (DeepSeekMath §2.1): readers as ``datasets`` builders, URL and MinHash dedup, a fastText math
classifier, selection, iterative domain discovery, and a resumable pipeline (``mine`` / ``trl-dsm mine``). Names
load on first use (``trl-dsm --help`` imports none of fastText, numba, trafilatura or datasets)."""

from trl_dsm._lazy import lazy_exports


_EXPORTS = {
    **dict.fromkeys(
        ("FastTextClassifier", "FastTextConfig", "FastTextScorer", "normalize_text", "precision_at_k",
         "score_dataset", "train_classifier"),
        "trl_dsm.mining.classifier",
    ),
    **dict.fromkeys(
        ("DecontaminationConfig", "DedupConfig", "ExtractionConfig", "MiningConfig", "SeedSpec"), "trl_dsm.mining.config"
    ),
    **dict.fromkeys(("minhash_signatures", "shingles", "to_datasketch"), "trl_dsm.mining.minhash"),
    "near_dedup": "trl_dsm.mining.lsh",
    "normalize_url": "trl_dsm.mining.urls",
    **dict.fromkeys(
        ("DomainConfig", "IterationReport", "read_annotations", "write_annotations"), "trl_dsm.mining.domains"
    ),
    "ExecutorConfig": "trl_dsm.mining.executors",
    **dict.fromkeys(("AnnotationPending", "MiningPipeline", "MiningResult", "mine"), "trl_dsm.mining.pipeline"),
    **dict.fromkeys(
        ("TableBuilder", "WarcBuilder", "WetBuilder", "from_hf_dataset", "load_documents"), "trl_dsm.mining.readers"
    ),
    "html_to_text": "trl_dsm.mining.html_text",
    **dict.fromkeys(("SelectionConfig", "select_threshold", "select_top_tokens"), "trl_dsm.mining.select"),
}  # fmt: skip
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
