# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""What the three recipes share for publishing: ``HubArguments``, a revision per save, the final push with the
stage's card (or a dry run that writes the exact files)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, ModelCard

from trl_dsm.hub.cards import render_model_card, validate_card
from trl_dsm.hub.push import RevisionPushCallback, push_model


#: Training arguments shown in model cards when set (TrainingArguments, SFTConfig, GRPOMathConfig, PretrainConfig).
HYPERPARAMETER_KEYS = (
    "learning_rate", "lr_scheduler_type", "warmup_steps", "lr_milestones", "lr_milestone_factors", "weight_decay",
    "adam_beta1", "adam_beta2", "max_grad_norm", "per_device_train_batch_size", "gradient_accumulation_steps",
    "max_steps", "num_train_epochs", "seed", "bf16", "max_length", "packing", "completion_only_loss",
    "num_generations", "beta", "max_completion_length", "temperature", "loss_type", "num_iterations", "supervision",
    "iteration_steps", "reward_model_update_steps",
)  # fmt: skip


@dataclass
class HubArguments:
    """Publishing options shared by the recipes (besides ``push_to_hub``, ``hub_model_id``, ``hub_strategy``,
    ``hub_private_repo`` of the training config)."""

    push_dry_run_dir: str | None = field(
        default=None,
        metadata={
            "help": "Write the exact files that would be pushed (each checkpoint's branch and the final model with "
            "its card) under this directory instead of uploading. Works without `push_to_hub`."
        },
    )
    push_revisions: bool = field(
        default=True,
        metadata={
            "help": "When pushing (and hub_strategy is not 'end'): push every saved checkpoint to its own branch "
            "`step-N` (weights, config, tokenizer, trainer state)."
        },
    )
    push_full_checkpoints: bool = field(
        default=False,
        metadata={"help": "Include optimizer, scheduler and RNG states in the per-save branches (resumable)."},
    )
    eval_results: str | None = field(
        default=None,
        metadata={
            "help": "JSON file with a list of evaluation results for the card's model-index (keys of "
            "huggingface_hub.EvalResult: task_type, dataset_type, dataset_name, metric_type, metric_value, ...)."
        },
    )
    card_template: str | None = field(default=None, metadata={"help": "Model-card template path (default: stage's)."})
    model_license: str = field(default="other", metadata={"help": "License in the model card's metadata."})

    def publishing(self, training_args) -> bool:
        """Whether this run publishes: a push was requested (``push_to_hub``) or a dry run (``push_dry_run_dir``)."""
        requested = getattr(self, "_push_requested", False) or getattr(training_args, "push_to_hub", False)
        return bool(requested or self.push_dry_run_dir)

    def take_over_push(self, training_args) -> None:
        """Call before building the trainer: ``transformers.Trainer.__init__`` creates the Hub repository when
        ``push_to_hub`` is set (a dry run must not touch the Hub) and would push ``main`` on every save. The
        request is remembered here; :func:`setup_publishing` and :func:`publish` push instead."""
        self._push_requested = self.publishing(training_args) and self.push_dry_run_dir is None
        training_args.push_to_hub = False


def hyperparameters_from_args(args, world_size: int = 1) -> dict[str, Any]:
    """The card's hyperparameters: the set :data:`HYPERPARAMETER_KEYS` of ``args``, plus the total batch size."""
    values = {key: getattr(args, key) for key in HYPERPARAMETER_KEYS if getattr(args, key, None) is not None}
    values["lr_scheduler_type"] = str(
        getattr(values.get("lr_scheduler_type"), "value", values.get("lr_scheduler_type"))
    )
    if getattr(args, "lr_milestones", None):
        values["lr_scheduler_type"] = "multistep (§2.2.1)"
    values["total_train_batch_size"] = (
        args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, world_size)
    )
    return values


def load_eval_results(path: str | None) -> list[dict[str, Any]]:
    """The evaluation results in the JSON list at ``path`` (``[]`` without a path), for a card's model-index."""
    if not path:
        return []
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(results, list):
        raise ValueError(f"{path}: expected a JSON list of evaluation results")
    return results


def resolve_repo_id(training_args, api: HfApi | None = None, dry_run: bool = False) -> str:
    """``hub_model_id`` or the output directory's name, with the user's namespace when it has none (dry runs keep
    the bare name)."""
    repo_id = training_args.hub_model_id or Path(training_args.output_dir).name
    if "/" not in repo_id and not dry_run:
        repo_id = f"{(api or HfApi(token=training_args.hub_token)).whoami()['name']}/{repo_id}"
    return repo_id


def setup_publishing(trainer, hub_args: HubArguments, card_fn: Callable[[], ModelCard]) -> str | None:
    """Take the push over from ``transformers`` (which would push to ``main`` only) and add a
    :class:`RevisionPushCallback` when per-save revisions are on; returns the repository id (``None``: no push)."""
    args = trainer.args
    if not hub_args.publishing(args):
        return None
    hub_args.take_over_push(args)  # no-op when the recipe called it before building the trainer
    dry_run = hub_args.push_dry_run_dir is not None
    api = None if dry_run else HfApi(token=args.hub_token)
    repo_id = resolve_repo_id(args, api, dry_run) if trainer.accelerator.is_main_process else ""
    strategy = str(getattr(args.hub_strategy, "value", args.hub_strategy))
    if hub_args.push_revisions and strategy != "end":
        trainer.add_callback(
            RevisionPushCallback(
                repo_id,
                card_fn=card_fn,
                dry_run_dir=hub_args.push_dry_run_dir,
                api=api,
                private=args.hub_private_repo,
                full_checkpoint=hub_args.push_full_checkpoints,
            )
        )
    return repo_id


def publish(trainer, hub_args: HubArguments, repo_id: str | None, card: ModelCard) -> None:
    """Save the card beside the model; push (or dry-run) the final model from the main process."""
    if not trainer.accelerator.is_main_process:
        return
    validate_card(card)
    output_dir = Path(trainer.args.output_dir)
    card.save(output_dir / "README.md")
    if repo_id is None:
        return
    api = None if hub_args.push_dry_run_dir else HfApi(token=trainer.args.hub_token)
    push_model(
        output_dir,
        repo_id,
        card,
        revision=getattr(trainer.args, "hub_revision", None) or "main",
        dry_run_dir=hub_args.push_dry_run_dir,
        api=api,
        private=trainer.args.hub_private_repo,
    )


def stage_card(
    stage: str, trainer, hub_args: HubArguments, *, model_name: str, base_model: str, **kwargs
) -> ModelCard:
    """The stage's model card with the trainer's hyperparameters and ``hub_args.eval_results``."""
    return render_model_card(
        stage,
        model_name=model_name,
        base_model=base_model,
        hyperparameters=hyperparameters_from_args(trainer.args, trainer.accelerator.num_processes),
        eval_results=load_eval_results(hub_args.eval_results),
        license=hub_args.model_license,
        template=hub_args.card_template,
        **kwargs,
    )


def train_and_publish(trainer, hub_args: HubArguments, card_fn: Callable[[], ModelCard]) -> None:
    """What every recipe does after building its trainer: per-save pushes (:func:`setup_publishing`), training
    (resumed when ``resume_from_checkpoint`` is set, see :func:`resume_argument`), the final model with
    ``trainer_state.json`` (the log history) and its card, then the final push (:func:`publish`)."""
    repo_id = setup_publishing(trainer, hub_args, card_fn)
    trainer.train(resume_from_checkpoint=resume_argument(trainer.args))
    trainer.save_model(trainer.args.output_dir)
    trainer.save_state()
    publish(trainer, hub_args, repo_id, card_fn())


def resume_argument(training_args) -> str | bool | None:
    """``resume_from_checkpoint`` for ``Trainer.train``: a path, or ``True`` (the last checkpoint in
    ``output_dir``) for ``true`` / ``last``."""
    value = training_args.resume_from_checkpoint
    if isinstance(value, str) and value.lower() in ("true", "last"):
        return True
    return value
