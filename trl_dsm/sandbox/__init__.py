# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""A contained Python sandbox for program-of-thought and tool-integrated reasoning (DeepSeekMath §3, §5).

>>> from trl_dsm.sandbox import run_python
>>> run_python("print(sum(range(10)))").stdout
'45\\n'
"""

from trl_dsm.sandbox.executor import (
    DEFAULT_TIMEOUT,
    ExecutionResult,
    SandboxConfig,
    SandboxError,
    SandboxPool,
    default_pool,
    run_python,
)


__all__ = [
    "DEFAULT_TIMEOUT",
    "ExecutionResult",
    "SandboxConfig",
    "SandboxError",
    "SandboxPool",
    "default_pool",
    "run_python",
]
