# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""SFT data (§3.3): CoT/PoT/TIR prompt-completion examples, the DeepSeekMath chat template, and a loss mask that
covers exactly the assistant's own text (no prompt, no tool output), through TRL's SFTTrainer."""

from __future__ import annotations

import pytest
from datasets import Dataset

from tests.conftest import build_tiny_model, build_tiny_tokenizer
from trl_dsm.prompts import COT_INSTRUCTION, COT_INSTRUCTION_ZH, POT_INSTRUCTION, TIR_INSTRUCTION, tool_output_spans
from trl_dsm.sft import build_sft_dataset, ensure_chat_template, to_prompt_completion, tokenize_sft_example
from trl_dsm.sft.questions import build_question_dataset, load_math_dataset


TIR = (
    "Let me compute it.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\n"
    "Then add one.\n```python\nprint(42 + 1)\n```\n```output\n43\n```\nThe answer is $\\boxed{43}$."
)


@pytest.fixture(scope="module")
def tokenizer():
    tok = build_tiny_tokenizer([TIR, "User: Assistant: What is 6 * 7 + 1? print output python"] * 4)
    tok.chat_template = None
    return ensure_chat_template(tok)  # DeepSeekMath's template


def test_formats_append_the_paper_instructions():
    cot = to_prompt_completion({"question": "What is 1+1?", "response": "2"}, "cot")
    assert cot["prompt"] == [{"role": "user", "content": f"What is 1+1?\n{COT_INSTRUCTION}"}]
    assert cot["completion"] == [{"role": "assistant", "content": "2"}]
    zh = to_prompt_completion({"question": "一加一等于几？", "response": "2"}, "cot")
    assert zh["prompt"][0]["content"].endswith(COT_INSTRUCTION_ZH)
    pot = to_prompt_completion({"question": "Q", "response": "print(2)"}, "pot")
    assert pot["prompt"][0]["content"] == f"Q\n{POT_INSTRUCTION}"
    assert pot["completion"][0]["content"] == "```python\nprint(2)\n```"
    tir = to_prompt_completion({"q": "Q", "s": TIR, "f": "tir"}, "cot", "q", "s", format_column="f")
    assert tir["prompt"][0]["content"] == f"Q\n{TIR_INSTRUCTION}" and tir["completion"][0]["content"] == TIR
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert to_prompt_completion({"messages": messages}) == {"prompt": messages[:1], "completion": messages[1:]}


def test_format_errors_name_the_field():
    with pytest.raises(ValueError, match="unknown SFT format 'tor'"):
        to_prompt_completion({"question": "Q", "response": "A"}, "tor")
    with pytest.raises(ValueError, match="column 'response' must be a string"):
        to_prompt_completion({"question": "Q", "answer": "A"}, "cot")
    with pytest.raises(ValueError, match="must end with the assistant"):
        to_prompt_completion({"messages": [{"role": "user", "content": "hi"}]})


def test_tool_output_spans_are_what_the_executor_inserts():
    spans = tool_output_spans(TIR)
    assert [TIR[a:b] for a, b in spans] == ["\n42\n```\n", "\n43\n```\n"]
    assert tool_output_spans("```output\n1") == [(9, 11)]  # an open block runs to the end
    # A trajectory built by the sandbox's TIR loop: the spans are exactly what the executor appended after the
    # model's ```output stop string (the SFT mask and the evaluation loop agree on the protocol).
    from trl_dsm.sandbox import run_python
    from trl_dsm.sandbox.tir import continue_tir, pending_program

    text, inserted = "Compute.\n```python\nx = 6 * 7\nprint(x)\n```\n```output", []
    for follow_up in ("\nNow x + 1.\n```python\nprint(x + 1)\n```\n```output", "\nSo $\\boxed{43}$."):
        extended = continue_tir(text, run_python(pending_program(text)))
        inserted.append(extended[extended.rindex("```output") + len("```output") :])
        text = extended + follow_up
    assert inserted == ["\n42\n```\n", "\n43\n```\n"]
    assert [text[a:b] for a, b in tool_output_spans(text)] == inserted


def test_mask_covers_exactly_the_assistant_text_without_tool_outputs(tokenizer):
    example = to_prompt_completion({"question": "What is 6 * 7 + 1?", "response": TIR}, "tir")
    out = tokenize_sft_example(example, tokenizer)
    trained = "".join(tokenizer.decode([t]) for t, m in zip(out["input_ids"], out["completion_mask"]) if m)
    masked_outputs = "".join(TIR[a:b] for a, b in tool_output_spans(TIR))
    # the template writes " " + content + eos after "Assistant:"; tool outputs removed
    expected = " " + TIR.replace("\n42\n```\n", "").replace("\n43\n```\n", "") + tokenizer.eos_token
    assert trained == expected
    assert masked_outputs and "42\n```" not in trained.split("```output")[1]
    untrained = tokenizer.decode([t for t, m in zip(out["input_ids"], out["completion_mask"]) if not m])
    assert untrained.startswith("User: What is 6 * 7 + 1?") and untrained.count("```") == 2
    unmasked = tokenize_sft_example(example, tokenizer, mask_tool_outputs=False)
    assert sum(unmasked["completion_mask"]) > sum(out["completion_mask"])


def test_sft_trainer_labels_follow_the_mask(tmp_path, tokenizer):
    from trl import SFTConfig, SFTTrainer

    rows = Dataset.from_dict({"question": ["What is 6 * 7 + 1?"] * 4, "response": [TIR] * 4})
    data = build_sft_dataset(rows, tokenizer, fmt="tir")
    args = SFTConfig(output_dir=str(tmp_path), completion_only_loss=True, use_cpu=True, bf16=False,
                     report_to="none", max_steps=1, per_device_train_batch_size=2)  # fmt: skip
    trainer = SFTTrainer(build_tiny_model(tokenizer), args=args, train_dataset=data, processing_class=tokenizer)
    row = trainer.train_dataset[0]
    expected = [t if m else -100 for t, m in zip(data[0]["input_ids"], data[0]["completion_mask"])]
    assert row["labels"] == expected
    trainer.train()
    assert trainer.state.global_step == 1


def test_question_datasets_from_local_benchmarks(shared_data):
    gsm = load_math_dataset("gsm8k", "train", str(shared_data / "benchmarks"))
    questions = build_question_dataset(gsm.select(range(3)), source="gsm8k")
    assert questions.column_names == ["answer", "prompt", "source"]
    assert questions[0]["prompt"][0]["content"].endswith(COT_INSTRUCTION)
    assert questions[0]["answer"].endswith("#### 72")
    with pytest.raises(FileNotFoundError, match="no local file"):
        load_math_dataset("gsm8k", "validation", str(shared_data / "benchmarks"))
    with pytest.raises(ValueError, match="no question column"):
        build_question_dataset(Dataset.from_dict({"x": ["1"], "answer": ["1"]}))
