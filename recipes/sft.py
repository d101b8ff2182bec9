# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Supervised fine-tuning (DeepSeekMath-Instruct, §3.3): CoT / PoT / TIR solutions, a chat template, a loss on the
assistant's tokens only (prompts and tool outputs masked), packing to the context length; TRL's ``SFTTrainer``.

    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml recipes/sft.py \\
        --config recipes/deepseek-math-7b/sft.yaml

    python recipes/sft.py --config recipes/tiny/sft.yaml --model_name_or_path PATH   # CPU, seconds
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datasets import load_dataset
from transformers import AutoTokenizer
from trl import ModelConfig, ScriptArguments, SFTConfig, SFTTrainer, TrlParser, get_peft_config

from trl_dsm.errors import check_data_files, check_model_source, check_not_empty, run_recipe_main
from trl_dsm.hub.publish import HubArguments, stage_card, train_and_publish
from trl_dsm.prompts import COT_INSTRUCTION, TIR_INSTRUCTION
from trl_dsm.sft import build_sft_dataset, ensure_chat_template
from trl_dsm.sft.questions import QUESTION_SOURCES, hub_dataset_id, load_math_dataset


@dataclass
class SFTScriptArguments(ScriptArguments, HubArguments):
    """The SFT recipe's data, format and publishing options (§3.3: CoT, PoT and TIR solutions)."""

    data_files: str | None = field(default=None, metadata={"help": "Local JSON/JSONL training file(s) instead."})
    data_dir: str | None = field(
        default=None, metadata={"help": "With dataset_name gsm8k/math: a local benchmarks directory (no Hub)."}
    )
    sft_format: str = field(default="cot", metadata={"help": "Solution format: 'cot', 'pot' or 'tir' (§3.3)."})
    format_column: str | None = field(default=None, metadata={"help": "Column giving each row's format (mixes)."})
    question_column: str = field(default="question", metadata={"help": "Column of the questions."})
    response_column: str = field(default="response", metadata={"help": "Column of the solutions."})
    add_instruction: bool = field(default=True, metadata={"help": "Append the format's instruction to questions."})
    mask_tool_outputs: bool = field(
        default=True, metadata={"help": "Mask tool outputs of TIR solutions from the loss."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use the first N training rows."})


def load_sft_rows(args: SFTScriptArguments):
    """The training rows: local JSON files, GSM8K/MATH (Hub or ``data_dir``), or any Hub dataset."""
    if args.data_files:
        check_data_files(args.data_files, "data_files")
        return load_dataset("json", data_files=args.data_files, split="train")
    if not args.dataset_name:
        raise ValueError("set dataset_name (a Hub id, or gsm8k/math) or data_files")
    if args.dataset_name in QUESTION_SOURCES:
        return load_math_dataset(args.dataset_name, args.dataset_train_split, args.data_dir)
    return load_dataset(args.dataset_name, args.dataset_config, split=args.dataset_train_split)


def main(script_args: SFTScriptArguments, training_args: SFTConfig, model_args: ModelConfig) -> None:
    """Apply the chat template, format and tokenize the solutions (prompts masked), train TRL's ``SFTTrainer``
    and publish with the instruct card."""
    check_model_source(model_args.model_name_or_path, "model_name_or_path", revision=model_args.model_revision)
    rows = load_sft_rows(script_args)  # bad data fails before the tokenizer and model load
    if script_args.max_train_samples is not None:
        rows = rows.select(range(min(script_args.max_train_samples, len(rows))))
    check_not_empty(rows, f"training data {script_args.data_files or script_args.dataset_name}")
    training_args.model_init_kwargs = {
        "revision": model_args.model_revision,
        "dtype": model_args.dtype,
        "attn_implementation": model_args.attn_implementation,
        **(training_args.model_init_kwargs or {}),
    }
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path, revision=model_args.model_revision)
    ensure_chat_template(tokenizer, training_args.chat_template_path)
    training_args.chat_template_path = None  # applied above, before tokenization
    if training_args.completion_only_loss is None:
        training_args.completion_only_loss = True  # our tokenized data carries the completion mask
    with training_args.main_process_first(desc="formatting and tokenizing SFT data"):
        train_dataset = build_sft_dataset(
            rows,
            tokenizer,
            fmt=script_args.sft_format,
            question_column=script_args.question_column,
            response_column=script_args.response_column,
            format_column=script_args.format_column,
            add_instruction=script_args.add_instruction,
            mask_tool_outputs=script_args.mask_tool_outputs,
            num_proc=training_args.dataset_num_proc,
        )
    script_args.take_over_push(training_args)  # before the trainer: a dry run never touches the Hub
    trainer = SFTTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    formats = {"cot": "chain-of-thought", "pot": "program-of-thought", "tir": "tool-integrated"}

    def card():
        fmt = "per-row formats" if script_args.format_column else formats.get(script_args.sft_format)
        source = script_args.dataset_name or script_args.data_files
        return stage_card(
            "instruct",
            trainer,
            script_args,
            model_name=Path(training_args.hub_model_id or training_args.output_dir).name,
            base_model=model_args.model_name_or_path,
            datasets=[hub_dataset_id(script_args.dataset_name)] if script_args.dataset_name else None,
            formats=fmt,
            cot_instruction=COT_INSTRUCTION,
            tir_instruction=TIR_INSTRUCTION,
            sft_data=f"{len(train_dataset):,} examples from `{source}` ({fmt}).",
        )

    train_and_publish(trainer, script_args, card)


def make_parser() -> TrlParser:
    """The recipe's ``TrlParser``: script arguments, TRL's ``SFTConfig`` and ``ModelConfig``."""
    return TrlParser((SFTScriptArguments, SFTConfig, ModelConfig))


if __name__ == "__main__":
    run_recipe_main(main, make_parser)  # bad input: one line naming the file/key/value, exit status 2
