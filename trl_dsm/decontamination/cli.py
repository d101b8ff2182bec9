# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm decontaminate``: remove benchmark contamination from a dataset and write the clean data, a
report (JSONL), a summary and the dataset-card section."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "decontaminate",
        help="drop text that contains 10-grams of the evaluation benchmarks (DeepSeekMath §2.1)",
        description=(
            "Decontaminate a dataset (Hub id, save_to_disk directory, data directory, or JSONL/Parquet files) "
            "against GSM8K, MATH, MATH-500, CMATH, MGSM-zh and AGIEval questions and answers."
        ),
    )
    p.add_argument(
        "--input", required=True, help="Hub id, directory, or JSONL/Parquet file(s) (globs, comma-separated)"
    )
    p.add_argument("--split", default="train", help="split of a Hub/directory dataset (default: train)")
    p.add_argument("--column", default="text", help="text column to decontaminate (default: text)")
    p.add_argument("--benchmarks", default="all", help="comma-separated names, 'agieval', or 'all' (default)")
    p.add_argument(
        "--benchmarks-dir",
        type=Path,
        default=None,
        help="read benchmarks from local JSONL copies laid out like shared/data/benchmarks instead of the Hub",
    )
    p.add_argument(
        "--extra-benchmark",
        action="append",
        default=[],
        metavar="NAME=SOURCE:FIELD[,FIELD]",
        help="also index another dataset's fields, e.g. inhouse=evals.jsonl:question,answer (repeatable)",
    )
    p.add_argument("--mode", choices=["segment", "document"], default="segment")
    p.add_argument("--segment-by", choices=["paragraph", "line", "document"], default="paragraph")
    p.add_argument("--ngram", type=int, default=10, help="n-gram size (default: 10, the paper's)")
    p.add_argument("--num-proc", type=int, default=None, help="datasets.map worker processes")
    p.add_argument("--output-dir", type=Path, required=True)
    p.add_argument("--format", choices=["jsonl", "parquet", "arrow"], default="jsonl", help="clean data format")
    p.add_argument("--save-index", type=Path, default=None, help="also save the built index to this directory")
    p.add_argument("--index", type=Path, default=None, help="load a saved index instead of building one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trl_dsm.decontamination.index import NgramIndex
    from trl_dsm.decontamination.pipeline import build_index, decontaminate_dataset, load_input, parse_extra_benchmark

    if args.index is not None:
        index = NgramIndex.load(args.index)
    else:
        extra = [text for spec in args.extra_benchmark for text in parse_extra_benchmark(spec)]
        index = build_index(args.benchmarks, args.benchmarks_dir, extra, n=args.ngram)
    if args.save_index is not None:
        index.save(args.save_index)
    dataset = load_input(args.input, split=args.split)
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
