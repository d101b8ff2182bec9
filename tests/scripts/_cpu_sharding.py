# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Test harness only (never imported by the package): FSDP2 and ZeRO-3 really sharded on CPU ranks.

* :func:`enable_fsdp_on_cpu`. accelerate 1.15 (``accelerate/state.py``, ``AcceleratorState.__init__``) switches
  ``distributed_type`` to ``FSDP`` only in the branch for GPU-like types (``MULTI_GPU``, ``MULTI_XPU``, ...); a
  CPU launch (``use_cpu: true``) is ``MULTI_CPU``, keeps ``fsdp_plugin=None`` and trains plain DDP with exit code 0.
  The patch does for ``MULTI_CPU`` what that branch does, plus the constructor's last line (the type shared with
  ``PartialState``, which every later ``AcceleratorState()`` copies back). The model is still prepared by
  accelerate's own ``fsdp2_prepare_model`` (``fully_shard`` over the gloo process group).
* :func:`set_zero3_param_persistence_threshold`. An accelerate config's ``deepspeed_config`` only maps a fixed set
  of keys (stage, offload, ``zero3_save_16bit_model``, ...) into the DeepSpeed config; any other key is ignored.
  DeepSpeed keeps parameters under ``stage3_param_persistence_threshold`` (default 100,000 elements) whole on
  every rank, which is every parameter of a test-sized model. The patch sets it in the plugin's DeepSpeed config.
"""

from __future__ import annotations

import functools


def enable_fsdp_on_cpu() -> None:
    """Patch ``AcceleratorState.__init__`` (idempotent). Call before the first ``Accelerator`` is built."""
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    if getattr(AcceleratorState.__init__, "_trl_dsm_cpu_fsdp", False):
        return
    original = AcceleratorState.__init__

    @functools.wraps(original)
    def __init__(self, *args, fsdp_plugin=None, **kwargs) -> None:
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            if self._mixed_precision != "no":
                fsdp_plugin.set_mixed_precision(self._mixed_precision)
            self.fsdp_plugin = fsdp_plugin
            PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    __init__._trl_dsm_cpu_fsdp = True
    AcceleratorState.__init__ = __init__


def set_zero3_param_persistence_threshold(threshold: int) -> None:
    """Patch ``DeepSpeedPlugin.__post_init__`` to write ``zero_optimization.stage3_param_persistence_threshold``."""
    from accelerate.utils import DeepSpeedPlugin

    original = getattr(DeepSpeedPlugin.__post_init__, "_trl_dsm_original", DeepSpeedPlugin.__post_init__)

    @functools.wraps(original)
    def __post_init__(self) -> None:
        original(self)
        self.deepspeed_config["zero_optimization"]["stage3_param_persistence_threshold"] = threshold

    __post_init__._trl_dsm_original = original
    DeepSpeedPlugin.__post_init__ = __post_init__
