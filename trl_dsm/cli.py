# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The ``trl-dsm`` command line. Each stage of the recipe registers a subcommand in :data:`SUBCOMMANDS`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path


def _add_grade(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "grade",
        help="grade completions against gold answers with the trl-dsm grader",
        description=(
            "Grade one completion (`trl-dsm grade 'The answer is 5' 5`) or a JSONL file of records "
            "(`trl-dsm grade --input preds.jsonl --completion-field completion --gold-field answer`)."
        ),
    )
    p.add_argument("completion", nargs="?", help="a completion to grade (with GOLD)")
    p.add_argument("gold", nargs="?", help="the gold answer, solution or '#### N' rationale")
    p.add_argument("--input", type=Path, help="JSONL file with one record per completion")
    p.add_argument(
        "--completion-field", default="completion", help="field holding the completion (default: completion)"
    )
    p.add_argument("--gold-field", default="answer", help="field holding the gold (default: answer)")
    p.add_argument("--output", type=Path, help="write records with extracted answers and grades to this JSONL file")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        help="hard time bound per pair, seconds (default: $TRL_DSM_GRADE_TIMEOUT, else 2)",
    )
    p.add_argument("--fallback", choices=["last_math", "last_number", "none"], default="last_math")
    p.add_argument("--num-workers", type=int, default=None, help="grading worker processes (default: CPU count)")
    p.set_defaults(func=_run_grade)


def _seconds(raw: str) -> float:
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
    from trl_dsm.grading import grade_batch
    from trl_dsm.grading.compare import DEFAULT_TIMEOUT
    from trl_dsm.rewards.math import completion_text

    if args.timeout is None:
        args.timeout = DEFAULT_TIMEOUT

    if args.input is None:
        if args.completion is None or args.gold is None:
            raise SystemExit("trl-dsm grade: give COMPLETION and GOLD, or --input FILE.jsonl")
        result = grade_batch([args.completion], [args.gold], timeout=args.timeout, fallback=args.fallback)[0]
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
        return 0 if result.correct else 1
    if not args.input.is_file():
        raise SystemExit(f"trl-dsm grade: --input {args.input} does not exist")
    records = _read_jsonl(args.input, args.completion_field, args.gold_field)
    from tqdm.auto import tqdm

    results = []
    chunk = 256
    for start in tqdm(range(0, len(records), chunk), desc="grading", unit="chunk", disable=len(records) <= chunk):
        part = records[start : start + chunk]
        results += grade_batch(
            [completion_text(r[args.completion_field]) for r in part],  # plain or chat-format
            [str(r[args.gold_field]) for r in part],
            timeout=args.timeout,
            fallback=args.fallback,
            num_workers=args.num_workers,
        )
    if args.output is not None:
        with args.output.open("w", encoding="utf-8") as f:
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
    return 0


#: Subcommand registrars; each adds its parser to the ``trl-dsm`` command.
def _add_decontaminate(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.decontamination.cli import add_parser

    add_parser(subparsers)


def _add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.eval.cli import add_parser

    add_parser(subparsers)


def _add_mine(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.mining.cli import add_parser

    add_parser(subparsers)


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    from trl_dsm.demo.cli import add_parser

    add_parser(subparsers)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_grade,
    _add_decontaminate,
    _add_evaluate,
    _add_mine,
    _add_demo,
]


def build_parser() -> argparse.ArgumentParser:
    from trl_dsm import __version__

    parser = argparse.ArgumentParser(
        prog="trl-dsm", description="The DeepSeekMath recipe (arXiv 2402.03300) on the Hugging Face stack."
    )
    parser.add_argument("--version", action="version", version=f"trl-dsm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(subparsers)
    for subparser in subparsers.choices.values():
        _accept_trl_spelling(subparser)
    return parser


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (FileNotFoundError, KeyError, ValueError, TypeError) as exc:  # bad input: one clear line, no traceback
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"trl-dsm {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
