# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Program-of-thought reward and the tool-integrated reasoning protocol over the sandbox."""

from __future__ import annotations

import pytest

from trl_dsm.rewards import REWARD_FUNCS, make_pot_accuracy_reward, pot_accuracy_reward
from trl_dsm.sandbox import ExecutionResult, SandboxPool
from trl_dsm.sandbox.tir import (
    TIR_OUTPUT_STOP,
    code_blocks,
    continue_tir,
    extract_program,
    format_output,
    make_python_tool,
    output_text,
    pending_program,
    pot_answer,
    python_tool,
    session_program,
)


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(max_workers=2) as pool:
        yield pool.warm_up()


def _result(stdout="", stderr="", status="ok"):
    return ExecutionResult(stdout, stderr, status, 0.0, 0 if status == "ok" else 1)


# -- protocol (pure) -------------------------------------------------------------------------------


def test_extract_program():
    assert extract_program("Compute.\n```python\nprint(1)\n```\nthen\n```python\nprint(2)\n```") == "print(2)\n"
    assert extract_program("```py\nx = 3\nprint(x)\n```") == "x = 3\nprint(x)\n"
    assert extract_program("```python\nprint(5)") == "print(5)"  # cut off before its closing fence
    assert extract_program("import math\nprint(math.sqrt(16))") == "import math\nprint(math.sqrt(16))"
    for text in ("The answer is 42.", "42", "x", "", "   ", "```output\n5\n```"):
        assert extract_program(text) is None, text
    # the output block of a TIR transcript is not code
    assert code_blocks("```python\na = 1\n```\n```output\n1\n```\n```python\nprint(a)\n```") == [
        "a = 1\n",
        "print(a)\n",
    ]
    assert code_blocks("```python\na = 1\n```\n```python\nb", complete_only=True) == ["a = 1\n"]


def test_pending_program_replays_earlier_cells_silently(pool):
    transcript = (
        "Let x be 5.\n```python\nx = 5\nprint('first', x)\n```\n```output\nfirst 5\n```\n"
        "A mistake:\n```python\n1 / 0\n```\n```output\nZeroDivisionError: division by zero\n```\n"
        "Now double it.\n```python\nprint(x * 2)\n```\n"
    )
    for text in (transcript + TIR_OUTPUT_STOP, transcript):
        program = pending_program(text)
        assert pool.run(program).stdout == "10\n"  # state carried over; earlier output and errors not repeated
    assert pending_program("No code here." + TIR_OUTPUT_STOP) is None
    assert session_program(["print(1)"]) == "print(1)"
    with pytest.raises(ValueError):
        session_program([])


def test_output_formatting():
    assert format_output(_result("42\n")) == "```output\n42\n```\n"
    assert output_text(_result("partial\n", "Traceback ...\nNameError: name 'y' is not defined", "error")) == (
        "partial\nNameError: name 'y' is not defined"
    )
    assert output_text(_result("", "", "timeout")) == "Timeout Error"
    long = output_text(_result("a" * 3000), max_chars=100)
    assert long == "a" * 50 + "\n...\n" + "a" * 50
    text = "We compute.\n```python\nprint(6 * 7)\n```\n" + TIR_OUTPUT_STOP
    assert continue_tir(text, _result("42\n")) == "We compute.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\n"
    assert continue_tir(text[: -len(TIR_OUTPUT_STOP)], _result("42\n")) == continue_tir(text, _result("42\n"))


def test_pot_answer():
    assert pot_answer(_result("step 1\n\n  3/4  \n\n")) == "3/4"
    assert pot_answer(_result("")) is None
    assert pot_answer(_result("5\n", "boom", "error")) is None


# -- PoT reward ------------------------------------------------------------------------------------


def test_pot_accuracy_reward_exact(pool):
    reward = make_pot_accuracy_reward(pool=pool, timeout=2.0)
    completions = [
        "```python\nprint(sum(range(1, 11)))\n```",  # 55: right
        "print(54)",  # wrong
        "I think it is 55.",  # no program
        "```python\nprint(1 / 0)\n```",  # error
        "from sympy import Rational\nprint(Rational(3, 4))",  # 3/4 == 0.75
        "```python\nwhile True:\n    pass\n```",  # timeout
        [{"role": "assistant", "content": "```python\nprint('The answer is', 2 ** 10)\n```"}],  # chat format
        "print(7)",  # gold without an answer
    ]
    golds = ["55", "55", "55", "1", "0.75", "1", "1024", None]
    metrics: dict[str, float] = {}
    extras: dict[str, list] = {}
    rewards = reward(
        completions,
        answer=golds,
        log_metric=lambda k, v: metrics.__setitem__(k, v),
        log_extra=lambda k, v: extras.__setitem__(k, v),
    )
    assert rewards == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, None]
    assert extras["program_status"] == ["ok", "ok", "no_program", "error", "ok", "timeout", "ok", "ok"]
    assert metrics["pot_accuracy_reward/program_no_program_rate"] == 1 / 8
    assert metrics["pot_accuracy_reward/program_timeout_rate"] == 1 / 8
    assert metrics["pot_accuracy_reward/program_error_rate"] == 1 / 8


def test_pot_reward_registry_and_default():
    assert REWARD_FUNCS["pot_accuracy"] is pot_accuracy_reward
    assert pot_accuracy_reward(["print(2 + 2)"], solution=[r"So it is $\boxed{4}$."]) == [1.0]
    with pytest.raises(KeyError, match="gold answer"):
        pot_accuracy_reward(["print(1)"], label=["1"])


# -- TRL tool ----------------------------------------------------------------------------------------


def test_python_tool_schema_and_calls(pool):
    from transformers.utils import get_json_schema

    schema = get_json_schema(python_tool)
    assert schema["function"]["name"] == "python"
    assert schema["function"]["parameters"]["required"] == ["code"]
    assert schema["function"]["parameters"]["properties"]["code"]["type"] == "string"
    tool = make_python_tool(pool=pool, timeout=1.0)
    assert tool("import sympy\nprint(sympy.isprime(97))") == "True"
    assert tool("print(undefined)") == "NameError: name 'undefined' is not defined"
    assert tool("while True: pass") == "Timeout Error"


def test_pot_reward_in_grpo_trainer(tmp_path, pool):
    """A real GRPOTrainer step calls the PoT reward with TRL's keyword signature."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from tests.conftest import build_tiny_model, build_tiny_tokenizer, tiny_grpo_kwargs

    rows = [{"prompt": f"Write a program that prints {a} + {b}.", "answer": str(a + b)} for a, b in [(1, 2), (3, 4)]]
    tokenizer = build_tiny_tokenizer([r["prompt"] for r in rows] + ["print(3)\n```python\n```"])
    calls = []
    reward = make_pot_accuracy_reward(pool=pool, timeout=1.0)

    def spy(completions, **kwargs):
        calls.append(len(completions))
        return reward(completions, **kwargs)

    trainer = GRPOTrainer(
        model=build_tiny_model(tokenizer),
        reward_funcs=spy,
        args=GRPOConfig(**tiny_grpo_kwargs(tmp_path, max_steps=1, beta=0.0)),
        train_dataset=Dataset.from_list(rows * 2),
        processing_class=tokenizer,
    )
    trainer.train()
    assert calls and all(n == 4 for n in calls)
    logged = {k for entry in trainer.state.log_history for k in entry}
    assert "pot_accuracy_reward/program_no_program_rate" in logged
