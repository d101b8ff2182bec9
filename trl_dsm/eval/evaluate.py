# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Evaluation as in DeepSeekMath §5: greedy top-1 accuracy, pass@k and maj@k (expected over k-subsets of K samples,
:mod:`trl_dsm.eval.estimators`) with chain-of-thought, program-of-thought and tool-integrated prompting; MATH per
subject and level. The configuration lives in :mod:`trl_dsm.eval.config`, the outputs (results JSON, per-sample
JSONL, the Pass@K / Maj@K plot, model-card entries) in :mod:`trl_dsm.eval.outputs`; this module runs.

Entry points, from most to least managed:

- :func:`run_evaluation` (``trl-dsm evaluate``): a model id or path and registry benchmark names; loads the model
  (vLLM when installed, else transformers), evaluates, writes the outputs.
- :func:`evaluate_benchmarks`: the same with a generator you built (a model in memory, or a scripted one).
- :func:`evaluate_model`: a model and tokenizer in memory and your own ``{"question"|"prompt", "answer"}``
  records (held-out problems, a demo's arithmetic); returns metrics and samples.
- :func:`evaluate_items`: the core, on :class:`~trl_dsm.eval.benchmarks.EvalItem` and any generator.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from trl_dsm.eval.benchmarks import (
    EVAL_BENCHMARKS,
    EvalItem,
    fewshot_pool,
    items_from_records,
    load_eval_items,
    resolve_eval_benchmarks,
    select_exemplars,
)
from trl_dsm.eval.config import BenchmarkResult, EvalConfig
from trl_dsm.eval.estimators import answer_classes, k_values, maj_at_k, majority_vote, pass_at_k
from trl_dsm.eval.generation import Generator, HFGenerator, generate_tir, strip_stop
from trl_dsm.eval.outputs import write_outputs
from trl_dsm.eval.prompts import (
    Exemplar,
    build_messages,
    builtin_exemplars,
    cot_solution,
    plain_stop_strings,
    question_text,
    render_prompt,
)
from trl_dsm.grading import compare_answers, extract_answer
from trl_dsm.grading.choices import choice_from_text, choice_letters


logger = logging.getLogger(__name__)


# -- answers ------------------------------------------------------------------------------------------------------
def _program_answers(completions: list[str], pool, timeout: float) -> tuple[list[str | None], list[str | None]]:
    """PoT: run each completion's program; (answers, what each program printed or its error)."""
    from trl_dsm.sandbox.tir import extract_program, output_text, pot_answer

    programs = [extract_program(c) for c in completions]
    todo = [i for i, p in enumerate(programs) if p is not None]
    answers: list[str | None] = [None] * len(completions)
    outputs: list[str | None] = [None] * len(completions)
    if todo:
        for i, result in zip(todo, pool.map([programs[i] for i in todo], timeout=timeout)):
            answers[i] = pot_answer(result)
            outputs[i] = output_text(result)
    return answers, outputs


def _extract(completions: list[str], config: EvalConfig, answer_type: str, pool) -> tuple[list, list]:
    if config.mode == "pot":
        answers, outputs = _program_answers(completions, pool, config.code_timeout)
    elif answer_type == "choice":  # a boxed/marked letter, else a letter stated in words, else the fallback
        answers = []
        for c in completions:
            marked = choice_letters(extract_answer(c))
            if marked is None or not re.fullmatch(r"[A-J]+", marked):
                marked = choice_from_text(c) or marked or extract_answer(c, fallback=config.fallback)
            answers.append(marked)
        outputs = [None] * len(completions)
    else:
        answers = [extract_answer(c, fallback=config.fallback) for c in completions]
        outputs = [None] * len(completions)
    if answer_type == "choice":
        answers = [choice_letters(a) for a in answers]
    return answers, outputs


# -- the core ----------------------------------------------------------------------------------------------------
def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def _exemplar_source(
    name: str, items: list[EvalItem], config: EvalConfig, answer_type: str, benchmarks_dir
) -> Callable[[EvalItem], list[Exemplar]]:
    """Per-item few-shot exemplars (the same ones for every question, the item itself excluded)."""
    k = config.few_shot
    if k == 0:
        return lambda item: []
    languages = {item.language for item in items}
    if config.mode != "cot" or name not in EVAL_BENCHMARKS:
        fixed = {lang: builtin_exemplars(config.mode, lang, k) for lang in languages}
        for lang, chosen in fixed.items():
            if len(chosen) < k:
                logger.warning("%s: only %d built-in %s exemplars in %r", name, len(chosen), config.mode, lang)
        return lambda item: fixed[item.language]
    pool, source = fewshot_pool(name, benchmarks_dir)
    if pool is None:
        fixed = {lang: builtin_exemplars("cot", lang, k) for lang in languages}
        return lambda item: fixed[item.language]
    candidates = select_exemplars(pool, k + 1, seed=config.seed)
    self_pool = source == "test"  # exemplars from the evaluated set: never the question itself

    def pick(item: EvalItem) -> list[Exemplar]:
        chosen = [c for c in candidates if not (self_pool and c.id == item.id)][:k]
        return [Exemplar(question_text(c, answer_type), cot_solution(c)) for c in chosen]

    return pick


def evaluate_items(
    generator: Generator,
    items: Sequence[EvalItem],
    config: EvalConfig | None = None,
    *,
    name: str = "custom",
    title: str | None = None,
    answer_type: str = "latex",
    tokenizer=None,
    exemplars: Callable[[EvalItem], list[Exemplar]] | None = None,
    sandbox_pool=None,
) -> BenchmarkResult:
    """Generate, extract, grade and score ``items`` (see the module docstring)."""
    config = config or EvalConfig()
    items = list(items)
    if not items:
        raise ValueError(f"{name}: no problems to evaluate")
    chat = config.chat_template
    if chat is None:
        chat = bool(tokenizer is not None and getattr(tokenizer, "chat_template", None))
    exemplars = exemplars or (lambda item: [])
    prompts = [
        render_prompt(build_messages(item, config.mode, exemplars(item), answer_type), tokenizer, chat, item.language)
        for item in items
    ]
    stop = [] if chat else sorted({s for item in items for s in plain_stop_strings(item.language)})
    pool = sandbox_pool
    if pool is None and config.mode in ("pot", "tir"):
        from trl_dsm.sandbox import default_pool

        pool = default_pool()

    def run(n: int, temperature: float) -> list[list[str]]:
        if config.mode == "tir":
            texts = generate_tir(generator, prompts, n=n, temperature=temperature, stop=stop,
                                 max_rounds=config.tir_max_rounds, code_timeout=config.code_timeout, pool=pool)  # fmt: skip
        else:
            texts = generator.generate(prompts, n=n, temperature=temperature, stop=stop)
        if len(texts) != len(prompts) or any(len(group) != n for group in texts):
            raise RuntimeError(f"the generator returned {[len(g) for g in texts]} completions for {n} per prompt")
        return [[strip_stop(t, stop) for t in group] for group in texts]

    tic = time.monotonic()
    greedy = run(1, 0.0) if config.greedy else None
    sampled = run(config.num_samples, config.temperature) if config.sampling else greedy
    generation_s = time.monotonic() - tic

    # Extract and grade every completion in one batch (symbolic comparisons run in parallel workers).
    tic = time.monotonic()
    flat, owners = [], []
    for source, groups in (("greedy", greedy), ("sample", sampled if config.sampling else None)):
        for i, group in enumerate(groups or []):
            flat.extend(group)
            owners.extend((source, i) for _ in group)
    answers, outputs = _extract(flat, config, answer_type, pool)
    golds = [items[i].gold for _, i in owners]
    grades = compare_answers(answers, golds, timeout=config.grade_timeout)
    by_item: dict[tuple[str, int], list[int]] = defaultdict(list)
    for j, owner in enumerate(owners):
        by_item[owner].append(j)
    sample_source = "sample" if config.sampling else "greedy"
    K = config.num_samples
    ks = k_values(K)
    records, per_item = [], []
    for i, item in enumerate(items):
        idx = by_item[(sample_source, i)]
        s_answers = [answers[j] for j in idx]
        s_correct = [grades[j].correct for j in idx]
        classes = answer_classes(
            s_answers, s_correct, symbolic_pairs=config.vote_symbolic_pairs, timeout=config.grade_timeout
        )
        scores = {}
        for k in ks:
            scores[f"pass@{k}"] = pass_at_k(K, sum(s_correct), k)
            scores[f"maj@{k}"] = maj_at_k(classes, s_correct, k)
        voted, voted_correct = majority_vote(classes, s_correct)
        record: dict[str, Any] = {
            "benchmark": name,
            "id": item.id,
            "prompt": prompts[i],
            "gold": item.gold,
            "subject": item.subject,
            "level": item.level,
        }
        if greedy is not None:
            g = by_item[("greedy", i)][0]
            record["greedy"] = {
                "completion": flat[g],
                "answer": answers[g],
                "correct": grades[g].correct,
                **({"program_output": outputs[g]} if config.mode == "pot" else {}),
            }
            scores["greedy"] = float(grades[g].correct)
        record.update(
            samples=[flat[j] for j in idx],
            answers=s_answers,
            correct=s_correct,
            answer_classes=classes,
            voted_answer=None if voted is None else s_answers[voted],
            voted_correct=voted_correct,
            scores=scores,
        )
        if config.mode == "pot":
            record["program_outputs"] = [outputs[j] for j in idx]
        records.append(record)
        per_item.append(scores)
    grading_s = time.monotonic() - tic

    def summarize(rows: list[dict]) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(rows)}
        for key in rows[0]:
            out[key] = _mean(r[key] for r in rows)
        return out

    metrics = summarize(per_item)
    sample_grades = [grades[j] for (source, _), js in by_item.items() if source == sample_source for j in js]
    metrics.update(
        num_samples=K,
        mode=config.mode,
        few_shot=config.few_shot,
        sample_accuracy=_mean(float(g.correct) for g in sample_grades),
        no_answer_rate=_mean(float(g.status == "no_answer") for g in sample_grades),
        grading_timeout_rate=_mean(float(g.status == "timeout") for g in sample_grades),
        generation_seconds=round(generation_s, 3),
        grading_seconds=round(grading_s, 3),
    )
    for attribute in ("subject", "level"):
        groups: dict[str, list[dict]] = defaultdict(list)
        for item, scores in zip(items, per_item):
            value = getattr(item, attribute)
            if value is not None:
                groups[str(value)].append(scores)
        if groups:
            metrics[f"by_{attribute}"] = {key: summarize(rows) for key, rows in sorted(groups.items())}
    return BenchmarkResult(name, title or name, metrics, records)


# -- managed entry points ----------------------------------------------------------------------------------------
def evaluate_model(
    model,
    tokenizer,
    records: Iterable[dict] | Sequence[EvalItem],
    config: EvalConfig | None = None,
    *,
    name: str = "custom",
    question_key: str = "question",
    answer_key: str = "answer",
    generator: Generator | None = None,
    sandbox_pool=None,
) -> BenchmarkResult:
    """Evaluate a model and tokenizer in memory on your own problems.

    ``records``: dicts with ``question`` (the prompt is built for ``config.mode``: instruction, few-shot exemplars,
    chat template) or ``prompt`` (a string or chat messages used verbatim), and ``answer`` (a bare answer, a number,
    a ``\\boxed{}`` solution or a ``#### N`` rationale); or :class:`EvalItem`. Returns a :class:`BenchmarkResult`:
    ``.metrics`` (``greedy``, ``pass@k``, ``maj@k``, ...) and ``.samples`` (one record per problem).

    >>> result = evaluate_model(model, tokenizer, [{"question": "What is 2 + 3?", "answer": "5"}],  # doctest: +SKIP
    ...                         EvalConfig(num_samples=8, temperature=0.7))
    >>> result.metrics["greedy"], result.metrics["maj@8"]  # doctest: +SKIP
    """
    config = config or EvalConfig()
    records = list(records)
    items = records if all(isinstance(r, EvalItem) for r in records) else None
    if items is None:
        items = items_from_records(records, question_key=question_key, answer_key=answer_key)
    generator = generator or HFGenerator(
        model, tokenizer, max_new_tokens=config.max_new_tokens, batch_size=config.batch_size, top_p=config.top_p,
        seed=config.seed,
    )  # fmt: skip
    exemplars = _exemplar_source(name, items, config, "latex", None) if config.few_shot else None
    return evaluate_items(generator, items, config, name=name, tokenizer=tokenizer, exemplars=exemplars,
                          sandbox_pool=sandbox_pool)  # fmt: skip


def evaluate_benchmarks(
    generator: Generator,
    benchmarks: str | Sequence[str],
    config: EvalConfig | None = None,
    *,
    tokenizer=None,
    benchmarks_dir: str | Path | None = None,
    limit: int | None = None,
    output_dir: str | Path | None = None,
    model_name: str = "model",
    sandbox_pool=None,
) -> dict[str, BenchmarkResult]:
    """Evaluate registry benchmarks (Hub, or local copies in ``benchmarks_dir``) with ``generator``; write the
    outputs to ``output_dir`` when given (:func:`write_outputs`). A progress bar counts the benchmarks and names the
    one running (the generator's own bar counts its completions)."""
    from tqdm.auto import tqdm

    config = config or EvalConfig()
    names = resolve_eval_benchmarks(benchmarks)
    results = {}
    bar = tqdm(names, unit="benchmark", desc="benchmarks")
    for name in bar:
        benchmark = EVAL_BENCHMARKS[name]
        items = load_eval_items(name, benchmarks_dir, limit=limit)
        exemplars = _exemplar_source(name, items, config, benchmark.answer_type, benchmarks_dir)
        bar.set_postfix_str(f"{name}: {len(items)} problems, {config.mode}")
        results[name] = evaluate_items(
            generator, items, config, name=name, title=benchmark.title, answer_type=benchmark.answer_type,
            tokenizer=tokenizer, exemplars=exemplars, sandbox_pool=sandbox_pool,
        )  # fmt: skip
    if output_dir is not None:
        write_outputs(results, output_dir, model_name=model_name, config=config)
    return results


def run_evaluation(
    model: str,
    benchmarks: str | Sequence[str],
    config: EvalConfig | None = None,
    *,
    backend: str = "auto",
    benchmarks_dir: str | Path | None = None,
    limit: int | None = None,
    output_dir: str | Path | None = None,
    dtype: str = "auto",
    device: str | None = None,
    vllm_kwargs: dict | None = None,
) -> dict[str, BenchmarkResult]:
    """``trl-dsm evaluate``: load ``model`` (a Hub id or a local path) with vLLM (``backend="vllm"``, or ``"auto"``
    when vLLM is installed) or transformers, and evaluate it on ``benchmarks``. ``vllm_kwargs`` go to ``vllm.LLM``
    (``dtype`` too, unless ``"auto"``); the vLLM engine is shut down before this returns, even on an error."""
    from trl_dsm.eval.generation import VLLMGenerator, load_model_and_tokenizer, vllm_available

    config = config or EvalConfig()
    resolve_eval_benchmarks(benchmarks)  # fail on a bad name before loading a model
    if backend not in ("auto", "vllm", "transformers"):
        raise ValueError(f"backend must be 'auto', 'vllm' or 'transformers', got {backend!r}")
    use_vllm = backend == "vllm" or (backend == "auto" and vllm_available())
    if use_vllm:
        llm_kwargs = {**({"dtype": dtype} if dtype != "auto" else {}), **(vllm_kwargs or {})}
        # The engine runs in background processes: close it here, or the interpreter waits for them at exit.
        with VLLMGenerator(model, max_new_tokens=config.max_new_tokens, top_p=config.top_p, seed=config.seed,
                           llm_kwargs=llm_kwargs, progress=True) as generator:  # fmt: skip
            return evaluate_benchmarks(
                generator, benchmarks, config, tokenizer=generator.tokenizer, benchmarks_dir=benchmarks_dir,
                limit=limit, output_dir=output_dir, model_name=model,
            )  # fmt: skip
    hf_model, tokenizer = load_model_and_tokenizer(model, dtype=dtype, device=device)
    generator = HFGenerator(hf_model, tokenizer, max_new_tokens=config.max_new_tokens,
                            batch_size=config.batch_size, top_p=config.top_p, seed=config.seed, progress=True)  # fmt: skip
    return evaluate_benchmarks(
        generator, benchmarks, config, tokenizer=tokenizer, benchmarks_dir=benchmarks_dir, limit=limit,
        output_dir=output_dir, model_name=model,
    )  # fmt: skip
