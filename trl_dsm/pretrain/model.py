# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The model to pretrain: a checkpoint to continue (§3.1 starts from DeepSeek-Coder-Base-v1.5 7B) or a fresh one
built from a config (pretraining from scratch, as the §2.2 corpus experiments with a 1.3B model do)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import AutoConfig, AutoModelForCausalLM


def load_model_config(spec: str | dict[str, Any]):
    """A ``transformers`` config from a dict (with ``model_type``), a JSON file, or a model path / Hub id."""
    if isinstance(spec, dict):
        values = dict(spec)
        model_type = values.pop("model_type", None)
        if model_type is None:
            raise ValueError("a model config dict needs a `model_type` (e.g. 'qwen2', 'llama')")
        return AutoConfig.for_model(model_type, **values)
    path = Path(spec)
    if path.suffix == ".json" and path.is_file():
        return load_model_config(json.loads(path.read_text(encoding="utf-8")))
    return AutoConfig.from_pretrained(spec)


def build_causal_lm(
    model_name_or_path: str | None = None,
    *,
    from_scratch: bool = False,
    model_config: str | dict[str, Any] | None = None,
    tokenizer=None,
    seed: int | None = None,
    **from_pretrained_kwargs: Any,
):
    """Load ``model_name_or_path`` to continue pretraining, or with ``from_scratch`` initialise a model from
    ``model_config`` (or from the checkpoint's config); a fresh model takes the tokenizer's vocabulary size and
    special-token ids."""
    if not from_scratch:
        if model_name_or_path is None:
            raise ValueError("model_name_or_path is required unless from_scratch=True")
        return AutoModelForCausalLM.from_pretrained(model_name_or_path, **from_pretrained_kwargs)
    spec = model_config if model_config is not None else model_name_or_path
    if spec is None:
        raise ValueError("from_scratch needs model_config (a dict or JSON file) or a model_name_or_path to copy")
    config = load_model_config(spec)
    if tokenizer is not None:
        config.vocab_size = len(tokenizer)
        for name in ("pad_token_id", "eos_token_id", "bos_token_id"):
            value = getattr(tokenizer, name, None)
            if value is not None:
                setattr(config, name, value)
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    dtype = from_pretrained_kwargs.get("dtype")
    return AutoModelForCausalLM.from_config(config, **({"dtype": dtype} if dtype not in (None, "auto") else {}))
