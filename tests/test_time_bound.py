# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The grader's time bound: on any input, in any thread or process, every pair gets at most ``timeout`` seconds of
CPU time (the caller's thread plus the SymPy worker, whose kernel limit ends it in C code too), every call returns
within the wall-clock limit (``wall_limit(timeout)``; a stuck worker is killed at the backstop, ``wall_backstop``),
nothing raises, and killed and crashed workers are replaced. A worker that loses wall time to other processes keeps
its grade, and one that a busy machine slows down still meets its CPU limit first.

No assertion here depends on how busy the machine is: CPU-time bounds are the code's own, wall-clock ones are its
limits plus slack for the parent's wake-up, and speed is compared within one process (the suite passes beside two
CPU-bound processes).

The one-time start of a worker interpreter (~1 s) is excluded from the bound by design, so tests warm the
pool first and let replacement workers finish starting (:func:`_settle`) before timing the next call.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sys
import threading
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trl_dsm.grading.bounded as bounded_module
import trl_dsm.grading.compare as compare_module
from trl_dsm.grading import compare_answers, extract_answer, grade, grade_batch, is_equivalent, normalize_answer
from trl_dsm.grading.bounded import SymbolicJob, WorkerPool, get_pool, wall_backstop, wall_limit
from trl_dsm.grading.canonical import symbolic_pair


TIMEOUT = 1.0
#: CPU seconds for the hostile pairs of the thread and DataLoader tests, which burn all of it on every worker.
QUICK = 0.5
SLACK = 0.75  # scheduling, pipe round trips and the parent's own work on a loaded 2-core machine
#: Hard bound on the wall seconds of one call: the wall-clock limit for a worker that a busy machine slows down (a
#: stuck one is killed sooner, at the backstop), plus slack.
BOUND = wall_limit(TIMEOUT) + SLACK
#: Hard bound on the CPU seconds of one pair: the worker's kernel limit is its budget, which already has the
#: caller's own time (extraction, fast paths) taken off; the rest is measurement granularity.
CPU_BOUND = TIMEOUT + 0.05
#: Budget for pairs that must come out correct: they need milliseconds, but a worker's first symbolic pair
#: pays SymPy/ANTLR initialisation (see test_fresh_worker_first_pair_is_not_charged_for_initialisation)
#: and the machine may be loaded.
NORMAL_TIMEOUT = 10.0
STATUSES = {"ok", "no_answer", "no_gold", "timeout", "error"}
MB = 1_000_000

# Uninterruptible-looking work that the worker must abandon at its deadline.
HOSTILE = r"\boxed{\int_0^\infty e^{-x^{x^x}} dx}"
NORMAL = (r"The answer is $\boxed{(x+1)^2}$.", "x^2+2x+1")  # needs the symbolic worker


def _settle(pool: WorkerPool | None = None) -> None:
    """Wait until every idle worker (e.g. a replacement started after a kill) has finished starting."""
    pool = pool or get_pool()
    for worker in list(pool._idle):
        worker.wait_ready()


def _timed(fn, *args, **kwargs):
    start = time.monotonic()
    out = fn(*args, **kwargs)
    return out, time.monotonic() - start


def _cpu_timed(fn, *args, **kwargs):
    """``fn``'s result and the CPU seconds this thread spent in it (in-process work: extraction)."""
    start = time.thread_time()
    out = fn(*args, **kwargs)
    return out, time.thread_time() - start


@pytest.fixture(scope="module", autouse=True)
def warm_pool():
    get_pool().warm_up(1)
    _settle()
    yield
    _settle()


@pytest.fixture
def private_pool(monkeypatch):
    """A dedicated pool of a fixed size, used by the graders in this process for one test."""
    pools = []

    def make(max_workers: int) -> WorkerPool:
        pool = WorkerPool(max_workers=max_workers)
        pool.warm_up(max_workers)
        pools.append(pool)
        monkeypatch.setattr(compare_module, "get_pool", lambda: pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


# ----------------------------------------------------------------------------------------------------
# (1) fuzzing: never raises, always within the bound
# ----------------------------------------------------------------------------------------------------
TOKENS = [
    "\\boxed{",
    "}",
    "{",
    "\\frac",
    "^",
    "10",
    "$",
    "\\sqrt",
    "(",
    ")",
    ",",
    "=",
    "x",
    " ",
    "2",
    "\\",
    "\\text{",
    "\\fbox",
    "####",
    "The answer is ",
    "答案是",
    ".",
    "\n",
    "\\infty",
    "!",
    "-",
    "+",
    "\\(",
    "\\)",
    "[",
    "]",
    "\\{",
    "\\}",
    "&",
    "\\\\",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "\\int",
    "_",
    "\\%",
    "\x00",
    "```output\n",
    "```",
]
latexish = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
answers = st.one_of(st.text(max_size=200), latexish)


class _KillWatch:
    """Settle the pool after an example whose worker was killed, so the next example is timed fairly."""

    def __enter__(self):
        self.kills = get_pool().kills

    def __exit__(self, *exc):
        if get_pool().kills != self.kills:
            _settle()


@settings(max_examples=500, deadline=None, database=None)
@given(text=answers, fallback=st.sampled_from(["none", "last_number", "last_math"]))
def test_fuzz_extract_answer(text, fallback):
    found, cpu = _cpu_timed(extract_answer, text, fallback=fallback)
    assert found is None or (isinstance(found, str) and found)
    assert cpu <= CPU_BOUND


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(pred=answers, gold=answers)
def test_fuzz_is_equivalent(pred, gold):
    with _KillWatch():
        result, seconds = _timed(is_equivalent, pred, gold, timeout=TIMEOUT)
        assert isinstance(result, bool)
        assert seconds <= BOUND


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(st.tuples(answers, answers), min_size=1, max_size=3))
def test_fuzz_grade_batch(pairs):
    completions, golds = [p for p, _ in pairs], [g for _, g in pairs]
    with _KillWatch():
        results, seconds = _timed(grade_batch, completions, golds, timeout=TIMEOUT)
        assert len(results) == len(pairs)
        for result in results:
            assert isinstance(result.correct, bool)
            assert result.status in STATUSES
            assert result.cpu_seconds <= CPU_BOUND
        assert seconds <= len(pairs) * BOUND


@settings(max_examples=100, deadline=None, database=None)
@given(pred=answers)
def test_fuzz_pairs_with_themselves_are_equal(pred):
    """Reflexivity on whatever the fast paths decide (symbolic pairs may time out: then only the bound)."""
    with _KillWatch():
        (result,), seconds = _timed(compare_answers, [pred], [pred], timeout=TIMEOUT)
        assert seconds <= BOUND
        assert result.cpu_seconds <= CPU_BOUND
        if normalize_answer(pred) and result.method != "symbolic":
            assert result.correct, result


# ----------------------------------------------------------------------------------------------------
# (2) explicit hostile inputs
# ----------------------------------------------------------------------------------------------------
_rng = random.Random(0)
HOSTILE_PAIRS = [
    # (completion, gold, expected correct)
    (r"\boxed{10^{10^{10^{10}}}}", "1", False),
    (r"\boxed{10^{10^{10^{10}}}}", "10^{10^{10^{10}}}", True),  # exact: decided without SymPy
    (r"\boxed{9^{9^{9^9}}}", "1", False),
    (r"\boxed{2^2^2^2^2^2}", "1", False),
    (r"\boxed{2^{2^{2^{2^{2^{2}}}}}}", "1", False),
    (r"\boxed{(10^{10})!}", "1", False),
    (r"\boxed{\sum_{n=1}^{10^{10}} n^{n}}", "1", False),
    (HOSTILE, "1", False),
    ("\\boxed{" + "{" * 200 + "1" + "}" * 200 + "}", "1", False),  # 200-deep braces
    ("The answer is " + "{" * 200 + "1" + "}" * 200, "1", False),
    ("\\boxed{" + "(" * 200 + "1" + ")" * 200 + "}", "2", False),
    ("\\boxed{" + "\\sqrt{" * 200 + "2" + "}" * 200 + "}", "1", False),
    (r"\boxed{\frac{1}{2}}", "\\frac{" * 200 + "1" + "}{2}" * 200, False),
    # invalid LaTeX
    (r"\boxed{\frac{1}{}{}}\sqrt[", "1", False),
    (r"\boxed{\begin{pmatrix}1&2\end{bmatrix}}", "1", False),
    (r"\boxed{\left(\right]}", "1", False),
    (r"\boxed{\frac{}{}^^__}", "1", False),
    (r"\boxed{\sqrt[}", "1", False),
    (r"\boxed{\unknowncommand{3}}", "3", False),
    (r"\boxed{\frac{1}{2}}}}}}", "0.5", True),
    # NUL bytes
    ("\\boxed{\x005}", "5", True),
    ("\\boxed{x\x00^2}", "x^2", True),
    ("The answer\x00 is 7.", "7", True),
    ("\x00" * MB, "1", False),
    # 1 MB strings
    ("x" * MB, "1", False),
    ("word " * (MB // 5) + "The answer is 7.", "7", True),
    ("\\boxed{" + "1" * MB + "}", "1", False),
    ("1", "\\boxed{" + "1" * MB + "}", False),
    ("\\boxed{" + "x+" * (MB // 2) + "1}", "1", False),
    ("The answer is $" + "x+" * (MB // 2) + "$.", "1", False),
    (("\\boxed{" + "x" * 1000 + "}") * 1000, "1", False),
    ("$" * MB, "1", False),
    ("{" * MB, "1", False),
    ("}" * MB, "1", False),
    ("(" * MB, "1", False),
    ("^" * MB, "1", False),
    ("\\" * MB, "1", False),
    ("####" * (MB // 4), "1", False),
    ("The answer is " * (MB // 14), "1", False),
    ("```output\n" * (MB // 10), "1", False),
    ("答案是" * (MB // 3), "1", False),
    ("$1$ and " * (MB // 8), "1", True),
    ("1 " * (MB // 2), "1", True),
    ("\\frac{1}{2}" * (MB // 11), "1", False),
    # 1 MB versions of inputs that were quadratic (hostile for brace matching, math spans, whitespace runs)
    ("".join(_rng.choices(TOKENS, k=MB // 4))[:MB], "1", False),
    ("\\boxed{" * (MB // 7), "1", False),
    ("\\boxed{1}" * (MB // 9), "1", False),
    ("\\boxed{" * (MB // 14) + "}" * (MB // 14), "1", False),
    ("\\(" * (MB // 2), "1", False),
    ("a \\[" * (MB // 4), "1", False),
    ("\\boxed{" + "\\(" * (MB // 2 - 4) + "}", "1", False),
    ("\n" * MB + "#### 5", "5", True),
    ("The answer is 5." + "\n" * MB, "5", True),
    (" " * MB + "The answer is 5.", "5", True),
    ("The answer is 5." + " " * MB, "5", True),
    ("\n \t" * (MB // 3), "1", False),
    # 1 MB inputs for the LaTeX canonicalization before SymPy (units, subscripts, matrices)
    ("\\boxed{5" + "\\," * (MB // 2) + " s}", "1", False),
    ("\\boxed{1" + "\\ " * (MB // 2) + "\\text{cm}}", "1", False),
    ("\\boxed{" + "x_1 \\, " * (MB // 8) + "}", "1", False),
    ("\\boxed{" + "x_{" * (MB // 3) + "}", "1", False),
    ("\\boxed{" + "\\left[" * (MB // 6) + "\\begin{matrix}1\\end{matrix}}", "1", False),
    ("\\boxed{" + "\\begin{matrix}1&2\\end{matrix}" * (MB // 30) + "}", "1", False),
]


@pytest.mark.parametrize(
    ("completion", "gold", "expected"),
    HOSTILE_PAIRS,
    ids=[f"{i}:{c[:24]!r}" for i, (c, _, _) in enumerate(HOSTILE_PAIRS)],
)
def test_hostile_pair(completion, gold, expected):
    with _KillWatch():
        caller_cpu = time.thread_time()
        (result,), seconds = _timed(grade_batch, [completion], [gold], timeout=TIMEOUT)
        caller_cpu = time.thread_time() - caller_cpu
        assert result.correct is expected, result
        assert result.status in STATUSES
        assert seconds <= BOUND
        # The worker never runs past what is left of the budget. This thread's own work (extraction: linear-time
        # scans, not interruptible; ~0.5 s of CPU for some 1 MB inputs, more when other processes share the
        # cores' caches) is counted too and can alone pass the budget: then the pair times out before SymPy.
        assert result.cpu_seconds <= max(TIMEOUT, caller_cpu) + 0.05, (result, caller_cpu)


#: Inputs whose rewrites before SymPy (trl_dsm.grading.canonical) would be quadratic if written naively, built at a
#: given size in characters.
CANONICAL_HOSTILE = [
    lambda n: "5" + "\\," * (n // 2) + " s",
    lambda n: "1" + "\\ " * (n // 2) + "\\text{cm}",
    lambda n: "\\" * n + " s",
    lambda n: "x_1 \\, " * (n // 7),
    lambda n: "x_{" * (n // 3),
    lambda n: "\\begin{pmatrix}" * (n // 15),
    lambda n: "\\left[" * (n // 6) + "\\begin{matrix}1\\end{matrix}",
    lambda n: "\\begin{matrix}1&2\\end{matrix}" * (n // 30),
    lambda n: "\\text{" * (n // 6),
    lambda n: "a " * (n // 2),
]


@pytest.mark.parametrize(
    "build", CANONICAL_HOSTILE, ids=[f"{i}:{b(32)[:16]!r}" for i, b in enumerate(CANONICAL_HOSTILE)]
)
def test_canonicalization_is_linear(build):
    """The rewrites before SymPy on 125 kB and 500 kB inputs, either side: four times the input costs about four
    times the CPU time (16 times if quadratic). Both sizes are measured in this thread, interleaved, best of two, so
    a busy machine slows both alike (measured ratios 3.6-4.6, idle or beside two CPU-bound processes). The bound
    itself is not at stake: compare_answers counts this work against the pair's budget (test_hostile_pair)."""
    small, big = build(MB // 8), build(MB // 2)

    def cpu(answer: str) -> float:
        return _cpu_timed(lambda: (symbolic_pair(answer, "1"), symbolic_pair("1", answer)))[1]

    small_cpu, big_cpu = float("inf"), float("inf")
    for _ in range(2):
        small_cpu, big_cpu = min(small_cpu, cpu(small)), min(big_cpu, cpu(big))
    assert big_cpu <= 8 * small_cpu + 0.02, (small_cpu, big_cpu)


def test_hostile_pair_reports_timeout():
    with _KillWatch():
        (result,), seconds = _timed(grade_batch, [HOSTILE], ["1"], timeout=TIMEOUT)
    assert (result.correct, result.status, result.method, result.limit) == (False, "timeout", "symbolic", "cpu")
    assert seconds <= BOUND
    assert result.seconds <= BOUND
    assert TIMEOUT / 2 <= result.cpu_seconds <= CPU_BOUND  # it ran until its CPU budget was (nearly) spent


def test_timeout_is_honoured_for_other_values():
    for timeout in (0.3, 2.0):
        with _KillWatch():
            (result,), seconds = _timed(grade_batch, [HOSTILE], ["1"], timeout=timeout)
        assert (result.status, result.limit) == ("timeout", "cpu")
        assert result.cpu_seconds <= timeout + 0.05
        assert seconds <= wall_limit(timeout) + SLACK


def test_several_hostile_pairs_in_one_batch_each_get_their_bound():
    completions = [HOSTILE, NORMAL[0], r"\boxed{(10^{10})!}"]
    golds = ["1", NORMAL[1], "1"]
    with _KillWatch():
        results, seconds = _timed(grade_batch, completions, golds, timeout=TIMEOUT)
    assert [r.correct for r in results] == [False, True, False]
    assert [r.status for r in results] == ["timeout", "ok", "timeout"]
    assert all(r.cpu_seconds <= CPU_BOUND for r in results)
    assert seconds <= len(completions) * BOUND


def test_many_unclosed_boxes_within_bound():
    (result,), seconds = _timed(grade_batch, ["\\boxed{" * 5000], ["1"], timeout=TIMEOUT)
    assert result.correct is False
    assert seconds <= BOUND


def test_many_adjacent_boxes_within_bound():
    (result,), seconds = _timed(grade_batch, ["\\boxed{1}" * 160_000], ["1"], timeout=TIMEOUT)
    assert result.correct is False
    assert seconds <= BOUND


@pytest.mark.parametrize(
    "completion",
    ["a \\(" * 15_000, "\\boxed{" + "\\(" * 12_000 + "}"],
    ids=["fallback-last_math", "normalize-boxed"],
)
def test_unclosed_inline_math_within_bound(completion):
    (result,), seconds = _timed(grade_batch, [completion], ["1"], timeout=TIMEOUT)
    assert result.correct is False
    assert seconds <= BOUND


@pytest.mark.parametrize(
    "completion",
    ["The answer is 5." + "\n" * 13_000, "The answer is 5." + " " * 30_000],
    ids=["newlines", "spaces"],
)
def test_trailing_whitespace_within_bound(completion):
    (result,), seconds = _timed(grade_batch, [completion], ["5"], timeout=TIMEOUT)
    assert result.correct is True
    assert seconds <= BOUND


# ----------------------------------------------------------------------------------------------------
# (3) threads
# ----------------------------------------------------------------------------------------------------
THREAD_PAIRS = [  # (completion, gold, expected, status, timeout)
    (HOSTILE, "1", False, "timeout", QUICK),
    (*NORMAL, True, "ok", NORMAL_TIMEOUT),
    (r"\boxed{(10^{10})!}", "1", False, "timeout", QUICK),
    ("#### 1,000", "1000", True, "ok", TIMEOUT),
]


def _grade_all(out: list) -> None:
    for completion, gold, _, _, timeout in THREAD_PAIRS:
        (result,), seconds = _timed(grade_batch, [completion], [gold], timeout=timeout)
        out.append((result.correct, result.status, seconds, result.cpu_seconds))


def _check_thread_results(out: list) -> None:
    assert len(out) == len(THREAD_PAIRS)
    for (correct, status, seconds, cpu), (_, _, expected, expected_status, timeout) in zip(out, THREAD_PAIRS):
        assert (correct, status) == (expected, expected_status)
        assert seconds <= wall_limit(timeout) + SLACK
        assert cpu <= timeout + 0.05


def test_bound_in_a_non_main_thread():
    out: list = []
    errors: list = []

    def target():
        try:
            _grade_all(out)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert not errors
    _check_thread_results(out)


def _run_threads(n: int) -> list[list]:
    outs: list[list] = [[] for _ in range(n)]
    errors: list = []
    barrier = threading.Barrier(n)

    def target(out):
        try:
            barrier.wait()
            _grade_all(out)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(out,)) for out in outs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors
    return outs


def test_bound_in_concurrent_threads(private_pool):
    private_pool(3)
    for out in _run_threads(3):
        _check_thread_results(out)


def test_bound_in_concurrent_threads_on_the_global_pool():
    n = min(4, get_pool().max_workers)
    if n < 2:
        pytest.skip("the default pool has a single worker on this machine")
    get_pool().warm_up(n)
    _settle()
    outs = _run_threads(n)
    _settle()
    for out in outs:
        _check_thread_results(out)


def test_bound_with_more_threads_than_workers(private_pool):
    private_pool(2)
    seconds: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def target():
        barrier.wait()
        (_, took) = _timed(grade_batch, [HOSTILE], ["1"], timeout=QUICK)
        with lock:
            seconds.append(took)

    threads = [threading.Thread(target=target) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(seconds) == 6
    assert max(seconds) <= wall_limit(QUICK) + SLACK


# ----------------------------------------------------------------------------------------------------
# (4) torch DataLoader workers (daemonic processes)
# ----------------------------------------------------------------------------------------------------
LOADER_PAIRS = [  # (completion, gold, expected, timeout)
    (HOSTILE, "1", False, QUICK),
    (r"The answer is $\frac{1}{2}$.", "0.5", True, TIMEOUT),
    (r"\boxed{(10^{10})!}", "1", False, QUICK),
    (*NORMAL, True, NORMAL_TIMEOUT),
    ("#### 1,000", "1000", True, TIMEOUT),
    (r"\boxed{2^{2^{2^{2^{2^{2}}}}}}", "1", False, QUICK),
]


class _GradingDataset(torch.utils.data.Dataset):
    def __len__(self):
        return len(LOADER_PAIRS)

    def __getitem__(self, index):
        completion, gold, _, timeout = LOADER_PAIRS[index]
        (result,), seconds = _timed(grade_batch, [completion], [gold], timeout=timeout)
        return {
            "index": index,
            "correct": result.correct,
            "status": result.status,
            "seconds": seconds,
            "cpu_seconds": result.cpu_seconds,
            "pid": os.getpid(),
            "daemon": multiprocessing.current_process().daemon,
        }


def _warm_loader_worker(_worker_id):
    get_pool().warm_up(1)


def test_bound_inside_dataloader_workers():
    loader = torch.utils.data.DataLoader(
        _GradingDataset(), batch_size=None, num_workers=2, worker_init_fn=_warm_loader_worker
    )
    items = list(loader)
    assert sorted(item["index"] for item in items) == list(range(len(LOADER_PAIRS)))
    for item in items:
        _, _, expected, timeout = LOADER_PAIRS[item["index"]]
        assert item["correct"] is expected, item
        assert item["status"] in ({"ok"} if expected else {"ok", "timeout"}), item
        assert item["seconds"] <= wall_limit(timeout) + SLACK, item
        assert item["cpu_seconds"] <= timeout + 0.05, item
        assert item["daemon"] is True
        assert item["pid"] != os.getpid()
    assert len({item["pid"] for item in items}) == 2


# ----------------------------------------------------------------------------------------------------
# (5) the CPU-time limit, the wall-clock backstop, and a descheduled worker that keeps its grade
# ----------------------------------------------------------------------------------------------------
def test_stopped_worker_is_killed_at_the_wall_clock_backstop(monkeypatch):
    pool = get_pool()
    _settle()
    frozen = [worker.proc for worker in pool._idle]
    assert frozen
    kills = pool.kills
    # SIGSTOP: the worker uses no CPU time, so only the wall-clock backstop can end the job.
    for proc in frozen:
        os.kill(proc.pid, signal.SIGSTOP)
    try:
        with monkeypatch.context() as patch:  # a 2 s backstop keeps the test short
            patch.setattr(bounded_module, "WALL_BACKSTOP_FACTOR", 2.0)
            (result,), seconds = _timed(compare_answers, ["x^2+2x+1"], ["(x+1)^2"], timeout=TIMEOUT)
    finally:
        for proc in frozen:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
    assert (result.correct, result.status, result.limit) == (False, "timeout", "wall")
    assert result.detail == "killed at the wall-clock backstop"
    assert 2 * TIMEOUT - 0.05 <= seconds <= 2 * TIMEOUT + SLACK
    assert pool.kills == kills + 1
    assert [proc.returncode for proc in frozen].count(-signal.SIGKILL) == 1

    # the replacement grades normally (its own start is excluded from the bound by design)
    (result,) = grade_batch([NORMAL[0]], [NORMAL[1]], timeout=NORMAL_TIMEOUT)
    assert (result.correct, result.status) == (True, "ok")
    _settle()
    (result,), seconds = _timed(grade_batch, [NORMAL[0]], [NORMAL[1]], timeout=TIMEOUT)
    assert (result.correct, result.status) == (True, "ok")
    # with the real backstop (WALL_BACKSTOP_FACTOR x the bound), a pair that burns its CPU budget on a busy machine
    # meets the CPU limit first: the worker needs a tenth of a core
    (result,), seconds = _timed(grade_batch, [HOSTILE], ["1"], timeout=TIMEOUT)
    assert (result.correct, result.status, result.limit) == (False, "timeout", "cpu")
    assert seconds <= BOUND


def test_slow_worker_is_not_killed_at_the_backstop(private_pool, monkeypatch):
    """A worker that runs a quarter of the time (stopped and continued, as on a very busy machine) is slow, not
    stuck: at the backstop it is still using CPU, so it runs on and its pair ends at the CPU limit, past the
    backstop. The thresholds are lowered so that the throttled worker passes them however busy the machine is."""
    pool = private_pool(1)
    (worker,) = pool._idle
    monkeypatch.setattr(bounded_module, "WALL_BACKSTOP_FACTOR", 2.5)  # timeout 0.4: a 1 s backstop
    monkeypatch.setattr(bounded_module, "WALL_LIMIT_FACTOR", 100.0)
    monkeypatch.setattr(bounded_module, "MIN_CPU_SHARE", 0.001)
    done = threading.Event()

    def throttle():
        while not done.is_set():
            os.kill(worker.proc.pid, signal.SIGSTOP)
            time.sleep(0.15)
            os.kill(worker.proc.pid, signal.SIGCONT)
            time.sleep(0.05)

    thread = threading.Thread(target=throttle)
    thread.start()
    try:
        (result,), seconds = _timed(grade_batch, [HOSTILE], ["1"], timeout=0.4)
    finally:
        done.set()
        thread.join()
        if worker.proc.poll() is None:
            os.kill(worker.proc.pid, signal.SIGCONT)
    assert (result.correct, result.status, result.limit) == (False, "timeout", "cpu"), result
    assert wall_backstop(0.4) < seconds <= wall_limit(0.4) + SLACK
    assert result.cpu_seconds <= 0.4 + 0.05


def test_kernel_cpu_limit_ends_a_worker_that_no_python_handler_can_interrupt(private_pool):
    """With the soft (Python) interrupt off, as for work inside C code, the kernel's ``SIGPROF`` ends the worker at
    its CPU budget; the job is a CPU timeout, and the pool replaces the worker."""
    pool = private_pool(1)
    (worker,) = pool._idle
    job = SymbolicJob(r"\int_0^\infty e^{-x^{x^x}} dx", "1", {"_soft_limit": False}, timeout=0.5)
    (result,) = pool.run([job])
    assert (result.value, result.status, result.limit) == (False, "timeout", "cpu")
    assert result.detail == "killed at the CPU-time limit"
    assert result.cpu_seconds == 0.5
    assert worker.proc.returncode == -signal.SIGPROF
    assert pool.kills == 1
    _settle(pool)
    (result,) = pool.run([SymbolicJob("(x+1)^2", "x^2+2x+1", {}, timeout=NORMAL_TIMEOUT)])
    assert (result.value, result.status) == (True, "ok")


def test_cpu_limits_hold_when_the_starting_thread_blocks_their_signals():
    """A worker inherits the signal mask of the thread that started it; it unblocks its timer signals itself."""
    out: list = []

    def target():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPROF, signal.SIGVTALRM})
        pool = WorkerPool(max_workers=1)
        try:
            pool.warm_up(1)
            jobs = [
                SymbolicJob(r"\int_0^\infty e^{-x^{x^x}} dx", "1", options, timeout=0.3)
                for options in ({}, {"_soft_limit": False})
            ]
            out.extend(pool.run(jobs))
        finally:
            pool.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=120)
    assert [(r.status, r.limit, r.detail) for r in out] == [
        ("timeout", "cpu", "CPU-time limit"),
        ("timeout", "cpu", "killed at the CPU-time limit"),
    ]


def test_pair_that_spent_its_bound_in_process_is_not_sent_to_sympy():
    """Extraction and the fast paths count against the bound; a pair with nothing left is a CPU timeout at once."""
    (result,) = compare_answers(["(x+1)^2"], ["x^2+2x+1"], timeout=1e-6)
    assert (result.correct, result.status, result.limit) == (False, "timeout", "cpu")
    assert result.detail == "CPU-time limit spent before SymPy"


def test_descheduled_worker_keeps_its_grade(private_pool):
    """The bound counts CPU time: a worker stopped for twice the bound (as on a machine busy with other work)
    still grades its pair correctly, within the wall-clock backstop."""
    pool = private_pool(1)
    (worker,) = pool._idle
    os.kill(worker.proc.pid, signal.SIGSTOP)
    out: list = []
    thread = threading.Thread(
        target=lambda: out.append(_timed(compare_answers, ["(x+1)^2"], ["x^2+2x+1"], timeout=TIMEOUT))
    )
    try:
        thread.start()
        time.sleep(2 * TIMEOUT)
    finally:
        os.kill(worker.proc.pid, signal.SIGCONT)
    thread.join(timeout=60)
    ((result,), seconds) = out[0]
    assert (result.correct, result.status, result.limit) == (True, "ok", "")
    assert 2 * TIMEOUT <= seconds <= BOUND
    assert result.cpu_seconds <= CPU_BOUND


def test_fresh_worker_first_pair_is_not_charged_for_initialisation(private_pool):
    private_pool(1)  # started and reported ready
    (result,) = compare_answers(["(x+1)^2"], ["x^2+2x+1"], timeout=0.25)
    assert (result.correct, result.status) == (True, "ok")


# ----------------------------------------------------------------------------------------------------
# (6) a worker that dies
# ----------------------------------------------------------------------------------------------------
def test_dead_idle_workers_are_replaced_or_reported():
    pool = get_pool()
    _settle()
    assert pool._idle
    for worker in list(pool._idle):
        worker.proc.kill()
        worker.proc.wait(timeout=5)
    (result,) = compare_answers(["x^2+2x+1"], ["(x+1)^2"], timeout=30.0)  # may start a new worker
    assert result.status in {"ok", "error"}
    if result.status == "ok":
        assert result.correct is True
    else:
        assert result.correct is False
    _settle()
    (result,), seconds = _timed(grade_batch, [NORMAL[0]], [NORMAL[1]], timeout=TIMEOUT)
    assert (result.correct, result.status) == (True, "ok")
    assert seconds <= BOUND


def test_worker_dying_mid_job_is_an_error_not_an_exception():
    pool = get_pool()
    _settle()
    idle = {worker.proc.pid for worker in pool._idle}
    assert idle
    out: list = []
    errors: list = []

    def target():
        try:
            out.append(_timed(grade_batch, [HOSTILE], ["1"], timeout=5.0))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 3
    busy = set()
    while not busy and time.monotonic() < deadline:
        busy = idle - {worker.proc.pid for worker in pool._idle}
        time.sleep(0.01)
    assert len(busy) == 1
    time.sleep(0.3)  # the job is in the worker now
    os.kill(busy.pop(), signal.SIGKILL)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert not errors
    ((result,), seconds) = out[0]
    assert (result.correct, result.status, result.detail) == (False, "error", "worker process died")
    assert seconds <= 5.0 + SLACK
    _settle()
    assert grade(NORMAL[0], NORMAL[1], timeout=NORMAL_TIMEOUT) is True


# ----------------------------------------------------------------------------------------------------
# (7) parallel batches agree with sequential grading
# ----------------------------------------------------------------------------------------------------
def _batch_pairs() -> list[tuple[str, str, bool]]:
    pairs = []
    for i in range(1, 201):
        kind = i % 8
        if kind == 0:
            pairs.append((rf"\boxed{{x^2+{2 * i}x+{i * i}}}", f"(x+{i})^2", True))
        elif kind == 1:
            pairs.append((rf"\boxed{{(x+{i})^2}}", f"x^2+{i * i}", False))
        elif kind == 2:
            pairs.append((rf"The answer is $\frac{{x+{i}}}{{7}}$.", rf"\frac{{x}}{{7}}+\frac{{{i}}}{{7}}", True))
        elif kind == 3:
            pairs.append((rf"\boxed{{({i},{i + 1}]}}", f"({i},{i + 1})", False))
        elif kind == 4:
            pairs.append((rf"\boxed{{\{{{i},{i + 1}\}}}}", rf"\{{{i + 1},{i}\}}", True))
        elif kind == 5:
            pairs.append((f"Work.\n#### {i * 1000:,}", str(i * 1000), True))
        elif kind == 6:
            pairs.append((f"The answer is {i}.", str(i + 1), False))
        else:
            pairs.append((rf"\boxed{{\sqrt{{{4 * i * i}}}}}", str(2 * i), True))
    return pairs


def test_parallel_batch_matches_sequential():
    pairs = _batch_pairs()
    completions, golds, expected = zip(*pairs)
    parallel = grade_batch(list(completions), list(golds), num_workers=2, timeout=10.0)
    sequential = [grade_batch([c], [g], timeout=10.0)[0] for c, g in zip(completions, golds)]

    def key(r):
        return (r.correct, r.status, r.method, r.pred_answer, r.gold_answer)

    assert [key(r) for r in parallel] == [key(r) for r in sequential]
    assert [r.correct for r in parallel] == list(expected)
    assert all(r.status == "ok" for r in parallel)
    assert sum(r.method == "symbolic" for r in parallel) >= 16  # enough to spread over workers


def test_grade_timeout_environment_variable(monkeypatch):
    """The grader's default bound: 2 s, or a positive finite ``$TRL_DSM_GRADE_TIMEOUT`` (read at import)."""
    from trl_dsm.grading.compare import _default_timeout

    monkeypatch.delenv("TRL_DSM_GRADE_TIMEOUT", raising=False)
    assert _default_timeout() == 2.0
    monkeypatch.setenv("TRL_DSM_GRADE_TIMEOUT", " 7.5 ")
    assert _default_timeout() == 7.5
    for raw in ("abc", "0", "-1", "nan", "inf"):
        monkeypatch.setenv("TRL_DSM_GRADE_TIMEOUT", raw)
        with pytest.raises(ValueError, match="TRL_DSM_GRADE_TIMEOUT must be"):
            _default_timeout()


def test_worker_that_cannot_start_leaks_no_descriptor(monkeypatch):
    """A missing interpreter: one clear startup error and no pipe left open."""
    from trl_dsm._pipeworker import PipeWorker

    fds = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    for _ in range(3):
        with pytest.raises(RuntimeError, match="could not start /nonexistent/python -m trl_dsm"):
            PipeWorker("trl_dsm.grading._worker", [], env={})
    assert len(os.listdir("/proc/self/fd")) == fds


def test_grader_pool_warm_up_failure_leaves_no_phantom_worker(monkeypatch):
    """Workers that cannot start are not counted: the pool starts real ones once the interpreter is back."""
    from trl_dsm.grading.bounded import WorkerPool, WorkerStartupError

    pool = WorkerPool(max_workers=2)
    try:
        monkeypatch.setattr(sys, "executable", "/nonexistent/python")
        with pytest.raises(WorkerStartupError, match="could not start"):
            pool.warm_up(2)
        monkeypatch.setattr(sys, "executable", "/bin/false")
        with pytest.raises(WorkerStartupError, match="exited with code 1"):
            pool.warm_up(2)
        assert pool._count == 0 and not pool._idle
        monkeypatch.undo()
        pool.warm_up(2)
        assert pool._count == 2 and len(pool._idle) == 2
    finally:
        pool.close()


_CHILD = """
import sys, time
from multiprocessing.connection import Connection

inbox, outbox = Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)
outbox.send(("ready", None))
while sys.argv[3] == "echo":
    outbox.send(len(inbox.recv()))
time.sleep(600)  # "stuck": never reads
"""


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _bounded(fn, seconds: float = 60):
    """Run ``fn`` in a thread: a regression that blocks fails the test instead of hanging the suite."""
    outcome: list = []

    def target():
        try:
            outcome.append(("ok", fn()))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(("error", exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s"
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open fds through /proc")
@pytest.mark.parametrize("size", [10, 10_000, 1_000_000])
def test_pipe_worker_send_is_time_bounded(tmp_path, size):
    """A message larger than one pipe page sent to a child that does not read it: the child is killed and the
    caller gets TimeoutError in about ``timeout`` s instead of blocking, even when the pipe holds a single page (a
    user over fs.pipe-user-pages-soft); a reading child gets it whole."""
    import fcntl

    from trl_dsm._pipeworker import PACKAGE_ROOT, PIPE_SAFE_BYTES, PipeWorker

    (tmp_path / "stuck_child.py").write_text(_CHILD)
    env = {"PYTHONPATH": f"{tmp_path}:{PACKAGE_ROOT}", "PATH": "/usr/bin:/bin"}
    echo = PipeWorker("stuck_child", ["echo"], env)
    try:
        echo.wait_ready(60)
        _bounded(lambda: echo.send("x" * size, timeout=30))
        assert echo.inbox.poll(30) and echo.inbox.recv() == size
    finally:
        echo.kill()
    fds = _open_fds()
    stuck = PipeWorker("stuck_child", ["stuck"], env)
    stuck.wait_ready(60)
    fcntl.fcntl(stuck.outbox.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)  # the smallest pipe
    tic = time.monotonic()
    if size <= PIPE_SAFE_BYTES:  # fits in one page: written at once, whether or not the child reads
        _bounded(lambda: stuck.send("x" * size, timeout=0.5))
        assert stuck.alive()
        stuck.kill()
    else:
        with pytest.raises(TimeoutError, match=f"did not read a {str(size)[:2]}"):
            _bounded(lambda: stuck.send("x" * size, timeout=0.5))
        assert not stuck.alive()
        with pytest.raises(BrokenPipeError):  # a killed worker is not written to again
            stuck.send("y", timeout=1)
    assert time.monotonic() - tic < 15
    assert _open_fds() == fds


def test_worker_with_a_wrong_first_message_is_named_and_killed(tmp_path):
    from trl_dsm._pipeworker import PACKAGE_ROOT, PipeWorker

    (tmp_path / "chatty_child.py").write_text(
        "import sys\nfrom multiprocessing.connection import Connection\n"
        "Connection(int(sys.argv[2]), readable=False).send(('hello', 1))\nimport time\ntime.sleep(600)\n"
    )
    worker = PipeWorker("chatty_child", [], {"PYTHONPATH": f"{tmp_path}:{PACKAGE_ROOT}", "PATH": "/usr/bin:/bin"})
    with pytest.raises(RuntimeError, match=r"sent \"\('hello', 1\)\" instead of its ready message"):
        worker.wait_ready(60)
    assert not worker.alive()


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 0, -1.0, 1e12, True, "2"])
def test_time_bounds_must_be_finite_and_positive(bad):
    """inf/nan/huge bounds would mean no bound or crash a wait after the job was sent: refused up front."""
    from trl_dsm._pipeworker import check_timeout
    from trl_dsm.grading import grade_batch
    from trl_dsm.grading.compare import compare_answers
    from trl_dsm.sandbox import SandboxPool

    with pytest.raises(ValueError, match="timeout must be"):
        check_timeout(bad)
    with pytest.raises(ValueError, match="timeout must be"):
        grade_batch(["The answer is 2."], ["2"], timeout=bad)
    with pytest.raises(ValueError, match="timeout must be"):
        compare_answers(["x^2"], ["x**2"], timeout=bad)
    from trl_dsm.rewards import make_math_accuracy_reward, make_pot_accuracy_reward

    for factory in (make_math_accuracy_reward, make_pot_accuracy_reward):  # refused when built, not mid-training
        with pytest.raises(ValueError, match="timeout must be"):
            factory(timeout=bad)
    with SandboxPool(max_workers=1) as pool:
        for call in (lambda: pool.run("print(1)", timeout=bad), lambda: pool.map(["print(1)"], timeout=bad)):
            with pytest.raises(ValueError, match="timeout must be"):
                call()
        assert pool.run("print(3)").stdout == "3\n" and pool.replaced == 0  # nothing left out of step
    assert check_timeout(2) == 2.0 and check_timeout(86400) == 86400.0


def test_warm_up_interrupted_does_not_wait_for_the_other_workers(monkeypatch):
    """Ctrl-C while the first worker starts: the others are killed at once (not waited for) and not counted."""
    from trl_dsm.grading.bounded import WorkerPool, _Worker
    from trl_dsm.sandbox import SandboxPool
    from trl_dsm.sandbox.executor import _Server

    calls = []

    def interrupted(self, timeout=None):
        calls.append(type(self).__name__)
        raise KeyboardInterrupt

    pool = WorkerPool(max_workers=3)
    sandbox = SandboxPool(max_workers=3)
    try:
        for cls in (_Worker, _Server):
            monkeypatch.setattr(cls, "wait_ready", interrupted)
        tic = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            pool.warm_up(3)
        with pytest.raises(KeyboardInterrupt):
            sandbox.warm_up(3)
        assert calls == ["_Worker", "_Server"]  # one startup waited for per pool, not three
        assert time.monotonic() - tic < 60
        assert pool._count == 0 and not pool._idle
        assert sorted(sandbox._free_slots) == [0, 1, 2] and not sandbox._idle and not sandbox._slots
        monkeypatch.undo()
        pool.warm_up(1)
        assert pool._count == 1 and sandbox.run("print(2)").stdout == "2\n"
    finally:
        pool.close()
        sandbox.close()


@pytest.mark.parametrize("raw", ["two", "0", "-1"])
def test_grader_workers_setting_must_be_a_positive_integer(monkeypatch, raw):
    """A bad ``TRL_DSM_GRADER_WORKERS`` is one error naming the variable, not a silent default."""
    from trl_dsm.grading.bounded import default_max_workers

    monkeypatch.setenv("TRL_DSM_GRADER_WORKERS", raw)
    with pytest.raises(ValueError, match=f"TRL_DSM_GRADER_WORKERS: a positive integer, got '{raw}'"):
        default_max_workers()
    monkeypatch.setenv("TRL_DSM_GRADER_WORKERS", "3")
    assert default_max_workers() == 3
