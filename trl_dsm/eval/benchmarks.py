# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Evaluation views of the benchmark registry (DeepSeekMath §5: GSM8K, MATH, SAT, OCW, MMLU-STEM, MGSM-zh, CMATH,
Gaokao MathCloze / MathQA; plus MATH-500 and AGIEval's MATH and SAT-Math).

Hub ids and local paths live in ONE place, :data:`trl_dsm.benchmarks.BENCHMARKS`; this module only
says how to read a record for evaluation: the question shown to the model, the gold answer, the answer type,
the language, subject / level, and where few-shot exemplars come from. Each converter reads both the local files'
schema (``shared/data/benchmarks``) and the Hub dataset's schema (the Hub schemas are written from the datasets'
documentation and unverified offline).
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trl_dsm.benchmarks import BENCHMARKS, benchmark_records
from trl_dsm.grading import extract_gold
from trl_dsm.grading.extract import strip_math_delimiters


logger = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class EvalItem:
    """One evaluation problem."""

    id: str
    question: str  # what the model is asked (options included for multiple choice)
    gold: str  # the reference answer, already extracted: "18", "\\frac{1}{2}", "B"
    solution: str | None = None  # a worked solution, when the benchmark has one (few-shot exemplars, self-check)
    language: str = "en"
    subject: str | None = None
    level: str | None = None
    prompt: Any = None  # a ready-made prompt (string or chat messages) used verbatim instead of the question
    meta: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class EvalBenchmark:
    """How one registry benchmark is evaluated."""

    name: str  # key in the registry
    title: str  # display name (plots, model card)
    answer_type: str  # "number" | "latex" | "choice" | "cloze" (one LaTeX answer per blank, comma-separated)
    language: str  # "en" | "zh"
    to_item: Callable[[dict, int], EvalItem]  # record (local or Hub schema), index -> item
    #: few-shot exemplars: "train" (the registry's train split, else other items of the test set), "self" (other
    #: items of the test set), "builtin" (trl_dsm.eval.prompts' hand-written ones), or another benchmark's name.
    fewshot: str = "train"

    @property
    def spec(self):
        """The benchmark's :class:`~trl_dsm.benchmarks.BenchmarkSpec` in the shared registry (files, Hub id, fields)."""
        return BENCHMARKS[self.name]


# -- record converters ------------------------------------------------------------------------------------------
def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _options_text(options: Any) -> str:
    """``["(A)1", "(B)2"]`` / ``["1", "2"]`` / ``"A) 1 B) 2"`` -> one option per line, lettered."""
    if isinstance(options, str):
        return options.strip()
    lines = []
    for i, option in enumerate(options or []):
        option = str(option).strip()
        lines.append(option if re.match(r"^\(?[A-J]\)", option) else f"({LETTERS[i]}) {option}")
    return "\n".join(lines)


def _with_options(question: str, options: Any, language: str) -> str:
    text = _options_text(options)
    if not text:
        return question.strip()
    head = "选项：" if language == "zh" else "Answer Choices:"
    return f"{question.strip()}\n{head}\n{text}"


def _choice_gold(record: dict, *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, list) and value and isinstance(value[0], int):  # Hub AGIEval: gold = [index]
            return "".join(LETTERS[v] for v in value)
        if isinstance(value, int) and not isinstance(value, bool):  # cais/mmlu: answer = index
            return LETTERS[value]
        if isinstance(value, str) and value.strip():
            return re.sub(r"[^A-J]", "", value.upper()) or value.strip()
    raise KeyError(f"no answer letter in fields {keys} of record {sorted(record)}")


def _required(record: dict, *keys: str) -> Any:
    for key in keys:
        value = record.get(key)
        if value not in (None, ""):
            return value
    raise KeyError(f"record has none of the fields {keys}; it has {sorted(record)}")


def _gold_answer(text: str) -> str:
    gold = extract_gold(str(text))
    if gold is None:
        raise ValueError(f"no gold answer found in {str(text)[:80]!r}")
    return gold


def _gsm8k(r: dict, i: int) -> EvalItem:
    return EvalItem(str(i), r["question"], _gold_answer(r["answer"]), solution=r["answer"])


def _math(r: dict, i: int) -> EvalItem:
    solution = r.get("solution")
    gold = r.get("answer") or _gold_answer(solution)
    level = r.get("level")
    level = str(level) if isinstance(level, int) else (re.sub(r"^Level\s*", "", level) if level else None)
    return EvalItem(
        str(r.get("unique_id") or i),
        r["problem"],
        strip_math_delimiters(str(gold)),
        solution=solution,
        subject=r.get("subject") or r.get("type"),
        level=level,
    )


def _cmath(r: dict, i: int) -> EvalItem:
    return EvalItem(str(r.get("id", i)), r["question"], _number_text(r["golden"]), language="zh",
                    level=str(r["grade"]) if r.get("grade") is not None else None)  # fmt: skip


def _mgsm_zh(r: dict, i: int) -> EvalItem:
    question = r.get("question") or r["messages"][0]["content"]
    gold = r["answer_number"] if r.get("answer_number") is not None else r["answer"]
    return EvalItem(str(r.get("id", i)), question, _number_text(gold), language="zh")


def _cloze_gold(answer: str) -> str:
    """Gaokao cloze answers list one value per blank, ``$5$;$10$``: as the model should box them, ``5, 10``."""
    parts = [strip_math_delimiters(p.strip()) for p in str(answer).split(";")]
    return ", ".join(p for p in parts if p)


def _gaokao_cloze(r: dict, i: int) -> EvalItem:
    return EvalItem(str(i), _required(r, "question", "query"), _cloze_gold(_required(r, "answer")), language="zh",
                    meta={"source": (r.get("other") or {}).get("source")})  # fmt: skip


def _gaokao_qa(r: dict, i: int) -> EvalItem:
    question = r["query"] if "query" in r else _with_options(r["question"], r.get("options"), "zh")
    return EvalItem(str(i), question, _choice_gold(r, "label", "gold"), language="zh")


def _agieval_math(r: dict, i: int) -> EvalItem:
    other = r.get("other") or {}
    return EvalItem(str(i), _required(r, "question", "query"), strip_math_delimiters(str(r["answer"])),
                    solution=other.get("solution"), level=str(other["level"]) if other.get("level") else None,
                    subject=other.get("type"))  # fmt: skip


def _agieval_sat(r: dict, i: int) -> EvalItem:
    question = r["query"] if "query" in r else _with_options(r["question"], r.get("options"), "en")
    return EvalItem(str(i), question, _choice_gold(r, "label", "gold"),
                    solution=(r.get("other") or {}).get("solution"))  # fmt: skip


def _sat(r: dict, i: int) -> EvalItem:
    return EvalItem(str(r.get("id", i)), _with_options(r["question"], r["options"], "en"),
                    _choice_gold(r, "Answer", "answer"))  # fmt: skip


def _ocw(r: dict, i: int) -> EvalItem:
    gold = r.get("answer") or _gold_answer(r["solution"])
    return EvalItem(str(r.get("id", i)), r["problem"], strip_math_delimiters(str(gold)), solution=r.get("solution"))


def _mmlu_stem(r: dict, i: int) -> EvalItem:
    return EvalItem(str(r.get("id", i)), _with_options(r["question"], _required(r, "options", "choices"), "en"),
                    _choice_gold(r, "answer"), subject=r.get("topic") or r.get("subject"))  # fmt: skip


EVAL_BENCHMARKS: dict[str, EvalBenchmark] = {
    b.name: b
    for b in (
        EvalBenchmark("gsm8k", "GSM8K", "number", "en", _gsm8k),
        EvalBenchmark("math", "MATH", "latex", "en", _math),
        EvalBenchmark("math500", "MATH-500", "latex", "en", _math, fewshot="math"),
        EvalBenchmark("cmath", "CMATH", "number", "zh", _cmath, fewshot="builtin"),
        EvalBenchmark("mgsm_zh", "MGSM-zh", "number", "zh", _mgsm_zh, fewshot="builtin"),
        EvalBenchmark("agieval-gaokao-mathcloze", "Gaokao-MathCloze", "cloze", "zh", _gaokao_cloze, fewshot="self"),
        EvalBenchmark("agieval-gaokao-mathqa", "Gaokao-MathQA", "choice", "zh", _gaokao_qa, fewshot="self"),
        EvalBenchmark("agieval-math", "AGIEval-MATH", "latex", "en", _agieval_math, fewshot="self"),
        EvalBenchmark("agieval-sat-math", "AGIEval-SAT-Math", "choice", "en", _agieval_sat, fewshot="self"),
        EvalBenchmark("sat", "SAT", "choice", "en", _sat, fewshot="self"),
        EvalBenchmark("ocw", "OCW Courses", "latex", "en", _ocw, fewshot="self"),
        EvalBenchmark("mmlu-stem", "MMLU-STEM", "choice", "en", _mmlu_stem),
    )
}

#: Short names accepted on the command line besides the registry's.
_EVAL_ALIASES = {"mmlu_stem": "mmlu-stem", "mgsm-zh": "mgsm_zh", "math-500": "math500"}


def resolve_eval_benchmarks(names: str | Iterable[str]) -> list[str]:
    """``"gsm8k,math500,gaokao-mathqa"`` -> registry names; one clear error listing the valid names otherwise."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    if not names:
        raise ValueError(f"no benchmark given; valid names: {', '.join(EVAL_BENCHMARKS)}")
    out = []
    for name in names:
        key = name.strip().lower()
        key = _EVAL_ALIASES.get(key, key)
        if key.startswith("gaokao-"):
            key = f"agieval-{key}"
        if key not in EVAL_BENCHMARKS:
            raise ValueError(f"unknown benchmark {name!r}; valid names: {', '.join(EVAL_BENCHMARKS)}")
        out.append(key)
    return list(dict.fromkeys(out))


def _items(benchmark: EvalBenchmark, records: Iterable[dict], source: str, skip_invalid: bool) -> list[EvalItem]:
    items = []
    skipped = 0
    for i, record in enumerate(records):
        try:
            item = benchmark.to_item(record, i)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            if skip_invalid:  # a train record without a usable answer cannot be an exemplar
                skipped += 1
                continue
            raise ValueError(f"benchmark {benchmark.name!r} ({source}), record {i}: {exc}") from None
        items.append(item if item.language == benchmark.language else replace(item, language=benchmark.language))
    if skipped:
        logger.info("%s (%s): skipped %d records without a gold answer", benchmark.name, source, skipped)
    return items


def load_eval_items(
    name: str, benchmarks_dir: str | Path | None = None, *, split: str = "test", limit: int | None = None
) -> list[EvalItem]:
    """The problems of one benchmark (``split="train"`` for the few-shot pool), from the Hub or ``benchmarks_dir``."""
    benchmark = EVAL_BENCHMARKS[resolve_eval_benchmarks(name)[0]]
    source = str(benchmarks_dir) if benchmarks_dir is not None else f"Hub {benchmark.spec.hub_id}"
    records = benchmark_records(benchmark.name, benchmarks_dir, split)
    if limit is not None:
        records = (r for r, _ in zip(records, range(limit)))
    return _items(benchmark, records, source, skip_invalid=split == "train")


def fewshot_pool(
    name: str, benchmarks_dir: str | Path | None = None, test_items: list[EvalItem] | None = None
) -> tuple[list[EvalItem] | None, str]:
    """Candidate few-shot exemplars of a benchmark and where they come from: ``"train"`` (its train split or
    another benchmark's), ``"test"`` (the evaluated set itself, where there is no train split: the evaluated item
    must be excluded, see :func:`select_exemplars`), or ``(None, "builtin")`` for the hand-written exemplars."""
    benchmark = EVAL_BENCHMARKS[resolve_eval_benchmarks(name)[0]]
    if benchmark.fewshot == "builtin":
        return None, "builtin"
    source = benchmark.fewshot if benchmark.fewshot in EVAL_BENCHMARKS else benchmark.name
    if benchmark.fewshot != "self":
        spec = EVAL_BENCHMARKS[source].spec
        has_train = spec.train_file if benchmarks_dir is not None else spec.hub_train_split
        if has_train:
            return load_eval_items(source, benchmarks_dir, split="train"), "train"
        logger.info("%s has no train split here: few-shot exemplars come from its other test items", source)
    return (test_items if test_items is not None else load_eval_items(name, benchmarks_dir)), "test"


def select_exemplars(pool: list[EvalItem], k: int, exclude_id: str | None = None, seed: int = 0) -> list[EvalItem]:
    """``k`` exemplars from ``pool``, the same for every question (a seeded shuffle), skipping ``exclude_id``.

    Items with a worked solution are preferred."""
    if k <= 0 or not pool:
        return []
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda i: pool[i].solution is None)  # stable: solutions first, shuffled within
    chosen = []
    for i in order:
        if pool[i].id != exclude_id:
            chosen.append(pool[i])
            if len(chosen) == k:
                break
    return chosen


def items_from_records(
    records: Iterable[dict],
    *,
    question_key: str = "question",
    answer_key: str = "answer",
    prompt_key: str = "prompt",
    language: str | None = None,
) -> list[EvalItem]:
    """Evaluation items from any records: ``{"question": ..., "answer": ...}`` (the prompt is built from the
    question) or ``{"prompt": ..., "answer": ...}`` (a string or chat messages, used verbatim). The answer may be a
    bare answer, a ``\\boxed{}`` solution or a GSM8K ``#### N`` rationale; numbers are accepted."""
    from trl_dsm.prompts import detect_language

    items = []
    for i, record in enumerate(records):
        if answer_key not in record or record[answer_key] is None:
            raise KeyError(f"record {i} has no {answer_key!r} field; it has {sorted(record)}")
        answer = record[answer_key]
        gold_text = _number_text(answer) if isinstance(answer, (int, float)) else str(answer)
        gold = extract_gold(gold_text)
        if gold is None:
            raise ValueError(f"record {i}: no gold answer in {answer_key}={gold_text[:80]!r}")
        question = record.get(question_key)
        prompt = record.get(prompt_key)
        if question is None and prompt is None:
            raise KeyError(f"record {i} needs a {question_key!r} or {prompt_key!r} field; it has {sorted(record)}")
        text = question if question is not None else str(prompt)
        items.append(
            EvalItem(
                str(record.get("id", i)),
                str(question) if question is not None else "",
                gold,
                solution=gold_text if gold_text != gold else None,
                language=language or detect_language(text),
                subject=record.get("subject"),
                level=str(record["level"]) if record.get("level") is not None else None,
                prompt=prompt if question is None else None,
            )
        )
    return items
