# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""trl_dsm.eval: exact metrics from scripted completions (CoT, PoT and TIR through the sandbox), every registry
benchmark from the shared files, and a tiny model end to end through `trl-dsm evaluate`. One file (~400 lines):
the tests share the scripted generator and items below."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import build_tiny_model, build_tiny_tokenizer
from trl_dsm.eval import (
    EVAL_BENCHMARKS,
    EvalConfig,
    EvalItem,
    evaluate_items,
    evaluate_model,
    items_from_records,
    load_eval_items,
    resolve_eval_benchmarks,
)
from trl_dsm.eval.benchmarks import fewshot_pool
from trl_dsm.eval.evaluate import _exemplar_source
from trl_dsm.eval.prompts import BUILTIN_EXEMPLARS, build_messages, render_plain
from trl_dsm.grading.choices import choice_from_text, choice_letters
from trl_dsm.prompts import COT_INSTRUCTION, COT_INSTRUCTION_ZH


class Scripted:
    """A generator returning scripted completions: ``greedy[i]`` at temperature 0, ``samples[i]`` otherwise."""

    def __init__(self, greedy=None, samples=None, respond=None):
        self.greedy, self.samples, self.respond = greedy, samples, respond
        self.calls = []

    def generate(self, prompts, *, n=1, temperature=0.0, stop=()):
        self.calls.append({"prompts": list(prompts), "n": n, "temperature": temperature, "stop": list(stop)})
        if self.respond is not None:
            return [[self.respond(p) for _ in range(n)] for p in prompts]
        if temperature == 0:
            return [[self.greedy[i]] for i in range(len(prompts))]
        return [list(self.samples[i][:n]) for i in range(len(prompts))]


ITEMS = items_from_records(
    [
        {"question": "What is 2 + 3?", "answer": "5"},
        {"question": "What is 1 / 2?", "answer": "$\\frac12$"},
        {"question": "What is 3 + 4?", "answer": "#### 7"},
    ]
)


def test_metrics_are_exact_on_scripted_samples():
    generator = Scripted(
        greedy=["\\boxed{5}", "It is 0.3.", "The answer is 7."],
        samples=[
            ["\\boxed{5}", "so $\\boxed{5.0}$", "\\boxed{6}", "I do not know."],  # 2 correct, 1 wrong, 1 no answer
            ["\\boxed{0.5}", "\\boxed{\\frac{1}{2}}", "\\boxed{1/3}", "\\boxed{\\frac13}"],  # 2-2 tie
            ["\\boxed{1}", "\\boxed{2}", "\\boxed{3}", "\\boxed{4}"],
        ],
    )
    config = EvalConfig(num_samples=4, temperature=0.7, fallback="none")
    result = evaluate_items(generator, ITEMS, config, name="toy")
    m = result.metrics
    # Hand computations (see test_eval_estimators for the definitions):
    # problem 0: c=2 of 4; maj@2 = ({c,c}=1, {c,w}x2=1/2, {c,-}x2=1, {w,-}=0) / 6 = 2/3; maj@4: 2 votes vs 1 -> 1.
    # problem 1: c=2 of 4; 0.5 and \frac{1}{2} vote together, 1/3 and \frac13 too: maj@2 = (1 + 4/2) / 6 = 1/2;
    #            maj@4: 2-2 tie -> 1/2.  problem 2: nothing correct.
    expected = {
        "greedy": 2 / 3,
        "pass@1": (1 / 2 + 1 / 2 + 0) / 3,
        "pass@2": (5 / 6 + 5 / 6 + 0) / 3,
        "pass@4": 2 / 3,
        "maj@1": 1 / 3,
        "maj@2": (2 / 3 + 1 / 2) / 3,
        "maj@4": (1 + 1 / 2) / 3,
        "sample_accuracy": 4 / 12,
        "no_answer_rate": 1 / 12,
    }
    for key, value in expected.items():
        assert m[key] == pytest.approx(value, abs=1e-12), key
    assert m["n"] == 3 and m["num_samples"] == 4
    # One greedy pass and one sampling pass with K samples.
    assert [(c["n"], c["temperature"]) for c in generator.calls] == [(1, 0.0), (4, 0.7)]
    first, second = result.samples[0], result.samples[1]
    assert first["answers"] == ["5", "5.0", "6", None] and first["correct"] == [True, True, False, False]
    assert first["answer_classes"][2] not in (None, 0) and first["answer_classes"][3] is None
    assert second["answer_classes"][2] == second["answer_classes"][3]  # 1/3 and \frac13: one wrong answer
    assert second["voted_answer"] == "0.5" and second["voted_correct"] is True  # the tie goes to the first class
    assert result.samples[2]["greedy"] == {"completion": "The answer is 7.", "answer": "7", "correct": True}
    assert first["scores"]["maj@2"] == pytest.approx(2 / 3)


def test_pass_maj_plot_uses_fractions_and_integer_k_ticks():
    """The same scale as the demo's plots (accuracy in [0, 1]); K ticked only at the evaluated (integer) K."""
    import matplotlib.pyplot as plt

    from trl_dsm.eval.outputs import pass_maj_figure

    generator = Scripted(greedy=["\\boxed{5}", "x", "x"], samples=[["\\boxed{5}", "x", "x", "x"]] * 3)
    result = evaluate_items(generator, ITEMS, EvalConfig(num_samples=4, temperature=0.7), name="toy")
    fig = pass_maj_figure({"toy": result})
    ax = fig.axes[0]
    pass_line, maj_line, greedy_line = ax.get_lines()
    assert list(pass_line.get_xdata()) == [1, 2, 4]
    assert list(pass_line.get_ydata()) == pytest.approx([result.metrics[f"pass@{k}"] for k in (1, 2, 4)])
    assert list(greedy_line.get_ydata()) == pytest.approx([1 / 3, 1 / 3])
    assert ax.get_ylabel() == "accuracy" and ax.get_ylim() == (0, 1)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    assert not ax.xaxis.get_minor_ticks()
    plt.close(fig)


def test_greedy_only_and_configuration_errors():
    result = evaluate_items(Scripted(greedy=["\\boxed{5}", "\\boxed{2}", "\\boxed{7}"]), ITEMS, EvalConfig())
    assert result.metrics["greedy"] == result.metrics["pass@1"] == result.metrics["maj@1"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="temperature > 0"):
        EvalConfig(num_samples=4, temperature=0.0)
    with pytest.raises(ValueError, match="mode must be one of"):
        EvalConfig(mode="cotx")
    with pytest.raises(ValueError, match="no problems"):
        evaluate_items(Scripted(greedy=[]), [], EvalConfig())


def test_per_subject_and_level_breakdown():
    items = [
        EvalItem("a", "q1", "1", subject="Algebra", level="1"),
        EvalItem("b", "q2", "2", subject="Algebra", level="5"),
        EvalItem("c", "q3", "3", subject="Geometry", level="5"),
    ]
    result = evaluate_items(Scripted(greedy=["\\boxed{1}", "\\boxed{0}", "\\boxed{3}"]), items, EvalConfig())
    assert result.metrics["by_subject"]["Algebra"]["greedy"] == 0.5
    assert result.metrics["by_subject"]["Geometry"] == {"n": 1, "pass@1": 1.0, "maj@1": 1.0, "greedy": 1.0}
    assert result.metrics["by_level"]["5"]["greedy"] == 0.5 and result.metrics["by_level"]["1"]["n"] == 1


def test_program_of_thought_answers_come_from_the_sandbox():
    items = items_from_records([{"question": "What is 6 times 7?", "answer": "42"}])
    samples = [[
        "```python\nprint(6 * 7)\n```",
        "```python\nprint(1 / 0)\n```",
        "x = 41\nprint(x)",  # bare code is a program too
        "The answer is 42.",  # no program: no answer in PoT mode
    ]]  # fmt: skip
    config = EvalConfig(mode="pot", num_samples=4, temperature=0.5, greedy=False)
    result = evaluate_items(Scripted(samples=samples), items, config)
    record = result.samples[0]
    assert record["answers"] == ["42", None, "41", None]
    assert record["correct"] == [True, False, False, False]
    assert "ZeroDivisionError" in record["program_outputs"][1]
    assert result.metrics["pass@4"] == 1.0 and result.metrics["pass@1"] == 0.25


def test_tool_integrated_loop_runs_programs_and_continues():
    def respond(prompt):
        completion = prompt.split("Answer:", 1)[1] if "Answer:" in prompt else ""
        if "```output" not in completion:
            return "Let me compute.\n```python\nx = 6 * 7\nprint(x)\n```\n```output"
        if "84" not in completion:
            return "Now double it.\n```python\nprint(x * 2)\n```\n```output"  # x from the earlier cell
        return "So the answer is $\\boxed{84}$."

    items = items_from_records([{"question": "Double six times seven.", "answer": "84"}])
    generator = Scripted(respond=respond)
    result = evaluate_items(generator, items, EvalConfig(mode="tir"))
    completion = result.samples[0]["greedy"]["completion"]
    assert "```output\n42\n```" in completion and "```output\n84\n```" in completion
    assert completion.endswith("\\boxed{84}$.") and result.metrics["greedy"] == 1.0
    assert all("```output" in c["stop"] for c in generator.calls)
    # One program per trajectory at most: the second request for output is not executed.
    limited = evaluate_items(Scripted(respond=respond), items, EvalConfig(mode="tir", tir_max_rounds=1))
    text = limited.samples[0]["greedy"]["completion"]
    assert "```output\n42\n```" in text and "84" not in text and text.endswith("```output")


def test_choice_answers():
    assert choice_letters("(B)") == "B" and choice_letters("\\text{(C)}") == "C"
    assert choice_letters("A, D") == "AD" and choice_letters("12") == "12"
    assert choice_from_text("Choices A and C are incorrect. Choice $\\mathbf{D}$ is correct.") == "D"
    assert choice_from_text("故选 B") == "B" and choice_from_text("The answer is 12") is None
    item = EvalItem("0", "Pick one.\nAnswer Choices:\n(A) 1\n(B) 2", "B")
    samples = [["\\boxed{(B)}", "The answer is B.", "Choice B is correct.", "\\boxed{A}"]]
    result = evaluate_items(Scripted(samples=samples), [item], EvalConfig(num_samples=4, greedy=False),
                            answer_type="choice")  # fmt: skip
    assert result.samples[0]["correct"] == [True, True, True, False]
    assert "Answer with the letter" in result.samples[0]["prompt"]


def test_registry_names_and_errors():
    assert resolve_eval_benchmarks("gsm8k, MATH500,gaokao-mathqa,mmlu_stem") == [
        "gsm8k",
        "math500",
        "agieval-gaokao-mathqa",
        "mmlu-stem",
    ]
    with pytest.raises(ValueError, match="unknown benchmark 'gsm9k'; valid names: gsm8k, math, math500"):
        resolve_eval_benchmarks("gsm8k,gsm9k")
    with pytest.raises(KeyError, match="no 'answer' field"):
        items_from_records([{"question": "q"}])
    with pytest.raises(ValueError, match="no gold answer"):
        items_from_records([{"question": "q", "answer": "####"}])


@pytest.mark.parametrize("name", list(EVAL_BENCHMARKS))
def test_every_benchmark_loads_builds_prompts_and_grades_its_gold(name, shared_data):
    benchmarks_dir = shared_data / "benchmarks"
    benchmark = EVAL_BENCHMARKS[name]
    items = load_eval_items(name, benchmarks_dir, limit=60)
    assert len(items) == min(60, {"sat": 32}.get(name, 60)) and all(item.gold and item.question for item in items)
    assert {item.language for item in items} == {benchmark.language}
    instruction = COT_INSTRUCTION_ZH if benchmark.language == "zh" else COT_INSTRUCTION
    zero = render_plain(build_messages(items[0], "cot", [], benchmark.answer_type), benchmark.language)
    assert items[0].question.strip() in zero and instruction in zero and zero.count(instruction) == 1
    # Few-shot (CoT): exemplars from the train split, the built-in ones, or other test items — never the item.
    config = EvalConfig(few_shot=3)
    exemplars = _exemplar_source(name, items, config, benchmark.answer_type, benchmarks_dir)
    for item in items[:5]:
        shots = exemplars(item)
        assert len(shots) == 3 and all(item.question.strip() not in s.question for s in shots)
        prompt = render_plain(build_messages(item, "cot", shots, benchmark.answer_type), benchmark.language)
        assert prompt.count(instruction) == 4 and all("\\boxed{" in s.solution for s in shots)
    _, source = fewshot_pool(name, benchmarks_dir)
    has_train = EVAL_BENCHMARKS.get(benchmark.fewshot, benchmark).spec.train_file is not None
    expected = {"builtin": "builtin", "self": "test"}.get(benchmark.fewshot, "train" if has_train else "test")
    assert source == expected
    # Gold self-consistency through the whole pipeline: the worked solutions, and the gold in a box.
    boxed = Scripted(respond=None, greedy=[f"The answer is $\\boxed{{{i.gold}}}$." for i in items])
    assert evaluate_items(boxed, items, EvalConfig(), answer_type=benchmark.answer_type).metrics["greedy"] == 1.0
    solved = [i for i in items if i.solution]
    if solved:
        replay = Scripted(greedy=[i.solution for i in solved])
        accuracy = evaluate_items(replay, solved, EvalConfig(), answer_type=benchmark.answer_type).metrics["greedy"]
        assert accuracy >= 1 - 1 / len(solved), (
            accuracy
        )  # full-set figures: benchmarks/eval_gold.py, docs/evaluation.md


def test_builtin_exemplars_reach_their_answers():
    from trl_dsm.grading import extract_answer
    from trl_dsm.sandbox import run_python
    from trl_dsm.sandbox.tir import extract_program, pot_answer

    for (mode, _language), exemplars in BUILTIN_EXEMPLARS.items():
        for exemplar in exemplars:
            if mode == "pot":
                answer = pot_answer(run_python(extract_program(exemplar.solution)))
            else:
                answer = extract_answer(exemplar.solution)
            assert answer == exemplar.answer, (mode, exemplar.question)
            if mode == "tir":  # the output blocks shown are what the programs print
                for code, shown in re.findall(r"```python\n(.*?)```\n```output\n(.*?)\n```", exemplar.solution, re.S):
                    assert run_python(code).stdout.strip() == shown


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_eval")
    tokenizer = build_tiny_tokenizer(
        [f"{a} + {b} = {a + b}. The answer is {a + b}." for a in range(9) for b in range(9)]
    )
    build_tiny_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_cli_on_a_tiny_model_writes_all_outputs(tiny_model_dir, shared_data, tmp_path, capsys):
    from huggingface_hub import ModelCardData
    from huggingface_hub.repocard_data import model_index_to_eval_results

    from trl_dsm.cli import main
    from trl_dsm.grading import grade_batch

    out = tmp_path / "eval"
    argv = ["evaluate", "--model", str(tiny_model_dir), "--benchmarks", "gsm8k,cmath", "--benchmarks-dir",
            str(shared_data / "benchmarks"), "--limit", "2", "--num-samples", "2", "--max-new-tokens", "6",
            "--output-dir", str(out), "--backend", "transformers", "--batch-size", "4"]  # fmt: skip
    assert main(argv) == 0
    progress = capsys.readouterr().err  # a bar over the benchmarks naming the one running, one per generation pass
    assert "benchmarks" in progress and "gsm8k: 2 problems, cot" in progress and "cmath: 2 problems, cot" in progress
    assert "greedy decoding" in progress and "sampling" in progress and "completion/s" in progress
    summary = json.loads((out / "results.json").read_text())
    assert set(summary["results"]) == {"gsm8k", "cmath"} and summary["config"]["num_samples"] == 2
    for name in ("gsm8k", "cmath"):
        metrics = summary["results"][name]
        assert metrics["n"] == 2 and {"greedy", "pass@1", "pass@2", "maj@1", "maj@2"} <= set(metrics)
        assert metrics["maj@1"] == pytest.approx(metrics["pass@1"]) == pytest.approx(metrics["sample_accuracy"])
        rows = [json.loads(line) for line in (out / "samples" / f"{name}.jsonl").read_text().splitlines()]
        assert len(rows) == 2 and all(len(r["samples"]) == 2 and len(r["correct"]) == 2 for r in rows)
        # The stored correctness is what the grader says about the stored completions.
        regraded = grade_batch(
            [s for r in rows for s in r["samples"]], [r["gold"] for r in rows for _ in r["samples"]]
        )
        assert [g.correct for g in regraded] == [c for r in rows for c in r["correct"]]
        assert rows[0]["prompt"].startswith("user: ")  # the tokenizer's chat template
    assert (out / "pass_maj_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model_index = json.loads((out / "model_index.json").read_text())
    name, results = model_index_to_eval_results(model_index)
    assert name == str(tiny_model_dir)
    metrics = {(r.dataset_name, r.metric_name) for r in results}
    assert "model-index" in ModelCardData(model_name=name, eval_results=results).to_yaml()
    assert ("GSM8K", "maj@2 (cot, 0-shot)") in metrics and ("CMATH", "greedy (cot, 0-shot)") in metrics


def test_cli_rejects_unknown_benchmarks_in_one_line(capsys):
    from trl_dsm.cli import main

    assert main(["evaluate", "--model", "unused", "--benchmarks", "gsm8k,nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown benchmark 'nope'" in err and "mmlu-stem" in err


def test_evaluate_model_in_memory_is_reproducible(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    records = [{"question": f"What is {a} + {b}?", "answer": str(a + b)} for a, b in [(1, 2), (3, 4), (5, 1)]]
    config = EvalConfig(num_samples=4, max_new_tokens=6, batch_size=6, chat_template=False)
    first = evaluate_model(model, tokenizer, records, config)
    second = evaluate_model(model, tokenizer, records, config)
    assert [r["samples"] for r in first.samples] == [r["samples"] for r in second.samples]
    assert first.metrics["n"] == 3 and first.metrics["pass@1"] == pytest.approx(first.metrics["sample_accuracy"])
    assert first.samples[0]["prompt"].startswith("Question: What is 1 + 2?")
    assert all(len(r["samples"]) == 4 for r in first.samples)
    assert round(first.metrics["pass@4"] * 3, 9) in (0, 1, 2, 3)  # a mean of three 0/1 values


def test_hf_generator_progress_bar_counts_completions(tiny_model_dir, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trl_dsm.eval.generation import HFGenerator

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    generator = HFGenerator(model, tokenizer, max_new_tokens=2, batch_size=4, progress=True)
    assert [len(c) for c in generator.generate(["1 +", "2 +", "3 +"], n=2, temperature=1.0)] == [2, 2, 2]
    err = capsys.readouterr().err
    assert "sampling:" in err and "0/6 [" in err and "completion/s" in err  # 3 prompts x 2 samples, with a rate/ETA
    HFGenerator(model, tokenizer, max_new_tokens=2).generate(["1 +"])  # progress off by default
    assert "greedy decoding" not in capsys.readouterr().err


def test_hf_generator_batches_map_back_to_their_prompts(tiny_model_dir):
    """Left padding, length sorting and num_return_sequences chunking give each prompt its own completions: batched
    greedy decoding equals one prompt at a time, and n > batch_size still yields n samples per prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trl_dsm.eval.generation import HFGenerator

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    with torch.no_grad():  # sharpen the random model so that its continuations depend on the prompt
        for parameter in model.parameters():
            parameter.mul_(8)
    prompts = ["1 + 2 =", "3 + 4 = 7. The answer is 7. 5 + 5 =", "8 +", "2 + 2 = 4. The"]
    one_by_one = [HFGenerator(model, tokenizer, max_new_tokens=8, batch_size=1).generate([p])[0] for p in prompts]
    batched = HFGenerator(model, tokenizer, max_new_tokens=8, batch_size=4).generate(prompts)
    assert batched == one_by_one and len({c[0] for c in batched}) == len(prompts)
    assert tokenizer.padding_side == "right"  # restored after generating
    sampled = HFGenerator(model, tokenizer, max_new_tokens=4, batch_size=3).generate(prompts, n=7, temperature=1.0)
    assert [len(group) for group in sampled] == [7, 7, 7, 7]
    again = HFGenerator(model, tokenizer, max_new_tokens=4, batch_size=3).generate(prompts, n=7, temperature=1.0)
    assert again == sampled  # seeded per call
    with pytest.raises(ValueError, match="greedy decoding"):
        HFGenerator(model, tokenizer).generate(prompts, n=2, temperature=0.0)
    # new tokens that fill the whole context would cut every prompt to nothing: refused, with the way out
    limit = model.config.max_position_embeddings
    with pytest.raises(ValueError, match=rf"max_new_tokens={limit} leaves no room .* context of {limit} tokens"):
        HFGenerator(model, tokenizer, max_new_tokens=limit).generate(prompts)


def test_evaluate_flags_default_to_eval_config():
    """`trl-dsm evaluate --help` shows the library's defaults: every flag named after an EvalConfig field defaults to
    that field's default, and its help text shows it."""
    import dataclasses

    from trl_dsm.cli import build_parser
    from trl_dsm.eval.config import EvalConfig

    parser = build_parser()
    evaluate = next(a for a in parser._actions if a.dest == "command").choices["evaluate"]
    flags = {a.dest: a for a in reversed(evaluate._actions)}  # the first action of a dest (--greedy, not --no-greedy)
    shared = [f for f in dataclasses.fields(EvalConfig) if f.name in flags]
    assert len(shared) >= 12, [f.name for f in shared]
    as_config = {"chat_template": {"auto": None, "on": True, "off": False}.get}  # a flag spelled in words
    for field in shared:
        action = flags[field.name]
        assert as_config.get(field.name, lambda x: x)(action.default) == field.default, field.name
        assert action.help == field.metadata["help"], field.name  # --help appends "(default: ...)"
    assert "(default: 512)" in " ".join(evaluate.format_help().split())


def test_every_dashed_flag_also_takes_trls_underscore_spelling():
    from trl_dsm.cli import build_parser

    parser = build_parser()
    dashed = parser.parse_args(["evaluate", "--model", "m", "--output-dir", "x", "--max-new-tokens", "7"])
    underscored = parser.parse_args(["evaluate", "--model", "m", "--output_dir", "x", "--max_new_tokens", "7"])
    assert vars(dashed) == vars(underscored) and str(dashed.output_dir) == "x" and dashed.max_new_tokens == 7
    for command in ("grade", "decontaminate", "mine", "demo"):
        sub = next(a for a in parser._actions if a.dest == "command").choices[command]
        for action in sub._actions:
            long = [o for o in action.option_strings if o.startswith("--") and "-" in o[2:]]
            for option in long:
                assert "--" + option[2:].replace("-", "_") in action.option_strings, (command, option)
