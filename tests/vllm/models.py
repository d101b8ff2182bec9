# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Tiny models for the vLLM tests, built locally (no Hub).

``tests/conftest.py``'s model has head_dim 16 (hidden 32, 2 heads); vLLM's CPU attention backend supports head
sizes 32, 64, 80, ... only (``CPUAttentionBackend.get_supported_head_sizes``), so these use hidden 64 with 2 heads.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import build_tiny_model, build_tiny_tokenizer


QUESTIONS = [f"What is {a} + {b}?" for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]]
ANSWERS = ["3", "7", "11", "15"]
TEXTS = QUESTIONS + [f"{a} + {b} = {a + b}\nThe answer is {a + b}." for a in range(12) for b in range(12)]


def build_vllm_tiny_model(tokenizer, seed: int = 0, max_position_embeddings: int = 512):
    """``tests.conftest.build_tiny_model`` at hidden 64 (head_dim 32), which vLLM's CPU backend can run."""
    return build_tiny_model(
        tokenizer, seed, hidden_size=64, intermediate_size=128, max_position_embeddings=max_position_embeddings,
        bos_token_id=None,
        # 10x the default: greedy decoding then writes varied text with clear top-1 margins (a default-initialized
        # model repeats one token, which would make the comparison with transformers say little).
        initializer_range=0.2,
    )  # fmt: skip


def save_vllm_tiny_model(path: str | Path, seed: int = 0) -> Path:
    """Build the tokenizer and model and save both (float32) to ``path``."""
    path = Path(path)
    tokenizer = build_tiny_tokenizer(TEXTS)
    build_vllm_tiny_model(tokenizer, seed=seed).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
