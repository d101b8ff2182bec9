# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Helpers for tests of TRL's colocated vLLM engine: reading its weights back and comparing them with the policy."""

from __future__ import annotations

import torch


def vllm_model(trainer) -> torch.nn.Module:
    """The model inside the colocated engine (the one TRL's sync loads weights into)."""
    return trainer.vllm_generation.llm.llm_engine.model_executor.driver_worker.model_runner.model


def as_vllm_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A transformers Qwen2 state dict in vLLM's layout: q/k/v and gate/up projections fused."""
    out = {}
    for name, tensor in state.items():
        if any(f".{p}_proj." in name for p in ("k", "v", "up")):
            continue
        if ".q_proj." in name:
            parts = [state[name.replace("q_proj", p)] for p in ("q_proj", "k_proj", "v_proj")]
            out[name.replace("q_proj", "qkv_proj")] = torch.cat(parts)
        elif ".gate_proj." in name:
            parts = [state[name.replace("gate_proj", p)] for p in ("gate_proj", "up_proj")]
            out[name.replace("gate_proj", "gate_up_proj")] = torch.cat(parts)
        else:
            out[name] = tensor
    return out


def max_difference(trainer) -> float:
    """The largest absolute difference between vLLM's weights and the policy's, in vLLM's dtype (every vLLM
    parameter)."""
    policy = as_vllm_weights({k: v.detach() for k, v in trainer.accelerator.unwrap_model(trainer.model).state_dict().items()})  # fmt: skip
    engine = dict(vllm_model(trainer).named_parameters())
    assert engine, "no parameters in the vLLM model"
    assert set(engine) <= set(policy), sorted(set(engine) - set(policy))
    # vLLM pads the vocabulary (embedding rows) to a multiple of 64: compare the real rows. Its dtype "auto" runs a
    # float32 checkpoint in bfloat16: the policy's weights are compared as the sync casts them.
    return max((engine[k][: len(policy[k])] - policy[k].to(engine[k].dtype)).abs().max().item() for k in engine)
