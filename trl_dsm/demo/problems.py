# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Procedurally generated multi-step arithmetic word problems with worked steps, for the miniature run.

Each solution writes one arithmetic step per line (``7 + 5 = 12``), so the rule-based process reward
(:func:`trl_dsm.grpo.process.arithmetic_step_reward`) can check every step, and ends with ``The answer is N.``,
which the trl_dsm grader reads. Generation is deterministic given the seed; :func:`split_problems` keeps the
held-out problems' number patterns out of the training split.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


NAMES = ("Mia", "Leo", "Ava", "Sam", "Zoe", "Ben", "Ivy", "Max", "Lily", "Noah", "Emma", "Jack", "Nora", "Omar")
OBJECTS = ("apples", "marbles", "stickers", "books", "coins", "shells", "pencils", "cards", "cookies", "stamps")
PRONOUN = {name: ("she" if name in ("Mia", "Ava", "Zoe", "Ivy", "Lily", "Emma", "Nora") else "he") for name in NAMES}

_ADD = ("{p} finds {b} more {o}.", "{p} buys {b} more {o}.", "{p} gets {b} more {o} from a friend.")
_SUB = ("{p} gives {b} {o} to {f}.", "{p} loses {b} {o}.", "{p} uses {b} {o}.")
_MUL = ("{p} ends up with {b} times as many {o}.",)


@dataclass(frozen=True)
class Problem:
    """One word problem: ``question``, the worked ``solution`` (one step per line) and the integer ``answer``."""

    question: str
    solution: str
    answer: int
    steps: int

    def as_record(self) -> dict:
        """The problem as a JSON-ready row (``question``, ``solution``, ``answer`` as a string)."""
        return {"question": self.question, "solution": self.solution, "answer": str(self.answer)}


def make_problem(
    rng: random.Random,
    min_steps: int = 2,
    max_steps: int = 3,
    max_value: int = 99,
    max_operand: int = 20,
    max_factor: int = 20,
) -> Problem:
    """A problem with ``min_steps``..``max_steps`` operations, every intermediate value in ``0..max_value``: add or
    subtract up to ``max_operand``, or multiply a value up to ``max_factor`` by 2 or 3."""
    name = rng.choice(NAMES)
    friend = rng.choice([n for n in NAMES if n != name])
    obj = rng.choice(OBJECTS)
    pronoun = PRONOUN[name].capitalize()
    value = rng.randint(2, 20)
    sentences = [f"{name} has {value} {obj}."]
    lines = []
    for i in range(rng.randint(min_steps, max_steps)):
        p = pronoun if i == 0 else rng.choice([pronoun, "Then " + PRONOUN[name]])
        choices = (["add"] if value < max_value else []) + (["sub"] if value >= 2 else [])
        choices += ["mul"] if value * 2 <= max_value and value <= max_factor else []
        op = rng.choice(choices)
        if op == "add":
            b = rng.randint(1, min(max_operand, max_value - value))
            new, claim, template = value + b, f"{value} + {b} = {value + b}", rng.choice(_ADD)
        elif op == "sub":
            b = rng.randint(1, min(max_operand, value - 1))
            new, claim, template = value - b, f"{value} - {b} = {value - b}", rng.choice(_SUB)
        else:
            b = rng.choice([k for k in (2, 3) if value * k <= max_value])
            new, claim, template = value * b, f"{value} * {b} = {value * b}", rng.choice(_MUL)
        sentences.append(template.format(p=p, b=b, o=obj, f=friend))
        lines.append(claim)
        value = new
    sentences.append(f"How many {obj} does {name} have now?")
    lines.append(f"The answer is {value}.")
    return Problem(" ".join(sentences), "\n".join(lines), value, len(lines) - 1)


def generate_problems(n: int, seed: int = 0, **kwargs) -> list[Problem]:
    """``n`` distinct problems (by question text), reproducible from ``seed``."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Problem] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ValueError(f"could not generate {n} distinct problems with {kwargs}; ask for fewer")
        problem = make_problem(rng, **kwargs)
        if problem.question not in seen:
            seen.add(problem.question)
            out.append(problem)
    return out


def split_problems(problems: list[Problem], n_heldout: int, seed: int = 0) -> tuple[list[Problem], list[Problem]]:
    """(train, held-out): held-out problems are chosen at random; a training problem whose worked solution (the
    sequence of arithmetic steps) equals a held-out one's is dropped, so no held-out computation is seen."""
    rng = random.Random(seed)
    order = list(range(len(problems)))
    rng.shuffle(order)
    heldout = [problems[i] for i in order[:n_heldout]]
    held_solutions = {p.solution for p in heldout}
    train = [problems[i] for i in order[n_heldout:] if problems[i].solution not in held_solutions]
    return train, heldout
