# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm demo``: the miniature DeepSeekMath run on one CPU."""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from trl_dsm.configs import repeatable
from trl_dsm.demo.run import DemoConfig


@dataclass
class DemoArguments:
    """Options of ``trl-dsm demo``; any other :class:`~trl_dsm.demo.run.DemoConfig` field is set with ``--set``."""

    output_dir: str = field(
        default=DemoConfig.output_dir,
        metadata={"help": "where report.md, results.json, the plots and the models go (DemoConfig.output_dir)"},
    )
    seeds: str = field(default="0", metadata={"help": "comma-separated seeds; several seeds add seeds_summary.md"})
    quick: bool = field(
        default=False,
        metadata={"help": "a tiny run of about a minute (for tests and a first look; numbers mean nothing)"},
    )
    study: bool = field(
        default=False,
        metadata={
            "help": "the §5.2 study: 300 worked solutions, 4000 questions with answers only, every arm (RFT, Online "
            "RFT, GRPO outcome/process, learned PRM, iterative) against continued SFT; hours per seed on 2 CPU "
            "cores (estimate at start, docs/demo.md); with --quick, every arm at toy sizes"
        },
    )
    resume_from: str | None = field(
        default=None,
        metadata={
            "help": "an earlier run's --output-dir with the same settings: reuse its tokenizer, SFT model and "
            "evaluations and run only the arms given by --set arms=... (with --set sft_control=false: no control)",
            "metavar": "DIR",
        },
    )
    merge: str | None = field(
        default=None,
        metadata={
            "help": "merge the results.json of runs that ran different arms of one run (--resume-from) into one "
            "report in --output-dir; nothing is trained",
            "metavar": "DIR,DIR,...",
        },
    )
    web_docs: str | None = field(
        default=None, metadata={"help": "JSONL of real web pages (url, text) to add to the crawl"}
    )
    set: list[str] = repeatable("override a DemoConfig field, e.g. --set grpo_steps=40 (repeatable)", "FIELD=VALUE")


def make_parser(subparsers: argparse._SubParsersAction | None = None) -> argparse.ArgumentParser:
    """The ``trl-dsm demo`` parser (a ``TrlParser`` on :class:`DemoArguments`)."""
    from trl_dsm.configs import dataclass_parser

    p = dataclass_parser(
        subparsers,
        "demo",
        [DemoArguments],
        help="the whole DeepSeekMath recipe in miniature, offline, on one CPU (about 11 minutes; --quick: 1)",
        description=(
            "Mine a small math corpus with the fastText pipeline and decontaminate it, pretrain a tiny Llama from "
            "scratch, SFT it on chain-of-thought solutions, run GRPO with outcome and with process supervision (--study: "
            "also RFT, Online RFT, a learned step reward model and iterative GRPO, with scarce demonstrations) beside "
            "SFT continued as a control, and evaluate greedy accuracy, pass@k and maj@k on held-out problems. Writes "
            "report.md, results.json and PNG plots to --output-dir. Nothing is downloaded."
        ),
    )
    p.set_defaults(func=_run)
    return p


#: DemoConfig fields set by their own flags (--output-dir, --seeds, --web-docs) or not from the command line.
_OWN_FLAGS = ("output_dir", "seed", "web_docs", "extra", "smoke_test", "study_run", "resume_from")


def _parse_overrides(items: list[str]) -> dict:
    """``--set FIELD=VALUE`` items as DemoConfig keyword arguments (values as JSON, checked against the field)."""
    fields = {f.name: f for f in dataclasses.fields(DemoConfig)}
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or name not in fields or name in _OWN_FLAGS:
            valid = sorted(set(fields) - set(_OWN_FLAGS))
            raise SystemExit(f"trl-dsm demo: --set {item!r}: expected FIELD=VALUE with FIELD one of {valid}")
        default = getattr(DemoConfig(), name)
        try:
            value = json.loads(raw) if not isinstance(default, str) else raw
        except json.JSONDecodeError:
            raise SystemExit(f"trl-dsm demo: --set {name}: {raw!r} is not a valid value") from None
        if isinstance(default, tuple):
            value = tuple(value) if isinstance(value, list) else (value,)
        expected = (int, float) if isinstance(default, float) else type(default)
        if default is not None and (
            not isinstance(value, expected) or isinstance(value, bool) != isinstance(default, bool)
        ):
            raise SystemExit(f"trl-dsm demo: --set {name}: {raw!r} is not of type {type(default).__name__}")
        out[name] = value
    try:
        DemoConfig(**out)  # the field checks of DemoConfig, before any stage runs
    except ValueError as exc:
        raise SystemExit(f"trl-dsm demo: --set: {exc}") from None
    return out


def _run(args: argparse.Namespace) -> int:
    from trl_dsm.configs import dataclasses_from_args
    from trl_dsm.demo.report import merge_results, write_report, write_seeds_summary
    from trl_dsm.demo.run import config_for, run_demo

    (args,) = dataclasses_from_args(args, DemoArguments)

    if args.merge:
        parts = []
        for d in str(args.merge).split(","):
            path = Path(d.strip()) / "results.json"
            if not path.is_file():
                raise FileNotFoundError(f"--merge: {path} does not exist")
            parts.append(json.loads(path.read_text()))
        try:
            merged = merge_results(parts)
        except ValueError as exc:
            raise ValueError(f"--merge: {exc}") from None
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(merged, indent=2))
        write_report(merged, out)
        return 0

    try:
        seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    if args.web_docs and not Path(args.web_docs).is_file():
        raise FileNotFoundError(f"--web-docs {args.web_docs} does not exist")
    overrides = _parse_overrides(args.set)
    all_results = []
    for seed in seeds:
        out = Path(args.output_dir) if len(seeds) == 1 else Path(args.output_dir) / f"seed-{seed}"
        cfg = config_for(
            args.quick, args.study, output_dir=str(out), seed=seed, web_docs=args.web_docs,
            resume_from=args.resume_from, **overrides,
        )  # fmt: skip
        all_results.append(run_demo(cfg))
    if len(seeds) > 1:
        write_seeds_summary(all_results, Path(args.output_dir))
    return 0
