# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Moved to :mod:`trl_dsm.benchmarks` (the registry that decontamination, evaluation, question loading and the demo
all read). This alias stays for one release."""

import warnings

from trl_dsm.benchmarks import *  # noqa: F403
from trl_dsm.benchmarks import (  # noqa: F401 - the private names some callers used
    BENCHMARKS,
    DEFAULT_BENCHMARKS,
    MATH_SUBJECTS,
    MMLU_STEM_SUBJECTS,
    BenchmarkSpec,
    BenchmarkText,
    benchmark_records,
    custom_benchmark_texts,
    load_benchmark_texts,
    resolve_benchmarks,
)


warnings.warn(
    "trl_dsm.decontamination.benchmarks moved to trl_dsm.benchmarks; the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
