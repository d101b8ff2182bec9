# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The three recipes end to end on a tiny model on CPU: one process (fast) and two `accelerate` ranks (slow);
resume from a checkpoint reaches the same step and losses as a straight run; dry-run pushes and cards."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from tests.conftest import build_tiny_model, build_tiny_tokenizer
from trl_dsm.hub import validate_card


ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"


def load_recipe(stage: str):
    spec = importlib.util.spec_from_file_location(f"recipe_{stage}", RECIPES / f"{stage}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_recipe(stage: str, config: Path, *overrides: str):
    """Parse like the command line (YAML + overrides) and run the recipe's main in this process."""
    module = load_recipe(stage)
    module.main(*module.make_parser().parse_args_and_config(["--config", str(config), *overrides]))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, shared_data) -> Path:
    rows = [json.loads(line) for line in (shared_data / "benchmarks/gsm8k/train.jsonl").open()][:400]
    texts = [r["question"] + "\n" + r["answer"] for r in rows]
    texts.append("User: Assistant: Please reason step by step, and put your final answer within \\boxed{}.")
    tokenizer = build_tiny_tokenizer(texts)
    path = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def pretrain_files(tmp_path_factory, shared_data) -> dict[str, Path]:
    """Small JSONL sources: GSM8K solutions and web pages."""
    out = tmp_path_factory.mktemp("pretrain_data")
    math_rows = [json.loads(line) for line in (shared_data / "benchmarks/gsm8k/train.jsonl").open()][:300]
    web_rows = [json.loads(line) for line in (shared_data / "web/web_docs.jsonl").open()][:60]
    files = {"math": out / "math.jsonl", "web": out / "web.jsonl"}
    files["math"].write_text("".join(json.dumps({"solution": r["answer"]}) + "\n" for r in math_rows))
    files["web"].write_text("".join(json.dumps({"text": r["text"][:2000]}) + "\n" for r in web_rows))
    return files


def tiny_config(stage: str, tmp_path: Path, **changes) -> Path:
    """recipes/tiny/<stage>.yaml with paths made absolute and ``changes`` applied, written to tmp_path."""
    config = yaml.safe_load((RECIPES / "tiny" / f"{stage}.yaml").read_text())
    if "data_dir" in config:
        config["data_dir"] = str((ROOT / config["data_dir"]).resolve())
    for key in ("model_config", "tokenizer_name_or_path"):
        if key in config and (ROOT / config[key]).exists():
            config[key] = str(ROOT / config[key])
    config.update(changes)
    path = tmp_path / f"{stage}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def pretrain_config(tmp_path, files, **changes) -> Path:
    sources = [
        {"path": "json", "data_files": str(files["math"]), "text_column": "solution", "weight": 0.75},
        {"path": "json", "data_files": str(files["web"]), "text_column": "text", "weight": 0.25},
    ]
    return tiny_config("pretrain", tmp_path, datasets=sources, **changes)


def logged(output_dir: Path, key: str = "loss") -> dict[int, float]:
    state = json.loads((output_dir / "trainer_state.json").read_text())
    return {row["step"]: row[key] for row in state["log_history"] if key in row}


# -- one process ---------------------------------------------------------------------------------------------------
def test_pretrain_recipe_from_scratch_with_schedule_and_dry_run(tmp_path, tiny_model_dir, pretrain_files):
    out, dry = tmp_path / "out", tmp_path / "dry"
    config = pretrain_config(tmp_path, pretrain_files, output_dir=str(out), push_dry_run_dir=str(dry))
    run_recipe("pretrain", config, "--tokenizer_name_or_path", str(tiny_model_dir))
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    lrs = [row["learning_rate"] for row in state["log_history"] if "learning_rate" in row]
    # warmup 2 steps to 1e-3, drops at floor(0.8 * 6) = 4 and floor(0.9 * 6) = 5 (LR logged after each step)
    assert lrs == pytest.approx([0.0, 5e-4, 1e-3, 1e-3, 3.16e-4, 1e-4])
    assert sorted(p.name for p in (dry / "models" / "out").iterdir() if p.is_dir()) == ["main", "step-3", "step-6"]
    assert not (dry / "models/out/step-3/optimizer.pt").exists()  # training state stays off the branches
    card = (dry / "models/out/main/README.md").read_text()
    assert (out / "README.md").read_text() == card
    meta = validate_card(card)
    assert "pretraining" in meta["tags"] and "base_model" not in meta  # from scratch: no base model
    assert "| math.jsonl |  | solution | 75.0% |" in card and "to 31.6% of the peak after 80% of training" in card


def test_sft_recipe_masks_prompts_and_pushes_card(tmp_path, tiny_model_dir):
    out, dry = tmp_path / "out", tmp_path / "dry"
    results = tmp_path / "eval.json"
    results.write_text(json.dumps([{"task_type": "text-generation", "dataset_type": "openai/gsm8k",
                                    "dataset_name": "GSM8K", "dataset_split": "test", "metric_type": "accuracy",
                                    "metric_value": 0.125}]))  # fmt: skip
    config = tiny_config("sft", tmp_path, output_dir=str(out), push_dry_run_dir=str(dry), eval_results=str(results))
    run_recipe("sft", config, "--model_name_or_path", str(tiny_model_dir))
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 4
    card = (dry / "models/out/main/README.md").read_text()
    meta = validate_card(card, expected_eval_results=1)
    assert meta["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.125
    assert meta["datasets"] == ["openai/gsm8k"] and "base_model" not in meta  # a local base model: no Hub id
    assert "chain-of-thought" in card and "| learning_rate | 5e-05 |" in card
    assert (dry / "models/out/step-2/model.safetensors").is_file()


def test_dry_run_with_push_to_hub_never_touches_the_hub(tmp_path, tiny_model_dir, monkeypatch):
    """The 7B configs set push_to_hub: true; adding push_dry_run_dir must not let transformers' Trainer create the
    repository (it does so in __init__) nor push to main on save."""
    import transformers

    def no_hub(self, *args, **kwargs):
        raise AssertionError("the Hub was contacted during a dry run")

    monkeypatch.setattr(transformers.Trainer, "init_hf_repo", no_hub)
    monkeypatch.setattr(transformers.Trainer, "push_to_hub", no_hub)
    out, dry = tmp_path / "out", tmp_path / "dry"
    config = tiny_config("sft", tmp_path, output_dir=str(out), push_dry_run_dir=str(dry), push_to_hub=True,
                         hub_model_id="org/tiny-sft", max_steps=2, save_steps=2)  # fmt: skip
    run_recipe("sft", config, "--model_name_or_path", str(tiny_model_dir))
    assert sorted(p.name for p in (dry / "models" / "org" / "tiny-sft").iterdir() if p.is_dir()) == ["main", "step-2"]
    assert (dry / "models/org/tiny-sft/main/README.md").read_text() == (out / "README.md").read_text()


def test_grpo_recipe_rewards_by_name_and_dotted_path(tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    config = tiny_config("grpo", tmp_path, output_dir=str(out), save_strategy="no")
    run_recipe(
        "grpo", config, "--model_name_or_path", str(tiny_model_dir),
        "--reward_funcs", "math_accuracy", "trl_dsm.rewards.math:format_reward",
    )  # fmt: skip
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    logged = state["log_history"][0]
    assert "rewards/math_accuracy_reward/mean" in logged and "rewards/format_reward/mean" in logged
    meta = validate_card((out / "README.md").read_text())
    assert meta["datasets"] == ["openai/gsm8k"] and "grpo" in meta["tags"]


def test_grpo_console_shows_a_progress_bar_and_one_short_line_per_step(tmp_path, tiny_model_dir, capsys):
    """transformers' tqdm bar (step count, ETA) with a short line per log, not TRL's ~40-key dict; the full metrics
    still reach the log history."""
    out = tmp_path / "out"
    config = tiny_config("grpo", tmp_path, output_dir=str(out), save_strategy="no")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_recipe("grpo", config, "--model_name_or_path", str(tiny_model_dir))
    console = capsys.readouterr()
    lines = [line for line in console.out.splitlines() if line.startswith("step ")]
    assert [line.split(" | ")[0] for line in lines] == ["step 1/2", "step 2/2"]
    assert all(len(line) < 160 and " | reward " in line and " | pass@4 " in line for line in lines)
    assert "completions/mean_length" not in console.out and "2/2 [" in console.err  # the tqdm bar
    assert set(logged(out, "completions/mean_length")) == {1, 2}  # every metric still in the log history
    assert not [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]


@pytest.mark.parametrize("config", [*sorted((RECIPES / "tiny").glob("*.yaml")),
                                    *sorted((RECIPES / "deepseek-math-7b").glob("*.yaml"))], ids=lambda p: f"{p.parent.name}-{p.stem}")  # fmt: skip
def test_recipe_configs_parse_without_deprecation_warnings(config):
    """Our YAMLs and config classes use transformers 5's names (e.g. ``activation_checkpointing``)."""
    module = load_recipe(config.stem)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        module.make_parser().parse_args_and_config(["--config", str(config), "--use_cpu", "true", "--bf16", "false"])


def test_grpo_config_turns_activation_checkpointing_on_without_the_deprecated_name(tmp_path):
    from trl_dsm.grpo import GRPOMathConfig

    cpu = dict(use_cpu=True, bf16=False, per_device_train_batch_size=4, num_generations=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        default = GRPOMathConfig(str(tmp_path), **cpu)
        off = GRPOMathConfig(str(tmp_path), activation_checkpointing=False, **cpu)
    assert (default.activation_checkpointing, default.gradient_checkpointing) == (True, True)  # TRL's default
    assert (off.activation_checkpointing, off.gradient_checkpointing) == (False, False)
    with pytest.warns(FutureWarning, match="`gradient_checkpointing` is deprecated"):
        old = GRPOMathConfig(str(tmp_path), gradient_checkpointing=False, **cpu)  # the old name still works
    assert old.activation_checkpointing is False


def test_grpo_recipe_process_supervision(tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    config = tiny_config("grpo", tmp_path, output_dir=str(out), save_strategy="no", max_steps=1)
    run_recipe(
        "grpo", config, "--model_name_or_path", str(tiny_model_dir),
        "--supervision", "process", "--process_reward_func", "arithmetic",
    )  # fmt: skip
    logged = json.loads((out / "trainer_state.json").read_text())["log_history"][0]
    assert "process/steps_per_completion" in logged


def test_grpo_recipe_rejects_unknown_reward(tmp_path, tiny_model_dir):
    config = tiny_config("grpo", tmp_path, output_dir=str(tmp_path / "out"))
    with pytest.raises(ValueError, match="unknown reward function 'accuracy'"):
        run_recipe("grpo", config, "--model_name_or_path", str(tiny_model_dir), "--reward_funcs", "accuracy")


@pytest.mark.parametrize("stage", ["pretrain", "sft", pytest.param("grpo", marks=pytest.mark.slow)])
def test_resume_matches_a_straight_run(stage, tmp_path, tiny_model_dir, pretrain_files):
    """Train 4 steps saving at 2; resume a copy of checkpoint-2: same final step and the same losses."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    common = dict(max_steps=4, save_steps=2, save_strategy="steps", warmup_steps=1, logging_steps=1)
    model = ["--model_name_or_path", str(tiny_model_dir)]
    keys = ["loss", "grad_norm"]
    if stage == "grpo":  # a reward that varies within groups, and a step size that moves the policy: non-zero KL
        common.update(learning_rate=1e-3)
        model += ["--reward_funcs", "tests.scripts.recipe_rewards:digit_reward"]
        keys += ["reward", "kl"]
    if stage == "pretrain":
        model = ["--tokenizer_name_or_path", str(tiny_model_dir)]
        make = lambda out: pretrain_config(tmp_path, pretrain_files, output_dir=str(out), **common)  # noqa: E731
    else:
        make = lambda out: tiny_config(stage, tmp_path, output_dir=str(out), **common)  # noqa: E731
    run_recipe(stage, make(straight), *model)
    resumed.mkdir()
    shutil.copytree(straight / "checkpoint-2", resumed / "checkpoint-2")
    run_recipe(stage, make(resumed), *model, "--resume_from_checkpoint", "true")
    state = json.loads((resumed / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    for key in keys:
        a, b = logged(straight, key), logged(resumed, key)
        assert set(b) == {1, 2, 3, 4}  # steps 1-2 come from the checkpoint's state
        assert any(a[s] != 0 for s in (3, 4)), (key, a)  # something to reproduce
        assert [b[s] for s in (3, 4)] == pytest.approx([a[s] for s in (3, 4)], rel=1e-4, abs=1e-9), key


# -- two accelerate ranks --------------------------------------------------------------------------------------------
def accelerate_launch(script: Path, *args: str, config_file: Path | None = None, env_extra=None, timeout: int = 240):
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", **(env_extra or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    launch = ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--config_file", str(config_file)] if config_file else ["--multi_gpu"]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *launch, str(script), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, f"accelerate launch failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["pretrain", "sft", "grpo"])
def test_recipe_on_two_ranks(stage, tmp_path, tiny_model_dir, pretrain_files):
    out, dry = tmp_path / "out", tmp_path / "dry"
    changes = dict(output_dir=str(out), push_dry_run_dir=str(dry), max_steps=2, save_steps=2)
    if stage == "pretrain":
        config = pretrain_config(tmp_path, pretrain_files, **changes)
        model = ["--tokenizer_name_or_path", str(tiny_model_dir)]
    else:
        config = tiny_config(stage, tmp_path, **changes)
        model = ["--model_name_or_path", str(tiny_model_dir)]
    proc = accelerate_launch(RECIPES / f"{stage}.py", "--config", str(config), *model)
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    text = proc.stdout + proc.stderr
    assert text.count("'train_runtime'") >= 1
    # the per-device batch doubled into the total: the card states it
    card = (dry / "models/out/main/README.md").read_text()
    per_device = yaml.safe_load(config.read_text())["per_device_train_batch_size"]
    assert f"| total_train_batch_size | {2 * per_device} |" in card
    assert (dry / "models/out/step-2/model.safetensors").is_file()
