# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm demo``: the miniature DeepSeekMath run on one CPU."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from trl_dsm.configs import repeatable
from trl_dsm.demo.config import DemoConfig
from trl_dsm.demo.timing import expected_time_text


#: Exit status of a run stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130


@dataclass
class DemoArguments:
    """Options of ``trl-dsm demo``; any other :class:`~trl_dsm.demo.run.DemoConfig` field is set with ``--set``."""

    output_dir: str = field(
        default=DemoConfig.output_dir,
        metadata={
            "help": "where report.md, results.json, the plots and the models go, a few MB (DemoConfig.output_dir); "
            "an earlier demo run's files there are replaced, a directory holding other files is refused"
        },
    )
    keep_intermediates: bool = field(
        default=False,
        metadata={
            "help": "keep the stages' working directories in --output-dir (the mining run: about 100 MB per mining "
            "iteration, the trainers' directories), removed at the end otherwise"
        },
    )
    seeds: str = field(default="0", metadata={"help": "comma-separated seeds; several seeds add seeds_summary.md"})
    quick: bool = field(
        default=False,
        metadata={
            "help": f"a tiny run, {expected_time_text('quick')}: every stage at toy sizes (for tests and a first "
            "look; the numbers mean nothing)"
        },
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
        help=f"the whole DeepSeekMath recipe in miniature, offline, on one CPU ({expected_time_text()})",
        description=(
            "Mine a small math corpus with the fastText pipeline and decontaminate it, pretrain a tiny Llama from "
            "scratch, SFT it on chain-of-thought solutions, run GRPO with outcome and with process supervision (--study: "
            "also RFT, Online RFT, a learned step reward model and iterative GRPO, with scarce demonstrations) beside "
            "SFT continued as a control, and evaluate greedy accuracy, pass@k and maj@k on held-out problems. Writes "
            f"report.md, results.json, PNG plots and the models to --output-dir (./{DemoConfig.output_dir} by default; a few "
            f"MB at the end, the stages' working directories removed). Time: {expected_time_text()}; "
            f"--quick: {expected_time_text('quick')}. Nothing is downloaded. Exit status: 0 done, 2 bad input, 130 "
            "interrupted (Ctrl-C: the finished stages' records stay in results.partial.json, no report is written)."
        ),
    )
    p.set_defaults(func=_run)
    return p


#: DemoConfig fields set by their own flags (--output-dir, --seeds, --web-docs) or not from the command line.
_OWN_FLAGS = (
    "output_dir", "seed", "web_docs", "extra", "smoke_test", "study_run", "resume_from", "keep_intermediates",
)  # fmt: skip


def _parse_overrides(items: list[str]) -> dict:
    """``--set FIELD=VALUE`` items as DemoConfig keyword arguments (values as JSON, checked against the field)."""
    fields = {f.name: f for f in dataclasses.fields(DemoConfig)}
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or name not in fields or name in _OWN_FLAGS:
            valid = sorted(set(fields) - set(_OWN_FLAGS))
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {valid}")
        default = getattr(DemoConfig(), name)
        try:
            value = json.loads(raw) if not isinstance(default, str) else raw
        except json.JSONDecodeError:
            raise ValueError(f"--set {name}: {raw!r} is not a valid value") from None
        if isinstance(default, tuple):
            value = tuple(value) if isinstance(value, list) else (value,)
        expected = (int, float) if isinstance(default, float) else type(default)
        if default is not None and (
            not isinstance(value, expected) or isinstance(value, bool) != isinstance(default, bool)
        ):
            raise ValueError(f"--set {name}: {raw!r} is not of type {type(default).__name__}")
        out[name] = value
    try:
        DemoConfig(**out)  # the field checks of DemoConfig, before any stage runs
    except ValueError as exc:
        raise ValueError(f"--set: {exc}") from None
    return out


def _run(args: argparse.Namespace) -> int:
    """``trl-dsm demo``: 0 when every run finished, 130 when Ctrl-C stopped it (one line on stderr)."""
    from trl_dsm.demo.threads import configure_process

    configure_process()  # the OpenMP wait policy must be in the environment before torch loads
    (opts,) = _arguments(args)
    try:
        return _run_demo(opts)
    except KeyboardInterrupt:
        out = Path(opts.output_dir)
        print(
            f"trl-dsm demo: interrupted; no report written, the finished stages' records are in {out}/ "
            "(results.partial.json)",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_INTERRUPTED


def _arguments(args: argparse.Namespace) -> tuple[DemoArguments]:
    from trl_dsm.configs import dataclasses_from_args

    return dataclasses_from_args(args, DemoArguments)


def _run_demo(args: DemoArguments) -> int:
    from trl_dsm.demo.outputs import check_seeds_dir, prepare_output_dir
    from trl_dsm.demo.report import merge_results, write_report, write_seeds_summary
    from trl_dsm.demo.run import config_for, run_demo

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
        if any(Path(d.strip()).resolve() == out.resolve() for d in str(args.merge).split(",")):
            raise ValueError(f"--merge: --output-dir {out} is one of the merged runs; give another directory")
        cleared = prepare_output_dir(out)
        if cleared:
            print(f"[trl-dsm demo] {cleared}", flush=True)
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
    configs = []
    for seed in seeds:
        out = Path(args.output_dir) if len(seeds) == 1 else Path(args.output_dir) / f"seed-{seed}"
        configs.append(config_for(
            args.quick, args.study, output_dir=str(out), seed=seed, web_docs=args.web_docs,
            resume_from=args.resume_from, keep_intermediates=args.keep_intermediates, **overrides,
        ))  # fmt: skip
    if len(seeds) > 1:  # each seed's run checks and empties its own directory; here, only what lies beside them
        check_seeds_dir(Path(args.output_dir), seeds)
    all_results = [run_demo(cfg) for cfg in configs]
    if len(seeds) > 1:
        write_seeds_summary(all_results, Path(args.output_dir))
    return 0
