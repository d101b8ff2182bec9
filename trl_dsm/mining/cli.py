# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm mine --config recipes/mining/<name>.yaml``: run (or resume) the corpus-mining pipeline (§2.1)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


#: Exit status when domain discovery waits for a person to label an annotation file.
EXIT_ANNOTATION_PENDING = 3


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "mine",
        help="mine a math corpus from web pages: dedup, fastText classifier, domain discovery (DeepSeekMath §2.1)",
        description=(
            "Run the mining pipeline of a YAML recipe. Rerunning the same command resumes a killed or paused run "
            "(e.g. after labelling the domain-discovery annotation file)."
        ),
    )
    p.add_argument("--config", type=Path, required=True, help="YAML recipe (see recipes/mining/)")
    p.add_argument("--output-dir", default=None, help="override the recipe's output_dir")
    p.add_argument("--overwrite", action="store_true", help="delete an existing run in output_dir and start over")
    p.add_argument(
        "--executor",
        choices=["local", "datatrove-local", "datatrove-slurm", "datatrove-ray", "slurm", "ray"],
        default=None,
        help="override executor.kind",
    )
    p.add_argument("--workers", type=int, default=None, help="override executor.workers")
    p.add_argument("--push-to-hub", metavar="REPO_ID", default=None, help="upload the corpus as a dataset repo")
    p.add_argument("--private", action="store_true", help="create the Hub repository as private")
    p.add_argument(
        "--dry-run",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --push-to-hub: write the exact files of the upload under DIR instead of uploading",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trl_dsm.mining.config import MiningConfig

    config = MiningConfig.from_yaml(args.config)  # a missing or bad file fails here, before the heavy imports

    from trl_dsm.mining.card import push_export
    from trl_dsm.mining.executors import ALIASES
    from trl_dsm.mining.pipeline import AnnotationPending, MiningPipeline

    if args.output_dir:
        config.output_dir = args.output_dir
    if args.executor:
        config.executor.kind = ALIASES.get(args.executor, args.executor)
    if args.workers:
        config.executor.workers = args.workers
    if args.push_to_hub:
        config.repo_id = args.push_to_hub
    try:
        result = MiningPipeline(config, overwrite=args.overwrite).run()
    except AnnotationPending as pending:
        print(f"trl-dsm mine: {pending}", file=sys.stderr)
        return EXIT_ANNOTATION_PENDING
    stats = result.stats
    summary = {
        "output_dir": str(result.output_dir),
        "documents_in": stats["documents_in"],
        "after_dedup": stats["dedup"]["kept"],
        "documents_out": stats["documents_out"],
        "iterations": [
            {k: r[k] for k in ("iteration", "collected", "new", "overlap_with_previous")} for r in stats["iterations"]
        ],
        "export": str(result.output_dir / "export"),
    }
    if args.push_to_hub:
        target = push_export(result.output_dir / "export", args.push_to_hub, args.dry_run, args.private or None)
        summary["pushed"] = str(target) if args.dry_run else args.push_to_hub
    print(json.dumps(summary, indent=2))
    return 0
