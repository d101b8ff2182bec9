# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Sandbox throughput: small programs per second through ``SandboxPool`` vs a fresh
``subprocess.run([sys.executable, "-c", code])`` per call, side by side in one run, same parallelism.

    python benchmarks/sandbox.py [--workers 2] [--programs 1000]

Two mixes: ``small`` (arithmetic, loops, fractions, math: the anchor of the issue's >= 200/s and >= 5x) and
``sympy`` (programs that import SymPy, as PoT/TIR solutions often do; the per-call baseline pays the import).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor


SMALL = [
    "print(17 * 23 + 4)",
    "import math\nprint(math.comb(12, 5) // math.gcd(84, 36))",
    "from fractions import Fraction\nprint(sum(Fraction(1, k * (k + 1)) for k in range(1, 50)))",
    "total = 0\nfor i in range(1, 1001):\n    if i % 3 == 0 or i % 5 == 0:\n        total += i\nprint(total)",
    "price = 120\ndiscount = 0.15\nprint(round(price * (1 - discount), 2))",
    "def f(n):\n    return 1 if n < 2 else n * f(n - 1)\nprint(f(15))",
    "print(sorted({a * b for a in range(1, 10) for b in range(1, 10)})[-5:])",
    "x = [3, 1, 4, 1, 5, 9, 2, 6]\nprint(sum(x) / len(x))",
]
SYMPY = [
    "import sympy as sp\nx = sp.symbols('x')\nprint(sp.solve(x**2 - 5*x + 6, x))",
    "from sympy import Rational, sqrt, simplify\nprint(simplify(Rational(3, 4) + sqrt(8) / 2))",
    "import sympy\nprint(sympy.factorint(360))",
    "from sympy import symbols, integrate\nt = symbols('t')\nprint(integrate(t**2, (t, 0, 3)))",
]


def run_subprocess(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    return done.stdout


def measure(label: str, fn, programs: list[str], workers: int) -> tuple[float, list[str]]:
    tic = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        outputs = list(ex.map(fn, programs))
    elapsed = time.perf_counter() - tic
    rate = len(programs) / elapsed
    print(f"  {label:<42} {len(programs):>6} programs  {elapsed:7.2f} s  {rate:9.1f} programs/s")
    return rate, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--programs", type=int, default=1000, help="programs per mix for the pool")
    parser.add_argument("--baseline-programs", type=int, default=100, help="programs per mix for the baseline")
    args = parser.parse_args()

    from trl_dsm.sandbox import SandboxPool

    print(f"cores: {os.cpu_count()}, workers: {args.workers}, python: {sys.version.split()[0]}")
    tic = time.perf_counter()
    pool = SandboxPool(max_workers=args.workers).warm_up()
    print(f"pool start (math, numpy, sympy pre-imported): {time.perf_counter() - tic:.2f} s")
    print(f"containment layers: {pool.capabilities}")
    for name, mix, baseline_n in (("small", SMALL, args.baseline_programs), ("sympy", SYMPY, 12)):
        programs = [mix[i % len(mix)] for i in range(args.programs)]
        baseline = programs[:baseline_n]
        print(f"\nmix: {name}")
        pool.map(programs[: 2 * args.workers])  # warm
        ours, out_ours = measure("SandboxPool.map", lambda c: pool.run(c).stdout, programs, args.workers)
        base, out_base = measure("subprocess.run per call (same threads)", run_subprocess, baseline, args.workers)
        same = out_ours[:baseline_n] == out_base
        print(f"  ratio: {ours / base:.1f}x   identical outputs: {same}")
        if not same:
            bad = next(i for i, (a, b) in enumerate(zip(out_ours, out_base)) if a != b)
            print(f"  first difference at {bad}: {out_ours[bad]!r} vs {out_base[bad]!r}")
    hostile = pool.map(["while True:\n    pass", "x = bytearray(10 * 1024**3)", "import os\nos.fork()"], timeout=1.0)
    print(f"\nhostile sanity: {[r.status for r in hostile]}")
    pool.close()


if __name__ == "__main__":
    main()
