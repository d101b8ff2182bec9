# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Model and dataset cards from the Jinja templates shipped in ``trl_dsm/hub_cards/``, rendered with ``huggingface_hub``'s
``ModelCard.from_template`` / ``DatasetCard.from_template`` and validated locally (no Hub needed): the YAML metadata
and the ``model-index`` are parsed back with ``huggingface_hub``'s own parsers.

Templates: ``model_card_{base,instruct,rl}.md`` (DeepSeekMath-Base §2-3.1, -Instruct §3.3, -RL §4),
``decontamination_report_card.md`` and ``mined_corpus_card.md`` (the corpus-mining pipeline's). Any other template
path works as well: every template gets ``{{ card_data }}`` (the YAML metadata) and the variables you pass.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from huggingface_hub import DatasetCard, DatasetCardData, EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard import RepoCard
from huggingface_hub.repocard_data import model_index_to_eval_results
from huggingface_hub.utils import HFValidationError, validate_repo_id


#: Templates by name; package data in ``trl_dsm/hub_cards/`` (or files in ``$TRL_DSM_HUB_CARDS``).
TEMPLATES = {
    "base": "model_card_base.md",
    "instruct": "model_card_instruct.md",
    "rl": "model_card_rl.md",
    "decontamination_report": "decontamination_report_card.md",
    "mined_corpus": "mined_corpus_card.md",
}
MODEL_STAGES = ("base", "instruct", "rl")

CITATION = """```bibtex
@article{shao2024deepseekmath,
  title   = {DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models},
  author  = {Zhihong Shao and Peiyi Wang and Qihao Zhu and Runxin Xu and Junxiao Song and Xiao Bi and Haowei Zhang
             and Mingchuan Zhang and Y. K. Li and Y. Wu and Daya Guo},
  journal = {arXiv preprint arXiv:2402.03300},
  year    = {2024}
}
```"""

_FRAMEWORKS = ("trl-dsm", "trl", "transformers", "torch", "datasets", "accelerate", "tokenizers")


def cards_dir() -> Path:
    """``$TRL_DSM_HUB_CARDS`` when set, else the templates installed with the package (``trl_dsm/hub_cards``,
    package data found with :mod:`importlib.resources`, so a wheel install has them)."""
    env = os.environ.get("TRL_DSM_HUB_CARDS")
    return Path(env) if env else Path(str(importlib.resources.files("trl_dsm") / "hub_cards"))


def template_path(template: str | os.PathLike) -> Path:
    """A template by name (:data:`TEMPLATES`) or path; a missing file is an error naming it."""
    named = str(template) in TEMPLATES
    path = cards_dir() / TEMPLATES[template] if named else Path(template)
    if not path.is_file():
        if not named:
            raise FileNotFoundError(f"card template not found: {path}")
        hint = (
            "$TRL_DSM_HUB_CARDS is set: unset it or point it at a folder holding every template"
            if os.environ.get("TRL_DSM_HUB_CARDS")
            else "the installed trl-dsm lacks its package data: reinstall it, or set TRL_DSM_HUB_CARDS to a folder "
            "of templates"
        )
        raise FileNotFoundError(f"card template not found: {path} ({hint})")
    return path


def template_variables(template: str | os.PathLike) -> set[str]:
    """The variables a template uses (``card_data`` included)."""
    source = template_path(template).read_text(encoding="utf-8")
    return jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(source))


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A Markdown table (``|`` in cells escaped).

    >>> print(markdown_table(("k", "v"), [("beta", 0.04)]))
    | k | v |
    |---|---|
    | beta | 0.04 |"""
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def hyperparameters_table(hyperparameters: Mapping[str, Any]) -> str:
    """A two-column Markdown table of hyperparameters."""
    return markdown_table(("hyperparameter", "value"), sorted(hyperparameters.items()))


def framework_versions() -> str:
    """Installed versions of the training stack, one Markdown bullet each."""
    lines = []
    for name in _FRAMEWORKS:
        try:
            lines.append(f"- {name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return "\n".join(lines)


def to_eval_results(results: Iterable[EvalResult | Mapping[str, Any]]) -> list[EvalResult]:
    """``EvalResult`` objects from ``EvalResult``s or dicts with ``EvalResult``'s field names (``task_type``,
    ``dataset_type``, ``dataset_name``, ``metric_type``, ``metric_value``, optional ``dataset_split``,
    ``dataset_config``, ``metric_name``...); an unknown or missing key is an error naming it."""
    out = []
    for i, result in enumerate(results):
        if isinstance(result, EvalResult):
            out.append(result)
            continue
        try:
            out.append(EvalResult(**dict(result)))
        except TypeError as err:
            raise ValueError(f"eval_results[{i}]: {err} (keys: {sorted(result)})") from None
    return out


def eval_results_table(results: list[EvalResult]) -> str:
    """The model card's results table (dataset, split, metric, value, task), or a sentence when there are none."""
    if not results:
        return "No evaluation results were recorded for this model."
    rows = [
        (r.dataset_name, r.dataset_split or "", r.metric_name or r.metric_type, r.metric_value, r.task_type)
        for r in results
    ]
    return markdown_table(("benchmark", "split", "metric", "value", "task"), rows)


def is_repo_id(value: str | None) -> bool:
    """True for a Hub repository id (``org/name``) that is not a local path: what card metadata may name."""
    if not value or Path(value).exists() or value.count("/") != 1:
        return False
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def base_model_link(base_model: str | None) -> str:
    """Markdown for the model a card's model was trained from: a Hub link, a local name, or "from scratch"."""
    if not base_model:
        return "a randomly initialized model (trained from scratch)"
    if is_repo_id(base_model):
        return f"[{base_model}](https://huggingface.co/{base_model})"
    return f"`{Path(base_model).name}`"


def _render(card_cls: type[RepoCard], template: str | os.PathLike, card_data, variables: dict[str, Any]) -> RepoCard:
    path = template_path(template)
    missing = sorted(template_variables(path) - set(variables) - {"card_data"})
    if missing:
        raise ValueError(f"card template {path.name} needs variables {missing}")
    return card_cls.from_template(card_data, template_path=str(path), **variables)


def render_model_card(
    stage: str,
    *,
    model_name: str,
    base_model: str | None,
    datasets: list[str] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    eval_results: Iterable[EvalResult | Mapping[str, Any]] = (),
    license: str = "other",
    language: list[str] | None = None,
    tags: list[str] | None = None,
    template: str | os.PathLike | None = None,
    **variables: Any,
) -> ModelCard:
    """The model card of a DeepSeekMath stage (``"base"``, ``"instruct"``, ``"rl"``) with ``model-index`` metadata.

    ``variables`` fill the stage template's own fields (e.g. ``mixture_table`` for ``base``, ``sft_data`` for
    ``instruct``, ``rewards`` for ``rl``; :func:`template_variables` lists them). ``model-index`` needs at least one
    result; without ``eval_results`` the card has none and says so.
    """
    if stage not in MODEL_STAGES and template is None:
        raise ValueError(f"stage must be one of {MODEL_STAGES}, got {stage!r}")
    results = to_eval_results(eval_results)
    card_data = ModelCardData(
        model_name=model_name,
        base_model=base_model if is_repo_id(base_model) else None,
        datasets=[d for d in datasets or () if is_repo_id(d)] or None,
        license=license,
        language=language or ["en", "zh"],
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["trl-dsm", "deepseekmath", "math", {"base": "pretraining", "instruct": "sft", "rl": "grpo"}.get(stage)]
        + list(tags or []),
        eval_results=results or None,
    )
    card_data.tags = [t for t in card_data.tags if t]
    defaults = dict(
        model_name=model_name,
        base_model=base_model_link(base_model),
        hyperparameters_table=hyperparameters_table(hyperparameters or {}),
        eval_results_table=eval_results_table(results),
        framework_versions=framework_versions(),
        citation=CITATION,
    )
    return _render(ModelCard, template or stage, card_data, {**defaults, **variables})


def render_dataset_card(
    template: str | os.PathLike, card_data: DatasetCardData | Mapping[str, Any] | None = None, **variables: Any
) -> DatasetCard:
    """A dataset card from a template (``"decontamination_report"``, ``"mined_corpus"`` or a path) and its
    metadata (``DatasetCardData`` or a dict of its fields). ``citation`` defaults to DeepSeekMath's."""
    if card_data is None or isinstance(card_data, Mapping):
        card_data = DatasetCardData(**dict(card_data or {}))
    variables.setdefault("citation", CITATION)
    return _render(DatasetCard, template, card_data, variables)


def render_decontamination_card(
    report,
    *,
    source_dataset: str,
    pretty_name: str | None = None,
    command: str = "trl-dsm decontaminate --input CORPUS --column text --output-dir clean/",
    license: str | None = None,
) -> DatasetCard:
    """The card of a decontamination-report dataset from a
    :class:`trl_dsm.decontamination.pipeline.DecontaminationReport` (its findings are the dataset's rows)."""
    columns = sorted({key for row in report.findings for key in row}) or ["row"]
    card_data = DatasetCardData(
        pretty_name=pretty_name or f"Decontamination report of {source_dataset}",
        license=license,
        tags=["trl-dsm", "decontamination", "deepseekmath"],
        source_datasets=[source_dataset],
        size_categories=[_size_category(len(report.findings))],
    )
    return render_dataset_card(
        "decontamination_report",
        card_data,
        pretty_name=card_data.pretty_name,
        source_dataset=source_dataset,
        columns_table=markdown_table(("column",), [(f"`{c}`",) for c in columns]),
        decontamination_section=report.card_section(),
        command=command,
    )


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def validate_card(card: RepoCard | str, expected_eval_results: int | None = None) -> dict[str, Any]:
    """Parse a rendered card back as the Hub's client does and check it; returns the metadata dict.

    Checks: the YAML header parses (``RepoCard``), no Jinja left unrendered, a model card's ``model-index`` parses
    with ``huggingface_hub.repocard_data.model_index_to_eval_results`` (``expected_eval_results`` results if given)
    and names a model. ``card.validate()`` needs the Hub; this needs nothing. Raises ``ValueError`` listing problems.
    """
    text = str(card)
    cls = type(card) if isinstance(card, RepoCard) else RepoCard
    parsed = cls(text)  # raises ValueError on a malformed YAML header
    data = parsed.data.to_dict()
    problems = []
    if "{{" in text or "{%" in text:
        problems.append("unrendered Jinja in the card")
    if not data:
        problems.append("empty metadata")
    if "model-index" in data:
        try:
            name, results = model_index_to_eval_results(data["model-index"])
        except (KeyError, TypeError, ValueError) as err:
            problems.append(f"model-index does not parse: {err!r}")
        else:
            if not name:
                problems.append("model-index has no model name")
            if expected_eval_results is not None and len(results) != expected_eval_results:
                problems.append(f"model-index holds {len(results)} results, expected {expected_eval_results}")
    elif expected_eval_results:
        problems.append("no model-index in the metadata")
    if problems:
        raise ValueError("invalid card: " + "; ".join(problems))
    return data
