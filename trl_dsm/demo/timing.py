# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""How long the miniature run takes: the measured seconds per stage behind the progress lines, and the one figure
``--help``, the start banner and the documentation state (:func:`expected_time_text`)."""

from __future__ import annotations

from dataclasses import replace

from trl_dsm.demo.config import DemoConfig


#: Seconds on the 2-core dev machine for the progress lines (docs/demo.md), for the unmodified default and study
#: configurations only. Default: the run on 2 idle cores, torch threads measured (2 won every probe;
#: ``python benchmarks/demo_time.py``). Study: seed 0 of three
#: seeds run side by side with 1 thread each beside other users' jobs (load 4 to 10), from mining to GRPO process
#: measured (the shared base's stages in its own run) through RFT measured; the learned-PRM stages (1024 PRM samples,
#: 300 PRM steps): seed 1's run of them (three seeds side by side, 1 thread each).
EXPECTED_SECONDS: dict[str, dict[str, float]] = {
    "default": {
        "mining + decontamination": 3, "tokenizer": 1, "pretraining": 175, "eval pretrained": 25, "sft": 32,
        "eval sft": 20, "sft continued": 16, "eval sft continued": 20, "grpo outcome": 144, "eval grpo_outcome": 19,
        "grpo process": 149, "eval grpo_process": 20,
    },
    "study": {
        "mining + decontamination": 11, "tokenizer": 1, "pretraining": 1521, "eval pretrained": 290, "sft": 551,
        "eval sft": 138, "sft continued": 222, "eval sft continued": 139, "grpo outcome": 744, "eval grpo_outcome": 93,
        "grpo process": 1186, "eval grpo_process": 298, "online rft": 831, "eval online_rft": 68, "rft": 178,
        "eval rft": 51, "step reward model": 674, "grpo process prm": 463, "eval grpo_process_prm": 52,
        "grpo iterative": 928, "eval grpo_iterative": 62,
    },
}  # fmt: skip

#: Seconds end to end of each configuration on 2 idle CPU cores (default: 633 s measured, docs/demo.md).
EXPECTED_TOTAL_SECONDS: dict[str, float] = {"default": 633.0, "study": float(sum(EXPECTED_SECONDS["study"].values()))}

#: How much longer the default run takes beside two CPU-bound jobs on the same 2 cores than on idle ones: 1780 s
#: against 633 s, both measured end to end on the 2-core dev machine with the default thread measurement (1 thread
#: won every probe beside the jobs; ``python benchmarks/demo_time.py --burners 2 0``, docs/demo.md).
LOADED_FACTOR = 2.8

#: The stages a run with ``base_from`` skips (their records are the base run's).
BASE_STAGES = ("mining + decontamination", "tokenizer", "pretraining", "eval pretrained")


def expected_time_text(kind: str = "default") -> str:
    """The expected wall time of a ``kind`` run (``default``, ``quick`` or ``study``) in words, the one figure the
    CLI's help, the start banner and docs/demo.md give.

    >>> expected_time_text()
    'about 11 minutes on 2 idle CPU cores, about 30 beside two other CPU-bound jobs'
    >>> expected_time_text("quick")
    'about a minute'
    """
    if kind == "quick":
        return "about a minute"
    if kind not in EXPECTED_TOTAL_SECONDS:
        raise ValueError(
            f"expected_time_text: kind is one of quick, {', '.join(EXPECTED_TOTAL_SECONDS)}; got {kind!r}"
        )
    total = EXPECTED_TOTAL_SECONDS[kind]
    if kind == "study":
        return f"about {total / 3600:.1f} hours per seed on 2 CPU cores"
    return (
        f"about {total / 60:.0f} minutes on 2 idle CPU cores, about {LOADED_FACTOR * total / 60:.0f} beside two other "
        "CPU-bound jobs"
    )


def expected_seconds(cfg: DemoConfig) -> tuple[float, dict[str, float]]:
    """(total, per stage) measured seconds for ``cfg`` when it is the default or the study configuration, with any
    seed, output directory, web pages, thread count, kept working directories or shared base (``base_from``: the base's stages left out);
    (0, {}) otherwise."""
    if cfg.smoke_test:
        return 0.0, {}
    reference = DemoConfig.study() if cfg.study_run else DemoConfig()
    same = replace(
        cfg,
        output_dir=reference.output_dir,
        seed=0,
        web_docs=None,
        threads=0,
        base_from=None,
        keep_intermediates=False,
    )
    if same != reference:
        return 0.0, {}
    total, stages = EXPECTED_TOTAL_SECONDS[cfg.kind], dict(EXPECTED_SECONDS[cfg.kind])
    if cfg.base_from:
        for name in BASE_STAGES:
            total -= stages.pop(name, 0.0)
    return total, stages
