# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The ``trl-dsm`` command line. Each stage of the recipe registers a subcommand in :data:`SUBCOMMANDS`.

As in TRL's ``trl`` command, every subcommand is a ``TrlParser`` (an ``HfArgumentParser``) built from dataclasses:
the library's config where there is one (``EvalConfig``), a small arguments dataclass of the command otherwise, so
each option's default and help live once, in a field. Options take both spellings (``--output-dir`` and TRL's
``--output_dir``). Exit statuses follow :data:`trl_dsm.configs.EXIT_USAGE` and its neighbours: 0 success, 1 a
negative result (``grade`` of a wrong answer), 2 bad input or usage, 3 ``mine`` waiting for an annotation.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trl_dsm.errors import OneLineErrors, UsageError
from trl_dsm.grading.extract import Fallback


@dataclass
class GradeArguments:
    """Options of ``trl-dsm grade`` (the positional COMPLETION and GOLD are added beside them)."""

    input: Path | None = field(
        default=None, metadata={"help": "JSONL file with one record per completion (instead of COMPLETION GOLD)"}
    )
    completion_field: str = field(default="completion", metadata={"help": "field of --input holding the completion"})
    gold_field: str = field(default="answer", metadata={"help": "field of --input holding the gold answer"})
    output: Path | None = field(
        default=None, metadata={"help": "write the records with extracted answers and grades to this JSONL file"}
    )
    timeout: float | None = field(
        default=None,
        metadata={"help": "hard time bound per pair, seconds (None: $TRL_DSM_GRADE_TIMEOUT, else 2)"},
    )
    fallback: Fallback = field(
        default="last_math",
        metadata={
            "help": "answer of a completion without a boxed or marked answer: its last math expression or number "
            "(last_math), its last number (last_number), or none"
        },
    )
    num_workers: int | None = field(default=None, metadata={"help": "grading worker processes (None: CPU count)"})


def _add_grade(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.configs import dataclass_parser, set_option_type

    p = dataclass_parser(
        subparsers,
        "grade",
        [GradeArguments],
        help="grade completions against gold answers with the trl-dsm grader",
        description=(
            "Grade one completion (`trl-dsm grade 'The answer is 5' 5`) or a JSONL file of records "
            "(`trl-dsm grade --input preds.jsonl --completion-field completion --gold-field answer`). "
            "Exit status: 0 correct (or a file graded), 1 a wrong answer, 2 bad input."
        ),
    )
    p.add_argument("completion", nargs="?", help="a completion to grade (with GOLD)")
    p.add_argument("gold", nargs="?", help="the gold answer, solution or '#### N' rationale")
    set_option_type(p, "timeout", _seconds)  # checked while parsing: `argument --timeout: ...`
    p.set_defaults(func=_run_grade)


def _seconds(raw: str) -> float | None:
    """A ``--timeout`` value: finite seconds > 0 (``none``: the grader's default)."""
    if raw.lower() in ("none", "null"):
        return None
    from trl_dsm._pipeworker import check_timeout

    try:
        return check_timeout(float(raw))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("timeout", f"{raw!r}", 1)) from None


def _read_jsonl(path: Path, completion_field: str, gold_field: str) -> list[dict]:
    """Records with both fields; the completion checked here (plain text or chat messages) so a bad one is named
    by file and line instead of failing mid-grading."""
    from trl_dsm._jsonl import iter_jsonl_numbered
    from trl_dsm.rewards.math import completion_text

    records = []  # bad records raise ValueError: main() prints "trl-dsm grade: error: ..." and exits with 2
    with path.open(encoding="utf-8") as f:
        for line_no, record in iter_jsonl_numbered(f, str(path)):
            missing = [field for field in (completion_field, gold_field) if field not in record]
            if missing:
                raise ValueError(f"{path}:{line_no}: missing field(s) {missing}; the record has {sorted(record)}")
            try:
                text = completion_text(record[completion_field])
                if not isinstance(text, str):
                    raise TypeError(f"got {type(text).__name__}")
            except (TypeError, ValueError, KeyError, IndexError) as exc:
                raise ValueError(
                    f"{path}:{line_no}: field {completion_field!r} must be a string or chat messages ({exc})"
                ) from None
            records.append(record)
    return records


def _run_grade(args: argparse.Namespace) -> int:
    """``trl-dsm grade``: 0 when the pair is correct (or a file was graded), 1 when it is wrong."""
    from trl_dsm.configs import EXIT_NEGATIVE, EXIT_OK, dataclasses_from_args
    from trl_dsm.grading import grade_batch
    from trl_dsm.grading.compare import DEFAULT_TIMEOUT
    from trl_dsm.rewards.math import completion_text

    (opts,) = dataclasses_from_args(args, GradeArguments)
    timeout = DEFAULT_TIMEOUT if opts.timeout is None else opts.timeout
    if opts.input is None:
        if args.completion is None or args.gold is None:
            raise ValueError("give COMPLETION and GOLD, or --input FILE.jsonl")
        result = grade_batch([args.completion], [args.gold], timeout=timeout, fallback=opts.fallback)[0]
        print(
            json.dumps(
                {
                    "correct": result.correct,
                    "pred_answer": result.pred_answer,
                    "gold_answer": result.gold_answer,
                    "status": result.status,
                },
                ensure_ascii=False,
            )
        )
        return EXIT_OK if result.correct else EXIT_NEGATIVE
    if not opts.input.is_file():
        raise FileNotFoundError(f"--input {opts.input} does not exist")
    records = _read_jsonl(opts.input, opts.completion_field, opts.gold_field)
    if not records:  # an accuracy over nothing is no result
        raise UsageError(f"--input {opts.input}: no records (an empty file)")
    from tqdm.auto import tqdm

    results = []
    chunk = 256
    for start in tqdm(range(0, len(records), chunk), desc="grading", unit="chunk", disable=len(records) <= chunk):
        part = records[start : start + chunk]
        results += grade_batch(
            [completion_text(r[opts.completion_field]) for r in part],  # plain or chat-format
            [str(r[opts.gold_field]) for r in part],
            timeout=timeout,
            fallback=opts.fallback,
            num_workers=opts.num_workers,
        )
    if opts.output is not None:
        with opts.output.open("w", encoding="utf-8") as f:
            for record, result in zip(records, results):
                out = dict(
                    record,
                    pred_answer=result.pred_answer,
                    gold_answer=result.gold_answer,
                    correct=result.correct,
                    grade_status=result.status,
                )
                f.write(json.dumps(out, ensure_ascii=False) + "\n")
    n = max(len(results), 1)
    summary = {
        "n": len(results),
        "accuracy": sum(r.correct for r in results) / n,
        "extraction_failure_rate": sum(r.status == "no_answer" for r in results) / n,
        "timeout_rate": sum(r.status == "timeout" for r in results) / n,
    }
    print(json.dumps(summary))
    return EXIT_OK


def _add_decontaminate(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.decontamination.cli import make_parser

    make_parser(subparsers)


def _add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.eval.cli import make_parser

    make_parser(subparsers)


def _add_mine(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.mining.cli import make_parser

    make_parser(subparsers)


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.demo.cli import make_parser

    make_parser(subparsers)


#: Subcommand registrars; each adds its parser (a ``TrlParser`` on its dataclasses) to the ``trl-dsm`` command.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_grade,
    _add_decontaminate,
    _add_evaluate,
    _add_mine,
    _add_demo,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``trl-dsm`` parser: one ``TrlParser`` subparser per entry of :data:`SUBCOMMANDS` (as ``trl``'s)."""
    from trl.scripts.utils import TrlParser

    from trl_dsm import __version__

    class CommandParser(OneLineErrors, TrlParser):
        """A ``trl-dsm <cmd>`` parser: usage errors in one line ``trl-dsm <cmd>: error: ...`` (exit status 2)."""

    parser = _TopParser(
        prog="trl-dsm",
        description="The DeepSeekMath recipe (arXiv 2402.03300) on the Hugging Face stack.",
        epilog="Exit status: 0 success, 1 a negative result (grade: a wrong answer), 2 bad input or usage, "
        "3 mine waiting for an annotation file.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"trl-dsm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for register in SUBCOMMANDS:
        register(subparsers)
    for subparser in subparsers.choices.values():
        _accept_trl_spelling(subparser)
    return parser


class _TopParser(OneLineErrors, argparse.ArgumentParser):
    """The ``trl-dsm`` parser; its usage errors are one line too."""


def _accept_trl_spelling(parser: argparse.ArgumentParser) -> None:
    """Every ``--long-flag`` also answers to TRL's ``--long_flag`` spelling (``--output-dir`` and ``--output_dir``),
    so a command line written for TRL's scripts works here too."""
    for action in list(parser._actions):
        for option in list(action.option_strings):
            alias = option.replace("-", "_")
            if (
                option.startswith("--")
                and "-" in option[2:]
                and ("--" + alias[2:]) not in parser._option_string_actions
            ):
                alias = "--" + alias[2:]
                action.option_strings.append(alias)
                parser._option_string_actions[alias] = action


def _command_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The parser of ``trl-dsm <command>`` (the top-level parser without a command)."""
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices.get(command, parser) if command else parser


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """Run ``trl-dsm``; returns the exit status (0 success, 1 negative result, 2 bad input or usage, 130 Ctrl-C)."""
    from trl_dsm._extras import MissingExtraError, require_command_extras
    from trl_dsm.configs import EXIT_USAGE, error_line

    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # named by the subcommand that got them, with the closest option
        from trl_dsm.errors import unknown_options

        sub = _command_parser(parser, args.command)
        flags = [a for a in extras if a.startswith("-")]
        sub.error(unknown_options(flags, sub) if flags else f"unexpected argument(s) {' '.join(extras)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        require_command_extras(args.command)  # `mine` and `demo` without [mining]: the pip line, exit status 2
        return args.func(args)
    # bad input, or a missing extra: one line
    except (FileNotFoundError, NotADirectoryError, KeyError, ValueError, TypeError, MissingExtraError) as exc:
        print(error_line(args.command, exc), file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # `raise SystemExit("message")` of a command is bad input too (not exit status 1)
        if not isinstance(exc.code, str):
            raise
        print(error_line(args.command, exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's status for SIGINT (the demo reports its own first)
        print(f"trl-dsm {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
