# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Iterative RL's reward-model side (DeepSeekMath §4.1.4, Algorithm 1, lines 10-11): a ``TrainerCallback`` that
collects the policy's fresh samples during an iteration, labels them at its end and continues training the reward
model on them with a replay of history. The reference reset itself is TRL's ``SyncRefModelCallback``."""

from __future__ import annotations

import copy
import json
import math
import random
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from accelerate.utils import DistributedType, gather_object
from transformers import TrainerCallback

from trl_dsm.grpo.process import ProcessRewardModel
from trl_dsm.rewards.math import DEFAULT_GOLD_COLUMNS, completion_text, prompt_text


if TYPE_CHECKING:
    from trl_dsm.grpo.trainer import GRPOMathTrainer


class IterativeRewardModel(TrainerCallback):
    """Continual reward-model training between RL iterations (DeepSeekMath §4.1.4, Algorithm 1, lines 10-11).

    Fresh policy samples are collected during an iteration; at its end (every ``iteration_steps`` steps, when the
    reference model also becomes the policy) they are labelled — outcome RM: chosen/rejected pairs from the trl-dsm
    grader's verdicts; PRM: Math-Shepherd hard estimation from rollouts of the current policy — mixed with a replay
    of historical data (``reward_model_replay_ratio`` of the mix), and the reward model takes
    ``reward_model_update_steps`` optimizer steps.

    Every rank labels its contiguous share of the iteration's samples (under ZeRO-3 and FSDP the policy's rollouts
    are collective ``generate`` calls, as many on every rank) and the labelled records are gathered in rank order,
    so every rank trains on the same mix with the same seed: each optimizer step is the full batch's mean loss, the
    same under every engine. The reward model keeps one optimizer for the whole run: under DDP a plain AdamW over
    the whole model on every rank; under ZeRO-3 its own DeepSpeed engine (parameters, gradients and optimizer
    states partitioned like the policy's); under FSDP2 the model wrapped by FSDP2 and an AdamW over its shards.
    History, pending samples, the iteration count, the sampler state, the reward model and its optimizer are
    saved in checkpoints and restored on resume.
    """

    def __init__(self, trainer: GRPOMathTrainer) -> None:
        self.trainer = trainer
        self.kind, self.model, self.tokenizer = self._find_reward_model(trainer)
        self.engine = sharding_engine(trainer.accelerator)
        self.fresh: list[dict] = []
        self.history: list[dict] = []
        self.iteration = 0
        self.updates = 0  # reward-model optimizer steps taken
        self.rng = random.Random(trainer.args.seed)
        #: This rank's share of the reward model during the last update (elements held, optimizer state elements).
        self.memory: dict[str, float] = {}
        self._prepare_for_training()
        trainer.add_callback(self)

    @staticmethod
    def _find_reward_model(trainer: GRPOMathTrainer):
        prm = process_reward_model_of(trainer.step_scorer)
        if prm is not None:
            return "prm", prm.model, prm.tokenizer
        if trainer.args.supervision == "outcome":
            for func, processing_class in zip(trainer.reward_funcs, trainer.reward_processing_classes):
                if isinstance(func, torch.nn.Module):
                    return "orm", func, processing_class
        raise ValueError(
            "reward_model_update_steps needs a reward model to retrain: a sequence-classification reward model among "
            "reward_funcs (outcome supervision), or a PRM (process_reward_model=..., or a ProcessRewardModel passed "
            "as process_reward_func)"
        )

    # -- the reward model's optimizer, per engine --------------------------------------------------------------
    def _prepare_for_training(self) -> None:
        """Give the reward model its optimizer; under ZeRO-3 and FSDP2 also shard it, and put the sharded model
        where the trainer scores with it (``reward_funcs`` for the ORM, ``ProcessRewardModel.model`` for a PRM)."""
        args, accelerator = self.trainer.args, self.trainer.accelerator
        prepared = self.model
        if self.engine == "zero3":
            import deepspeed

            module = getattr(self.model, "module", self.model)
            if isinstance(self.model, deepspeed.DeepSpeedEngine):
                # TRL's inference engine (no optimizer): its parameter hooks give way to the training engine's.
                self.model.destroy()
            optimizer = torch.optim.AdamW(module.parameters(), lr=args.reward_model_learning_rate)
            config = reward_model_deepspeed_config(accelerator, module, args.reward_model_batch_size)
            prepared, self.optimizer, _, _ = deepspeed.initialize(model=module, optimizer=optimizer, config=config)
            self.model = module
        else:
            if self.engine == "fsdp":
                version = getattr(accelerator.state.fsdp_plugin, "fsdp_version", 1)
                if version != 2:
                    raise ValueError(
                        f"reward_model_update_steps under FSDP needs fsdp_version: 2 in the accelerate config (got "
                        f"{version}): the reward model is sharded with FSDP2 (recipes/accelerate_configs/fsdp.yaml)"
                    )
                # Sharded like the policy, block by block (accelerate's FSDP2 preparation; TRL prepares reward models
                # in evaluation mode, which leaves them whole on every rank).
                from accelerate.utils.fsdp_utils import fsdp2_prepare_model

                prepared = self.model = fsdp2_prepare_model(accelerator, self.model)
            params = [p for p in self.model.parameters() if p.requires_grad]
            self.optimizer = torch.optim.AdamW(params, lr=args.reward_model_learning_rate)
        self.train_model = prepared
        if self.kind == "prm":
            process_reward_model_of(self.trainer.step_scorer).model = prepared
        else:
            funcs = self.trainer.reward_funcs
            index = next(i for i, f in enumerate(funcs) if self.model in (f, getattr(f, "module", None)))
            funcs[index] = prepared if self.engine is None else _OutsideInferenceMode(prepared)
        self.model.eval()

    # -- collecting -------------------------------------------------------------------------------------------
    def collect(self, batch_inputs, prompts, completions, steps, policy_prompts: list[str] | None = None) -> None:
        """Keep this rank's scored samples of one step (with their gold answers and, under process supervision, their
        steps) for the next reward-model update; a dataset without a gold-answer column contributes nothing.
        ``policy_prompts`` are the prompts as the policy saw them (decoded from its prompt ids, special tokens and
        chat template included): the Math-Shepherd rollouts continue those, while the PRM scores ``prompt_text``."""
        column = next((c for c in DEFAULT_GOLD_COLUMNS if c in batch_inputs[0]), None)
        if column is None:
            return
        local = [
            {
                "prompt": prompt_text(p),
                "rollout_prompt": policy_prompts[i] if policy_prompts is not None else None,
                "completion": completion_text(c),
                "gold": str(x[column]),
                "steps": steps[i] if steps is not None else None,
            }
            for i, (p, c, x) in enumerate(zip(prompts, completions, batch_inputs))
        ]
        keep = self.trainer.args.reward_model_samples_per_iteration
        self.fresh = (self.fresh + gather_object(local))[-keep:]

    # -- updating at the end of an iteration -----------------------------------------------------------------------
    def on_step_end(self, args, state, control, **kwargs):
        """At the end of each iteration (every ``iteration_steps`` steps) retrain the reward model (Algorithm 1, l. 10-11)."""
        if state.global_step % args.iteration_steps == 0 and self.fresh:
            self.update()
        return control

    def _share(self, samples: list) -> list:
        """This rank's contiguous share of ``samples`` (every rank holds them all, in the same order)."""
        world, rank = self.trainer.accelerator.num_processes, self.trainer.accelerator.process_index
        size, rest = divmod(len(samples), world)
        start = rank * size + min(rank, rest)
        return samples[start : start + size + (rank < rest)]

    def _label(self, samples: list[dict]) -> list[dict]:
        """Label ``samples`` on every rank together: each rank grades (ORM) or rolls out and grades (PRM) its share;
        the results are gathered in rank order, so every rank returns the same records."""
        from trl_dsm.grading.compare import grade_batch
        from trl_dsm.grpo.reward_models import build_prm_dataset, orm_preference_pairs

        mine = self._share(samples)
        if self.kind == "orm":
            verdicts = [r.correct for r in grade_batch([s["completion"] for s in mine], [s["gold"] for s in mine])]
            correct = gather_object(verdicts)
            return orm_preference_pairs([s["prompt"] for s in samples], [s["completion"] for s in samples],
                                        [s["gold"] for s in samples], correct=correct)  # fmt: skip
        args = self.trainer.args
        with self._policy_rollout() as rollout:
            called = []

            def tracked(prefixes: list[str], k: int) -> list[list[str]]:
                called.append(True)
                return rollout(prefixes, k)

            with_steps = [s for s in mine if s["steps"]]
            records = build_prm_dataset(
                with_steps, tracked, args.math_shepherd_rollouts, args.step_separator
            ).to_list()
            if not called:  # nothing to roll out here: still join the other ranks' collective generate calls
                rollout([], args.math_shepherd_rollouts)
        return gather_object(records)

    @contextmanager
    def _policy_rollout(self):
        """A Math-Shepherd ``rollout`` by the current policy, as TRL generates with it (ZeRO-3: weights gathered
        when ``ds3_gather_for_generation``), at the policy's temperature, seeded by (seed, iteration, rank) so
        that labels do not depend on the engine or on how the run was resumed; the trainer's RNG is left as it was."""
        from trl.models import unwrap_model_for_generation

        from trl_dsm.grpo.reward_models import hf_rollout

        trainer, args = self.trainer, self.trainer.args
        accelerator = trainer.accelerator
        device = accelerator.device
        devices = [device.index if device.index is not None else 0] if device.type == "cuda" else []
        with (
            unwrap_model_for_generation(trainer.model_wrapped, accelerator,
                                        gather_deepspeed3_params=args.ds3_gather_for_generation) as policy,
            torch.random.fork_rng(devices=devices, device_type=device.type),
        ):  # fmt: skip
            torch.manual_seed(args.seed + 1_000_003 * (self.iteration + 1) + accelerator.process_index)
            was_training = policy.training
            policy.eval()
            try:
                # The policy's own sampling temperature: a label estimates whether the policy can still reach the
                # answer; the prefixes hold the policy's special tokens already.
                yield hf_rollout(policy, trainer.processing_class, args.max_completion_length,
                                 temperature=args.temperature, add_special_tokens=False,
                                 synced=self.engine is not None)  # fmt: skip
            finally:
                policy.train(was_training)

    def update(self) -> None:
        """Label the fresh samples on every rank, mix in the replay of history (``reward_model_replay_ratio``) and
        train the reward model for ``reward_model_update_steps`` steps, the same steps on every rank."""
        args = self.trainer.args
        samples, self.fresh = self.fresh, []
        fresh = self._label(samples)
        ratio = args.reward_model_replay_ratio
        replay_size = min(len(self.history), math.ceil(len(fresh) * ratio / (1 - ratio))) if fresh else 0
        mix = fresh + self.rng.sample(self.history, replay_size)
        self.history.extend(fresh)
        self.iteration += 1
        metrics = self.trainer._metrics["train"]
        metrics["reward_model/fresh_records"].append(len(fresh))
        metrics["reward_model/replayed_records"].append(replay_size)
        if mix:
            losses = self._train(mix)
            metrics["reward_model/loss"].append(sum(losses) / len(losses))
            for key, value in self.memory.items():
                metrics[f"reward_model/{key}"].append(value)

    def _train(self, mix: list[dict]) -> list[float]:
        from trl_dsm.grpo.reward_models import PRMCollator, orm_loss, prm_loss

        args = self.trainer.args
        prm = process_reward_model_of(self.trainer.step_scorer)
        collator = PRMCollator(prm) if self.kind == "prm" else None
        device = next(self.model.parameters()).device
        self.train_model.train()
        losses = []
        for _ in range(args.reward_model_update_steps):
            batch = self.rng.sample(mix, min(args.reward_model_batch_size, len(mix)))
            if self.kind == "prm":
                inputs = {k: v.to(device) for k, v in collator(batch).items()}
                loss, _ = prm_loss(prm, self.train_model, inputs)
            else:
                loss = orm_loss(self.train_model, self.tokenizer, batch)
            if self.engine == "zero3":
                self.train_model.backward(loss)
                self.train_model.step()
            else:
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
            self.updates += 1
            losses.append(loss.item())
            self.memory = self._measure_memory()
        self.train_model.eval()
        return losses

    def _measure_memory(self) -> dict[str, float]:
        """This rank's part of the reward model after an optimizer step: parameter elements held (a ZeRO-3
        partition, an FSDP2 shard, or the whole tensor), their share of all elements, and optimizer state elements."""
        held = total = 0
        for p in self.model.parameters():
            if hasattr(p, "ds_tensor"):  # ZeRO-3: the partition, plus the whole tensor if it stays gathered
                held += p.ds_tensor.numel() + p.data.numel()
                total += p.ds_numel
            else:
                held += p.to_local().numel() if hasattr(p, "to_local") else p.numel()
                total += p.numel()
        optimizer = self.optimizer
        if self.engine == "zero3":  # DeepSpeed's ZeRO-3 optimizer: fp32 partitions and the wrapped AdamW's state
            optimizer = self.train_model.optimizer
            state = sum(t.numel() for t in getattr(optimizer, "fp32_partitioned_groups_flat", []))
            optimizer = optimizer.optimizer
        else:
            state = 0
        for values in optimizer.state.values():
            for v in values.values():
                if torch.is_tensor(v) and v.dim() > 0:
                    state += v.to_local().numel() if hasattr(v, "to_local") else v.numel()
        out = {"param_elements_per_rank": float(held), "param_share_per_rank": held / max(total, 1),
               "optimizer_state_elements_per_rank": float(state)}  # fmt: skip
        if torch.cuda.is_available():
            out["max_memory_allocated_gb"] = torch.cuda.max_memory_allocated() / 2**30
        return out

    # -- checkpoints -------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the state (iteration, history, pending samples, sampler RNG) and the reward model with its optimizer
        to ``folder``. Called on every rank: a sharded reward model is saved collectively, each rank its shards
        (ZeRO-3: DeepSpeed's checkpoint in ``reward_model/``; FSDP2: a ``torch.distributed.checkpoint`` there)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.engine == "zero3":
            self.train_model.save_checkpoint(str(folder / "reward_model"), tag="reward_model")
        elif self.engine == "fsdp":
            import torch.distributed.checkpoint as dcp

            dcp.save(self._fsdp_state(), checkpoint_id=str(folder / "reward_model"))
        if not self.trainer.accelerator.is_main_process:
            return
        state = {"iteration": self.iteration, "updates": self.updates, "history": self.history, "fresh": self.fresh,
                 "rng": self.rng.getstate()}  # fmt: skip
        (folder / "iterative_rl_state.json").write_text(json.dumps(state))
        if self.engine is None:
            torch.save(self.model.state_dict(), folder / "reward_model.pt")
            torch.save(self.optimizer.state_dict(), folder / "reward_model_optimizer.pt")

    def _fsdp_state(self) -> dict:
        """The FSDP2 reward model's sharded state (and its optimizer's once it has stepped: asking an optimizer
        without state for one makes torch initialize it with a step)."""
        from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

        state = {"model": get_model_state_dict(self.model)}
        if self.updates:
            state["optimizer"] = get_optimizer_state_dict(self.model, self.optimizer)
        return state

    def load(self, folder: Path) -> None:
        """Restore what :meth:`save` wrote (on resume, on every rank); a checkpoint without it is a
        ``FileNotFoundError``."""
        state_file = folder / "iterative_rl_state.json"
        if not state_file.is_file():
            raise FileNotFoundError(f"{state_file} not found: the checkpoint was not written with iterative RL")
        state = json.loads(state_file.read_text())
        self.iteration, self.history, self.fresh = state["iteration"], state["history"], state["fresh"]
        self.updates = state.get("updates", 0)
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        if self.engine == "zero3":
            self.train_model.load_checkpoint(str(folder / "reward_model"), tag="reward_model",
                                             load_lr_scheduler_states=False)  # fmt: skip
            return
        if self.engine == "fsdp":
            import torch.distributed.checkpoint as dcp
            from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

            saved = self._fsdp_state()
            dcp.load(saved, checkpoint_id=str(folder / "reward_model"))
            set_model_state_dict(self.model, saved["model"])
            if "optimizer" in saved:
                set_optimizer_state_dict(self.model, self.optimizer, saved["optimizer"])
            return
        device = next(self.model.parameters()).device
        weights, moments = folder / "reward_model.pt", folder / "reward_model_optimizer.pt"
        if weights.is_file():
            self.model.load_state_dict(torch.load(weights, map_location=device))
        if moments.is_file():
            self.optimizer.load_state_dict(torch.load(moments, map_location=device))


class _OutsideInferenceMode(torch.nn.Module):
    """A sharded ORM as TRL scores it: the forward runs under ``no_grad`` rather than TRL's ``inference_mode``, whose
    tensors a sharded model keeps between forwards (FSDP2's all-gather buffers, ZeRO-3's persistent parameters) and
    then cannot update when it trains."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args, **kwargs):
        """The wrapped model's forward, outside inference mode and without gradients."""
        with torch.inference_mode(False), torch.no_grad():
            return self.model(*args, **kwargs)


def sharding_engine(accelerator) -> str | None:
    """``"zero3"`` (DeepSpeed ZeRO-3), ``"fsdp"`` (FSDP) or None (DDP, one process, ZeRO-1/2): whether models are
    sharded, so that their forwards are collectives every rank must join."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is not None and plugin.zero_stage == 3:
        return "zero3"
    if accelerator.distributed_type == DistributedType.FSDP:
        return "fsdp"
    return None


def reward_model_deepspeed_config(accelerator, module: torch.nn.Module, batch_size: int) -> dict:
    """The policy's DeepSpeed config for the reward model's own engine: same ZeRO stage, offload and precision;
    the reward model's batch on every rank, one micro-step per optimizer step, no gradient clipping (as under DDP
    and FSDP), no optimizer or scheduler block (the engine gets an AdamW), and the sizes accelerate leaves ``auto``
    until the policy is prepared set from the reward model's hidden size (as TRL does for its inference engines)."""
    config = copy.deepcopy(accelerator.state.deepspeed_plugin.deepspeed_config)
    for key in ("optimizer", "scheduler"):
        config.pop(key, None)
    config.update(train_micro_batch_size_per_gpu=batch_size, gradient_accumulation_steps=1,
                  train_batch_size=batch_size * accelerator.num_processes, gradient_clipping=0.0)  # fmt: skip
    hidden = getattr(getattr(module, "config", None), "hidden_size", None) or 1024
    zero = config.setdefault("zero_optimization", {})
    for key, value in (("reduce_bucket_size", hidden * hidden), ("stage3_prefetch_bucket_size", int(0.9 * hidden * hidden)),
                       ("stage3_param_persistence_threshold", 10 * hidden)):  # fmt: skip
        if zero.get(key, "auto") == "auto":
            zero[key] = value
    for precision in ("bf16", "fp16"):
        block = config.get(precision)
        if isinstance(block, dict) and block.get("enabled") == "auto":
            block["enabled"] = accelerator.mixed_precision == precision
    return config


def full_state_dict(model: torch.nn.Module, accelerator) -> dict[str, torch.Tensor] | None:
    """The whole state dict of a prepared model on the main process (None elsewhere), gathered one parameter at a
    time under ZeRO-3 and as a full state dict under FSDP2: a collective there, which every rank must call."""
    engine = sharding_engine(accelerator)
    model = accelerator.unwrap_model(model)
    if engine == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return state if accelerator.is_main_process else None
    if engine == "zero3":
        import deepspeed

        state = {}
        for name, param in model.named_parameters():
            with deepspeed.zero.GatheredParameters([param]):
                if accelerator.is_main_process:
                    state[name] = param.detach().cpu().clone()
        for name, buffer in model.named_buffers():
            state[name] = buffer.detach().cpu().clone()
        return state if accelerator.is_main_process else None
    return model.state_dict() if accelerator.is_main_process else None


def load_full_state_dict(model: torch.nn.Module, path: Path, accelerator) -> None:
    """Load a state dict written from :func:`full_state_dict` into a prepared model: read by the main process and
    scattered into the shards under ZeRO-3 and FSDP2 (a collective there), read by every rank otherwise."""
    engine = sharding_engine(accelerator)
    model = accelerator.unwrap_model(model)
    main = accelerator.is_main_process
    if engine == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        state = torch.load(path, map_location="cpu") if main else {}
        options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
        set_model_state_dict(model, state, options=options)
    elif engine == "zero3":
        import deepspeed

        state = torch.load(path, map_location="cpu") if main else {}
        for name, param in model.named_parameters():
            with deepspeed.zero.GatheredParameters([param], modifier_rank=0):
                if main:
                    param.data.copy_(state[name])
        for name, buffer in model.named_buffers():
            if main and name in state:
                buffer.copy_(state[name])
    else:
        model.load_state_dict(torch.load(path, map_location=next(model.parameters()).device))


def process_reward_model_of(scorer) -> ProcessRewardModel | None:
    """The :class:`ProcessRewardModel` a step scorer is, or wraps (``with_final_answer_reward(prm)`` keeps it as
    ``step_reward``); None for a rule."""
    for candidate in (scorer, getattr(scorer, "step_reward", None)):
        if isinstance(candidate, ProcessRewardModel):
            return candidate
    return None
