# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Console progress of a GRPO run (§4): transformers' own tqdm bar (step count and ETA) with one short line per log,
instead of the full metrics dict TRL logs every step (about 40 keys, ~930 characters). Every metric still reaches
``state.log_history``, ``trainer_state.json`` and ``report_to``; only the console line is shorter.

>>> logs = {"loss": 0.0123, "reward": 0.41, "reward_std": 0.22, "pass@4": 0.5, "kl": 0.003, "step_time": 5.062}
>>> summary_line(logs, step=3, max_steps=10)
'step 3/10 | loss 0.0123 | reward 0.41 ± 0.22 | pass@4 0.5 | kl 0.003 | 5.062 s/step'
"""

from __future__ import annotations

from transformers import PrinterCallback, ProgressCallback


#: The keys of a GRPO log shown on the console, in order, with their formats (``eval_``-prefixed ones too).
SUMMARY_KEYS = (
    ("loss", "loss {}"),
    ("reward", "reward {}"),
    ("kl", "kl {}"),
    ("completions/mean_length", "length {}"),
    ("learning_rate", "lr {}"),
    ("step_time", "{} s/step"),
)


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def summary_line(logs: dict, step: int, max_steps: int) -> str | None:
    """One short line for a GRPO log entry (``None`` when it holds none of :data:`SUMMARY_KEYS`, e.g. the final
    ``train_runtime`` summary or a callback's own metrics): loss, mean reward ± its std, pass@G / maj@G, KL, mean
    completion length, learning rate and seconds per step, whichever are present."""
    prefix = "eval_" if any(key.startswith("eval_") for key in logs) else ""
    if not any(prefix + key in logs for key, _ in SUMMARY_KEYS):
        return None
    parts = [f"step {step}/{max_steps}" if max_steps else f"step {step}"]
    for key, template in SUMMARY_KEYS:
        value = logs.get(prefix + key)
        if value is None:
            continue
        text = _number(value)
        if key == "reward" and logs.get(prefix + "reward_std") is not None:
            text += f" ± {_number(logs[prefix + 'reward_std'])}"
        parts.append(template.format(text))
        if key == "reward":  # the group metrics (pass@G, maj@G) right after the reward
            parts += [f"{k.removeprefix(prefix)} {_number(v)}" for k, v in logs.items()
                      if k.removeprefix(prefix).startswith(("pass@", "maj@"))]  # fmt: skip
    return " | ".join(parts)


class GRPOProgressCallback(ProgressCallback):
    """transformers' ``ProgressCallback`` (tqdm bar with step count and ETA) writing :func:`summary_line` per log."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Write the short line above the bar; logs without GRPO metrics are printed as transformers does."""
        line = summary_line(logs or {}, state.global_step, state.max_steps)
        if line is None:
            return super().on_log(args, state, control, logs=logs, **kwargs)
        if state.is_world_process_zero and self.training_bar is not None:
            self.training_bar.write(line)
        return control


class GRPOPrinterCallback(PrinterCallback):
    """transformers' ``PrinterCallback`` (used with ``disable_tqdm=True``) printing :func:`summary_line` per log."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Print the short line; logs without GRPO metrics are printed as transformers does."""
        line = summary_line(logs or {}, state.global_step, state.max_steps)
        if line is None:
            return super().on_log(args, state, control, logs=logs, **kwargs)
        if state.is_local_process_zero:
            print(line)
        return control


def use_concise_progress(trainer) -> None:
    """Replace ``trainer``'s ``ProgressCallback`` / ``PrinterCallback`` (whichever ``disable_tqdm`` chose) with the
    GRPO ones above; a notebook's progress callback is left alone."""
    for default, concise in ((ProgressCallback, GRPOProgressCallback), (PrinterCallback, GRPOPrinterCallback)):
        removed = trainer.pop_callback(default)
        if removed is not None and not isinstance(removed, concise):
            trainer.add_callback(concise)
        elif removed is not None:
            trainer.add_callback(removed)
