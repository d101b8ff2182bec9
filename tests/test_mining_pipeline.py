# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The mining pipeline end to end on the shared web pages: library API, a killed run that resumes with nothing lost
or duplicated, manual domain annotation, the CLI with a dry-run push and a push to a local fake Hub, and (slow) the
datatrove executor with 2 workers."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trl_dsm.mining.pipeline import AnnotationPending, MiningConfig, MiningPipeline, mine


ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "num_shards": 4,
    "iterations": 2,
    "classifier": {"bucket": 20_000, "epoch": 10, "n_positives": 300, "n_negatives": 300},
    "selection": {"threshold": 0.6},
    "domains": {"auto_accept_score": 0.5, "stop_overlap": None},
}


def small_run_config(shared_data, executor: dict | None = None) -> dict:
    """A small mining run on the shared web pages with MATH solutions as seeds (the kill/resume and executor tests)."""
    config = {
        **SMALL,
        "inputs": [{"type": "jsonl", "paths": [str(shared_data / "web" / "web_docs.jsonl")]}],
        "seeds": [
            {
                "type": "jsonl",
                "paths": [str(shared_data / "benchmarks" / "math" / "train.jsonl")],
                "fields": ["problem", "solution"],
                "limit": 300,
            }
        ],
    }
    if executor:
        config["executor"] = executor
    return config


def _seeds(shared_data, n: int = 300) -> list[str]:
    with (shared_data / "benchmarks" / "math" / "train.jsonl").open() as f:
        return [(lambda r: r["problem"] + "\n" + r["solution"])(json.loads(line)) for line, _ in zip(f, range(n))]


def _web_docs(shared_data) -> list[dict]:
    docs = [json.loads(line) for line in (shared_data / "web" / "web_docs.jsonl").open()]
    # 20 URL duplicates (another scheme and a fragment); the shared file has one more
    return docs + [dict(d, url=d["url"].replace("https://", "http://") + "#dup") for d in docs[:20]]


def _per_shard(run: Path, pattern: str) -> np.ndarray:
    """A per-shard array of the run (keep-masks, selections, added seed rows) concatenated over its shards."""
    return np.concatenate([np.load(f) for f in sorted(run.glob(pattern))])


def _in_memory_discovery(run: Path, k: int, config: MiningConfig) -> tuple[int, list[dict], np.ndarray]:
    """Iteration ``k``'s math domains, annotation rows and new seed rows recomputed in memory from the whole run's
    columns (what the driver did before discovery ran from per-shard partial counts)."""
    from trl_dsm.mining import domains as domains_lib
    from trl_dsm.mining.rundir import read_files

    docs = read_files(sorted((run / "docs").glob("shard-*.parquet")))
    keep = _per_shard(run, "dedup/keep/shard-*.npy")
    selected = _per_shard(run, f"iter_{k}/selected/shard-*.npy")
    scores = np.concatenate([np.load(f) for f in sorted((run / f"iter_{k}" / "scores").glob("shard-*.npy"))])
    urls_k = [u if keep[i] else "" for i, u in enumerate(docs["url"])]
    doms_k = [d if keep[i] else "" for i, d in enumerate(docs["domain"])]
    math = domains_lib.math_domains(doms_k, selected, config.domains)
    rows = domains_lib.prefix_rows(urls_k, docs["title"], selected, scores, doms_k, config.domains)
    accepted = domains_lib.auto_accept(rows, config.domains.auto_accept_score)
    exclude = selected | ~keep
    if k > 1:
        exclude[_per_shard(run, f"iter_{k - 1}/seeds_added/shard-*.npy")] = True
    added = domains_lib.pages_under_prefixes(docs["url"], accepted, exclude, config.domains.prefix_depth)
    return len(math), rows, added


def test_mine_library_api(shared_data, tmp_path):
    docs = _web_docs(shared_data)
    config = {**SMALL, "dedup": {"partitions": 3}}  # domain counts merged over 3 hash partitions
    dataset, stats = mine(docs, _seeds(shared_data), config, output_dir=tmp_path / "run")
    assert stats["documents_in"] == len(docs) == 543
    assert stats["dedup"]["url_duplicates_removed"] == 21
    assert stats["dedup"]["kept"] == 543 - 21 - stats["dedup"]["near_duplicates_removed"]
    assert [r["iteration"] for r in stats["iterations"]] == [1, 2]
    second = stats["iterations"][1]
    first_selected = _per_shard(tmp_path / "run", "iter_1/selected/shard-*.npy")
    final_selected = _per_shard(tmp_path / "run", "iter_2/selected/shard-*.npy")
    assert second["collected"] == final_selected.sum() == len(dataset) == stats["documents_out"]
    assert second["new"] == int((final_selected & ~first_selected).sum())
    assert second["overlap_with_previous"] == pytest.approx(
        (final_selected & first_selected).sum() / final_selected.sum()
    )
    assert dataset.column_names == ["id", "url", "domain", "title", "text", "source", "math_score"]
    assert min(dataset["math_score"]) >= 0.6
    assert len(set(dataset["id"])) == len(dataset)
    # domain discovery from per-shard partial counts = the in-memory computation over all pages
    math, rows, added = _in_memory_discovery(tmp_path / "run", 1, MiningConfig.from_dict(config))
    first = stats["iterations"][0]
    annotations = [json.loads(line) for line in (tmp_path / "run" / "iter_1" / "annotations.jsonl").open()]
    assert [{**r, "label": ""} for r in annotations] == rows and len(rows) >= 1
    assert first["math_domains"] == math and first["prefixes_proposed"] == len(rows)
    assert _per_shard(tmp_path / "run", "iter_1/seeds_added/shard-*.npy").tolist() == added.tolist()
    assert first["seeds_added"] == len(added)
    # the math pages lead the ranking
    hints = {d["id"]: d["category_hint"] for d in docs}
    assert sum(hints[i] == "math" for i in dataset["id"]) >= 0.7 * len(dataset) > 0
    export = tmp_path / "run" / "export"
    assert (export / "README.md").read_text().count("| 2 |") >= 1
    assert json.loads((export / "mining_stats.json").read_text())["documents_out"] == len(dataset)
    # a finished run reloads instead of recomputing; the in-memory API needs no directory
    again, stats2 = mine(docs, _seeds(shared_data), config, output_dir=tmp_path / "run")
    assert again["id"] == dataset["id"] and stats2 == stats
    tmp_result, tmp_stats = mine(docs[:80], _seeds(shared_data, 50), {**SMALL, "iterations": 1})
    assert len(tmp_result) == tmp_stats["documents_out"] and tmp_result.column_names == dataset.column_names


def test_decontamination_tasks_equal_one_run_over_the_selection(shared_data, tmp_path):
    """10-gram decontamination as one task per final shard, the shard reports merged: the same pages out and the
    same report as :func:`decontaminate_dataset` over the concatenated selection; a lost clean shard is redone."""
    from trl_dsm.decontamination.pipeline import decontaminate_dataset
    from trl_dsm.mining.rundir import read_files

    questions = [json.loads(line)["question"] for line in (shared_data / "benchmarks" / "gsm8k" / "test.jsonl").open()]
    docs = _web_docs(shared_data)[:523]
    for j, i in enumerate(range(0, len(docs), 3)):  # a benchmark question pasted into every third page
        docs[i] = dict(docs[i], text=f"{docs[i]['text']}\n\n{questions[j]}")
    decontamination = {"enabled": True, "benchmarks": ["gsm8k"], "benchmarks_dir": str(shared_data / "benchmarks")}
    config = {**SMALL, "iterations": 1, "selection": {"threshold": 0.5}, "decontamination": decontamination}
    run = tmp_path / "run"
    dataset, stats = mine(docs, _seeds(shared_data), config, output_dir=run)
    selection = read_files(sorted((run / "final").glob("shard-*.parquet")))
    clean, report = decontaminate_dataset(
        selection, "text", benchmarks=["gsm8k"], benchmarks_dir=shared_data / "benchmarks"
    )
    assert dataset.to_list() == clean.to_list() and stats["decontamination"] == report.summary
    assert stats["tokens_out"] == sum(len(t.split()) for t in clean["text"])
    assert report.summary["documents_contaminated"] >= 10 and report.summary["chars_removed"] > 0
    shard_reports = [json.loads(f.read_text()) for f in sorted((run / "decontamination" / "shards").glob("*.json"))]
    assert len(shard_reports) == 4 and sum(bool(r["findings"]) for r in shard_reports) >= 2  # merged over shards
    lines = (run / "decontamination" / "report.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == report.findings
    assert len({json.loads(line)["row"] for line in lines}) == report.summary["documents_contaminated"]
    # resumable: a lost clean shard and export are redone, with the same result
    shards = run / "decontamination" / "shards"
    untouched = (shards / "shard-00000.parquet").stat().st_mtime_ns
    (shards / "shard-00001.parquet").unlink()
    (run / "stats.json").unlink()
    shutil.rmtree(run / "export")
    again, stats2 = mine(docs, _seeds(shared_data), config, output_dir=run)
    assert again.to_list() == dataset.to_list()
    assert {k: v for k, v in stats2.items() if k != "seconds"} == {k: v for k, v in stats.items() if k != "seconds"}
    assert (shards / "shard-00001.parquet").is_file()  # the lost shard's task ran again, no other
    assert (shards / "shard-00000.parquet").stat().st_mtime_ns == untouched


def test_mine_rejects_bad_config(shared_data, tmp_path):
    with pytest.raises(ValueError, match=r"config.classifier: unknown key\(s\) \['dims'\]"):
        MiningConfig.from_dict({"classifier": {"dims": 3}})
    with pytest.raises(ValueError, match="auto_accept_score"):
        mine(["x"], ["y"], {"iterations": 2})
    mine(_web_docs(shared_data)[:60], _seeds(shared_data, 50), {**SMALL, "iterations": 1}, output_dir=tmp_path / "r")
    changed = MiningConfig.from_dict({**SMALL, "iterations": 1, "num_shards": 3, "output_dir": str(tmp_path / "r")})
    with pytest.raises(ValueError, match=r"different config \(changed: \['num_shards'\]\)"):
        MiningPipeline(changed, documents=["x"], seed_texts=["y"])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad_key", "dedup:\n  thresold: 0.7\n", r"bad_key.yaml: config.dedup: unknown key\(s\) \['thresold'\]"),
        ("bad_type", "iterations: four\n", r"bad_type.yaml: config.iterations must be of type int, got 'four'"),
        (
            "bad_float",
            "executor:\n  timeout_s: soon\n",
            r"config.executor.timeout_s must be of type float, got 'soon'",
        ),
        ("null", "iterations:\n", r"null.yaml: config.iterations must be of type int, got null"),
        (  # fields whose default is None are checked against their annotation
            "optional_float",
            "domains:\n  auto_accept_score: high\n",
            r"config.domains.auto_accept_score must be of type float, got 'high'",
        ),
        ("optional_int", "executor:\n  tasks: many\n", r"config.executor.tasks must be of type int, got 'many'"),
        ("bad_value", "num_shards: 0\n", r"bad_value.yaml: config: num_shards must be >= 1, got 0"),
        ("not_section", "selection: 0.5\n", r"not_section.yaml: config.selection must be a mapping"),
        ("bad_yaml", "output_dir: x\ninputs: [\n", r"bad_yaml.yaml:3:1: not valid YAML: expected the node content"),
    ],
)
def test_yaml_config_errors_name_the_file_and_key(tmp_path, name, text, message):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        MiningConfig.from_yaml(path)


def test_yaml_config_accepts_what_the_fields_declare(tmp_path):
    ok = tmp_path / "ok.yaml"
    # an int for a float threshold, a float for a float field whose default is an int (7 * 24 * 3600)
    ok.write_text("dedup:\n  threshold: 1\nexecutor:\n  timeout_s: 3600.5\ndecontamination:\n  benchmarks: [gsm8k]\n")
    config = MiningConfig.from_yaml(ok)
    assert config.dedup.threshold == 1 and config.decontamination.benchmarks == ["gsm8k"]
    assert config.executor.timeout_s == 3600.5
    nullable = tmp_path / "nullable.yaml"  # None where the annotation allows it; a value of the declared type
    nullable.write_text(
        "domains:\n  stop_overlap:\n  auto_accept_score: 1\nexecutor:\n  tasks: 4\nrepo_id: me/corpus\n"
    )
    config = MiningConfig.from_yaml(nullable)
    assert config.domains.stop_overlap is None and config.domains.auto_accept_score == 1
    assert config.executor.tasks == 4 and config.repo_id == "me/corpus"
    short = tmp_path / "short.yaml"  # executor: local | ray | slurm
    short.write_text("executor:\n  kind: slurm\n")
    assert MiningConfig.from_yaml(short).executor.kind == "datatrove-slurm"
    short.write_text("executor:\n  kind: ray\n")
    assert MiningConfig.from_yaml(short).executor.kind == "datatrove-ray"


@pytest.mark.slow
def test_killed_run_resumes_with_nothing_lost_or_duplicated(shared_data, tmp_path):
    config = small_run_config(shared_data)
    script = [sys.executable, str(ROOT / "tests" / "scripts" / "mining_run.py")]
    env = dict(os.environ, TQDM_DISABLE="1")
    killed = subprocess.run(
        [*script, str(tmp_path / "a"), json.dumps(config), "score:2"], env=env, capture_output=True, timeout=900
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    scores_dir = tmp_path / "a" / "iter_1" / "scores"
    assert len(list(scores_dir.glob("shard-*.npy"))) == 2  # killed half-way through iteration 1's scoring
    assert not (tmp_path / "a" / "export").exists()
    resumed = subprocess.run(
        [*script, str(tmp_path / "a"), json.dumps(config)], env=env, capture_output=True, timeout=900
    )
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    fresh = subprocess.run(
        [*script, str(tmp_path / "b"), json.dumps(config)], env=env, capture_output=True, timeout=900
    )
    assert fresh.returncode == 0, fresh.stderr.decode()[-2000:]

    def load(run):
        import pyarrow.parquet as pq

        files = sorted((tmp_path / run / "export" / "data").glob("*.parquet"))
        return [row for f in files for row in pq.read_table(f).to_pylist()]

    a, b = load("a"), load("b")
    assert a == b and len(a) > 0
    assert len({r["id"] for r in a}) == len(a)
    stats_a = json.loads((tmp_path / "a" / "stats.json").read_text())
    stats_b = json.loads((tmp_path / "b" / "stats.json").read_text())
    assert stats_a["iterations"] == stats_b["iterations"] and stats_a["dedup"] == stats_b["dedup"]


def test_manual_annotation_pauses_and_resumes(shared_data, tmp_path):
    config = MiningConfig.from_dict(
        {**SMALL, "domains": {"auto_accept_score": None, "stop_overlap": None}, "output_dir": str(tmp_path / "m")}
    )
    docs, seeds = _web_docs(shared_data), _seeds(shared_data)
    with pytest.raises(AnnotationPending, match="annotations.jsonl"):
        MiningPipeline(config, documents=docs, seed_texts=seeds).run()
    path = tmp_path / "m" / "iter_1" / "annotations.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows and all(r["label"] == "" for r in rows)
    for row in rows:
        row["label"] = "math" if "stackexchange" in row["prefix"] or "mathjax" in row["prefix"] else "not_math"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = MiningPipeline(config, documents=docs, seed_texts=seeds).run()
    first = result.stats["iterations"][0]
    accepted = [r["prefix"] for r in rows if r["label"] == "math"]
    assert first["prefixes_accepted"] == len(accepted)
    added = _per_shard(tmp_path / "m", "iter_1/seeds_added/shard-*.npy")
    assert first["seeds_added"] == len(added)
    assert result.stats["iterations"][1]["seeds"] == 300 + len(added)


def _fake_hub():
    spec = importlib.util.spec_from_file_location("recipe_fake_hub", ROOT / "tests" / "scripts" / "recipe_fake_hub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeHub


def test_cli_dry_run_and_push_to_local_hub(shared_data, tmp_path):
    import yaml
    from huggingface_hub import HfApi

    from trl_dsm.cli import main
    from trl_dsm.mining.card import push_export

    recipe = yaml.safe_load((ROOT / "recipes" / "mining" / "shared_web.yaml").read_text())
    recipe.update(SMALL, iterations=1, selection={"method": "top_tokens", "token_budget": 20_000})
    recipe["decontamination"]["benchmarks_dir"] = str(shared_data / "benchmarks")
    for spec in recipe["inputs"] + recipe["seeds"]:
        spec["paths"] = [str(shared_data / Path(p).relative_to("../shared/data")) for p in spec["paths"]]
    recipe["known_positives"]["paths"] = [str(shared_data / "web" / "web_docs.jsonl")]
    config_path = tmp_path / "recipe.yaml"
    config_path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    argv = ["mine", "--config", str(config_path), "--output-dir", str(out), "--push-to-hub", "me/corpus"]
    assert main([*argv, "--dry-run", str(tmp_path / "dry")]) == 0
    # the token budget, cut in tasks from per-shard partial histograms = the in-memory ranking over all pages
    from tests.reference_mining import select_top_tokens_reference

    scores = _per_shard(out, "iter_1/scores/shard-*.npy")
    tokens = np.concatenate([np.load(f)["tokens"] for f in sorted((out / "prepare").glob("shard-*.npz"))])
    selected = _per_shard(out, "iter_1/selected/shard-*.npy")
    assert selected.tolist() == select_top_tokens_reference(scores, tokens, 20_000).tolist() and selected.any()
    target = tmp_path / "dry" / "datasets" / "me" / "corpus" / "main"
    uploaded = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    exported = sorted(p.relative_to(out / "export").as_posix() for p in (out / "export").rglob("*") if p.is_file())
    assert uploaded == exported and "README.md" in uploaded and "mining_stats.json" in uploaded
    assert sum(p.startswith("data/train-") for p in uploaded) >= 1
    card = (target / "README.md").read_text()
    assert "pretty_name: Math pages mined from the trl-dsm shared web sample" in card
    assert "{{" not in card and "decontamination" in card.lower()
    stats = json.loads((target / "mining_stats.json").read_text())
    assert stats["documents_in"] == 523 + 17 + 4
    assert 0 < stats["tokens_out"] <= 20_000 and stats["decontamination"]["documents_in"] >= stats["documents_out"] > 0
    # decontamination ran as one task per final shard: merged, the same pages and report as one run over the
    # concatenated selection (what the driver did before)
    from trl_dsm.decontamination.pipeline import decontaminate_dataset
    from trl_dsm.mining.rundir import read_files

    selection = read_files(sorted((out / "final").glob("shard-*.parquet")))
    clean, report = decontaminate_dataset(selection, "text", benchmarks_dir=shared_data / "benchmarks")
    assert read_files(sorted((out / "export" / "data").glob("*.parquet"))).to_list() == clean.to_list()
    assert stats["decontamination"] == report.summary and stats["documents_out"] == len(clean)
    assert stats["tokens_out"] == sum(len(t.split()) for t in clean["text"])
    written = json.loads((out / "decontamination" / "summary.json").read_text())
    assert written == {"summary": report.summary, "index": report.index_stats}
    lines = (out / "decontamination" / "report.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == report.findings
    assert f"{report.summary['documents_contaminated']} of {report.summary['documents_in']} documents" in card
    known = stats["known_positives"]
    assert known["known"] == 22 and known["kept"] + known["other"] == stats["documents_out"]
    assert f"| known math pages selected | {known['kept']} of 22 |" in card
    with _fake_hub()() as hub:
        push_export(out / "export", "me/corpus", api=HfApi(endpoint=hub.url, token="hf_test"))
        commits = [r for r in hub.requests if r["path"].endswith("/commit/main")]
        assert len(commits) == 1
        pushed = {path: content for (repo, rev, path), content in hub.files.items() if repo.endswith("me/corpus")}
        assert sorted(pushed) == exported
        assert pushed["README.md"] == (out / "export" / "README.md").read_bytes()


@pytest.mark.slow
def test_datatrove_executor_two_workers_matches_local(shared_data, tmp_path):
    docs, seeds = _web_docs(shared_data), _seeds(shared_data)
    local, local_stats = mine(docs, seeds, SMALL, output_dir=tmp_path / "local")
    distributed, dt_stats = mine(
        docs,
        seeds,
        {**SMALL, "executor": {"kind": "datatrove-local", "workers": 2, "tasks": 2}},
        output_dir=tmp_path / "dt",
    )
    assert distributed["id"] == local["id"] and distributed["math_score"] == local["math_score"]
    assert dt_stats["iterations"] == local_stats["iterations"] and dt_stats["dedup"] == local_stats["dedup"]
    logs = list((tmp_path / "dt" / "datatrove").glob("score-1-*/completions/*"))
    assert len(logs) == 2  # two datatrove tasks ran the scoring shards


def test_selection_does_not_depend_on_the_sharding(shared_data, tmp_path):
    """The classifier's random negatives are the kept rows of smallest hash priority, drawn per shard and merged by
    the driver: 3 or 5 shards train the same model, so the same pages are scored and selected."""
    docs, seeds = _web_docs(shared_data), _seeds(shared_data)
    out = {}
    for shards in (3, 5):
        config = {
            **SMALL,
            "iterations": 1,
            "num_shards": shards,
            "selection": {"method": "top_tokens", "token_budget": 30_000},
        }
        dataset, stats = mine(docs, seeds, config, output_dir=tmp_path / str(shards))
        out[shards] = (dataset["id"], dataset["math_score"], stats["iterations"][0]["extra"]["tokens_collected"])
    assert out[3] == out[5] and 0 < out[3][2] <= 30_000
    assert (tmp_path / "3" / "iter_1" / "model.bin").read_bytes() == (
        tmp_path / "5" / "iter_1" / "model.bin"
    ).read_bytes()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("no_text.jsonl", '{"url": "https://a.org/1", "body": "x"}\n', "row 0: missing column 'text'"),
        ("empty.jsonl", "", "empty input: the file has no rows"),
        ("blank.jsonl", "\n\n", "empty input: the file has no rows"),
    ],
)
def test_cli_bad_input_is_one_line_naming_the_file(tmp_path, name, content, message):
    """``trl-dsm mine`` on an input without a text column, or without rows: one line naming the file, exit 2."""
    import yaml

    data = tmp_path / name
    data.write_text(content)
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text('{"text": "Let x = 2. Then x^2 = 4."}\n')
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(tmp_path / "run"),
                "iterations": 1,
                "inputs": [{"type": "jsonl", "paths": [str(data)]}],
                "seeds": [{"type": "jsonl", "paths": [str(seeds)]}],
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "trl_dsm.cli", "mine", "--config", str(recipe)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=dict(os.environ, TQDM_DISABLE="1"),
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"trl-dsm mine: error: {data}: {message}"), done.stderr[-2000:]
