# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm decontaminate``: remove benchmark contamination from a dataset and write the clean data, a
report (JSONL), a summary and the dataset-card section."""

from __future__ import annotations

import argparse
import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from trl_dsm.configs import repeatable


@dataclass
class DecontaminateArguments:
    """Options of ``trl-dsm decontaminate``: the input, the benchmark index (:func:`~trl_dsm.decontamination.pipeline.
    build_index`), how matches are removed (:func:`~trl_dsm.decontamination.pipeline.decontaminate_dataset`) and the
    outputs. ``mode``/``segment_by`` take the values of ``decontaminate.Mode``/``SegmentBy`` (a test compares)."""

    input: str = field(metadata={"help": "Hub id, directory, or JSONL/Parquet file(s) (globs, comma-separated)"})
    output_dir: Path = field(
        metadata={"help": "where data.jsonl (or --format), report.jsonl, summary.json and summary.md go"}
    )
    split: str = field(default="train", metadata={"help": "split of a Hub/directory dataset"})
    column: str = field(default="text", metadata={"help": "text column to decontaminate"})
    benchmarks: str = field(default="all", metadata={"help": "comma-separated benchmark names, 'agieval', or 'all'"})
    benchmarks_dir: Path | None = field(
        default=None,
        metadata={
            "help": "read benchmarks from local JSONL copies laid out like shared/data/benchmarks instead of the Hub"
        },
    )
    extra_benchmark: list[str] = repeatable(
        "also index another dataset's fields, e.g. inhouse=evals.jsonl:question,answer (repeatable)",
        "NAME=SOURCE:FIELD[,FIELD]",
    )
    mode: Literal["segment", "document"] = field(
        default="segment",
        metadata={
            "help": "segment: drop the contaminated segments and keep the rest of each text; document: drop the "
            "whole text (the paper's rule for web pages)"
        },
    )
    segment_by: Literal["paragraph", "line", "document"] = field(
        default="paragraph", metadata={"help": "what a segment is in --mode segment"}
    )
    ngram: int = field(default=10, metadata={"help": "n-gram size (the paper's 10)"})
    num_proc: int | None = field(default=None, metadata={"help": "datasets.map worker processes (None: one)"})
    format: Literal["jsonl", "parquet", "arrow"] = field(
        default="jsonl",
        metadata={"help": "format of the clean data: data.jsonl, data.parquet, or an Arrow save_to_disk directory"},
    )
    save_index: Path | None = field(default=None, metadata={"help": "also save the built index to this directory"})
    index: Path | None = field(default=None, metadata={"help": "load a saved index instead of building one"})


def make_parser(subparsers: argparse._SubParsersAction | None = None) -> argparse.ArgumentParser:
    """The ``trl-dsm decontaminate`` parser (a ``TrlParser`` on :class:`DecontaminateArguments`)."""
    from trl_dsm.configs import dataclass_parser

    p = dataclass_parser(
        subparsers,
        "decontaminate",
        [DecontaminateArguments],
        help="drop text that contains 10-grams of the evaluation benchmarks (DeepSeekMath §2.1)",
        description=(
            "Decontaminate a dataset (Hub id, save_to_disk directory, data directory, or JSONL/Parquet files) "
            "against GSM8K, MATH, MATH-500, CMATH, MGSM-zh and AGIEval questions and answers."
        ),
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """``trl-dsm decontaminate``: build (or load) the index, write the clean data and the report."""
    from trl_dsm.configs import dataclasses_from_args
    from trl_dsm.decontamination.index import NgramIndex
    from trl_dsm.decontamination.pipeline import build_index, decontaminate_dataset, load_input, parse_extra_benchmark
    from trl_dsm.errors import check_data_files, check_not_empty

    (args,) = dataclasses_from_args(args, DecontaminateArguments)
    for flag, path in (("--index", args.index), ("--benchmarks-dir", args.benchmarks_dir)):
        if path is not None and not path.is_dir():
            raise FileNotFoundError(f"{flag} {path} is not a directory")
    for part in args.input.split(","):  # local files: an empty one is bad input, named
        if Path(part).is_file() or (glob.has_magic(part) and glob.glob(part)):
            check_data_files(part, "--input")
    dataset = load_input(args.input, split=args.split)  # a missing input fails before the index is built
    check_not_empty(dataset, f"--input {args.input}")
    if args.index is not None:
        index = NgramIndex.load(args.index)
    else:
        extra = [text for spec in args.extra_benchmark for text in parse_extra_benchmark(spec)]
        index = build_index(args.benchmarks, args.benchmarks_dir, extra, n=args.ngram)
    if args.save_index is not None:
        index.save(args.save_index)
    clean, report = decontaminate_dataset(
        dataset, args.column, index=index, mode=args.mode, segment_by=args.segment_by, num_proc=args.num_proc
    )
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    if args.format == "jsonl":
        clean.to_json(str(out / "data.jsonl"), force_ascii=False)
    elif args.format == "parquet":
        clean.to_parquet(str(out / "data.parquet"))
    else:
        clean.save_to_disk(str(out / "data"))
    report.write(out)
    print(report.table())
    print(json.dumps({k: v for k, v in report.summary.items() if k != "by_benchmark"}))
    return 0
