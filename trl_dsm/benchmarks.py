# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The benchmark registry: one place for every evaluation benchmark's Hub id, configs, local file and fields, read
by decontamination (§2.1: GSM8K, MATH, CMATH, AGIEval; plus MATH-500 and MGSM-zh used in §5), evaluation (§5,
:mod:`trl_dsm.eval.benchmarks` builds its items from it), RL/SFT question loading (:mod:`trl_dsm.sft.questions`:
the train splits of GSM8K and MATH) and the demo.

Each benchmark loads by Hub id by default. ``benchmarks_dir`` switches to local JSONL copies laid out as
``<dir>/gsm8k/test.jsonl``, ``<dir>/math/test.jsonl``, ``<dir>/agieval/sat-math.jsonl``... (the layout of
``shared/data/benchmarks``; tests use it, since there is no Hub access there).

It also lists the §5 benchmarks that are not decontaminated by default (SAT, OCW, MMLU-STEM;
``decontaminate=False``) and the train splits that few-shot exemplars and RL questions are drawn from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trl_dsm._jsonl import iter_jsonl


@dataclass(frozen=True)
class BenchmarkText:
    """One indexed text: a question, answer, solution or option list of one benchmark item."""

    benchmark: str
    item_id: str
    field: str
    text: str


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where one benchmark's items live, for decontamination (§2.1), evaluation (§5) and question loading.

    ``local_file`` (under ``benchmarks_dir``) and ``local_fields`` (dotted paths into a record) for the offline copy;
    ``hub_id``, ``hub_configs``, ``hub_split`` and ``hub_fields`` for the Hub (``hub_id=None``: local files only);
    ``id_field`` names the item id (default: the row index); ``hub_kwargs`` go to ``datasets.load_dataset``."""

    name: str
    local_file: str  # relative to ``benchmarks_dir``
    local_fields: tuple[str, ...]  # dotted paths into a record: "other.solution", "messages.0.content"
    hub_id: str | None  # None: only available as local files (``benchmarks_dir``)
    hub_configs: tuple[str | None, ...] = (None,)
    hub_split: str = "test"
    hub_fields: tuple[str, ...] = ()
    id_field: str | None = None
    hub_kwargs: dict = field(default_factory=dict)
    decontaminate: bool = True  # indexed by ``benchmarks="all"``
    train_file: str | None = None  # local train split (few-shot exemplars), relative to ``benchmarks_dir``
    hub_train_split: str | None = None  # the Hub dataset's train split, when it has one


#: MMLU's STEM subjects as in DeepSeekMath's MMLU-STEM evaluation set (the ``topic`` field of its 3018 questions).
MMLU_STEM_SUBJECTS = (
    "abstract_algebra",
    "astronomy",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "electrical_engineering",
    "elementary_mathematics",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_mathematics",
    "high_school_physics",
    "high_school_statistics",
    "machine_learning",
)

#: MATH's seven subjects (separate configs of the Hub dataset).
MATH_SUBJECTS = (
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
                      hub_fields=("question", "answer"), train_file="gsm8k/train.jsonl", hub_train_split="train"),
        BenchmarkSpec("math", "math/test.jsonl", ("problem", "solution"), "EleutherAI/hendrycks_math",
                      MATH_SUBJECTS, hub_fields=("problem", "solution"), id_field="unique_id",
                      train_file="math/train.jsonl", hub_train_split="train"),
        BenchmarkSpec("math500", "math/math500.jsonl", ("problem", "solution"), "HuggingFaceH4/MATH-500",
                      hub_fields=("problem", "solution"), id_field="unique_id", train_file="math/train.jsonl"),
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
        # §5 evaluation sets of DeepSeekMath's own harness (deepseek-ai/DeepSeek-Math, evaluation/datasets).
        BenchmarkSpec("sat", "deepseekmath_eval/sat/test.jsonl", ("question", "options"), None,
                      id_field="id", decontaminate=False),
        BenchmarkSpec("ocw", "deepseekmath_eval/ocw/test.jsonl", ("problem", "solution"),
                      "zhangirazerbayev/ocwcourses", hub_fields=("problem", "solution"), id_field="id",
                      decontaminate=False),
        BenchmarkSpec("mmlu-stem", "deepseekmath_eval/mmlu_stem/test.jsonl", ("question", "options"), "cais/mmlu",
                      MMLU_STEM_SUBJECTS, hub_fields=("question", "choices"), id_field="id", decontaminate=False,
                      hub_train_split="dev"),
    )
}  # fmt: skip

#: The paper's list (§2.1) plus MATH-500 and MGSM-zh: what ``benchmarks="all"`` indexes.
DEFAULT_BENCHMARKS = tuple(name for name, spec in BENCHMARKS.items() if spec.decontaminate)
_ALIASES = {"agieval": tuple(n for n in DEFAULT_BENCHMARKS if n.startswith("agieval-"))}


def resolve_benchmarks(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"gsm8k,math"`` / ``["gsm8k", "agieval"]`` / ``"all"`` → known benchmark names (clear error otherwise)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[str] = []
    for name in names:
        key = name.lower().replace("_", "-") if name.lower() != "mgsm_zh" else "mgsm_zh"
        key = {
            "mgsm-zh": "mgsm_zh",
            "math-500": "math500",
            "gaokao-mathcloze": "agieval-gaokao-mathcloze",
            "gaokao-mathqa": "agieval-gaokao-mathqa",
        }.get(key, key)
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
        yield from iter_jsonl(f, str(path))


def _records_hub(spec: BenchmarkSpec, split: str | None = None) -> Iterator[dict]:
    if spec.hub_id is None:
        raise ValueError(
            f"benchmark {spec.name!r} is not on the Hub; pass benchmarks_dir= (a directory holding {spec.local_file})"
        )
    from datasets import load_dataset

    for config in spec.hub_configs:
        try:
            records = load_dataset(spec.hub_id, config, split=split or spec.hub_split, **spec.hub_kwargs)
        except Exception as err:  # offline, unreachable or gated: one clear error with the way out
            raise ValueError(
                f"could not load benchmark {spec.name!r} from the Hub ({spec.hub_id}): {type(err).__name__}: {err}. "
                "Without Hub access, read local copies: --benchmarks-dir DIR (benchmarks_dir=DIR), a directory laid "
                f"out like shared/data/benchmarks (this one needs {spec.local_file})"
            ) from err
        yield from records


def benchmark_records(name: str, benchmarks_dir: str | Path | None = None, split: str = "test") -> Iterator[dict]:
    """The raw records of one benchmark's ``split`` (``"test"`` or ``"train"``), from ``benchmarks_dir`` or the Hub.

    Hub records keep the Hub dataset's schema (``spec.hub_fields``), local ones the local files' schema.
    """
    spec = BENCHMARKS[resolve_benchmarks(name)[0]]
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    if split == "train" and (spec.train_file if benchmarks_dir is not None else spec.hub_train_split) is None:
        raise ValueError(f"benchmark {spec.name!r} has no train split {'locally' if benchmarks_dir else 'on the Hub'}")
    if benchmarks_dir is not None:
        local = spec if split == "test" else replace(spec, local_file=spec.train_file)
        return _records_local(local, Path(benchmarks_dir))
    return _records_hub(spec, spec.hub_split if split == "test" else spec.hub_train_split)


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
