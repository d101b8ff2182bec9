# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Program-of-thought and tool-integrated reasoning protocols (DeepSeekMath §3.1 data formats, §5 evaluation).

*Program-of-thought* (PoT): the completion is a program (a fenced ```python block, or bare code) whose last
printed line is the answer. *Tool-integrated reasoning* (TIR): text interleaved with ```python blocks; generation
stops at the string ```output, the program so far runs in the sandbox, its output is appended as
```output ... ``` and generation continues. Earlier blocks are re-run silently before the newest one, so
variables carry over from block to block as in a notebook.

For TRL's own tool-calling loop (``GRPOTrainer(tools=[...])``, chat templates with tool calls) use
:func:`python_tool` / :func:`make_python_tool`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from trl_dsm.prompts import FENCE_END, OUTPUT_FENCE
from trl_dsm.sandbox.executor import DEFAULT_TIMEOUT, ExecutionResult, SandboxPool, default_pool


#: Stop string of a TIR generation: the model asks for the output of the code it just wrote (the output fence of
#: :mod:`trl_dsm.prompts`, which owns the solution formats).
TIR_OUTPUT_STOP = OUTPUT_FENCE
#: Characters of program output fed back to the model (DeepSeek-Math's TIR evaluation also truncates).
MAX_OUTPUT_CHARS = 1024

_BLOCK_RE = re.compile(r"```(?:python|py|python3)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_OUTPUT_BLOCK_RE = re.compile(r"```output[ \t]*\n.*?(?:```|\Z)", re.DOTALL)


def code_blocks(text: str, *, complete_only: bool = False) -> list[str]:
    """The fenced Python blocks of ``text`` in order (``output`` blocks excluded); with ``complete_only``, a final
    block without its closing fence is dropped."""
    text = _OUTPUT_BLOCK_RE.sub("", text)
    blocks = []
    for match in _BLOCK_RE.finditer(text):
        if complete_only and not match.group(0).endswith("```"):
            continue
        blocks.append(match.group(1))
    return blocks


def extract_program(text: str) -> str | None:
    """The program of a PoT completion: its last ```python block, else the whole text when it parses as Python.

    >>> extract_program("Let me compute.\\n```python\\nprint(2 + 3)\\n```")
    'print(2 + 3)\\n'
    >>> extract_program("x = 7\\nprint(x * 6)")
    'x = 7\\nprint(x * 6)'
    >>> extract_program("The answer is 42.") is None
    True
    """
    blocks = code_blocks(text)
    if blocks:
        return blocks[-1]
    stripped = text.strip()
    if not stripped:
        return None
    try:
        tree = ast.parse(stripped)
    except (SyntaxError, ValueError):
        return None
    # A lone name or number ("The", "42") parses too: require a statement that does something.
    if all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.Name) for node in tree.body):
        return None
    return text


def session_program(blocks: list[str]) -> str:
    """One program that replays ``blocks[:-1]`` silently (their output was already shown, their errors too) and
    then runs ``blocks[-1]`` normally, so state carries over between the cells of a TIR solution."""
    if not blocks:
        raise ValueError("session_program needs at least one code block")
    if len(blocks) == 1:
        return blocks[0]
    replay = [
        "import contextlib as __tir_contextlib, io as __tir_io",
        "for __tir_cell in " + repr(blocks[:-1]) + ":",
        "    with __tir_contextlib.redirect_stdout(__tir_io.StringIO()):",
        "        try:",
        "            exec(compile(__tir_cell, '<earlier cell>', 'exec'), globals())",
        "        except Exception:",
        "            pass",
        "del __tir_cell, __tir_contextlib, __tir_io",
    ]
    return "\n".join(replay) + "\n" + blocks[-1]


def pending_program(text: str) -> str | None:
    """The program to run when a TIR generation stopped at ```output (with or without the stop string kept):
    every earlier block replayed, then the newest one. None when the text holds no code block."""
    stripped = text.rstrip()
    if stripped.endswith(TIR_OUTPUT_STOP):
        stripped = stripped[: -len(TIR_OUTPUT_STOP)]
    blocks = code_blocks(stripped)
    return session_program(blocks) if blocks else None


def output_text(result: ExecutionResult, max_chars: int = MAX_OUTPUT_CHARS) -> str:
    """What a program shows the model: its stdout, then the last line of the error (``NameError: ...``) or
    ``Timeout Error`` when it failed; cut to ``max_chars`` (keeping both ends)."""
    text = result.stdout.rstrip()
    if result.status == "timeout":
        text = (text + "\nTimeout Error").strip()
    elif not result.ok:
        text = (text + "\n" + result.error_line()).strip()
    if len(text) > max_chars:
        half = max_chars // 2
        text = text[:half] + "\n...\n" + text[-half:]
    return text


def format_output(result: ExecutionResult, max_chars: int = MAX_OUTPUT_CHARS) -> str:
    """The block appended to a TIR generation after its program ran (the opening fence included, since the stop
    string is not kept by every engine): ``"```output\\n42\\n```\\n"``."""
    return f"{OUTPUT_FENCE}\n{output_text(result, max_chars)}\n{FENCE_END}\n"


def continue_tir(text: str, result: ExecutionResult, max_chars: int = MAX_OUTPUT_CHARS) -> str:
    """``text`` (stopped at ```output, the stop string kept or not) with the program's output block appended."""
    stripped = text.rstrip()
    if stripped.endswith(TIR_OUTPUT_STOP):
        stripped = stripped[: -len(TIR_OUTPUT_STOP)].rstrip()
    return stripped + "\n" + format_output(result, max_chars)


def pot_answer(result: ExecutionResult) -> str | None:
    """The answer of a PoT program: the last non-empty line it printed; None when it failed or printed nothing."""
    if not result.ok:
        return None
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    return lines[-1] if lines else None


def make_python_tool(
    pool: SandboxPool | None = None, timeout: float = DEFAULT_TIMEOUT, max_chars: int = MAX_OUTPUT_CHARS
) -> Callable[[str], str]:
    """A tool for TRL's tool-calling loop (``GRPOTrainer(tools=[make_python_tool()])``) that runs code in the
    sandbox. Its name, type hints and docstring become the tool schema shown to the model."""

    def python(code: str) -> str:
        """
        Run a Python program in a sandbox and return what it printed, or the error it raised. Variables do not
        persist between calls. The modules math, numpy and sympy are available; print the values you need.

        Args:
            code: The Python source code to run.
        """
        result = (pool or default_pool()).run(code, timeout)
        return output_text(result, max_chars)

    return python


#: The sandbox tool with default limits, for ``GRPOTrainer(tools=[python_tool])`` (the model sees it as ``python``).
python_tool = make_python_tool()
