# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Answer equivalence and grading: fast in-process paths first, SymPy (math-verify) in bounded workers last.

Order of the checks in :func:`is_equivalent` (the first that decides wins):

1. **String**: equal after LaTeX normalization (``\\dfrac``→``\\frac``, ``\\left(``→``(``, ``\\text{}``
   unwrapped, spacing commands and math delimiters dropped).
2. **Multiple choice**: both sides are a single option letter (``(B)``, ``B.``, ``\\text{B}``, ``答案为 B``).
3. **Numeric**: both sides are plain numbers (thousands separators, decimal comma, currency, units,
   degrees, percent, scientific notation, ``a/b`` and ``\\frac{a}{b}``), compared exactly as fractions;
   when either side is written as a decimal, both are rounded to ``float_rounding`` places first
   (default 6, as math-verify does: ``0.333333`` equals ``1/3``; ``0.33`` does not). A percent matches
   both its number and its fraction (``28%`` equals ``28`` and ``0.28``).
4. **Symbolic**: everything else (expressions, intervals, sets, tuples, matrices, equations, relations),
   canonicalized (:mod:`trl_dsm.grading.canonical`: units vs variables, subscripted symbols, matrices), goes to
   math-verify in a worker process with a CPU-time bound (:mod:`trl_dsm.grading.bounded`).

Every pair is bounded by ``timeout`` seconds of **CPU time** (default :data:`DEFAULT_TIMEOUT`): the caller's
thread time for extraction and the fast paths, plus the worker's CPU time for SymPy. A wall-clock backstop
(:func:`~trl_dsm.grading.bounded.wall_backstop`, 10x the bound) catches a worker that is descheduled or stuck.
This holds in any thread or process, and no function raises on any string input: a pair that runs out of time
is graded ``False`` and reported with ``status="timeout"`` and ``limit`` ``"cpu"`` or ``"wall"``. Counting CPU
time makes grades independent of machine load.

Over 400 lines on purpose: the four checks above and the batch grader that orders them are one pipeline that shares
its normalization and number parsing; split, each part would import the others' internals.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from trl_dsm._pipeworker import check_timeout
from trl_dsm.grading.bounded import SymbolicJob, get_pool, wall_backstop
from trl_dsm.grading.canonical import symbolic_pair
from trl_dsm.grading.extract import Fallback, extract_answer, math_spans, strip_math_delimiters


logger = logging.getLogger(__name__)


def _default_timeout() -> float:
    raw = os.environ.get("TRL_DSM_GRADE_TIMEOUT", "").strip()
    if not raw:
        return 2.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"TRL_DSM_GRADE_TIMEOUT must be a number of seconds, got {raw!r}") from None
    return check_timeout(value, "TRL_DSM_GRADE_TIMEOUT")


#: Default bound per pair, CPU seconds: 2, or ``$TRL_DSM_GRADE_TIMEOUT``. Machine load does not use it up (it counts
#: CPU time); the wall-clock backstop is 10x this.
DEFAULT_TIMEOUT = _default_timeout()
#: Answers longer than this are compared as strings only (SymPy on them is never worth the time).
MAX_SYMBOLIC_CHARS = 4000
#: Batches with at least this many symbolic pairs are spread over several worker processes.
PARALLEL_BATCH_THRESHOLD = 16
_MAX_NUMBER_CHARS = 200
_MAX_EXPONENT = 400


# ----------------------------------------------------------------------------------------------------
# Normalization
# ----------------------------------------------------------------------------------------------------
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_SPACING_RE = re.compile(r"\\[,;:! ]|\\q?quad\b|\\displaystyle\b|\\limits\b|~")
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree\b")


_CONNECTOR_RE = re.compile(r"^(?:\s|,|;|and|or|\\text\{\s*(?:and|or)\s*\}|\\quad|\\qquad)*$", re.IGNORECASE)


def join_math_spans(answer: str) -> str:
    """``"$1$ and $2$ or $3$"`` → ``"1, 2, 3"``: several math spans joined only by connectors are one list."""
    if answer.count("$") < 4 and answer.count("\\(") < 2:
        return answer
    spans = math_spans(answer)
    if len(spans) < 2:
        return answer
    pieces, last = [], 0
    for start, end, content in spans:
        if not _CONNECTOR_RE.match(answer[last:start]):
            return answer
        pieces.append(content.strip())
        last = end
    if not _CONNECTOR_RE.match(answer[last:].rstrip(".")):
        return answer
    return ", ".join(pieces)


def normalize_answer(answer: str) -> str:
    """Canonical string form of an answer, used for the string fast path and as input to SymPy.

    >>> normalize_answer(r"$\\left( \\dfrac{1}{2}, 3 \\right)$.")
    '(\\\\frac{1}{2},3)'
    """
    s = join_math_spans(answer.replace("\x00", ""))
    s = strip_math_delimiters(s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("\\left", "").replace("\\right", "").replace("\\bigl", "").replace("\\bigr", "")
    s = s.replace("\\$", "$").replace("\\%", "%").replace("\\{,\\}", "").replace("{,}", ",")
    for _ in range(3):  # nested \text{\textbf{..}}
        new = _TEXT_CMD_RE.sub(r"\1", s)
        if new == s:
            break
        s = new
    s = _SPACING_RE.sub("", s)
    s = s.replace("\\le ", "\\leq ").replace("\\ge ", "\\geq ")
    s = re.sub(r"\s+", "", s).replace("$", "")  # stray delimiters inside ("12 $ and $13")
    s = s.rstrip(".,;。")
    return strip_math_delimiters(s)


# ----------------------------------------------------------------------------------------------------
# Numbers
# ----------------------------------------------------------------------------------------------------
_CURRENCY_RE = re.compile(r"^(?:\$|€|£|¥|₹|rs\.?|usd|eur|rmb)\s*", re.IGNORECASE)
_FRAC_RE = re.compile(r"^([-+]?)\\frac\{([^{}]+)\}\{([^{}]+)\}$|^([-+]?)\\frac(\d)(\d)$")
_SCI_RE = re.compile(r"^(.+?)(?:\\times|\\cdot|\*|x|×)10\^\{?([-+]?\d+)\}?$")
_PLAIN_NUMBER_RE = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
#: Units that may follow a number with no space ("5cm"); any word of 3+ letters may follow after a space.
_KNOWN_UNITS = (
    "mm|cm|dm|km|m|nm|μm|um|kg|mg|g|t|s|ms|sec|min|mins|h|hr|hrs|ml|mL|l|L|ft|in|yd|mi|lb|lbs|oz|mph|kph|"
    "km/h|m/s|cm/s|kmh|sq|deg|rad|K|kW|W|V|A|J|N|Pa|Hz"
)
_PERCENT_WORDS = ("%", "percent", "pct", "percentage")
_UNIT_TAIL_RE = re.compile(
    r"(?:"
    r"\s*(?:%|percent|pct|percentage)"  # percent
    r"|\s*(?:" + _KNOWN_UNITS + r")(?:\^\{?[23]\}?|²|³)?"  # known units, attached or spaced
    r"|\s+[A-Za-z][A-Za-z.]{2,}(?:\^\{?[23]\}?|²|³)?(?:/[A-Za-z]+)?"  # a spaced word: "5 apples"
    r"|\s*[\u4e00-\u9fff]{1,4}"  # Chinese measure words: "3个", "5元"
    r"|\s*(?:\$|€|£|¥|元|dollars?|cents?|euros?|yuan)"
    r")$"
)
_TEXT_WORD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mbox|operatorname)\s*\{([^{}]*)\}")


def _number_text(answer: str) -> tuple[str, bool] | None:
    """Split ``answer`` into the text of its number and whether it carried a percent; None if words or
    symbols other than currency and units surround the number."""
    s = join_math_spans(answer.replace("\x00", ""))
    s = strip_math_delimiters(s)
    if len(s) > _MAX_NUMBER_CHARS or re.search(r",\s", s):  # "32, 349" is a list of two numbers
        return None
    s = _TEXT_WORD_RE.sub(lambda m: " " + m.group(1).strip() + " ", s)  # \text{ cm} -> " cm "
    s = _DEGREE_RE.sub(" ", s)
    s = re.sub(r"\\!\s*", "", s)  # "11,\\! 111": math-mode spaces mean nothing
    s = s.replace("\\%", "%").replace("\\$", "$").replace("{,}", ",").replace("−", "-")
    s = _SPACING_RE.sub(" ", s).replace("\u2009", " ").replace("\u202f", " ")
    s = re.sub(r"\s+(?=\^)", "", s.strip().rstrip(".。"))
    percent = False
    for _ in range(3):
        s = _CURRENCY_RE.sub("", s.strip())
        if s.startswith(("-", "+")) and _CURRENCY_RE.match(s[1:]):  # "-$5"
            s = s[0] + _CURRENCY_RE.sub("", s[1:])
        tail = _UNIT_TAIL_RE.search(s)
        if tail is None or tail.start() == 0:
            break
        if tail.group(0).strip().lower() in _PERCENT_WORDS:
            percent = True
        s = s[: tail.start()].rstrip()
    s = s.strip()
    # Thin-space / space thousands separators ("1 000 000"); any other space means more than a number.
    if " " in s:
        if not re.fullmatch(r"[-+]?\d{1,3}(?: \d{3})+(?:\.\d+)?", s):
            return None
        s = s.replace(" ", "")
    return (s, percent) if s else None


@dataclass(frozen=True)
class ParsedNumber:
    """A number read from an answer: its exact ``value``, whether it was written with a decimal point (compared
    after rounding to the precision written) and whether it carried a percent sign.

    >>> parse_number("12.5%")
    ParsedNumber(value=Fraction(25, 2), decimal=True, percent=True)"""

    value: Fraction
    decimal: bool  # written with a decimal point (so compared after rounding)
    percent: bool


def _parse_grouped(digits: str) -> str | None:
    """Resolve thousands separators vs a decimal comma in a digits-and-commas string."""
    if "," not in digits:
        return digits
    head, *groups = digits.split(",")
    integer_part, _, frac = digits.partition(".")
    if (
        all(len(g.split(".")[0]) == 3 for g in groups)
        and 1 <= len(head) <= 3
        and not (head.startswith("0") and head != "0")
    ):
        if head == "0" and "." not in digits:  # "0,111" is a decimal comma
            return f"0.{groups[0]}" if len(groups) == 1 else None
        return digits.replace(",", "")
    if len(groups) == 1 and "." not in digits:  # "1,22", "1000,99": a decimal comma
        return f"{head}.{groups[0]}"
    return None


def parse_number(answer: str) -> ParsedNumber | None:
    """A plain number (no variables, no operators) as an exact fraction, or None.

    >>> parse_number("$1{,}000.50").value
    Fraction(2001, 2)
    >>> parse_number("28 \\\\%").percent
    True
    >>> parse_number("2k") is None, parse_number("5 apples").value
    (True, Fraction(5, 1))
    """
    split = _number_text(answer)
    if split is None:
        return None
    s, percent = split
    number = _parse_bare_number(s)
    if number is None:
        return None
    return ParsedNumber(number.value, number.decimal, percent or number.percent)


def _parse_bare_number(s: str) -> ParsedNumber | None:
    sign = ""
    if s[:1] in ("-", "+"):
        sign, s = ("-" if s[0] == "-" else ""), s[1:].strip()
    if not s:
        return None
    frac = _FRAC_RE.match(s)
    if frac or "/" in s:
        if frac:
            inner_sign = frac.group(1) or frac.group(4) or ""
            if frac.group(2) is not None:
                num_s, den_s = frac.group(2), frac.group(3)
            else:
                num_s, den_s = frac.group(5), frac.group(6)
        else:
            inner_sign = ""
            num_s, _, den_s = s.partition("/")
            if "/" in den_s:
                return None
        num, den = _parse_bare_number(num_s.strip()), _parse_bare_number(den_s.strip())
        if num is None or den is None or den.value == 0:
            return None
        value = num.value / den.value
        negative = (sign == "-") != (inner_sign == "-")
        return ParsedNumber(-value if negative else value, num.decimal or den.decimal, False)
    exponent = 0
    sci = _SCI_RE.match(s)
    if sci:
        s, exponent = sci.group(1), int(sci.group(2))
    if re.fullmatch(r"[\d,]+(?:\.\d+)?", s):
        s = _parse_grouped(s)
    if s is None or not _PLAIN_NUMBER_RE.match(s):
        return None
    mantissa, _, exp_s = s.lower().partition("e")
    if exp_s:
        exponent += int(exp_s)
    if abs(exponent) > _MAX_EXPONENT:
        return None
    try:
        value = Fraction(mantissa) * Fraction(10) ** exponent
    except (ValueError, ZeroDivisionError):
        return None
    return ParsedNumber(-value if sign == "-" else value, "." in mantissa, False)


def _round(value: Fraction, places: int) -> Fraction:
    return Fraction(round(value, places))


def numbers_equal(pred: ParsedNumber, gold: ParsedNumber, float_rounding: int = 6) -> bool:
    """Exact equality, or equality after rounding to ``float_rounding`` places when either side is a
    decimal; a percent on either side also matches its fraction value (``28% == 0.28``)."""
    pred_values = [pred.value] + ([pred.value / 100] if pred.percent else [])
    gold_values = [gold.value] + ([gold.value / 100] if gold.percent else [])
    decimal = pred.decimal or gold.decimal
    for p in pred_values:
        for g in gold_values:
            if p == g:
                return True
            if decimal and _round(p, float_rounding) == _round(g, float_rounding):
                return True
    return not pred.percent and gold.percent and pred.value * 100 == gold.value


# ----------------------------------------------------------------------------------------------------
# Multiple choice
# ----------------------------------------------------------------------------------------------------
_CHOICE_RE = re.compile(r"^\(?([A-J])\)?[.:]?$|^\(?([A-J])\)[.:]?.*$|^option\(?([A-J])\)?$", re.IGNORECASE)


def parse_choice(answer: str) -> str | None:
    """The option letter of a multiple-choice answer (``(B)``, ``B.``, ``\\text{(B)}``, ``(B) 12``), or None.
    Case is kept for bare letters (``e`` is Euler's number, ``E`` an option)."""
    s = normalize_answer(answer)
    if len(s) > 100:
        return None
    m = _CHOICE_RE.match(s)
    if m is None:
        return None
    letter = next(g for g in m.groups() if g is not None)
    return letter.upper() if s.startswith("(") or s.lower().startswith("option") else letter


# ----------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------
@dataclass
class GradeResult:
    """Outcome of grading one completion; ``bool(result)`` is ``result.correct``."""

    correct: bool
    pred_answer: str | None
    gold_answer: str | None
    status: str = "ok"  # ok | no_answer | no_gold | timeout | error
    method: str = ""  # string | choice | numeric | symbolic
    seconds: float = 0.0  # wall-clock seconds
    detail: str = field(default="", repr=False)
    cpu_seconds: float = 0.0  # CPU seconds: the caller's thread (extraction, fast paths) plus the SymPy worker
    limit: str = ""  # for status "timeout": "cpu" (the bound) or "wall" (the backstop for a stuck worker)

    def __bool__(self) -> bool:
        return self.correct


@dataclass(frozen=True)
class _Options:
    float_rounding: int = 6
    strict: bool = True
    allow_set_relation_comp: bool = False

    def as_dict(self) -> dict:
        return {
            "float_rounding": self.float_rounding,
            "strict": self.strict,
            "allow_set_relation_comp": self.allow_set_relation_comp,
        }


def _fast_compare(pred: str, gold: str, options: _Options) -> tuple[bool | None, str]:
    """(decision, method) from the in-process checks; decision None means "ask SymPy"."""
    pred_norm, gold_norm = normalize_answer(pred), normalize_answer(gold)
    if not pred_norm or not gold_norm:
        return False, "string"
    if pred_norm == gold_norm:
        return True, "string"
    gold_choice = parse_choice(gold)
    if gold_choice is not None and len(gold_norm) <= 3:
        pred_choice = parse_choice(pred)
        if pred_choice is not None:
            return pred_choice == gold_choice or pred_choice.upper() == gold_choice.upper() and (
                pred_norm.startswith("(") or gold_norm.startswith("(")
            ), "choice"
    gold_number = parse_number(gold)
    if gold_number is not None:
        pred_number = parse_number(pred)
        if pred_number is not None:
            return numbers_equal(pred_number, gold_number, options.float_rounding), "numeric"
        assignment = re.fullmatch(r"[A-Za-z](?:_\{?\w+\}?)?=([^=<>]+)", pred_norm)
        if assignment:  # "x=3" against "3"
            pred_number = parse_number(assignment.group(1))
            if pred_number is not None:
                return numbers_equal(pred_number, gold_number, options.float_rounding), "numeric"
    return None, ""


def _prepare(pred: str, gold: str, options: _Options) -> tuple[bool | None, str, SymbolicJob | None]:
    try:
        decision, method = _fast_compare(pred, gold, options)
    except (ValueError, ArithmeticError, IndexError, RecursionError, MemoryError) as exc:  # never fatal
        logger.debug("fast path failed on a pair (%s); trying SymPy", type(exc).__name__)
        decision, method = None, ""
    if decision is not None:
        return decision, method, None
    pred_s, gold_s = normalize_answer(pred), normalize_answer(gold)
    if len(pred_s) > MAX_SYMBOLIC_CHARS or len(gold_s) > MAX_SYMBOLIC_CHARS:
        return False, "string", None
    pred_s, gold_s = _sympy_input(pred), _sympy_input(gold)
    if len(pred_s) > 4 * MAX_SYMBOLIC_CHARS or len(gold_s) > 4 * MAX_SYMBOLIC_CHARS:  # mostly spacing: not worth it
        return False, "string", None
    pred_s, gold_s = symbolic_pair(pred_s, gold_s)
    return None, "symbolic", SymbolicJob(pred=pred_s, gold=gold_s, options=options.as_dict(), timeout=0.0)


def _sympy_input(answer: str) -> str:
    """Light clean-up before math-verify: delimiters off, thousands separators and ``\\!`` removed."""
    s = strip_math_delimiters(join_math_spans(answer.replace("\x00", "").strip())).rstrip(".。 ")
    s = s.replace("\\!", "").replace("{,}", "")
    return strip_math_delimiters(s)


def _check_str(name: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a string, got {type(value).__name__}")
    return value


def options_from_math_verify(settings: dict | None) -> dict:
    """Grader options from math-verify's comparison settings (``precision`` is our ``float_rounding``;
    ``strict`` and ``allow_set_relation_comp`` keep their names); other keys are ignored.

    >>> options_from_math_verify({"precision": 2, "strict": False, "match_types": ["latex"]})
    {'float_rounding': 2, 'strict': False}
    """
    settings = settings or {}
    options = {"float_rounding": settings["precision"]} if "precision" in settings else {}
    options.update({k: settings[k] for k in ("strict", "allow_set_relation_comp") if k in settings})
    return options


def is_equivalent(
    pred: str,
    gold: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    float_rounding: int = 6,
    strict: bool = True,
    allow_set_relation_comp: bool = False,
) -> bool:
    """Whether the answer ``pred`` equals the reference answer ``gold`` (both already-extracted answers).

    ``float_rounding``, ``strict`` and ``allow_set_relation_comp`` have math-verify's meaning. The comparison
    gets ``timeout`` seconds of CPU time (wall-clock backstop: 10x that); a pair that runs out is ``False``.

    >>> is_equivalent("1,000", "1000"), is_equivalent(r"\\frac{1}{2}", "0.5"), is_equivalent("x=3", "3")
    (True, True, True)
    >>> is_equivalent(r"(1, 2]", r"(1, 2)")
    False
    """
    return compare_answers(
        [pred],
        [gold],
        timeout=timeout,
        float_rounding=float_rounding,
        strict=strict,
        allow_set_relation_comp=allow_set_relation_comp,
    )[0].correct


def compare_answers(
    preds: Sequence[str | None],
    golds: Sequence[str | None],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    num_workers: int | None = None,
    float_rounding: int = 6,
    strict: bool = True,
    allow_set_relation_comp: bool = False,
    _spent: Sequence[tuple[float, float]] | None = None,
) -> list[GradeResult]:
    """Batched :func:`is_equivalent` on extracted answers; symbolic pairs of a large batch run on several
    worker processes at once. ``None`` answers grade as ``no_answer`` / ``no_gold``."""
    if len(preds) != len(golds):
        raise ValueError(f"got {len(preds)} predictions but {len(golds)} gold answers")
    timeout = check_timeout(timeout)
    options = _Options(float_rounding, strict, allow_set_relation_comp)
    results: list[GradeResult] = []
    jobs: list[SymbolicJob] = []
    job_owner: list[int] = []
    # (wall, CPU) seconds of this pair's own work so far (extraction in grade_batch)
    spent = list(_spent) if _spent is not None else [(0.0, 0.0)] * len(preds)
    for i, (pred, gold) in enumerate(zip(preds, golds)):
        tic, cpu_tic = time.monotonic(), time.thread_time()
        wall, cpu = spent[i]
        if gold is None:
            results.append(GradeResult(False, pred, None, status="no_gold", seconds=wall, cpu_seconds=cpu))
            continue
        if pred is None:
            results.append(GradeResult(False, None, gold, status="no_answer", seconds=wall, cpu_seconds=cpu))
            continue
        _check_str("pred", pred)
        _check_str("gold", gold)
        decision, method, job = _prepare(pred, gold, options)
        wall, cpu = wall + time.monotonic() - tic, cpu + time.thread_time() - cpu_tic
        spent[i] = (wall, cpu)
        results.append(GradeResult(bool(decision), pred, gold, method=method, seconds=wall, cpu_seconds=cpu))
        if job is not None:
            jobs.append(job)
            job_owner.append(i)
    # A pair whose extraction and fast paths (linear scans, not interruptible) spent its whole CPU budget: a timeout.
    for owner in [o for o in job_owner if spent[o][1] >= timeout]:
        result = results[owner]
        result.correct, result.status, result.limit = False, "timeout", "cpu"
        result.detail = "CPU-time limit spent before SymPy"
    jobs = [j for j, o in zip(jobs, job_owner) if spent[o][1] < timeout]
    job_owner = [o for o in job_owner if spent[o][1] < timeout]
    if jobs:
        # Each job gets what is left of its pair's CPU budget; its wall-clock backstop counts from its dispatch.
        timed = [
            SymbolicJob(j.pred, j.gold, j.options, timeout - spent[owner][1], wall_backstop(timeout))
            for j, owner in zip(jobs, job_owner)
        ]
        parallel = (num_workers or get_pool().max_workers) if len(jobs) >= PARALLEL_BATCH_THRESHOLD else 1
        for owner, outcome in zip(job_owner, get_pool().run(timed, max_parallel=parallel)):
            result = results[owner]
            result.correct, result.status, result.detail = outcome.value, outcome.status, outcome.detail
            result.limit = outcome.limit
            result.seconds = spent[owner][0] + outcome.seconds
            result.cpu_seconds = spent[owner][1] + outcome.cpu_seconds
    return results


def extract_gold(gold: str) -> str | None:
    """The reference answer inside a gold field: a bare answer (``"72"``, ``"$\\frac{1}{2}$"``), a solution
    with ``\\boxed{}``, or a GSM8K rationale ending in ``#### 72``."""
    _check_str("gold", gold)
    found = extract_answer(gold, fallback="none")
    if found is not None:
        return found
    bare = gold.strip()
    if not bare or re.search(r"\\(?:boxed|fbox)\s*\{\s*\}|####\s*$", bare):  # a marker with nothing in it
        return None
    if len(bare) > 300 or "\n" in bare.strip():  # a solution without a marked answer: its last math/number
        return extract_answer(gold, fallback="last_math")
    return bare


def grade(
    completion: str,
    gold: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    fallback: Fallback = "last_math",
    **options,
) -> bool:
    """Extract the final answer of ``completion`` and compare it with ``gold`` (see :func:`grade_batch`).

    >>> grade("Natalia sold 48/2 = 24 clips in May.\\n#### 72", "72")
    True
    >>> grade(r"The answer is $\\boxed{\\frac{1}{2}}$.", r"Hence $x=\\boxed{0.5}$")
    True
    """
    return grade_batch([completion], [gold], timeout=timeout, fallback=fallback, **options)[0].correct


def grade_batch(
    completions: Sequence[str],
    golds: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    fallback: Fallback = "last_math",
    num_workers: int | None = None,
    **options,
) -> list[GradeResult]:
    """Grade many completions against their golds; returns one :class:`GradeResult` per pair.

    ``fallback`` applies to completions that state no marked answer (no box, no "The answer is",
    no ``####``): ``"last_math"`` (default) takes their last math span or number, ``"last_number"`` their
    last number, ``"none"`` grades them ``no_answer``. Each pair is bounded by ``timeout`` seconds of CPU time
    (extraction included), with a wall-clock backstop of 10x that for a stuck worker.
    """
    if len(completions) != len(golds):
        raise ValueError(f"got {len(completions)} completions but {len(golds)} golds")
    timeout = check_timeout(timeout)
    preds, gold_answers, spent = [], [], []
    for completion, gold in zip(completions, golds):
        tic, cpu_tic = time.monotonic(), time.thread_time()  # extraction counts against the pair's time bound
        preds.append(extract_answer(_check_str("completion", completion), fallback=fallback))
        gold_answers.append(extract_gold(gold))
        spent.append((time.monotonic() - tic, time.thread_time() - cpu_tic))
    return compare_answers(preds, gold_answers, timeout=timeout, num_workers=num_workers, _spent=spent, **options)
