# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Hub publishing: cards rendered from the ``trl_dsm/hub_cards/`` templates, pushes with a revision per checkpoint, dry runs."""

from trl_dsm.hub.cards import (
    CITATION,
    TEMPLATES,
    eval_results_table,
    hyperparameters_table,
    markdown_table,
    render_dataset_card,
    render_decontamination_card,
    render_model_card,
    template_path,
    template_variables,
    to_eval_results,
    validate_card,
)


#: Names of :mod:`trl_dsm.hub.push`, imported on first use: it imports transformers (``RevisionPushCallback``), which
#: a dataset card (``trl-dsm mine``'s export) does not need.
_PUSH = ("RevisionPushCallback", "UploadPlan", "checkpoint_plan", "execute_plan", "push_dataset", "push_model")


def __getattr__(name: str):
    if name in _PUSH:
        from trl_dsm.hub import push

        return getattr(push, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CITATION",
    "TEMPLATES",
    "RevisionPushCallback",
    "UploadPlan",
    "checkpoint_plan",
    "eval_results_table",
    "execute_plan",
    "hyperparameters_table",
    "markdown_table",
    "push_dataset",
    "push_model",
    "render_dataset_card",
    "render_decontamination_card",
    "render_model_card",
    "template_path",
    "template_variables",
    "to_eval_results",
    "validate_card",
]
