# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Bad input is one line and exit status 2 through the real entry points: ``trl-dsm <cmd>`` and the recipes
(``python recipes/<stage>.py``, and ``accelerate launch`` on two ranks: the line printed once, by rank 0)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from trl_dsm import errors


ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
STAGES = ("pretrain", "sft", "grpo")
KINDS = ("missing_config", "bad_yaml", "unknown_key", "missing_model", "empty_data")
#: One subprocess row per kind in the default run (the recipe varies); the other ten are `-m slow`. Every recipe
#: and kind also runs in this process (test_every_recipe_and_kind_in_process).
FAST_ROWS = {("pretrain", "missing_config"), ("sft", "bad_yaml"), ("grpo", "unknown_key"),
             ("sft", "missing_model"), ("grpo", "empty_data")}  # fmt: skip


def env() -> dict[str, str]:
    out = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), out.get("PYTHONPATH")]))
    out.pop("RANK", None)
    return out


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": error: " in line]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A saved 2-layer model with the tiny recipes' tokenizer (config.json, weights, tokenizer files)."""
    from transformers import AutoTokenizer

    from tests.conftest import build_tiny_model

    tokenizer = AutoTokenizer.from_pretrained(RECIPES / "tiny" / "tokenizer")
    path = tmp_path_factory.mktemp("model") / "tiny"
    build_tiny_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_config(stage: str, tmp_path: Path, **changes) -> Path:
    """recipes/tiny/<stage>.yaml with relative paths made absolute, writing into tmp_path, and ``changes``."""
    config = yaml.safe_load((RECIPES / "tiny" / f"{stage}.yaml").read_text())
    for key in ("data_dir", "model_config", "tokenizer_name_or_path"):
        if key in config:
            config[key] = str((ROOT / config[key]).resolve())
    for source in config.get("datasets", []):
        source["data_files"] = str((ROOT / source["data_files"]).resolve())
    config.update(output_dir=str(tmp_path / "out"), **changes)
    path = tmp_path / f"{stage}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def bad_input(stage: str, kind: str, tmp_path: Path, model: Path) -> tuple[list[str], str]:
    """The recipe's arguments for one kind of bad input, and the message expected after ``recipes/<stage>.py: ``."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    if kind == "missing_config":
        missing = tmp_path / "missing.yaml"
        return ["--config", str(missing)], f"config file {missing} does not exist"
    if kind == "bad_yaml":
        config = tmp_path / "bad.yaml"
        config.write_text("learning_rate: 1.0e-5\nmax_steps: [2\nseed: 0\n")
        return ["--config", str(config)], f"{config}:3:5: not valid YAML: expected ',' or ']', but got ':'"
    if kind == "unknown_key":
        config = tiny_config(stage, tmp_path, learning_rat=1e-5)
        return ["--config", str(config)], f"{config}: unknown key 'learning_rat' (did you mean 'learning_rate'?)"
    if kind == "missing_model":
        config = (
            tiny_config(stage, tmp_path, from_scratch=False) if stage == "pretrain" else tiny_config(stage, tmp_path)
        )
        missing = tmp_path / "no-such-model"
        return ["--config", str(config), "--model_name_or_path", str(missing)], (
            f"model_name_or_path {missing}: no such folder"
        )
    assert kind == "empty_data"
    if stage == "pretrain":
        config = tiny_config(stage, tmp_path, datasets=[{"path": "json", "data_files": str(empty), "weight": 1.0}])
        return ["--config", str(config)], f"source 'json' data_files {empty}: empty file (no rows)"
    config = tiny_config(stage, tmp_path)
    option = "--data_files" if stage == "sft" else "--dataset_name"
    what = "data_files" if stage == "sft" else "question file"
    return ["--config", str(config), "--model_name_or_path", str(model), option, str(empty)], (
        f"{what} {empty}: empty file (no rows)"
    )


@pytest.mark.parametrize(
    ("stage", "kind"),
    [
        pytest.param(stage, kind, marks=() if (stage, kind) in FAST_ROWS else pytest.mark.slow)
        for stage in STAGES
        for kind in KINDS
    ],
)
def test_recipe_bad_input_is_one_line_and_exit_2(stage, kind, tmp_path, tiny_model):
    """``python recipes/<stage>.py ...``: exit status 2 and one line naming the file, key or value; no traceback."""
    argv, message = bad_input(stage, kind, tmp_path, tiny_model)
    cmd = [sys.executable, f"recipes/{stage}.py", *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=600)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert error_lines(proc.stderr) == [f"recipes/{stage}.py: error: {message}"], proc.stderr[-3000:]


def load_recipe(stage: str):
    name = f"errors_recipe_{stage}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, RECIPES / f"{stage}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stage", STAGES)
def test_every_recipe_and_kind_in_process(stage, kind, tmp_path, tiny_model, monkeypatch, capsys):
    """The same rows through ``run_recipe_main`` in this process, for every recipe."""
    argv, message = bad_input(stage, kind, tmp_path, tiny_model)
    module = load_recipe(stage)
    monkeypatch.setattr(sys, "argv", [f"recipes/{stage}.py", *argv])
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit) as exit_:
        errors.run_recipe_main(module.main, module.make_parser)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"recipes/{stage}.py: error: {message}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--learnin_rate", "1e-5"], "unknown option '--learnin_rate' (did you mean '--learning_rate'?)"),
        (["--seed", "x"], "argument --seed: invalid int value: 'x' (see --help)"),
        (["--config"], "--config needs a YAML file"),
    ],
)
def test_recipe_command_line_errors(argv, message, monkeypatch, capsys):
    module = load_recipe("grpo")
    monkeypatch.setattr(sys, "argv", ["recipes/grpo.py", *argv])
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit) as exit_:
        errors.run_recipe_main(module.main, module.make_parser)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"recipes/grpo.py: error: {message}\n"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learning_rate": "abc"}, "learning_rate: invalid float value: 'abc'"),
        ({"learning_rate": [1]}, "learning_rate must be of type float, got list"),
        ({"max_steps": 2.5}, "max_steps must be of type int, got 2.5"),
        ({"env": [1]}, "env must be a mapping of environment variables"),
    ],
)
def test_config_values_are_checked_and_named(values, message, tmp_path):
    """A YAML value of the wrong type names the file and key (argparse converts strings; other values are checked
    against the field's annotation)."""
    module = load_recipe("grpo")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"use_cpu": True, "bf16": False, **values}))
    with pytest.raises(errors.UsageError) as exc:
        errors.parse_recipe_args(module.make_parser(), ["--config", str(config)])
    assert str(exc.value) == f"{config}: {message}"


def test_the_recipe_configs_parse(monkeypatch):
    """No false alarm: every shipped recipe config parses (the 7B ones need a GPU for bf16: checked with use_cpu)."""
    for stage in STAGES:
        module = load_recipe(stage)
        for folder in ("tiny", "deepseek-math-7b"):
            argv = ["--config", str(RECIPES / folder / f"{stage}.yaml"), "--use_cpu", "true", "--bf16", "false"]
            parsed = errors.parse_recipe_args(module.make_parser(), argv)
            assert len(parsed) == 3


def test_only_rank_0_prints(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(SystemExit) as exit_:
        errors.exit_with_usage_error("recipes/grpo.py", errors.UsageError("bad"))
    assert exit_.value.code == 2 and capsys.readouterr().err == "recipes/grpo.py: error: bad\n"
    # another rank waits for rank 0 to end the run; still alive after the grace, it reports its own error
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setattr(errors, "PEER_GRACE_S", 0.0)
    with pytest.raises(SystemExit) as exit_:
        errors.exit_with_usage_error("recipes/grpo.py", errors.UsageError("node-local file"))
    assert exit_.value.code == 2 and capsys.readouterr().err == "[rank 3] recipes/grpo.py: error: node-local file\n"


def test_model_source_check(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(errors.UsageError, match=r"this folder has no weights .*, no tokenizer file"):
        errors.check_model_source(folder, "--model")
    (folder / "model.safetensors").write_bytes(b"x")
    (folder / "tokenizer.json").write_text("{}")
    errors.check_model_source(folder, "--model")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    errors.check_model_source(adapter, "--model", tokenizer=False)
    with pytest.raises(errors.UsageError, match="^model_name_or_path is not set"):
        errors.check_model_source(None, "model_name_or_path")
    with pytest.raises(errors.UsageError, match="not a folder"):
        errors.check_model_source(folder / "config.json", "--model")
    (tmp_path / "outputs").mkdir()
    with pytest.raises(errors.UsageError, match=r"outputs/sft: no such folder \(in outputs/: nothing\)"):
        old = Path.cwd()
        os.chdir(tmp_path)
        try:
            errors.check_model_source("outputs/sft", "model_name_or_path")
        finally:
            os.chdir(old)


# -- trl-dsm commands ----------------------------------------------------------------------------------------------


def trl_dsm() -> list[str]:
    script = shutil.which("trl-dsm")
    return [script] if script else [sys.executable, "-m", "trl_dsm.cli"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grade", "--input", "{empty}"], "trl-dsm grade: error: --input {empty}: no records (an empty file)"),
        (["decontaminate", "--input", "{empty}", "--output-dir", "{tmp}/out"],
         "trl-dsm decontaminate: error: --input {empty}: empty file (no rows)"),
        (["grade", "--inptu", "x.jsonl"],
         "trl-dsm grade: error: unknown option '--inptu' (did you mean '--input'?) (see trl-dsm grade --help)"),
        (["decontaminate", "--input", "x", "--output-dir", "o", "--mode", "sentence"],
         "trl-dsm decontaminate: error: argument --mode: invalid choice: 'sentence' (choose from 'segment', "
         "'document') (see trl-dsm decontaminate --help)"),
        (["evaluate", "--model", "{tmp}"],
         "trl-dsm evaluate: error: --model {tmp}: not a saved model: this folder has no config.json, no weights "
         "(*.safetensors, *.bin, ...), no tokenizer file (tokenizer.json, tokenizer_config.json, tokenizer.model, "
         "vocab.json, vocab.txt)"),
        (["evaluate", "--model", "{tmp}/missing"], "trl-dsm evaluate: error: --model {tmp}/missing: no such folder"),
        (["grad"], "trl-dsm: error: argument COMMAND: invalid choice: 'grad' (choose from 'grade', 'decontaminate', "
                   "'evaluate', 'mine', 'demo') (see trl-dsm --help)"),
    ],
)  # fmt: skip
def test_command_bad_input_is_one_line_and_exit_2(argv, message, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    argv = [a.format(tmp=tmp_path, empty=empty) for a in argv]
    proc = subprocess.run([*trl_dsm(), *argv], capture_output=True, text=True, env=env(), cwd=tmp_path, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.strip() == message.format(tmp=tmp_path, empty=empty), proc.stderr[-3000:]
    assert proc.stdout == ""


# -- two accelerate ranks ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_bad_config_under_accelerate_launch_is_one_line_from_rank_0(tmp_path):
    """``accelerate launch --num_processes 2 recipes/grpo.py --config bad.yaml``: rank 0 prints the line once and
    exits with 2, rank 1 prints nothing (the launcher stops it), and no traceback comes from the recipe. The
    launcher itself exits with 1: accelerate turns any failed rank into 1 (its `_run_torchrun` re-raises torch's
    ChildFailedError, whose report names rank 0's exit code 2)."""
    config = tiny_config("grpo", tmp_path, learning_rat=1e-5)
    launch = ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--multi_gpu", "--main_process_port", "0"]  # fmt: skip
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *launch, "recipes/grpo.py", "--config", str(config)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=600)
    line = f"recipes/grpo.py: error: {config}: unknown key 'learning_rat' (did you mean 'learning_rate'?)"
    assert error_lines(proc.stderr) == [line], proc.stderr[-4000:]
    assert "[rank 1]" not in proc.stderr
    assert 'recipes/grpo.py", line' not in proc.stderr  # no frame of the recipe: the only traceback is the launcher's
    root_cause = proc.stderr.split("Root Cause")[1]
    assert "rank      : 0 (local_rank: 0)" in root_cause and "exitcode  : 2" in root_cause, proc.stderr[-4000:]
    assert proc.returncode == 1
