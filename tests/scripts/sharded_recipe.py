# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Run a recipe (``recipes/<stage>.py``) under ``accelerate launch`` and report how its model is sharded.

    accelerate launch --config_file CONFIG tests/scripts/sharded_recipe.py STAGE REPORT_DIR [recipe arguments]

Before the recipe runs, accelerate is allowed to run FSDP on CPU (:mod:`tests.scripts._cpu_sharding`, test
harness only; ``$TRL_DSM_TEST_ZERO3_PERSISTENCE`` sets ZeRO-3's ``stage3_param_persistence_threshold``) and the recipe's ``train_and_publish`` is wrapped to record, on every rank, in ``REPORT_DIR/rank{N}.json``:
the accelerate distributed type, every parameter's global and rank-local element count (FSDP2: the ``DTensor``'s
local shard and placements; ZeRO-3: the partition ``ds_tensor`` and the gathered ``data``, empty between steps)
when training starts and after each optimizer step, and, after training and saving, the trained model's logits
on a fixed input (rank 0), to compare with the saved checkpoint loaded back.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import torch
from transformers import TrainerCallback


ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.scripts._cpu_sharding import enable_fsdp_on_cpu, set_zero3_param_persistence_threshold  # noqa: E402
from trl_dsm.errors import release_process_group  # noqa: E402


#: Token ids of the fixed input whose logits are compared with the saved model's (any ids below the vocab size).
PROBE_IDS = [[5, 17, 42, 99, 7, 63, 120, 31, 2, 88, 64, 11]]


def parameter_counts(model: torch.nn.Module) -> dict[str, dict]:
    """``{name: {"global", "local", ...}}`` for every parameter, however the engine holds it."""
    counts = {}
    for name, p in model.named_parameters():
        if hasattr(p, "ds_tensor"):  # DeepSpeed ZeRO-3
            counts[name] = {"global": int(p.ds_numel), "local": int(p.ds_tensor.numel()), "data": int(p.data.numel())}
        elif hasattr(p, "to_local"):  # FSDP2 DTensor
            counts[name] = {
                "global": int(p.numel()),
                "local": int(p.to_local().numel()),
                "shape": list(p.shape),
                "placements": [f"{type(x).__name__}({getattr(x, 'dim', '')})" for x in p.placements],  # Shard(0)
            }
        else:
            counts[name] = {"global": int(p.numel()), "local": int(p.numel())}
    return counts


class ShardingProbe(TrainerCallback):
    """Records per-rank parameter counts of the prepared model at train start and after every optimizer step."""

    def __init__(self, trainer) -> None:
        self.trainer = trainer
        self.records: list[dict] = []

    def _record(self, when: str, step: int) -> None:
        self.records.append({"when": when, "step": step, "params": parameter_counts(self.trainer.model)})

    def on_train_begin(self, args, state, control, **kwargs):
        self._record("train_begin", state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        self._record("step_end", state.global_step)


def main() -> None:
    stage, report_dir, recipe_args = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    enable_fsdp_on_cpu()
    if "TRL_DSM_TEST_ZERO3_PERSISTENCE" in os.environ:
        set_zero3_param_persistence_threshold(int(os.environ["TRL_DSM_TEST_ZERO3_PERSISTENCE"]))
    import trl_dsm.hub.publish as publish

    original = publish.train_and_publish

    def train_and_publish(trainer, hub_args, card_fn) -> None:
        probe = ShardingProbe(trainer)
        trainer.add_callback(probe)
        original(trainer, hub_args, card_fn)
        model = trainer.model
        model.eval()
        with torch.no_grad():  # a collective forward under FSDP2 / ZeRO-3: every rank runs it
            logits = model(input_ids=torch.tensor(PROBE_IDS, device=trainer.accelerator.device)).logits
        accelerator = trainer.accelerator
        report = {
            "rank": accelerator.process_index,
            "world": accelerator.num_processes,
            "distributed_type": str(accelerator.distributed_type),
            "model_class": type(model).__name__,
            "records": probe.records,
            "probe_ids": PROBE_IDS,
            "logits": logits.float().tolist(),
        }
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / f"rank{accelerator.process_index}.json").write_text(json.dumps(report))

    publish.train_and_publish = train_and_publish
    spec = importlib.util.spec_from_file_location(f"recipe_{stage}", ROOT / "recipes" / f"{stage}.py")
    recipe = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = recipe  # dataclasses look their module up
    spec.loader.exec_module(recipe)  # binds the wrapped train_and_publish
    recipe.main(*recipe.make_parser().parse_args_and_config(recipe_args))


if __name__ == "__main__":
    main()
    release_process_group()  # before exit: gloo threads left to exit-time destructors can abort a rank
