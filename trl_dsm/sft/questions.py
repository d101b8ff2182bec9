# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Question datasets for RL (§4.2: "chain-of-thought-format questions related to GSM8K and MATH") and for small SFT
runs: GSM8K / MATH by Hub id, or local JSONL files (``shared/data/benchmarks`` layout), as chat prompts with golds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets import Dataset, concatenate_datasets, load_dataset

from trl_dsm.benchmarks import BENCHMARKS
from trl_dsm.errors import UsageError, check_data_files, check_not_empty
from trl_dsm.prompts import format_question


#: The RL question sources by name: their Hub ids, configs and local train files come from the benchmark registry.
QUESTION_SOURCES = ("gsm8k", "math")


def hub_dataset_id(source: str) -> str:
    """The Hub id behind a question source name (``gsm8k`` -> ``openai/gsm8k``); other sources unchanged."""
    return BENCHMARKS[source].hub_id if source in QUESTION_SOURCES else source


QUESTION_COLUMNS = ("question", "problem", "query")
GOLD_COLUMNS = ("answer", "solution", "golden")


def load_math_dataset(source: str, split: str = "train", data_dir: str | None = None) -> Dataset:
    """A question dataset by name (``gsm8k``, ``math``), Hub id, or JSON/JSONL file.

    ``data_dir``: a local directory laid out like ``shared/data/benchmarks`` (``<dir>/gsm8k/train.jsonl``,
    ``<dir>/math/train.jsonl``), used instead of the Hub for ``gsm8k`` and ``math``.
    """
    path = Path(source)
    if path.suffix in (".json", ".jsonl") or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"question file not found: {source}")
        check_data_files(str(path), "question file")
        return load_dataset("json", data_files=str(path), split="train")
    if source in QUESTION_SOURCES:
        spec = BENCHMARKS[source]
        if data_dir is not None:
            relative = {"train": spec.train_file, "test": spec.local_file}.get(split) or f"{source}/{split}.jsonl"
            local = Path(data_dir) / relative
            if not local.is_file():
                raise FileNotFoundError(f"{source}: no local file {local} (data_dir={data_dir})")
            check_data_files(str(local), f"{source} question file")
            return load_dataset("json", data_files=str(local), split="train")
        return concatenate_datasets([load_dataset(spec.hub_id, config, split=split) for config in spec.hub_configs])
    return load_dataset(source, split=split)


def _first_column(columns: list[str], candidates: tuple[str, ...], what: str, source: str) -> str:
    for name in candidates:
        if name in columns:
            return name
    raise UsageError(f"{source}: no {what} column (looked for {list(candidates)} in {columns}); set it explicitly")


def build_question_dataset(
    dataset: Dataset,
    fmt: str = "cot",
    question_column: str | None = None,
    gold_column: str | None = None,
    conversational: bool = True,
    source: str = "dataset",
    num_proc: int | None = None,
) -> Dataset:
    """Rows ``{prompt, answer, source}``: the prompt is the question plus the format's instruction, as a chat
    (``[{"role": "user", ...}]``) or plain text; ``answer`` is the gold (a GSM8K ``#### 72`` answer or a MATH
    solution are fine: the grader extracts the final answer)."""
    columns = dataset.column_names
    question_column = question_column or _first_column(columns, QUESTION_COLUMNS, "question", source)
    gold_column = gold_column or _first_column(columns, GOLD_COLUMNS, "gold answer", source)

    def convert(example: dict[str, Any]) -> dict[str, Any]:
        text = format_question(example[question_column], fmt)
        prompt = [{"role": "user", "content": text}] if conversational else text
        return {"prompt": prompt, "answer": str(example[gold_column]), "source": source}

    return dataset.map(convert, remove_columns=columns, num_proc=num_proc, desc=f"Formatting {source} questions")


def load_questions(
    sources: list[str],
    split: str = "train",
    data_dir: str | None = None,
    fmt: str = "cot",
    conversational: bool = True,
    num_proc: int | None = None,
) -> Dataset:
    """:func:`load_math_dataset` + :func:`build_question_dataset` for each source, concatenated (GSM8K + MATH for
    the paper's RL run). A source without questions is an error naming it."""
    parts = []
    for s in sources:
        rows = load_math_dataset(s, split, data_dir)
        check_not_empty(rows, f"question source {s!r} (split {split!r})")
        parts.append(build_question_dataset(rows, fmt, conversational=conversational, source=s, num_proc=num_proc))
    if not parts:
        raise UsageError("no question sources given (dataset_name)")
    return concatenate_datasets(parts)
