# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature run: its generated data, its report logic, and (slow) the whole quick run through the CLI."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import types
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
    collapsed = _results(0, 0.5, 0.6, 0.6)
    for name in ("grpo_outcome", "grpo_process"):  # the learned-PRM arms' collapse: every number below SFT's
        collapsed["eval"][name] = {key: value / 5 for key, value in collapsed["eval"]["sft"].items()}
    text = " ".join(verdicts(collapsed))
    assert "both fell, maj@k lost" in text and "maj@k gained" not in text


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

    import trl_dsm.demo.stages as run

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

    with pytest.raises(ValueError, match="FIELD one of"):  # it has its own flag, --web-docs
        _parse_overrides(["web_docs=5"])
    with pytest.raises(ValueError, match="FIELD one of"):  # and this one --keep-intermediates
        _parse_overrides(["keep_intermediates=true"])
    with pytest.raises(ValueError, match="grpo_warmup_steps: a non-negative integer"):
        _parse_overrides(["grpo_warmup_steps=-5"])

    assert _parse_overrides(["grpo_steps=40", 'arms=["outcome"]', "beta=0"]) == {
        "grpo_steps": 40,
        "arms": ("outcome",),
        "beta": 0,
    }
    with pytest.raises(ValueError, match="FIELD=VALUE with FIELD one of"):
        _parse_overrides(["no_such_field=1"])
    with pytest.raises(ValueError, match="not a valid value"):
        _parse_overrides(["grpo_steps=forty"])
    with pytest.raises(ValueError, match="grpo_steps: '1.5' is not of type int"):
        _parse_overrides(["grpo_steps=1.5"])
    with pytest.raises(ValueError, match="threads: 'true' is not of type int"):
        _parse_overrides(["threads=true"])
    assert _parse_overrides(["grpo_lr=1"]) == {"grpo_lr": 1}  # an int is a valid float
    with pytest.raises(ValueError, match=r"DemoConfig.arms: a non-empty selection"):
        _parse_overrides(['arms=["outcom"]'])
    with pytest.raises(ValueError, match=r"DemoConfig.sft_scheduler: one of"):
        _parse_overrides(["sft_scheduler=cosin"])


def _trl_dsm(*argv: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``trl-dsm ARGV`` through the installed entry point (``python -m trl_dsm.cli`` where it is not on PATH)."""
    exe = shutil.which("trl-dsm")
    cmd = [exe] if exe else [sys.executable, "-m", "trl_dsm.cli"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*cmd, *argv], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def test_demo_usage_errors_are_one_line_with_exit_status_2_and_write_nothing(tmp_path):
    done = _trl_dsm("demo", "--set", "bogus=1", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith("trl-dsm demo: error: --set 'bogus=1': expected FIELD=VALUE with FIELD one of ["), err
    assert list(tmp_path.iterdir()) == []  # not even the default output directory

    out = tmp_path / "new-run"
    done = _trl_dsm("demo", "--quick", "--resume-from", str(tmp_path / "nowhere"), "--output-dir", str(out),
                    cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"trl-dsm demo: error: resume_from={tmp_path / 'nowhere'}: no results.json (or results.partial.json) and "
        "sft-model/ there"
    )
    assert not out.exists()


def test_the_output_directory_holds_one_runs_results(tmp_path):
    from trl_dsm.demo.outputs import check_seeds_dir, prepare_output_dir, remove_intermediates

    out = tmp_path / "demo"
    assert prepare_output_dir(out) is None and out.is_dir()  # created
    # an earlier --quick run's files (an interrupted run: no results.json) are removed, with a message
    (out / "report.md").write_text("Smoke test")
    (out / "results.partial.json").write_text(json.dumps({"config": {"smoke_test": True, "seed": 3}}))
    for name in ("mining/iter_1", "sft-model", "grpo-outcome"):
        (out / name).mkdir(parents=True)
    (out / "mining" / "iter_1" / "model.bin").write_bytes(b"x" * 1000)
    assert prepare_output_dir(out) == (
        f"{out} holds the results of an unfinished --quick run (seed 3): removing them before this run writes there"
    )
    assert list(out.iterdir()) == []
    # a directory with anything else in it is refused, and left as it was
    (out / "notes.txt").write_text("mine")
    (out / "report.md").write_text("a report")
    with pytest.raises(ValueError, match=r"holds files that are not a trl-dsm demo run's \(notes.txt\)"):
        prepare_output_dir(out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.md"]
    with pytest.raises(NotADirectoryError, match="is a file"):
        prepare_output_dir(out / "notes.txt")
    # at the end: the stages' working directories go, results and models stay
    run = tmp_path / "run"
    for name in ("mining/iter_1", "pretrain", "sft", "sft-continued", "grpo-process", "sft-model", "pretrained-model"):
        (run / name).mkdir(parents=True)
    (run / "mining" / "iter_1" / "model.bin").write_bytes(b"x" * 1000)
    (run / "results.partial.json").write_text("{}")
    (run / "results.json").write_text("{}")
    assert remove_intermediates(run, finished=False) == 1000
    assert sorted(p.name for p in run.iterdir()) == ["pretrained-model", "results.json", "results.partial.json",
                                                     "sft-model"]  # fmt: skip
    assert remove_intermediates(run, finished=True) == 2
    assert sorted(p.name for p in run.iterdir()) == ["pretrained-model", "results.json", "sft-model"]
    # several seeds: only those seeds' directories and the summary may be there; the old summary goes
    seeds = tmp_path / "seeds"
    (seeds / "seed-0").mkdir(parents=True)
    (seeds / "seeds_summary.md").write_text("old")
    check_seeds_dir(seeds, [0, 1])
    assert [p.name for p in seeds.iterdir()] == ["seed-0"]
    (seeds / "seed-2").mkdir()
    with pytest.raises(ValueError, match=r"holds files that are not this run's \(seed-2\)"):
        check_seeds_dir(seeds, [0, 1])


def test_an_earlier_run_is_not_its_own_output_directory(tmp_path):
    from trl_dsm.demo.run import DemoConfig, check_earlier_runs

    cfg = DemoConfig.quick(output_dir=str(tmp_path), resume_from=str(tmp_path))
    with pytest.raises(ValueError, match="resume_from=.* is the output directory; give another --output-dir"):
        check_earlier_runs(cfg)


def test_one_expected_time_in_the_help_the_banner_and_the_docs():
    from trl_dsm.cli import build_parser
    from trl_dsm.demo.timing import EXPECTED_TOTAL_SECONDS, LOADED_FACTOR, expected_time_text

    text = expected_time_text()
    assert text == (
        f"about {EXPECTED_TOTAL_SECONDS['default'] / 60:.0f} minutes on 2 idle CPU cores, about "
        f"{LOADED_FACTOR * EXPECTED_TOTAL_SECONDS['default'] / 60:.0f} beside two other CPU-bound jobs"
    )
    parser = build_parser()
    demo = parser._subparsers._group_actions[0].choices["demo"]
    assert text in " ".join(demo.format_help().split())
    docs = " ".join((Path(__file__).resolve().parents[1] / "docs" / "demo.md").read_text().split())
    assert text in docs
    with pytest.raises(ValueError, match="kind is one of quick"):
        expected_time_text("fast")


def test_thread_settings(monkeypatch):
    from trl_dsm.demo import threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 16)
    assert threads.resolve_threads(0) == threads.DEFAULT_THREADS == 2
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 1)
    assert threads.resolve_threads(0) == 1 and threads.resolve_threads(3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.resolve_threads(0) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "two")
    with pytest.raises(ValueError, match="OMP_NUM_THREADS: a positive integer, got 'two'"):
        threads.resolve_threads(0)
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert threads.tuned(0) and not threads.tuned(2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert not threads.tuned(0)  # the user's count is honoured, not measured
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    assert threads.configure_process() == {"TOKENIZERS_PARALLELISM": "false"}
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    effective = threads.configure_process()
    assert effective == {"TOKENIZERS_PARALLELISM": "false", "OMP_WAIT_POLICY": "PASSIVE"}
    assert threads.describe(1, effective) == "1 torch thread, OMP_WAIT_POLICY PASSIVE"
    assert threads.describe(2, {}, tuning=True) == (
        "torch threads measured while training (1 or 2, again after 50-400 steps)"
    )


def test_thread_tuner_keeps_the_faster_count_and_measures_again():
    """Each period: a warm-up step, then 2 steps per candidate interleaved (2, 1, 2, 1), then the candidate with
    the smaller median; torch's count is set before every step and back to the choice after sampling."""
    from trl_dsm.demo.threads import ThreadTuner

    calls = []
    tuner = ThreadTuner(2, period=8, probe=2, warmup=1, set_threads=calls.append)
    # seconds of the probe steps: beside other jobs 1 thread is faster (units 1-4), then idle 2 threads (9-12)
    seconds = {1: 0.3, 2: 0.2, 3: 0.5, 4: 0.25, 9: 0.1, 10: 0.3, 11: 0.1, 12: 0.3}
    counts = []
    for unit in range(16):
        threads = tuner.threads_for(unit)
        counts.append(threads)
        tuner._record(unit, threads, seconds.get(unit, 1.0))
    assert counts == [2, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 2, 2]
    assert [(unit, n) for unit, n, _ in tuner.choices] == [(4, 1), (12, 2)]
    assert tuner.choices[0][2] == {2: 0.4, 1: 0.225}  # medians of (0.3, 0.5) and (0.2, 0.25)
    assert tuner.summary() == "2 threads 1x, 1 thread 1x"
    calls.clear()
    with tuner.fixed(1):
        assert calls == [1]
    assert calls == [1, 2]
    with tuner.unit() as n:
        assert n == tuner.threads_for(16) == 2 and calls[-1] == 2
    assert ThreadTuner(1, set_threads=calls.append).threads_for(1) == 1  # one candidate: nothing to probe
    # a choice that holds doubles the gap to the next probe (8, 16, 32, 32: max_period), a change resets it
    steady = ThreadTuner(2, period=8, probe=2, warmup=1, max_period=32, set_threads=calls.append)
    for unit in range(120):
        threads = steady.threads_for(unit)
        steady._record(unit, threads, 0.1 if threads == 2 else 0.3)
    probes = [unit for unit, n, _ in steady.choices]
    assert probes == [4, 12, 28, 60, 92] and {n for _, n, _ in steady.choices} == {2}
    with pytest.raises(ValueError, match="period >= warmup"):
        ThreadTuner(2, period=3, probe=2, set_threads=calls.append)
    with pytest.raises(ValueError, match="max_period >= period"):
        ThreadTuner(2, period=8, max_period=4, set_threads=calls.append)


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
    # what stays: the results and the models; the stages' working directories (the mining run) are gone
    assert sorted(p.name for p in out.iterdir()) == [
        "accuracy_by_stage.png", "pass_maj_at_k.png", "pretrained-model", "report.md", "results.json",
        "reward_curve.png", "sft-model",
    ]  # fmt: skip
    assert "quick configuration; about a minute" in done.stdout
    assert "removed the stages' working directories" in done.stdout


@pytest.mark.slow
def test_ctrl_c_stops_the_demo_with_one_line_and_no_report(tmp_path):
    """Ctrl-C (SIGINT to the demo's process group, as a terminal sends it) while a stage runs: exit status 130, one
    line on stderr after the progress bars, no traceback, no report, the finished stages' records kept."""
    out = tmp_path / "demo"
    exe = shutil.which("trl-dsm")
    cmd = [exe] if exe else [sys.executable, "-m", "trl_dsm.cli"]
    proc = subprocess.Popen(
        [*cmd, "demo", "--quick", "--output-dir", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    try:
        for line in proc.stdout:
            if line.startswith("[trl-dsm demo] eval sft ..."):  # mining, pretraining and SFT are done
                time.sleep(1.0)
                os.killpg(proc.pid, signal.SIGINT)
                break
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == (
        f"trl-dsm demo: interrupted; no report written, the finished stages' records are in {out}/ "
        "(results.partial.json)"
    )
    assert sorted(p.name for p in out.iterdir()) == ["pretrained-model", "results.partial.json", "sft-model"]
    assert "sft" in json.loads((out / "results.partial.json").read_text())["timings"]


def _plotted_results(smoke_test: bool, steps: int = 2) -> dict:
    ev = {}
    for stage in ("pretrained", "sft", "sft_continued", "grpo_outcome", "grpo_process"):
        ev[stage] = {"greedy": 0.25, "pass@1": 0.25, "pass@2": 0.5, "pass@4": 0.75, "maj@1": 0.25, "maj@2": 0.25,
                     "maj@4": 0.5}  # fmt: skip
    curve = [(s, 0.5, 0.5) for s in range(1, steps + 1)]
    return {"config": {"smoke_test": smoke_test, "n_heldout": 40}, "eval": ev,
            "reward_curves": {"outcome": curve, "process": curve}}  # fmt: skip


def test_pass_maj_plot_shows_every_stage_apart_in_percent():
    from trl_dsm.demo.plots import SMOKE_STAMP, pass_maj_figure

    fig = pass_maj_figure(_plotted_results(smoke_test=True))
    stages = ["pretrained", "sft", "sft_continued", "grpo_outcome", "grpo_process"]
    for ax, kind in zip(fig.axes, ("pass", "maj")):
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == stages  # every stage, the pretrained model too
        styles = {(line.get_color(), line.get_marker(), line.get_linestyle()) for line in lines}
        assert len(styles) == len(stages)  # colour, marker and line style differ
        xs = [tuple(line.get_xdata()) for line in lines]
        assert len(set(xs)) == len(stages)  # equal numbers, series set apart along k
        expected = [25.0, 50.0, 75.0] if kind == "pass" else [25.0, 25.0, 50.0]
        assert all(list(line.get_ydata()) == expected for line in lines)  # percent, as in report.md
    assert "%" in fig.axes[0].get_ylabel()
    assert [t.get_text() for t in fig.texts] == [SMOKE_STAMP]
    assert not pass_maj_figure(_plotted_results(smoke_test=False)).texts


def test_reward_plot_legend_says_what_each_curve_is():
    from trl_dsm.demo.plots import accuracy_figure, reward_figure

    short = reward_figure(_plotted_results(smoke_test=False, steps=2))
    assert [t.get_text() for t in short.axes[0].get_legend().get_texts()] == [
        "grpo_outcome: each step", "grpo_process: each step"
    ]  # fmt: skip
    long = reward_figure(_plotted_results(smoke_test=False, steps=150))
    assert [t.get_text() for t in long.axes[0].get_legend().get_texts()] == [
        "grpo_outcome: trailing mean over 15 steps (faint: each step)",
        "grpo_process: trailing mean over 15 steps (faint: each step)",
    ]
    assert reward_figure({"eval": {}, "reward_curves": {}}) is None
    bars = accuracy_figure(_plotted_results(smoke_test=False)).axes[0].patches
    assert [b.get_height() for b in bars] == [25.0] * 5  # percent


def test_web_docs_errors_name_file_and_line(tmp_path):
    from trl_dsm.demo.stages import _read_web_docs

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


class _Captured(Exception):
    """Raised by the stand-in GRPOMathConfig once it has recorded the stage's arguments."""


def _capture_grpo_config(monkeypatch) -> dict:
    """Replace ``trl_dsm.grpo.GRPOMathConfig`` by a recorder: the returned dict gets the stage's keyword arguments,
    then the stage stops with :class:`_Captured` (nothing trains)."""
    import trl_dsm.grpo

    seen: dict = {}

    def capture(**kwargs):
        seen.update(kwargs)
        raise _Captured

    monkeypatch.setattr(trl_dsm.grpo, "GRPOMathConfig", capture)
    return seen


def test_grpo_stage_passes_the_rl_settings_through(monkeypatch, tmp_path):
    """The RL hyperparameters the docs state reach GRPOMathConfig (the §4.2 KL 0.04, G, the lr and its warmup)."""
    from trl_dsm.demo.run import DemoConfig, grpo

    seen = _capture_grpo_config(monkeypatch)
    cfg = DemoConfig(grpo_warmup_steps=7, grpo_lr=3e-5, grpo_prompts_per_step=4, num_generations=6, temperature=0.9)
    splits = {"rl": generate_problems(5, seed=0)}
    with pytest.raises(_Captured):
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


# -- the §5.2 study: arms, splits, standard errors (issue #19) ---------------------------------------------------------
def test_binomial_standard_error_on_hand_numbers():
    from trl_dsm.demo.report import binomial_se

    assert binomial_se(0.5, 100) == pytest.approx(0.05)  # sqrt(0.25 / 100)
    assert binomial_se(0.8, 400) == pytest.approx(0.02)  # sqrt(0.16 / 400)
    assert binomial_se(0.9, 500) == pytest.approx((0.09 / 500) ** 0.5)
    assert binomial_se(1.0, 50) == 0.0 and binomial_se(0.0, 50) == 0.0
    with pytest.raises(ValueError, match="n >= 1"):
        binomial_se(0.5, 0)


def _study_results(seed: int, greedy: dict[str, float], n: int = 100) -> dict:
    """Every stage with the given greedy accuracies; pass@8 = greedy + 0.2, maj@8 = greedy + 0.1 (capped at 1)."""
    ev = {s: {"greedy": g, "pass@1": g, "pass@8": min(1.0, g + 0.2), "maj@8": min(1.0, g + 0.1), "n": n}
          for s, g in greedy.items()}  # fmt: skip
    return {"config": {"seed": seed, "n_heldout": n}, "eval": ev}


STUDY = {"pretrained": 0.0, "sft": 0.5, "sft_continued": 0.5, "rft": 0.52, "online_rft": 0.56, "grpo_outcome": 0.62,
         "grpo_process": 0.64, "grpo_process_prm": 0.58, "grpo_iterative": 0.6}  # fmt: skip


def test_comparisons_carry_each_numbers_standard_error():
    from trl_dsm.demo.report import comparisons

    c = comparisons(_study_results(0, STUDY))
    assert set(c) == {
        "online_rft_vs_rft", "grpo_vs_online_rft", "ps_vs_os", "learned_ps_vs_os", "iterative_vs_one_pass",
        "rft_vs_control", "online_rft_vs_control", "grpo_outcome_vs_control", "grpo_process_vs_control",
        "grpo_process_prm_vs_control", "grpo_iterative_vs_control", "best_grpo_vs_control",
    }  # fmt: skip
    g = c["grpo_outcome_vs_control"]["greedy"]
    assert g["diff"] == pytest.approx(0.12)
    assert g["se_b"] == pytest.approx(0.05) and g["se_a"] == pytest.approx((0.62 * 0.38 / 100) ** 0.5)
    assert g["larger_se"] == pytest.approx(0.05) and g["beyond_2se"] is True  # 0.12 > 2 x 0.05
    assert c["grpo_vs_online_rft"]["greedy"]["beyond_2se"] is False  # 0.06 < 2 x 0.0496
    assert c["online_rft_vs_rft"]["a"] == "online_rft" and c["online_rft_vs_rft"]["b"] == "rft"
    assert c["iterative_vs_one_pass"]["greedy"]["diff"] == pytest.approx(0.02)
    assert c["ps_vs_os"]["pass@8"]["diff"] == pytest.approx(0.02)
    best = c["best_grpo_vs_control"]
    assert best["a"] == "grpo_process" and best["greedy"]["diff"] == pytest.approx(0.14)
    # a stage that did not run leaves its comparisons out
    partial = {k: v for k, v in STUDY.items() if k not in ("rft", "grpo_iterative")}
    assert set(comparisons(_study_results(0, partial))) >= {"grpo_vs_online_rft"}
    assert not {"online_rft_vs_rft", "iterative_vs_one_pass"} & set(comparisons(_study_results(0, partial)))


def test_study_verdicts_and_table_state_each_comparison():
    from trl_dsm.demo.report import summary_table

    results = _study_results(0, STUDY)
    lines = verdicts(results)
    assert (
        "GRPO (outcome) vs Online RFT (§5.2.1, Figure 5): greedy 62.0% vs 56.0% (+6.0 pts, larger SE 5.0 pts): "
        "grpo_outcome is higher, within twice the larger SE; pass@8 +6.0 pts, maj@8 +6.0 pts." in lines
    )
    assert (
        "grpo_outcome beat SFT continued at the RL learning rate for as many steps (greedy +12.0 pts; more than "
        "twice the larger SE, 5.0 pts)." in lines
    )
    assert any(line.startswith("best GRPO arm (grpo_process) vs continued SFT (control): greedy 64.0% vs 50.0%")
               and "higher, by more than twice the larger SE" in line for line in lines)  # fmt: skip
    table = summary_table(results)
    assert "| sft_continued | 50.0 ± 5.0 | 50.0 ± 5.0 | 70.0 ± 4.6 | 60.0 ± 4.9 |" in table.splitlines()
    assert table.splitlines()[0] == "| stage | greedy | pass@1 | pass@8 | maj@8 |"
    results["eval"]["sft"]["greedy_ops4"] = 0.25
    assert "greedy, 4 ops |" in summary_table(results).splitlines()[0]


def test_seeds_summary_gives_per_seed_differences_and_whether_they_hold(tmp_path):
    from trl_dsm.demo.report import write_seeds_summary

    seeds = [
        _study_results(0, STUDY),
        _study_results(1, {**STUDY, "grpo_outcome": 0.55, "online_rft": 0.57}),
        _study_results(2, {**STUDY, "sft_continued": 0.45}),
    ]
    s = seeds_summary(seeds)
    c = s["comparisons"]
    assert c["grpo_vs_online_rft"]["diffs"] == pytest.approx([0.06, -0.02, 0.06])
    assert c["grpo_vs_online_rft"]["holds_every_seed"] is False
    assert c["online_rft_vs_rft"]["holds_every_seed"] is True
    assert c["online_rft_vs_rft"]["beyond_2se_every_seed"] is False
    # grpo_process has the best mean greedy: it is the best arm on every seed, 0.14 / 0.14 / 0.19 over the control
    best = c["best_grpo_vs_control"]
    assert best["a"] == "grpo_process" and best["diffs"] == pytest.approx([0.14, 0.14, 0.19])
    assert best["larger_se"] == pytest.approx([0.05, 0.05, (0.45 * 0.55 / 100) ** 0.5])  # seed 2: the control's
    assert best["beyond_2se_every_seed"] is True
    assert s["grpo_iterative"]["minus_control"] == pytest.approx([0.1, 0.1, 0.15])
    assert write_seeds_summary(seeds, tmp_path) == json.loads((tmp_path / "seeds_summary.json").read_text())
    text = (tmp_path / "seeds_summary.md").read_text(encoding="utf-8").splitlines()
    assert (
        "- GRPO (outcome) vs Online RFT (§5.2.1, Figure 5): greedy difference per seed +6.0 pts, -2.0 pts, +6.0 pts "
        "(mean +3.3 pts); grpo_outcome is mixed across seeds" in text
    )
    assert (
        "- best GRPO arm (grpo_process) vs continued SFT: greedy difference per seed +14.0 pts, +14.0 pts, +19.0 pts "
        "(mean +15.7 pts); grpo_process is higher on every seed, by more than twice the larger SE on every seed"
        in text
    )


def test_study_splits_keep_worked_solutions_short_and_questions_plentiful():
    from trl_dsm.demo.run import DemoConfig, make_problem_splits

    cfg = DemoConfig.study(n_problems=3000, n_heldout=200, n_pretrain_problems=1000, n_sft_problems=100,
                           n_rl_problems=600)  # fmt: skip
    splits = make_problem_splits(cfg)
    assert (len(splits["pretrain"]), len(splits["sft"]), len(splits["rl"]), len(splits["heldout"])) == (
        1000, 100, 600, 200,
    )  # fmt: skip
    assert all(p.steps <= 3 for p in splits["pretrain"] + splits["sft"])  # demo_max_steps
    assert any(p.steps == 4 for p in splits["heldout"])
    # questions keep the generated mix of operation counts (2, 3, 4: a third each), not the leftovers' (mostly 4)
    share = {k: sum(p.steps == k for p in splits["rl"]) / 600 for k in (2, 3, 4)}
    assert all(0.28 < v < 0.39 for v in share.values()), share
    questions = [{p.question for p in splits[name]} for name in ("pretrain", "sft", "rl", "heldout")]
    assert sum(map(len, questions)) == len(set().union(*questions))  # disjoint
    # the default configuration's splits are unchanged by the new fields
    default = DemoConfig(n_problems=3000, n_heldout=200, n_pretrain_problems=1000, n_sft_problems=100)
    d = make_problem_splits(default)
    assert len(d["rl"]) == len(d["pretrain"]) + len(d["sft"]) + len(d["rl"]) - 1100
    with pytest.raises(ValueError, match="n_rl_problems=5000"):
        make_problem_splits(replace_cfg(cfg, n_rl_problems=5000))


def replace_cfg(cfg, **changes):
    from dataclasses import replace

    return replace(cfg, **changes)


def test_study_configuration():
    from trl_dsm.demo.cli import _parse_overrides
    from trl_dsm.demo.run import ARMS, EXPECTED_TOTAL_SECONDS, DemoConfig, config_for, expected_seconds

    cfg = DemoConfig.study()
    assert cfg.arms == ARMS == ("rft", "online_rft", "outcome", "process", "process_prm", "iterative")
    assert (cfg.n_sft_problems, cfg.n_rl_problems, cfg.demo_max_steps, cfg.max_steps) == (300, 4000, 3, 4)
    assert cfg.sft_scheduler == "cosine" and cfg.kind == "study" and DemoConfig().kind == "default"
    quick = config_for(True, True, output_dir="x")
    assert quick.kind == "quick" and quick.arms == ARMS and quick.smoke_test
    assert config_for(False, True, seed=3).seed == 3 and config_for(False, True).study_run
    assert expected_seconds(quick) == (0.0, {}) and expected_seconds(replace_cfg(cfg, grpo_steps=10)) == (0.0, {})
    default_total, default_stages = expected_seconds(DemoConfig(seed=4, threads=1, output_dir="elsewhere"))
    assert default_total == EXPECTED_TOTAL_SECONDS["default"] == 633.0 and default_stages["pretraining"] == 175
    # a seed on a shared base (base_from) skips mining, tokenizer, pretraining and its evaluation: 11 + 1 + 1521 + 290 s
    (total, _), (shared, stages) = expected_seconds(cfg), expected_seconds(replace_cfg(cfg, base_from="b", seed=2))
    assert total - shared == 1823 and "pretraining" not in stages and stages["sft"] == 551
    assert _parse_overrides(['arms=["rft", "iterative"]']) == {"arms": ("rft", "iterative")}
    with pytest.raises(ValueError, match=r"grpo_steps \(1\) < iterations \(2\)"):
        DemoConfig(arms=("iterative",), grpo_steps=1)
    with pytest.raises(ValueError, match="demo_max_steps"):
        DemoConfig(demo_max_steps=1)


@pytest.mark.parametrize("arm", ["online_rft", "outcome", "process_prm", "iterative"])
def test_online_arms_use_the_trainer_modes(monkeypatch, tmp_path, arm):
    """Each arm is a GRPOMathConfig setting (§5.2.1, §4.1.4), not demo code."""
    from trl_dsm.demo.run import DemoConfig, grpo

    seen = _capture_grpo_config(monkeypatch)
    cfg = DemoConfig(
        grpo_steps=40, iterations=2, prm_update_steps=7, prm_samples=32, prm_rollouts=3, prm_final_answer=False
    )
    with pytest.raises(_Captured):
        grpo(cfg, arm, tmp_path / "sft", {"rl": generate_problems(5, seed=0)}, None, tmp_path, tmp_path / "prm")
    if arm == "online_rft":
        assert seen["advantage_estimator"] == "online_rft" and "beta" not in seen  # the trainer's default: 0
        assert seen["supervision"] == "outcome"
    else:
        assert "advantage_estimator" not in seen and seen["beta"] == 0.04
    if arm in ("process_prm", "iterative"):
        assert seen["supervision"] == "process" and seen["process_reward_model"] == str(tmp_path / "prm")
        assert (seen["prm_step_tag"], seen["prm_good_token"], seen["prm_bad_token"]) == (" ки", "+", "-")
    if arm == "iterative":
        assert (seen["iteration_steps"], seen["reward_model_update_steps"], seen["reward_model_replay_ratio"]) == (
            20, 7, 0.1,
        )  # fmt: skip
        assert (seen["reward_model_samples_per_iteration"], seen["math_shepherd_rollouts"]) == (32, 3)
    else:
        assert "iteration_steps" not in seen and "reward_model_update_steps" not in seen
    with pytest.raises(ValueError, match="needs the learned step reward model"):
        grpo(cfg, "iterative", tmp_path / "sft", {"rl": []}, None, tmp_path)


@pytest.mark.parametrize("arm", ["process_prm", "iterative"])
def test_learned_prm_arms_can_score_the_last_step_by_the_final_answer(monkeypatch, tmp_path, arm):
    """``prm_final_answer``: the learned PRM scores every step but the last, which the grader scores (as in the
    rule arm); the PRM is then handed to the trainer as the wrapped step scorer, never also as a path."""
    import trl_dsm.demo.arms
    import trl_dsm.grpo
    from trl_dsm.demo.run import DemoConfig, grpo
    from trl_dsm.grpo.iterative import process_reward_model_of

    prm = object.__new__(trl_dsm.grpo.ProcessRewardModel)  # a stand-in: nothing is loaded or scored
    monkeypatch.setattr(trl_dsm.demo.arms, "_load_prm", lambda path: prm)
    monkeypatch.setattr(trl_dsm.grpo, "GRPOMathConfig", lambda **kwargs: types.SimpleNamespace(**kwargs))
    seen = {}

    def trainer(**kwargs):
        seen.update(kwargs)
        raise _Captured

    monkeypatch.setattr(trl_dsm.grpo, "GRPOMathTrainer", trainer)
    cfg = DemoConfig(grpo_steps=40, prm_final_answer=True)
    with pytest.raises(_Captured):
        grpo(cfg, arm, tmp_path / "sft", {"rl": generate_problems(5, seed=0)}, None, tmp_path, tmp_path / "prm")
    args = vars(seen["args"])
    assert "process_reward_model" not in args and args["supervision"] == "process"
    scorer = seen["process_reward_func"]
    assert process_reward_model_of(scorer) is prm and scorer.__name__ == "ProcessRewardModel_with_final_answer"


def test_rft_arm_samples_the_sft_model_then_runs_sft(monkeypatch, tmp_path):
    """RFT (§5.2.1): k = G samples of the SFT model on as many questions as GRPO sees, then SFT at the RL lr."""
    import transformers
    import trl
    from datasets import Dataset

    import trl_dsm.eval.generation
    import trl_dsm.grpo.rft
    from trl_dsm.demo.run import DemoConfig, rft

    seen = {}

    def fake_rft_dataset(generator, rows, *, tokenizer, k, temperature):
        seen.update(rows=rows, k=k, temperature=temperature, max_new_tokens=generator.max_new_tokens)
        return Dataset.from_list([{**rows[0], "completion": [{"role": "assistant", "content": "x"}]}])

    class FakeTrainer:
        def __init__(self, model, args, train_dataset, processing_class, callbacks):
            seen.update(args=args, columns=train_dataset.column_names, callbacks=callbacks)
            self.model, self.state = model, type("S", (), {"log_history": [{"step": 1, "loss": 0.5}]})()

        def train(self):
            pass

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda path: "sft model")
    monkeypatch.setattr(trl_dsm.grpo.rft, "rft_dataset", fake_rft_dataset)
    monkeypatch.setattr(trl, "SFTTrainer", FakeTrainer)
    cfg = DemoConfig(grpo_steps=3, grpo_prompts_per_step=4, num_generations=6, grpo_lr=2e-5, temperature=0.9)
    model, stats = rft(cfg, tmp_path / "sft", {"rl": generate_problems(20, seed=0)}, None, tmp_path)
    assert model == "sft model" and len(seen["rows"]) == 12 and seen["k"] == 6 and seen["temperature"] == 0.9
    assert set(seen["rows"][0]) == {"prompt", "answer"}  # questions with final answers only
    assert seen["columns"] == ["prompt", "completion"]
    args = seen["args"]
    assert (args.learning_rate, args.max_steps, args.per_device_train_batch_size) == (2e-5, 3, 16)
    assert stats["kept"] == 1 and stats["samples"] == 72 and stats["loss"] == [(1, 0.5)]
    assert seen["callbacks"] == []  # no thread tuner outside a demo run
    assert trl_dsm.eval.generation.HFGenerator  # the generator the arm samples with


@pytest.mark.slow
def test_quick_study_runs_every_arm(tmp_path):
    """``trl-dsm demo --quick --study`` runs every arm of §5.2.1 from the same SFT model and reports each
    comparison (toy sizes: the numbers mean nothing)."""
    out = tmp_path / "study"
    done = subprocess.run(
        [sys.executable, "-m", "trl_dsm.cli", "demo", "--quick", "--study", "--output-dir", str(out)],
        capture_output=True, text=True, timeout=900, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results["eval"]) == {
        "pretrained", "sft", "sft_continued", "rft", "online_rft", "grpo_outcome", "grpo_process",
        "grpo_process_prm", "grpo_iterative",
    }  # fmt: skip
    assert set(results["reward_curves"]) == {"online_rft", "outcome", "process", "process_prm", "iterative"}
    assert results["prm"]["records"] > 0 and results["rft"]["samples"] == 2 * 2 * 4
    report = (out / "report.md").read_text()
    assert report.splitlines()[2].startswith("> **Smoke test (`--quick`)**")
    for phrase in ("Online RFT vs RFT", "GRPO (outcome) vs Online RFT", "iterative RL vs one pass",
                   "best GRPO arm", "± "):  # fmt: skip
        assert phrase in report


def test_merge_results_joins_arms_run_side_by_side():
    from trl_dsm.demo.report import _regime, merge_results

    base = _study_results(0, {"pretrained": 0.0, "sft": 0.5, "sft_continued": 0.5, "grpo_outcome": 0.6})
    base.update(config={**base["config"], "arms": ["outcome"]}, timings={"sft": 10.0, "grpo outcome": 100.0})
    other = _study_results(0, {"pretrained": 0.0, "sft": 0.5, "rft": 0.55, "online_rft": 0.58})
    other.update(config={**other["config"], "arms": ["rft", "online_rft"]}, timings={"rft": 50.0}, rft={"kept": 3})
    merged = merge_results([base, other])
    assert set(merged["eval"]) == {"pretrained", "sft", "sft_continued", "grpo_outcome", "rft", "online_rft"}
    assert merged["config"]["arms"] == ["outcome", "rft", "online_rft"] and merged["rft"] == {"kept": 3}
    assert merged["total_seconds"] == 160.0 and "online_rft_vs_rft" in comparisons_of(merged)
    with pytest.raises(ValueError, match="sft_continued was evaluated in two parts"):
        merge_results([base, base])
    with pytest.raises(ValueError, match="parts of different runs"):
        merge_results([base, {**other, "config": {**other["config"], "seed": 1}}])
    other["eval"]["sft"] = {**other["eval"]["sft"], "greedy": 0.4}
    with pytest.raises(ValueError, match="disagree on the sft evaluation"):
        merge_results([base, other])
    # a part that trained the step reward model brings its settings, and the report shows its held-out check
    prm = _study_results(0, {"pretrained": 0.0, "sft": 0.5, "grpo_process_prm": 0.52})
    held = {"records": 16, "steps": 60, "step_accuracy": 0.7, "step_auc": 0.75, "group_pairs": 9, "group_auc": 0.5}
    prm.update(config={**prm["config"], "arms": ["process_prm"], "prm_samples": 64, "prm_final_answer": True},
               prm={"records": 64, "steps": 240, "good_steps": 120, "heldout": held})  # fmt: skip
    merged = merge_results([base, prm])
    assert (merged["config"]["prm_samples"], merged["config"]["prm_final_answer"]) == (64, True)
    split = {"problems": 4, "by_operations": {"2": 4}}
    text = "\n".join(_regime({**merged, "splits": dict.fromkeys(("sft", "pretrain", "rl", "heldout"), split)}))
    assert "step AUC 0.750; within a question's group" in text and "0.500 of 9 pairs (0.5 = chance)" in text
    assert "its last step is scored by the final answer instead" in text


def comparisons_of(results: dict) -> dict:
    from trl_dsm.demo.report import comparisons

    return comparisons(results)


def test_resume_reuses_an_earlier_runs_sft_model(monkeypatch, tmp_path):
    import transformers

    from trl_dsm.demo.run import DemoConfig, _json_safe, _resume

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda path: f"tokenizer of {path}")
    earlier = DemoConfig.study(output_dir=str(tmp_path), arms=("outcome",), threads=1)
    (tmp_path / "sft-model").mkdir()
    record = {"config": _json_safe(vars(earlier)), "eval": {"pretrained": {"greedy": 0.0}}, "sft_loss": [[1, 2.0]]}
    (tmp_path / "results.partial.json").write_text(json.dumps(record))
    cfg = DemoConfig.study(output_dir=str(tmp_path / "arms"), arms=("rft",), sft_control=False,
                           resume_from=str(tmp_path))  # fmt: skip
    with pytest.raises(ValueError, match="has not finished evaluating its sft model"):
        _resume(cfg, {})
    record["eval"]["sft"] = {"greedy": 0.5}
    (tmp_path / "results.partial.json").write_text(json.dumps(record))
    results: dict = {}
    tokenizer, sft_dir = _resume(cfg, results)
    assert (tokenizer, sft_dir) == (f"tokenizer of {tmp_path / 'sft-model'}", tmp_path / "sft-model")
    assert results["eval"] == {"pretrained": {"greedy": 0.0}, "sft": {"greedy": 0.5}}
    assert results["sft_loss"] == [[1, 2.0]] and results["resumed_from"] == str(tmp_path)
    with pytest.raises(ValueError, match=r"differs in \['grpo_lr'\]"):
        _resume(DemoConfig.study(resume_from=str(tmp_path), grpo_lr=1e-4), {})
    # the learned step reward model's settings only reach the PRM arms, which the resumed run trains afresh
    _resume(DemoConfig.study(resume_from=str(tmp_path), arms=("outcome",), threads=1, prm_samples=64,
                             prm_final_answer=not earlier.prm_final_answer), {})  # fmt: skip
    with pytest.raises(ValueError, match="no results.json"):
        _resume(DemoConfig.study(resume_from=str(tmp_path / "nowhere")), {})


def test_base_from_reuses_an_earlier_runs_pretrained_model(monkeypatch, tmp_path):
    import transformers

    from trl_dsm.demo.run import DemoConfig, _base, _json_safe

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda path: f"tokenizer of {path}")
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda path: f"model of {path}")
    earlier = DemoConfig.study(output_dir=str(tmp_path), arms=("outcome",), threads=2)
    (tmp_path / "pretrained-model").mkdir()
    record = {"config": _json_safe(vars(earlier)), "eval": {}, "mining": {"selected": 3}, "pretrain_loss": [[1, 5.0]],
              "timings": {"pretraining": 300.0, "eval pretrained": 40.0, "sft": 50.0}}  # fmt: skip
    (tmp_path / "results.partial.json").write_text(json.dumps(record))
    # another seed, more SFT steps, other arms: the same base
    cfg = DemoConfig.study(output_dir=str(tmp_path / "s2"), seed=2, sft_steps=400, arms=("rft",),
                           base_from=str(tmp_path))  # fmt: skip
    with pytest.raises(ValueError, match="has not finished evaluating its pretrained model"):
        _base(cfg, {})
    record["eval"]["pretrained"] = {"greedy": 0.04}
    (tmp_path / "results.partial.json").write_text(json.dumps(record))
    results: dict = {}
    tokenizer, model = _base(cfg, results)
    path = tmp_path / "pretrained-model"
    assert (tokenizer, model) == (f"tokenizer of {path}", f"model of {path}")
    assert results["eval"] == {"pretrained": {"greedy": 0.04}} and results["pretrain_loss"] == [[1, 5.0]]
    assert results["base"] == {"from": str(tmp_path), "seed": 0,
                               "timings": {"pretraining": 300.0, "eval pretrained": 40.0}}  # fmt: skip
    with pytest.raises(ValueError, match=r"differs in \['pretrain_steps'\]"):
        _base(DemoConfig.study(base_from=str(tmp_path), pretrain_steps=10), {})
    with pytest.raises(ValueError, match="no results.json"):
        _base(DemoConfig.study(base_from=str(tmp_path / "nowhere")), {})


def test_seeds_table_has_every_stage_with_its_standard_error():
    from trl_dsm.demo.report import seeds_table

    a, b = _results(0, 0.50, 0.60, 0.64, control=0.5), _results(1, 0.36, 0.5, 0.5)
    a["config"]["n_heldout"] = b["config"]["n_heldout"] = 100
    rows = seeds_table([a, b]).splitlines()
    assert rows[0] == "| stage | seed 0: greedy | pass@8 | maj@8 | seed 1: greedy | pass@8 | maj@8 |"
    # sqrt(0.5 * 0.5 / 100) = 5.0 points; sqrt(0.36 * 0.64 / 100) = 4.8 points
    assert "| sft | 50.0 ± 5.0 | 80.0% | 50.0% | 36.0 ± 4.8 | 80.0% | 50.0% |" in rows
    assert "| sft_continued | 50.0 ± 5.0 | 85.0% | 70.0% | - | - | - |" in rows  # seed 1 ran no control
