# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Step text and step ends of process supervision (§4.1.3) on multi-byte text with a byte-level BPE tokenizer:
the step strings are exact slices of the decoded completion (no garbled bytes, no EOS), each step ends at the token
that completes its newline, and the advantage rows follow exactly."""

from __future__ import annotations

import pytest

from tests.conftest import build_tiny_tokenizer
from trl_dsm.grpo.advantages import process_advantages
from trl_dsm.grpo.steps import split_completion, step_boundaries, token_end_offsets


@pytest.fixture(scope="module")
def ascii_tokenizer():
    """Trained on ASCII only: every CJK character, emoji and math symbol is split into single-byte tokens."""
    return build_tiny_tokenizer([f"What is {a} + {b}?\n{a} + {b} = {a + b}\nThe answer is {a + b}." for a in range(30)
                                 for b in range(30)], vocab_size=300)  # fmt: skip


@pytest.fixture(scope="module")
def mixed_tokenizer():
    """Trained with Chinese text too: some merges hold whole characters, others end mid-character."""
    texts = ["因为 3 + 4 = 7\n所以答案是 7。", "√16 = 4，4 × π ÷ 2 ≈ 6.28 😀", "答案是 12。\n因为 5 + 7 = 12"] * 20
    return build_tiny_tokenizer(texts, vocab_size=330)


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


CASES = [
    ("因为 3 + 4 = 7\n所以答案是 7。", ["因为 3 + 4 = 7", "所以答案是 7。"]),
    ("√16 = 4 😀\n4 × π ÷ 2 ≈ 6.28\n\nDone ✓\n", ["√16 = 4 😀", "4 × π ÷ 2 ≈ 6.28", "Done ✓"]),
    ("答案是 12。", ["答案是 12。"]),
    ("\n第一步：3 × 4 = 12\n  \n第二步：12 ÷ 2 = 6\n", ["第一步：3 × 4 = 12", "第二步：12 ÷ 2 = 6"]),
]


@pytest.mark.parametrize("which", ["ascii_tokenizer", "mixed_tokenizer"])
@pytest.mark.parametrize(("text", "steps"), CASES)
def test_step_texts_are_exact_slices_of_the_decoded_completion(request, which, text, steps):
    tokenizer = request.getfixturevalue(which)
    ids = encode(tokenizer, text)
    if which == "ascii_tokenizer":  # the per-token decode garbles this text
        assert any("\ufffd" in tokenizer.decode([t]) for t in ids)
    for cache in (None, {}):
        ends, texts = split_completion(ids, tokenizer, "\n", cache=cache)
        assert texts == steps
        assert ends[-1] == len(ids) - 1  # the EOS belongs to the last step; its text is not in it
        # every earlier step ends at the token that completes its (last) newline
        decoded, offsets = token_end_offsets(ids, tokenizer, cache)
        assert decoded == text and offsets[-1] == len(text)
        for end, step in zip(ends[:-1], texts[:-1]):
            cut = text.index(step) + len(step)
            newline_end = len(text) - len(text[cut:].lstrip()) if text[cut:].lstrip() else len(text)
            newline_end = text.rindex("\n", 0, newline_end) + 1
            assert offsets[end] >= newline_end and (end == 0 or offsets[end - 1] < newline_end)


def test_step_ends_and_advantages_exact(ascii_tokenizer):
    """Two completions of one group, rewards by step: the advantage rows equal the hand computation."""
    tok = ascii_tokenizer
    a = encode(tok, "因为 3 + 4 = 7\n所以 7。")  # 2 steps
    b = encode(tok, "√9 = 3\n3 × 3 = 9\n答 9")  # 3 steps
    (ends_a, steps_a), (ends_b, steps_b) = split_completion(a, tok), split_completion(b, tok)
    assert steps_a == ["因为 3 + 4 = 7", "所以 7。"] and steps_b == ["√9 = 3", "3 × 3 = 9", "答 9"]
    newline_a = next(i for i, t in enumerate(a) if "\n" in tok.decode([t]))
    newlines_b = [i for i, t in enumerate(b) if "\n" in tok.decode([t])]
    assert ends_a == [newline_a, len(a) - 1] and ends_b == [*newlines_b, len(b) - 1]
    rewards = [[1.0, 0.0], [1.0, 1.0, 0.0]]
    width = max(len(a), len(b))
    adv = process_advantages(rewards, [ends_a, ends_b], group_size=2, num_tokens=width)
    # 5 step rewards: mean 0.6, unbiased std sqrt(0.3); r~ = (r - 0.6) / (sqrt(0.3) + 1e-4)
    hi, lo = 0.4 / (0.3**0.5 + 1e-4), -0.6 / (0.3**0.5 + 1e-4)
    expected_a = [hi + lo if t <= newline_a else lo for t in range(len(a))] + [0.0] * (width - len(a))
    b1, b2 = newlines_b
    expected_b = [2 * hi + lo if t <= b1 else hi + lo if t <= b2 else lo for t in range(len(b))]
    expected_b += [0.0] * (width - len(b))
    assert adv[0].tolist() == pytest.approx(expected_a, abs=1e-6)
    assert adv[1].tolist() == pytest.approx(expected_b, abs=1e-6)


def test_step_boundaries_merge_whitespace_pieces():
    assert step_boundaries("a\n\n\nb") == [4, 5]
    assert step_boundaries("\n\na\nb\n \n") == [4, 8]
    assert step_boundaries("") == [0]
    assert step_boundaries("  ") == [2]
    assert step_boundaries("x=1; y=2; z", separator="; ") == [5, 10, 11]
    with pytest.raises(ValueError, match="separator"):
        step_boundaries("a", separator="")


def test_one_token_completing_two_boundaries_makes_one_step(ascii_tokenizer):
    """A token holding ``"\\n2\\n"`` completes two newlines: the steps it closes merge (one end per token)."""
    tok = ascii_tokenizer

    class Scripted:
        """A decoder over a fixed vocabulary of strings (the shape of a tokenizer whose tokens hold newlines)."""

        vocab = ["1 + 1 = 2", "\n2\n", "So 2", "<eos>"]

        def decode(self, ids, skip_special_tokens=True):
            return "".join(self.vocab[i] for i in ids if not (skip_special_tokens and i == 3))

        def batch_decode(self, rows, skip_special_tokens=True):
            return [self.decode(r, skip_special_tokens) for r in rows]

    del tok
    ends, texts = split_completion([0, 1, 2, 3], Scripted())
    assert ends == [1, 3] and texts == ["1 + 1 = 2\n2", "So 2"]


def test_empty_and_special_only_completions(ascii_tokenizer):
    tok = ascii_tokenizer
    assert split_completion([], tok) == ([], [])
    assert split_completion([tok.eos_token_id], tok) == ([0], [""])


def test_non_local_decoder_falls_back_to_prefix_decoding():
    """A decoder that rewrites text across token boundaries (like clean-up of tokenization spaces): offsets come
    from decoding every prefix and the steps are still slices of the decoded text."""

    class Cleaning:
        vocab = ["a", " .", "\n", "b", " ,", "c"]

        def decode(self, ids, skip_special_tokens=True):
            return "".join(self.vocab[i] for i in ids).replace(" .", ".").replace(" ,", ",")

        def batch_decode(self, rows, skip_special_tokens=True):
            return [self.decode(r) for r in rows]

    ids = [0, 1, 2, 3, 4, 5]
    text, offsets = token_end_offsets(ids, Cleaning(), {})
    assert text == "a.\nb,c" and offsets == [1, 2, 3, 4, 5, 6]
    assert split_completion(ids, Cleaning()) == ([2, 5], ["a.", "b,c"])
