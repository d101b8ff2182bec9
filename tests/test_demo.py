# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature run: its generated data, its report logic, and (slow) the whole quick run through the CLI."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from trl_dsm.demo.corpus import generate_web_pages
from trl_dsm.demo.problems import generate_problems, make_problem, split_problems
from trl_dsm.demo.report import findings, seeds_summary, verdicts
from trl_dsm.grading import grade
from trl_dsm.grpo.process import check_arithmetic


def test_every_generated_step_is_true_and_the_answer_is_graded_correct():
    problems = generate_problems(500, seed=3, min_steps=2, max_steps=4, max_value=99, max_operand=12, max_factor=15)
    assert len({p.question for p in problems}) == 500
    for p in problems:
        lines = p.solution.split("\n")
        assert len(lines) == p.steps + 1 and 2 <= p.steps <= 4
        assert all(check_arithmetic(line) is True for line in lines[:-1])
        assert check_arithmetic(lines[-1]) is None  # "The answer is N." makes no claim
        assert lines[-1] == f"The answer is {p.answer}."
        assert lines[-2].endswith(f"= {p.answer}")
        values = [int(line.rsplit("= ", 1)[1]) for line in lines[:-1]]
        assert all(0 <= v <= 99 for v in values)
        assert grade(p.solution, str(p.answer))
    assert generate_problems(20, seed=3) == generate_problems(20, seed=3)
    assert generate_problems(20, seed=3) != generate_problems(20, seed=4)


def test_operands_respect_their_bounds():
    rng = random.Random(0)
    for _ in range(300):
        p = make_problem(rng, max_value=50, max_operand=5, max_factor=10)
        for line in p.solution.split("\n")[:-1]:
            a, op, b, _, _ = line.split()
            if op in "+-":
                assert int(b) <= 5
            else:
                assert int(a) <= 10 and int(b) in (2, 3)


def test_split_keeps_heldout_computations_out_of_training():
    problems = generate_problems(2000, seed=0)
    train, heldout = split_problems(problems, 200, seed=0)
    assert len(heldout) == 200
    assert not {p.solution for p in heldout} & {p.solution for p in train}
    assert not {p.question for p in heldout} & {p.question for p in train}
    assert len(train) + len(heldout) <= len(problems)


def test_generated_crawl():
    problems = generate_problems(100, seed=0)
    planted = generate_problems(3, seed=99)
    pages = generate_web_pages(problems, n_math=30, n_other=50, contaminated=planted, n_duplicates=10, seed=0)
    assert len(pages) == 90
    kinds = [p["kind"] for p in pages]
    assert kinds.count("math") + kinds.count("other") == 90
    text = "\n".join(p["text"] for p in pages)
    assert all(q.question in text for q in planted)  # each held-out problem copied into some page
    urls = [p["url"] for p in pages]
    assert sum("utm_source" in u for u in urls) == 5 and sum("-mirror" in u for u in urls) == 5
    assert any("/math/" in u for u in urls) and any(u.startswith("https://learninghub.example.org/news") for u in urls)
    assert generate_web_pages(problems, n_math=5, n_other=5, seed=1) == generate_web_pages(
        problems, n_math=5, n_other=5, seed=1
    )


def _results(seed: int, sft: float, outcome: float, process: float, control: float | None = None) -> dict:
    def metrics(greedy: float, p8: float, m8: float) -> dict:
        return {"greedy": greedy, "pass@1": greedy - 0.1, "pass@2": p8 - 0.1, "pass@8": p8, "maj@8": m8}

    ev = {
        "pretrained": metrics(0.3, 0.5, 0.3),
        "sft": metrics(sft, 0.8, 0.5),
        "grpo_outcome": metrics(outcome, 0.82, 0.6),
        "grpo_process": metrics(process, 0.78, 0.7),
    }
    if control is not None:
        ev["sft_continued"] = metrics(control, 0.85, 0.7)
    return {"config": {"seed": seed}, "eval": ev}


def test_findings_and_verdicts_are_computed_from_the_numbers():
    f = findings(_results(0, 0.5, 0.6, 0.55))
    assert f["k"] == 8
    outcome, process = f["arms"]["grpo_outcome"], f["arms"]["grpo_process"]
    assert outcome["greedy_gain"] == pytest.approx(0.1)
    assert outcome["pass_gain"] == pytest.approx(0.02) and outcome["maj_gain"] == pytest.approx(0.1)
    assert outcome["maj_gained_more_than_pass"] is True
    assert process["pass_gain"] == pytest.approx(-0.02) and process["maj_gain"] == pytest.approx(0.2)
    assert f["process_minus_outcome_greedy"] == pytest.approx(-0.05)
    assert f["process_at_least_outcome"] is False
    text = " ".join(verdicts(_results(0, 0.5, 0.6, 0.55)))
    assert "maj@k gained more than pass@k" in text
    assert "Process supervision did worse than outcome supervision" in text and "(-5.0 pts)" in text
    text = " ".join(verdicts(_results(0, 0.5, 0.6, 0.6)))
    assert "at least as well as" in text


def test_rl_arms_are_compared_with_the_continued_sft_control():
    f = findings(_results(0, 0.5, 0.6, 0.75, control=0.7))
    assert f["arms"]["grpo_outcome"]["minus_control_greedy"] == pytest.approx(-0.1)
    assert f["arms"]["grpo_process"]["minus_control_greedy"] == pytest.approx(0.05)
    text = verdicts(_results(0, 0.5, 0.6, 0.75, control=0.7))
    assert (
        "grpo_outcome did not beat SFT continued at the RL learning rate for as many steps (greedy -10.0 pts)." in text
    )
    assert "grpo_process beat SFT continued at the RL learning rate for as many steps (greedy +5.0 pts)." in text
    assert "minus_control_greedy" not in findings(_results(0, 0.5, 0.6, 0.75))["arms"]["grpo_outcome"]
    runs = [_results(0, 0.5, 0.6, 0.75, control=0.7), _results(1, 0.6, 0.7, 0.7, control=0.65)]
    s = seeds_summary(runs)
    assert s["grpo_outcome"]["minus_control"] == pytest.approx([-0.1, 0.05])
    assert s["greedy"]["sft_continued"]["values"] == [0.7, 0.65]


def test_sft_control_continues_sft_at_the_rl_learning_rate(monkeypatch, tmp_path):
    import transformers

    import trl_dsm.demo.run as run

    seen = {}

    def fake_sft(cfg, model, splits, tokenizer, workdir, name="sft"):
        seen.update(cfg=cfg, model=model, name=name)
        return model, []

    monkeypatch.setattr(run, "sft", fake_sft)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda path: f"model from {path}")
    cfg = run.DemoConfig(grpo_lr=3e-5, grpo_steps=77, grpo_warmup_steps=5, sft_lr=1e-3, sft_steps=300)
    assert (
        run.sft_continued(cfg, tmp_path / "sft-model", {}, None, tmp_path)[0] == f"model from {tmp_path / 'sft-model'}"
    )
    control = seen["cfg"]
    assert (control.sft_lr, control.sft_steps, control.sft_warmup_steps) == (3e-5, 77, 5)
    assert control.sft_scheduler == "constant_with_warmup" and control.sft_batch_size == cfg.sft_batch_size
    assert seen["name"] == "sft-continued"


def test_seeds_summary():
    runs = [_results(0, 0.50, 0.60, 0.62), _results(1, 0.54, 0.61, 0.60), _results(2, 0.52, 0.63, 0.64)]
    s = seeds_summary(runs)
    assert s["seeds"] == [0, 1, 2]
    assert s["sft_spread"] == pytest.approx(0.04)
    assert s["greedy"]["sft"]["mean"] == pytest.approx(0.52)
    assert s["grpo_outcome"]["gains"] == pytest.approx([0.10, 0.07, 0.11])
    assert s["grpo_outcome"]["mean_gain"] == pytest.approx(0.28 / 3)
    assert s["grpo_outcome"]["gain_exceeds_spread"] is True  # min gain 0.07 > spread 0.04
    assert s["grpo_process"]["min_gain"] == pytest.approx(0.06)
    assert s["greedy"]["grpo_process"]["spread"] == pytest.approx(0.04)
    # mean gain (0.10) above the spread (0.06) but one seed's gain (0.03) below it: the strict bar fails
    mixed = seeds_summary([_results(0, 0.50, 0.65, 0.6), _results(1, 0.56, 0.59, 0.6), _results(2, 0.53, 0.65, 0.6)])
    assert mixed["sft_spread"] == pytest.approx(0.06)
    assert mixed["grpo_outcome"]["mean_gain"] == pytest.approx(0.10)
    assert mixed["grpo_outcome"]["mean_gain_exceeds_spread"] is True
    assert mixed["grpo_outcome"]["gain_exceeds_spread"] is False
    flat = seeds_summary([_results(0, 0.5, 0.51, 0.5), _results(1, 0.6, 0.6, 0.6)])
    assert flat["grpo_outcome"]["gain_exceeds_spread"] is False and flat["grpo_process"]["every_seed_gains"] is False


def test_seeds_summary_markdown(tmp_path):
    from trl_dsm.demo.report import write_seeds_summary

    def lines(runs: list[dict]) -> list[str]:
        write_seeds_summary(runs, tmp_path)
        return (tmp_path / "seeds_summary.md").read_text(encoding="utf-8").splitlines()

    def arm(text: list[str], name: str) -> str:
        return next(line for line in text if line.startswith(f"- {name}:"))

    text = lines([_results(0, 0.50, 0.52, 0.6), _results(1, 0.56, 0.57, 0.6), _results(2, 0.53, 0.55, 0.6)])
    assert "| sft | 50.0% | 56.0% | 53.0% | 53.0% |" in text
    assert "- SFT seed-to-seed spread (max - min): 6.0 pts" in text
    outcome, process = arm(text, "grpo_outcome"), arm(text, "grpo_process")
    assert "+2.0 pts, +1.0 pts, +2.0 pts (mean +1.7 pts, min +1.0 pts)" in outcome
    assert outcome.endswith("the bar is not met (nor does the mean gain)")
    assert process.endswith("the bar is not met (the mean gain does)")  # gains +10, +4, +7: mean 7 > 6
    text = lines([_results(0, 0.50, 0.60, 0.62), _results(1, 0.54, 0.61, 0.60), _results(2, 0.52, 0.63, 0.64)])
    assert arm(text, "grpo_outcome").endswith("every seed's gain exceeds the SFT spread: the bar is met")


def test_cli_rejects_bad_overrides():
    from trl_dsm.demo.cli import _parse_overrides

    with pytest.raises(SystemExit, match="FIELD one of"):  # it has its own flag, --web-docs
        _parse_overrides(["web_docs=5"])
    with pytest.raises(SystemExit, match="grpo_warmup_steps: a non-negative integer"):
        _parse_overrides(["grpo_warmup_steps=-5"])

    assert _parse_overrides(["grpo_steps=40", 'arms=["outcome"]', "beta=0"]) == {
        "grpo_steps": 40,
        "arms": ("outcome",),
        "beta": 0,
    }
    with pytest.raises(SystemExit, match="FIELD=VALUE with FIELD one of"):
        _parse_overrides(["no_such_field=1"])
    with pytest.raises(SystemExit, match="not a valid value"):
        _parse_overrides(["grpo_steps=forty"])
    with pytest.raises(SystemExit, match="grpo_steps: '1.5' is not of type int"):
        _parse_overrides(["grpo_steps=1.5"])
    with pytest.raises(SystemExit, match="threads: 'true' is not of type int"):
        _parse_overrides(["threads=true"])
    assert _parse_overrides(["grpo_lr=1"]) == {"grpo_lr": 1}  # an int is a valid float
    with pytest.raises(SystemExit, match=r"DemoConfig.arms: a non-empty selection"):
        _parse_overrides(['arms=["outcom"]'])
    with pytest.raises(SystemExit, match=r"DemoConfig.sft_scheduler: one of"):
        _parse_overrides(["sft_scheduler=cosin"])


def test_demo_config_rejects_bad_values_before_any_stage():
    from trl_dsm.demo.run import DemoConfig

    assert DemoConfig(arms=["process"]).arms == ("process",)
    for bad, match in [
        ({"arms": ()}, "DemoConfig.arms"),
        ({"arms": ("outcome", "outcome")}, "DemoConfig.arms"),
        ({"grpo_steps": 0}, "DemoConfig.grpo_steps: a positive integer"),
        ({"n_heldout": 2.5}, "DemoConfig.n_heldout: a positive integer"),
        ({"min_steps": 3, "max_steps": 2}, "max_steps"),
        ({"num_generations": 1}, "at least 2 completions"),
        ({"corpus_weight": 1.0}, "corpus_weight"),
        ({"grpo_warmup_steps": -5}, "DemoConfig.grpo_warmup_steps: a non-negative integer"),
        ({"grpo_lr": -1.0}, "DemoConfig.grpo_lr: a positive number"),
        ({"eval_temperature": float("nan")}, "DemoConfig.eval_temperature: a positive number"),
        ({"beta": -0.1}, "DemoConfig.beta: a non-negative number"),
        ({"intermediate_size": 0}, "DemoConfig.intermediate_size: a positive integer"),
        ({"hidden_size": 30}, r"hidden_size \(30\) must be a multiple of num_heads \(4\)"),
        ({"threads": -1}, "DemoConfig.threads: a non-negative integer"),
    ]:
        with pytest.raises(ValueError, match=match):
            DemoConfig(**bad)


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path, shared_data):
    """``trl-dsm demo --quick`` runs every stage offline and writes the report, results and plots."""
    out = tmp_path / "demo"
    web_docs = shared_data / "web" / "web_docs.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trl_dsm.cli",
            "demo",
            "--quick",
            "--output-dir",
            str(out),
            "--web-docs",
            str(web_docs),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results["eval"]) == {"pretrained", "sft", "sft_continued", "grpo_outcome", "grpo_process"}
    for metrics in results["eval"].values():
        assert {"greedy", "pass@1", "pass@4", "maj@4"} <= set(metrics)
        assert all(0.0 <= metrics[k] <= 1.0 for k in ("greedy", "pass@4", "maj@4"))
    mining = results["mining"]
    assert mining["pages"] > mining["selected"] > 0
    real_pages = sum(1 for line in web_docs.read_text().splitlines() if line.strip())
    generated = mining["pages"] - real_pages  # the crawl is the generated pages plus every real page
    assert generated >= 100 and mining["selected_real"] <= real_pages
    assert mining["selected_math"] + mining["selected_other"] + mining["selected_real"] == mining["selected"]
    assert mining["mining"]["dedup"]["url_duplicates_removed"] > 0
    assert [step for step, *_ in results["reward_curves"]["process"]] == [1, 2]
    report = (out / "report.md").read_text()
    assert report.splitlines()[2].startswith("> **Smoke test (`--quick`)**")  # said before any number
    assert "40 held-out problems" in report and "at temperature 0.7" in report and "(grey in the plot)" in report
    assert "maj@k gained" in report and "Process supervision did" in report
    assert "SFT continued at the RL learning rate" in report and "| sft_continued |" in report
    for png in ("reward_curve.png", "accuracy_by_stage.png", "pass_maj_at_k.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert "| stage | greedy |" in done.stdout


def test_web_docs_errors_name_file_and_line(tmp_path):
    from trl_dsm.demo.run import _read_web_docs

    path = tmp_path / "pages.jsonl"
    path.write_text('{"url": "u", "text": "ok"}\n\n{"url": "v", "text": 5}\n')
    with pytest.raises(ValueError, match=r"pages.jsonl:3: a web page needs a string `text` field"):
        _read_web_docs(str(path))
    path.write_text('{"url": "u", "text": "ok"}\nnot json\n')
    with pytest.raises(ValueError, match=r"pages.jsonl:2: not valid JSON"):
        _read_web_docs(str(path))
    path.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match=r"pages.jsonl:1: expected a JSON object"):
        _read_web_docs(str(path))
    path.write_text('{"url": "u", "text": "a page", "category_hint": "math"}\n')
    assert _read_web_docs(str(path)) == [{"url": "u", "title": "", "text": "a page", "kind": "real-math"}]


def test_grpo_stage_passes_the_rl_settings_through(monkeypatch, tmp_path):
    """The RL hyperparameters the docs state reach GRPOMathConfig (the §4.2 KL 0.04, G, the lr and its warmup)."""
    import trl_dsm.grpo
    from trl_dsm.demo.run import DemoConfig, grpo

    class Captured(Exception):
        pass

    seen = {}

    def capture(**kwargs):
        seen.update(kwargs)
        raise Captured

    monkeypatch.setattr(trl_dsm.grpo, "GRPOMathConfig", capture)
    cfg = DemoConfig(grpo_warmup_steps=7, grpo_lr=3e-5, grpo_prompts_per_step=4, num_generations=6, temperature=0.9)
    splits = {"rl": generate_problems(5, seed=0)}
    with pytest.raises(Captured):
        grpo(cfg, "process", tmp_path / "sft-model", splits, None, tmp_path)
    assert (seen["learning_rate"], seen["warmup_steps"], seen["lr_scheduler_type"]) == (
        3e-5,
        7,
        "constant_with_warmup",
    )
    assert (seen["num_generations"], seen["per_device_train_batch_size"], seen["beta"]) == (6, 24, 0.04)
    assert (seen["temperature"], seen["supervision"], seen["max_steps"]) == (0.9, "process", 150)


def test_moving_average():
    from trl_dsm.demo.report import moving_average

    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([2.0, 4.0], 1) == [2.0, 4.0]
    assert moving_average([], 3) == []
