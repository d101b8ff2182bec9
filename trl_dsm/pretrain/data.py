# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Continued-pretraining data (DeepSeekMath §2.2.1, §3.1): a weighted mixture of text sources, tokenized and packed
into context-length blocks.

Each source is tokenized (an EOS after every document) and packed on its own into blocks of ``block_size`` tokens;
the blocks of all sources are then interleaved with ``datasets.interleave_datasets(probabilities=weights)``. Every
block holds the same number of tokens, so the weights are shares of *tokens*, as in the paper's mixture (56%
DeepSeekMath Corpus, 4% AlgebraicStack, 10% arXiv, 20% GitHub code, 10% Common Crawl natural language).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from datasets import Dataset, IterableDataset, interleave_datasets, load_dataset

from trl_dsm.errors import UsageError, check_data_files, check_not_empty


@dataclass
class PretrainSource:
    """One source of the mixture: the arguments of ``datasets.load_dataset`` plus its text column and weight.

    ``path`` is a Hub id, a builder name (``json``, ``parquet``, ``text``) with ``data_files``, or a local directory.
    """

    path: str
    weight: float = 1.0
    name: str | None = None
    data_dir: str | None = None
    data_files: str | list[str] | dict[str, str] | None = None
    split: str = "train"
    text_column: str = "text"
    revision: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.weight, int | float) and math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"source {self.path!r}: weight must be a positive number, got {self.weight!r}")


#: DeepSeekMath-Base's mixture (§3.1) as shares of training tokens. The Hub ids are public stand-ins: the
#: DeepSeekMath Corpus itself was never released (build yours with `trl-dsm mine`, docs/mining.md).
PAPER_MIXTURE: dict[str, float] = {
    "deepseekmath_corpus": 0.56,
    "algebraic_stack": 0.04,
    "arxiv": 0.10,
    "github_code": 0.20,
    "common_crawl": 0.10,
}


def coerce_sources(sources: list[PretrainSource | dict[str, Any]]) -> list[PretrainSource]:
    """Sources from dataclasses or plain dicts (YAML) through :func:`trl_dsm.configs.from_dict`: an unknown key, a
    missing ``path`` or a value of the wrong type is an error naming ``datasets[i]`` and the key."""
    from trl_dsm.configs import from_dict

    out = [from_dict(PretrainSource, source, f"datasets[{i}]") for i, source in enumerate(sources)]
    if not out:
        raise UsageError("the pretraining mixture needs at least one source (`datasets:` in the config)")
    return out


def mixture_probabilities(sources: list[PretrainSource]) -> list[float]:
    """The weights normalized to sum to one (the sampling probabilities of blocks)."""
    total = sum(s.weight for s in sources)
    return [s.weight / total for s in sources]


def pack_into_blocks(input_ids: list[list[int]], block_size: int) -> list[list[int]]:
    """Concatenate token lists and cut them into blocks of exactly ``block_size``; the tail shorter than a block is
    dropped (the usual causal-LM grouping; with ``map(batched=True)`` at most one block per batch is lost)."""
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    flat = [token for ids in input_ids for token in ids]
    usable = len(flat) - len(flat) % block_size
    return [flat[i : i + block_size] for i in range(0, usable, block_size)]


def _tokenize_and_pack(batch: dict[str, list], tokenizer, text_column: str, block_size: int, add_eos: bool) -> dict:
    texts = batch[text_column]
    if any(not isinstance(t, str) for t in texts):
        bad = next(t for t in texts if not isinstance(t, str))
        raise TypeError(f"column {text_column!r} must hold strings, found {type(bad).__name__}")
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    if add_eos:
        ids = [x + [tokenizer.eos_token_id] for x in ids]
    return {"input_ids": pack_into_blocks(ids, block_size)}


def load_source(source: PretrainSource, streaming: bool = False) -> Dataset | IterableDataset:
    """``datasets.load_dataset`` with the source's arguments; an empty local file, no rows or a missing text column
    is an error naming the source."""
    check_data_files(source.data_files, f"source {source.path!r} data_files")
    dataset = load_dataset(
        source.path,
        name=source.name,
        data_dir=source.data_dir,
        data_files=source.data_files,
        split=source.split,
        revision=source.revision,
        streaming=streaming,
    )
    if isinstance(dataset, Dataset):
        check_not_empty(dataset, f"source {source.path!r}")
    columns = dataset.column_names
    if columns is not None and source.text_column not in columns:
        raise UsageError(
            f"source {source.path!r} has no text column {source.text_column!r} (columns: {columns}); "
            "set `text_column` for it"
        )
    return dataset


def tokenize_and_pack(
    dataset: Dataset | IterableDataset,
    tokenizer,
    block_size: int,
    text_column: str = "text",
    num_proc: int | None = None,
    batch_size: int = 1000,
    add_eos: bool = True,
) -> Dataset | IterableDataset:
    """Tokenize ``text_column`` (EOS after each document) and pack into ``block_size``-token blocks (``input_ids``)."""
    if add_eos and tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no eos_token: set one, or pass add_eos=False")
    kwargs: dict[str, Any] = dict(
        batched=True,
        batch_size=batch_size,
        remove_columns=dataset.column_names,
        fn_kwargs=dict(tokenizer=tokenizer, text_column=text_column, block_size=block_size, add_eos=add_eos),
    )
    if isinstance(dataset, Dataset):
        kwargs.update(num_proc=num_proc, desc=f"Tokenizing and packing into {block_size}-token blocks")
    return dataset.map(_tokenize_and_pack, **kwargs)


def build_pretrain_dataset(
    sources: list[PretrainSource | dict[str, Any]],
    tokenizer,
    block_size: int = 4096,
    *,
    seed: int = 42,
    stopping_strategy: str = "all_exhausted",
    streaming: bool = False,
    num_proc: int | None = None,
    datasets: list[Dataset | IterableDataset] | None = None,
) -> Dataset | IterableDataset:
    """The packed, weighted pretraining mixture: a dataset of ``input_ids`` blocks of ``block_size`` tokens.

    Args:
        sources: the mixture (``PretrainSource`` or dicts with its fields); weights need not sum to one.
        tokenizer: a ``transformers`` tokenizer with an EOS token.
        block_size: the context length (4096 in §2.2.1).
        stopping_strategy: of ``interleave_datasets``. ``"all_exhausted"`` (default) oversamples small sources to
            keep the weights, as a fixed token budget over sources of unequal size needs (§3.1 trains 500B tokens on
            a 120B-token corpus); ``"first_exhausted"`` stops at the first exhausted source.
        streaming: load sources as ``IterableDataset`` (then train with ``max_steps``).
        datasets: already loaded datasets, one per source, instead of loading them (``path`` is then a label).
    """
    sources = coerce_sources(sources)
    if datasets is not None and len(datasets) != len(sources):
        raise ValueError(f"got {len(datasets)} datasets for {len(sources)} sources")
    packed = []
    for i, source in enumerate(sources):
        dataset = datasets[i] if datasets is not None else load_source(source, streaming)
        if source.text_column not in (dataset.column_names or [source.text_column]):
            raise UsageError(f"source {source.path!r} has no text column {source.text_column!r}")
        blocks = tokenize_and_pack(dataset, tokenizer, block_size, source.text_column, num_proc)
        if isinstance(blocks, Dataset) and len(blocks) == 0:
            raise UsageError(f"source {source.path!r} holds fewer than {block_size} tokens: not one full block")
        packed.append(blocks)
    if len(packed) == 1:
        return packed[0]
    return interleave_datasets(
        packed, probabilities=mixture_probabilities(sources), seed=seed, stopping_strategy=stopping_strategy
    )


def collate_blocks(features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Batch equal-length blocks: ``input_ids`` and ``labels`` (the same ids; the model shifts them)."""
    input_ids = torch.tensor([f["input_ids"] for f in features], dtype=torch.long)
    return {"input_ids": input_ids, "labels": input_ids.clone()}


def source_summary(sources: list[PretrainSource]) -> list[dict[str, Any]]:
    """The mixture as plain dicts with normalized token shares (model cards, logs)."""
    return [dict(asdict(s), share=p) for s, p in zip(sources, mixture_probabilities(sources))]
