# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The evaluation benchmarks whose questions and answers are indexed for decontamination (DeepSeekMath §2.1:
GSM8K, MATH, CMATH, AGIEval; plus MATH-500 and MGSM-zh used in §5).

Each benchmark loads by Hub id by default. ``benchmarks_dir`` switches to local JSONL copies laid out as
``<dir>/gsm8k/test.jsonl``, ``<dir>/math/test.jsonl``, ``<dir>/agieval/sat-math.jsonl``... (the layout of
``shared/data/benchmarks``; tests use it, since there is no Hub access there).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BenchmarkText:
    """One indexed text: a question, answer, solution or option list of one benchmark item."""

    benchmark: str
    item_id: str
    field: str
    text: str


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    local_file: str  # relative to ``benchmarks_dir``
    local_fields: tuple[str, ...]  # dotted paths into a record: "other.solution", "messages.0.content"
    hub_id: str
    hub_configs: tuple[str | None, ...] = (None,)
    hub_split: str = "test"
    hub_fields: tuple[str, ...] = ()
    id_field: str | None = None
    hub_kwargs: dict = field(default_factory=dict)


_MATH_SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)

BENCHMARKS: dict[str, BenchmarkSpec] = {
    spec.name: spec
    for spec in (
        BenchmarkSpec("gsm8k", "gsm8k/test.jsonl", ("question", "answer"), "openai/gsm8k", ("main",),
                      hub_fields=("question", "answer")),
        BenchmarkSpec("math", "math/test.jsonl", ("problem", "solution"), "EleutherAI/hendrycks_math",
                      _MATH_SUBJECTS, hub_fields=("problem", "solution"), id_field="unique_id"),
        BenchmarkSpec("math500", "math/math500.jsonl", ("problem", "solution"), "HuggingFaceH4/MATH-500",
                      hub_fields=("problem", "solution"), id_field="unique_id"),
        BenchmarkSpec("cmath", "cmath/test.jsonl", ("question", "golden"), "weitianwen/cmath",
                      hub_fields=("question", "golden")),
        BenchmarkSpec("mgsm_zh", "mgsm_zh/test.jsonl", ("messages.0.content", "answer"), "juletxara/mgsm", ("zh",),
                      hub_fields=("question", "answer")),
        BenchmarkSpec("agieval-gaokao-mathcloze", "agieval/gaokao-mathcloze.jsonl", ("question", "answer"),
                      "hails/agieval-gaokao-mathcloze", hub_fields=("query", "answer")),
        BenchmarkSpec("agieval-gaokao-mathqa", "agieval/gaokao-mathqa.jsonl", ("question", "options"),
                      "hails/agieval-gaokao-mathqa", hub_fields=("query", "choices")),
        BenchmarkSpec("agieval-math", "agieval/math.jsonl", ("question", "answer", "other.solution"),
                      "hails/agieval-math", hub_fields=("query", "answer")),
        BenchmarkSpec("agieval-sat-math", "agieval/sat-math.jsonl", ("question", "options", "other.solution"),
                      "hails/agieval-sat-math", hub_fields=("query", "choices")),
    )
}  # fmt: skip

#: The paper's list (§2.1) plus MATH-500 and MGSM-zh: what ``benchmarks="all"`` indexes.
DEFAULT_BENCHMARKS = tuple(BENCHMARKS)
_ALIASES = {"agieval": tuple(n for n in BENCHMARKS if n.startswith("agieval-"))}


def resolve_benchmarks(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"gsm8k,math"`` / ``["gsm8k", "agieval"]`` / ``"all"`` → known benchmark names (clear error otherwise)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[str] = []
    for name in names:
        key = name.lower().replace("_", "-") if name.lower() != "mgsm_zh" else "mgsm_zh"
        key = {"mgsm-zh": "mgsm_zh", "math-500": "math500"}.get(key, key)
        if key == "all":
            out.extend(DEFAULT_BENCHMARKS)
        elif key in _ALIASES:
            out.extend(_ALIASES[key])
        elif key in BENCHMARKS:
            out.append(key)
        else:
            known = ", ".join([*BENCHMARKS, *_ALIASES, "all"])
            raise ValueError(f"unknown benchmark {name!r}; known: {known}")
    return list(dict.fromkeys(out))


def _get_path(record: dict, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
        if value is None:
            return None
    return value


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return "\n".join(str(v) for v in value if v is not None) or None
    text = str(value).strip()
    return text or None


def _records_local(spec: BenchmarkSpec, benchmarks_dir: Path) -> Iterator[dict]:
    path = Path(benchmarks_dir) / spec.local_file
    if not path.is_file():
        raise FileNotFoundError(
            f"benchmark {spec.name!r}: {path} not found (benchmarks_dir should hold {spec.local_file})"
        )
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from None


def _records_hub(spec: BenchmarkSpec) -> Iterator[dict]:
    from datasets import load_dataset

    for config in spec.hub_configs:
        yield from load_dataset(spec.hub_id, config, split=spec.hub_split, **spec.hub_kwargs)


def load_benchmark_texts(
    names: str | list[str] | tuple[str, ...] = "all", benchmarks_dir: str | Path | None = None
) -> list[BenchmarkText]:
    """All question/answer texts of the named benchmarks, from the Hub or from ``benchmarks_dir``."""
    texts: list[BenchmarkText] = []
    for name in resolve_benchmarks(names):
        spec = BENCHMARKS[name]
        local = benchmarks_dir is not None
        records = _records_local(spec, Path(benchmarks_dir)) if local else _records_hub(spec)
        fields = spec.local_fields if local else (spec.hub_fields or spec.local_fields)
        for i, record in enumerate(records):
            item_id = (
                str(_get_path(record, spec.id_field)) if spec.id_field and _get_path(record, spec.id_field) else str(i)
            )
            for path in fields:
                text = _as_text(_get_path(record, path))
                if text:
                    texts.append(BenchmarkText(name, item_id, path, text))
    return texts


def custom_benchmark_texts(name: str, records: Iterator[dict] | list[dict], fields: list[str]) -> list[BenchmarkText]:
    """Texts of any dataset the user names (e.g. an in-house eval set), indexed like the built-in ones."""
    texts = []
    for i, record in enumerate(records):
        for path in fields:
            text = _as_text(_get_path(record, path))
            if text:
                texts.append(BenchmarkText(name, str(i), path, text))
    if not texts:
        raise ValueError(f"custom benchmark {name!r}: none of the fields {fields} has text")
    return texts
