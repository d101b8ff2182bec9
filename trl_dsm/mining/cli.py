# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm mine --config recipes/mining/<name>.yaml``: run (or resume) the corpus-mining pipeline (§2.1)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from trl_dsm.configs import EXIT_PAUSED


#: Exit status when domain discovery waits for a person to label an annotation file.
EXIT_ANNOTATION_PENDING = EXIT_PAUSED


@dataclass
class MineArguments:
    """Options of ``trl-dsm mine`` beside ``--config`` (the recipe, a :class:`~trl_dsm.mining.config.MiningConfig`
    in YAML): overrides of the recipe and the Hub upload. ``executor`` takes ``executors.KINDS`` and their
    ``ALIASES`` (a test compares)."""

    output_dir: str | None = field(default=None, metadata={"help": "override the recipe's output_dir"})
    overwrite: bool = field(default=False, metadata={"help": "delete an existing run in output_dir and start over"})
    executor: Literal["local", "datatrove-slurm", "datatrove-ray", "datatrove-local", "ray", "slurm"] | None = field(
        default=None, metadata={"help": "override executor.kind"}
    )
    workers: int | None = field(default=None, metadata={"help": "override executor.workers"})
    push_to_hub: str | None = field(
        default=None, metadata={"help": "upload the corpus as a dataset repo", "metavar": "REPO_ID"}
    )
    private: bool = field(default=False, metadata={"help": "create the Hub repository as private"})
    dry_run: Path | None = field(
        default=None,
        metadata={
            "help": "with --push-to-hub: write the exact files of the upload under DIR instead of uploading",
            "metavar": "DIR",
        },
    )


#: Help of ``--config``: TRL's ``TrlParser`` reserves the name for a YAML file, so it is no dataclass field.
CONFIG_HELP = "YAML recipe, a MiningConfig (see recipes/mining/)"


def make_parser(subparsers: argparse._SubParsersAction | None = None) -> argparse.ArgumentParser:
    """The ``trl-dsm mine`` parser: ``--config`` and a ``TrlParser`` on :class:`MineArguments`."""
    from trl_dsm.configs import dataclass_parser

    p = dataclass_parser(
        subparsers,
        "mine",
        [MineArguments],
        help="mine a math corpus from web pages: dedup, fastText classifier, domain discovery (DeepSeekMath §2.1)",
        description=(
            "Run the mining pipeline of a YAML recipe. Rerunning the same command resumes a killed or paused run "
            "(e.g. after labelling the domain-discovery annotation file; exit status 3 while it waits)."
        ),
    )
    p.add_argument("--config", type=Path, required=True, default=argparse.SUPPRESS, help=CONFIG_HELP)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """``trl-dsm mine``: run or resume the recipe's pipeline and print its summary."""
    from trl_dsm.configs import ConfigError, dataclasses_from_args, load_yaml

    data = load_yaml(args.config)  # a missing file or bad YAML fails here, before the heavy imports
    config_path = args.config
    (args,) = dataclasses_from_args(args, MineArguments)

    from trl_dsm.mining.config import MiningConfig

    try:
        config = MiningConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{config_path}: {exc}") from None

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
    if stats.get("known_positives"):
        from trl_dsm.mining.known import summary_line

        summary["known_positives"] = summary_line(stats["known_positives"])
    if args.push_to_hub:
        target = push_export(result.output_dir / "export", args.push_to_hub, args.dry_run, args.private or None)
        summary["pushed"] = str(target) if args.dry_run else args.push_to_hub
    print(json.dumps(summary, indent=2))
    return 0
