# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Cards render and their metadata validates; uploads (checkpoints to step-N branches, final model, datasets) go to
a local fake Hub (tests/scripts/recipe_fake_hub.py) whose recorded requests we check; dry runs write the same bytes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from datasets import Dataset, DatasetDict
from huggingface_hub import HfApi


sys.path.insert(0, str(Path(__file__).parent / "scripts"))
from recipe_fake_hub import FakeHub  # noqa: E402

from trl_dsm.hub import (  # noqa: E402
    UploadPlan,
    execute_plan,
    push_dataset,
    render_dataset_card,
    render_decontamination_card,
    render_model_card,
    template_variables,
    validate_card,
)


ROOT = Path(__file__).resolve().parents[1]
RESULTS = [
    {"task_type": "text-generation", "dataset_type": "openai/gsm8k", "dataset_name": "GSM8K", "dataset_config": "main",
     "dataset_split": "test", "metric_type": "accuracy", "metric_name": "top-1 (CoT)", "metric_value": 0.882},
    {"task_type": "text-generation", "dataset_type": "HuggingFaceH4/MATH-500", "dataset_name": "MATH-500",
     "dataset_split": "test", "metric_type": "accuracy", "metric_value": 0.517},
]  # fmt: skip
STAGE_VARIABLES = {
    "base": dict(mixture_table="| a | b |", block_size=4096, schedule="multi-step"),
    "instruct": dict(formats="chain-of-thought", cot_instruction="c", tir_instruction="t", sft_data="776K examples"),
    "rl": dict(cot_instruction="c", rl_data="144K questions", supervision="outcome", rewards="`math_accuracy`",
               iterative="no", num_generations=64, beta=0.04),
}  # fmt: skip


@pytest.mark.parametrize("stage", ["base", "instruct", "rl"])
def test_model_cards_render_and_model_index_round_trips(stage):
    card = render_model_card(
        stage, model_name=f"dsm-{stage}", base_model="deepseek-ai/deepseek-math-7b-base",
        datasets=["openai/gsm8k", "./local/dir"], hyperparameters={"learning_rate": 1e-6, "beta": 0.04},
        eval_results=RESULTS, **STAGE_VARIABLES[stage],
    )  # fmt: skip
    meta = validate_card(card, expected_eval_results=2)
    assert meta["base_model"] == "deepseek-ai/deepseek-math-7b-base"
    assert meta["datasets"] == ["openai/gsm8k"]  # local paths are not Hub ids: left out of the metadata
    assert meta["model-index"][0]["name"] == f"dsm-{stage}"
    gsm = meta["model-index"][0]["results"][0]
    assert gsm["dataset"] == {"name": "GSM8K", "type": "openai/gsm8k", "config": "main", "split": "test"}
    assert gsm["metrics"] == [{"type": "accuracy", "value": 0.882, "name": "top-1 (CoT)"}]
    text = str(card)
    assert "| GSM8K | test | top-1 (CoT) | 0.882 | text-generation |" in text
    assert "| learning_rate | 1e-06 |" in text and "shao2024deepseekmath" in text
    assert "[deepseek-ai/deepseek-math-7b-base](https://huggingface.co/deepseek-ai/deepseek-math-7b-base)" in text


def test_card_errors():
    with pytest.raises(ValueError, match=r"needs variables \['beta'"):
        variables = {k: v for k, v in STAGE_VARIABLES["rl"].items() if k != "beta"}
        render_model_card("rl", model_name="m", base_model=None, **variables)
    with pytest.raises(ValueError, match="eval_results\\[0\\]"):
        render_model_card("base", model_name="m", base_model=None, eval_results=[{"dataset": "x"}],
                          **STAGE_VARIABLES["base"])  # fmt: skip
    with pytest.raises(ValueError, match="unrendered Jinja"):
        validate_card("---\nlicense: mit\n---\n# {{ oops }}\n")
    with pytest.raises(ValueError, match="no model-index"):
        validate_card(render_model_card("base", model_name="m", base_model=None, **STAGE_VARIABLES["base"]), 2)
    assert "card_data" in template_variables("rl")


def test_decontamination_report_card_from_a_real_report():
    from trl_dsm.benchmarks import BenchmarkText
    from trl_dsm.decontamination.pipeline import build_index, decontaminate_dataset

    question = "Natalia sold clips to 48 of her friends in April and then she sold half as many clips in May"
    index = build_index([], extra=[BenchmarkText("gsm8k", "0", "question", question)])
    corpus = Dataset.from_dict({"text": ["An unrelated page about prime numbers.", f"Copied: {question}. Done."]})
    _, report = decontaminate_dataset(corpus, "text", index=index)
    card = render_decontamination_card(report, source_dataset="org/math-corpus")
    meta = validate_card(card)
    assert meta["source_datasets"] == ["org/math-corpus"] and meta["size_categories"] == ["n<1K"]
    assert "## Decontamination" in str(card) and "1 of 2 documents were contaminated" in str(card)


def test_generic_dataset_card_template(tmp_path):
    template = tmp_path / "card.md"
    template.write_text("---\n{{ card_data }}\n---\n\n# {{ title }}\n")
    card = render_dataset_card(template, {"license": "odc-by", "pretty_name": "Corpus"}, title="My corpus")
    assert validate_card(card)["license"] == "odc-by" and "# My corpus" in str(card)
    # the corpus-mining pipeline's template renders with the same function
    assert "card_data" in template_variables("mined_corpus")


def test_templates_are_package_data(monkeypatch, tmp_path):
    """Every template is found inside the installed package (importlib.resources), which is what a wheel ships
    (pyproject's package-data; .ci/wheel_smoke.sh checks the built wheel itself); $TRL_DSM_HUB_CARDS overrides."""
    import importlib.resources

    import tomllib

    from trl_dsm.hub.cards import TEMPLATES, cards_dir, template_path

    monkeypatch.delenv("TRL_DSM_HUB_CARDS", raising=False)
    package_dir = Path(str(importlib.resources.files("trl_dsm")))
    assert cards_dir() == package_dir / "hub_cards"
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["trl_dsm"]
    shipped = {p for g in globs for p in package_dir.glob(g)}
    for name, file in TEMPLATES.items():
        assert template_path(name) == package_dir / "hub_cards" / file and template_path(name) in shipped, name
    (tmp_path / TEMPLATES["rl"]).write_text("---\n{{ card_data }}\n---\n# {{ model_name }}\n")
    monkeypatch.setenv("TRL_DSM_HUB_CARDS", str(tmp_path))
    assert template_variables("rl") == {"card_data", "model_name"}
    with pytest.raises(FileNotFoundError, match=r"model_card_base\.md \(\$TRL_DSM_HUB_CARDS is set"):
        template_path("base")


def test_upload_to_fake_hub_records_branch_files_and_card(tmp_path):
    card = render_model_card("base", model_name="m", base_model=None, eval_results=RESULTS[:1],
                             **STAGE_VARIABLES["base"])  # fmt: skip
    folder = tmp_path / "checkpoint-5"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\x00weights")
    (folder / "optimizer.pt").write_bytes(b"state")
    from trl_dsm.hub import checkpoint_plan

    plan = checkpoint_plan(folder, "org/m", 5, card=card)
    with FakeHub() as hub:
        execute_plan(plan, api=HfApi(endpoint=hub.url, token="hf_fake"))
        kinds = [(r["kind"], r.get("revision")) for r in hub.requests]
        assert kinds == [("create_repo", None), ("branch", "step-5"), ("validate_yaml", None),
                         ("preupload", "step-5"), ("commit", "step-5")]  # fmt: skip
        commit = hub.requests[-1]
        assert sorted(commit["files"]) == ["README.md", "config.json", "model.safetensors"]  # no optimizer.pt
        assert hub.files[("model/org/m", "step-5", "README.md")].decode() == str(card)
        assert hub.requests[2]["content"] == str(card)
    # the dry run writes the same bytes
    dry = execute_plan(checkpoint_plan(folder, "org/m", 5, card=card), dry_run_dir=tmp_path / "dry")
    for path, digest in commit["files"].items():
        assert hashlib.sha256((dry / path).read_bytes()).hexdigest() == digest
    manifest = json.loads((dry.parent / "step-5.manifest.json").read_text())
    assert manifest["files"] == sorted(commit["files"]) and manifest["revision"] == "step-5"


def test_push_dataset_to_fake_hub_as_parquet_with_card(tmp_path, monkeypatch):
    """``datasets``' own ``push_to_hub`` writes the shards and adds its metadata to our card; the dry run writes the
    same shard files and the card, and never touches the Hub."""
    import datasets.config
    import huggingface_hub.constants
    import pyarrow.parquet as pq

    data = DatasetDict({"train": Dataset.from_dict({"row": [0, 1, 2], "text": ["a", "b", "c"]}),
                        "test": Dataset.from_dict({"row": [3], "text": ["d"]})})  # fmt: skip
    card = render_dataset_card(_template(tmp_path), {"license": "mit"}, title="x")
    shard_names = ["data/test-00000-of-00001.parquet", "data/train-00000-of-00002.parquet",
                   "data/train-00001-of-00002.parquet"]  # fmt: skip
    with FakeHub(lfs_suffixes=(".parquet",)) as hub:  # datasets' shards go through LFS, as on the Hub
        monkeypatch.setattr(datasets.config, "HF_ENDPOINT", hub.url)  # read from $HF_ENDPOINT at import
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # Parquet through LFS
        push_dataset(data, "org/report", card, num_shards={"train": 2, "test": 1}, token="hf_fake")
        commits = [r for r in hub.requests if r["kind"] == "commit"]
        assert [c["path"] for c in commits] == ["/api/datasets/org/report/commit/main"] * 2
        assert list(commits[0]["files"]) == ["README.md"]  # the card first, then datasets' commit
        assert sorted(commits[1]["files"]) == ["README.md", *shard_names]
        files = {path: content for (repo, rev, path), content in hub.files.items() if repo == "dataset/org/report"}
        shards = [pd.read_parquet(io.BytesIO(files[f"data/train-0000{i}-of-00002.parquet"])) for i in (0, 1)]
        assert pd.concat(shards)["text"].tolist() == ["a", "b", "c"]
        readme = files["README.md"].decode()
        assert readme.startswith("---\nlicense: mit\n") and readme.endswith("---\n\n# x")  # our card, kept
        assert "dataset_info:" in readme and "path: data/train-*" in readme  # with datasets' metadata added
    monkeypatch.setattr(HfApi, "_build_hf_headers", lambda *a, **k: pytest.fail("a dry run called the Hub"))
    dry = push_dataset(data, "org/report", card, num_shards={"train": 2, "test": 1}, dry_run_dir=tmp_path / "dry")
    assert sorted(str(p.relative_to(dry)) for p in dry.rglob("*") if p.is_file()) == ["README.md", *shard_names]
    assert (dry / "README.md").read_text() == str(card)
    for name in shard_names:  # the same rows in each shard as the Hub's
        assert pq.read_table(dry / name).to_pylist() == pq.read_table(io.BytesIO(files[name])).to_pylist()


def _template(tmp_path: Path) -> Path:
    path = tmp_path / "t.md"
    path.write_text("---\n{{ card_data }}\n---\n\n# {{ title }}\n")
    return path


def test_fake_hub_rejects_a_bad_model_index(tmp_path):
    with FakeHub() as hub:
        plan = UploadPlan("org/m", files={"README.md": "---\nmodel-index:\n- name: m\n  results:\n  - {}\n---\n"})
        with pytest.raises(ValueError, match="Invalid metadata in README.md"):
            execute_plan(plan, api=HfApi(endpoint=hub.url, token="hf_fake"))
        assert [r["kind"] for r in hub.requests] == ["create_repo", "validate_yaml"]  # nothing committed


@pytest.mark.slow  # a recipe subprocess (~10 s)
def test_sft_recipe_pushes_each_save_to_a_branch_and_the_final_model_to_main(tmp_path, shared_data):
    """The recipe in a subprocess with HF_ENDPOINT pointing at the fake Hub (huggingface_hub reads it at import)."""
    from tests.conftest import build_tiny_model, build_tiny_tokenizer
    from tests.test_recipes import tiny_config

    tokenizer = build_tiny_tokenizer(["User: Assistant: Natalia sold 48 clips. #### 72 Please reason step by step"])
    model_dir = tmp_path / "tiny"
    build_tiny_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    results = tmp_path / "eval.json"
    results.write_text(json.dumps(RESULTS))
    config = tiny_config("sft", tmp_path, output_dir=str(tmp_path / "out"), max_steps=2, save_steps=1,
                         push_to_hub=True, hub_model_id="tiny-sft", eval_results=str(results),
                         data_dir=str(shared_data / "benchmarks"))  # fmt: skip
    log = tmp_path / "hub.jsonl"
    with FakeHub(log) as hub:
        env = dict(os.environ, HF_ENDPOINT=hub.url, HF_TOKEN="hf_fake", HF_HUB_DISABLE_TELEMETRY="1",
                   PYTHONPATH=str(ROOT))  # fmt: skip
        proc = subprocess.run(
            [sys.executable, str(ROOT / "recipes/sft.py"), "--config", str(config), "--model_name_or_path",
             str(model_dir)], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-4000:]
        requests = hub.requests
    commits = [r for r in requests if r["kind"] == "commit"]
    assert [c["revision"] for c in commits] == ["step-1", "step-2", "main"]
    assert all(c["repo_id"] == "tester/tiny-sft" for c in commits)  # namespace from whoami
    assert {"model.safetensors", "config.json", "trainer_state.json", "README.md"} <= set(commits[0]["files"])
    assert not any(p.startswith("checkpoint-") for p in commits[-1]["files"])
    branches = [r["revision"] for r in requests if r["kind"] == "branch"]
    assert branches == ["step-1", "step-2"]
    final_card = hub.files[("model/tester/tiny-sft", "main", "README.md")].decode()
    meta = validate_card(final_card, expected_eval_results=2)
    assert "sft" in meta["tags"] and final_card == (tmp_path / "out" / "README.md").read_text()
    assert len(log.read_text().splitlines()) == len(requests)


@pytest.mark.parametrize("fail", [False, True])
def test_checkpoint_pushes_do_not_stall_a_grpo_run(tmp_path, fail):
    """A Hub that holds every commit until training has reached its last step: with a blocking push the run could
    not get there (the commit would time out after 60 s); with ours every step's checkpoint reaches its branch, in
    order, once released. A failed push is raised when training ends (never silent)."""
    import threading

    from transformers import TrainerCallback

    from tests.conftest import build_tiny_model, build_tiny_tokenizer, tiny_grpo_kwargs
    from trl_dsm import GRPOMathConfig, GRPOMathTrainer
    from trl_dsm.hub import RevisionPushCallback

    tokenizer = build_tiny_tokenizer([f"{a} + {b} = {a + b}" for a in range(10) for b in range(10)])
    build_tiny_model(tokenizer).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    data = Dataset.from_dict({"prompt": ["What is 1 + 2?"] * 12, "answer": ["3"] * 12})
    args = GRPOMathConfig(**tiny_grpo_kwargs(tmp_path / "run", max_steps=3, save_strategy="steps", save_steps=1,
                                             save_total_limit=1))  # fmt: skip
    last_step = threading.Event()

    class Release(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                last_step.set()

    with FakeHub(commit_gate=None if fail else last_step, fail_commits=fail) as hub:
        push = RevisionPushCallback("tester/tiny", api=HfApi(endpoint=hub.url, token="hf_fake"))
        trainer = GRPOMathTrainer(str(tmp_path / "model"), args=args, train_dataset=data, callbacks=[Release(), push])
        if fail:
            with pytest.raises(RuntimeError, match=r"3 checkpoint push\(es\) to tester/tiny failed"):
                trainer.train()
            return
        trainer.train()
        commits = [r for r in hub.requests if r["kind"] == "commit"]
    assert [c["revision"] for c in commits] == ["step-1", "step-2", "step-3"] == push.pushed
    assert all(c["gate_opened"] for c in commits)  # each was held until step 3 ended, and then went through
    # save_total_limit=1 deleted checkpoint-1 and -2 meanwhile: the staged snapshots were pushed whole
    assert all("model.safetensors" in c["files"] and "optimizer.pt" not in c["files"] for c in commits)
    assert not (tmp_path / "run" / "checkpoint-1").exists()


def test_waiting_for_checkpoint_pushes_is_bounded(tmp_path):
    """A push that never finishes (the Hub holds the commit) ends the wait after wait_timeout_s with an error naming
    the repository, instead of blocking the end of training forever."""
    import threading
    from types import SimpleNamespace

    from trl_dsm.hub import RevisionPushCallback

    checkpoint = tmp_path / "checkpoint-1"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    never = threading.Event()
    with FakeHub(commit_gate=never) as hub:
        push = RevisionPushCallback("tester/stuck", api=HfApi(endpoint=hub.url, token="hf_fake"), wait_timeout_s=1.0)
        push.on_save(SimpleNamespace(output_dir=str(tmp_path)), SimpleNamespace(is_world_process_zero=True,
                     global_step=1), None)  # fmt: skip
        with pytest.raises(RuntimeError, match=r"checkpoint push to tester/stuck still running after 1 s"):
            push.wait()
        never.set()  # let the held request finish so the fake Hub can close
    with pytest.raises(ValueError, match="wait_timeout_s"):
        RevisionPushCallback("tester/x", wait_timeout_s=float("inf"))
