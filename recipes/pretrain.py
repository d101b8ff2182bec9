# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Continued pretraining (DeepSeekMath §2.2.1, §3.1): a weighted, packed mixture and the multi-step LR schedule.

    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml recipes/pretrain.py \\
        --config recipes/deepseek-math-7b/pretrain.yaml

    python recipes/pretrain.py --config recipes/tiny/pretrain.yaml --model_name_or_path PATH   # CPU, seconds
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoTokenizer
from trl import ModelConfig, TrlParser

from trl_dsm.errors import check_model_source, run_recipe_main
from trl_dsm.hub.cards import markdown_table
from trl_dsm.hub.publish import HubArguments, stage_card, train_and_publish
from trl_dsm.pretrain import PretrainConfig, PretrainTrainer, build_causal_lm, build_pretrain_dataset, collate_blocks
from trl_dsm.pretrain.data import coerce_sources, source_summary


@dataclass
class PretrainScriptArguments(HubArguments):
    """The pretraining recipe's mixture, packing, tokenizer and publishing options (§2.2.1)."""

    datasets: list[dict] = field(
        default_factory=list,
        metadata={
            "help": "The mixture (YAML list): each entry has `path` (Hub id, builder such as `json`, or directory), "
            "`weight` (share of training tokens), optional `name`, `data_dir`, `data_files`, `split`, `text_column`."
        },
    )
    block_size: int = field(default=4096, metadata={"help": "Context length of the packed blocks (4K in §2.2.1)."})
    stopping_strategy: str = field(
        default="all_exhausted",
        metadata={"help": "interleave_datasets' stopping strategy: 'all_exhausted' or 'first_exhausted'."},
    )
    streaming: bool = field(default=False, metadata={"help": "Stream the sources (train with max_steps)."})
    dataset_num_proc: int | None = field(default=None, metadata={"help": "Processes for tokenization/packing."})
    tokenizer_name_or_path: str | None = field(default=None, metadata={"help": "Default: the model's tokenizer."})
    from_scratch: bool = field(default=False, metadata={"help": "Initialise the model instead of loading weights."})
    model_config: str | None = field(
        default=None, metadata={"help": "With from_scratch: a JSON config file (with `model_type`) or a model id."}
    )


def source_label(source: dict) -> str:
    """A mixture source for the card: its Hub id / directory, or its files for a builder such as ``json``."""
    files = source.get("data_files")
    if files and not Path(source["path"]).exists() and "/" not in source["path"]:
        return ", ".join(Path(f).name for f in ([files] if isinstance(files, str) else list(files)))
    return source["path"]


def schedule_description(args: PretrainConfig) -> str:
    """The learning-rate schedule in words for the model card, e.g. ``multi-step (§2.2.1): linear warmup ...``."""
    warmup = f"linear warmup over {args.warmup_steps:g} steps"
    if not args.lr_milestones:
        return f"{warmup}, then `{getattr(args.lr_scheduler_type, 'value', args.lr_scheduler_type)}`"
    drops = " and ".join(
        f"to {f:.1%} of the peak after {m:.0%} of training"
        for m, f in zip(args.lr_milestones, args.lr_milestone_factors)
    )
    return f"multi-step (§2.2.1): {warmup} to the peak, then down {drops}"


def main(script_args: PretrainScriptArguments, training_args: PretrainConfig, model_args: ModelConfig) -> None:
    """Tokenize and pack the mixture, build (or load) the model, train with the multi-step schedule and publish."""
    sources = coerce_sources(script_args.datasets)
    if script_args.tokenizer_name_or_path:
        check_model_source(script_args.tokenizer_name_or_path, "tokenizer_name_or_path", config=False, weights=False)
    if script_args.from_scratch and script_args.model_config:
        if not str(script_args.model_config).endswith(".json"):
            check_model_source(script_args.model_config, "model_config", tokenizer=False)
        elif not Path(script_args.model_config).is_file():
            raise FileNotFoundError(f"model_config {script_args.model_config}: no such file")
    else:  # the weights, or the config to copy
        check_model_source(
            model_args.model_name_or_path,
            "model_name_or_path",
            tokenizer=not script_args.tokenizer_name_or_path,
            weights=not script_args.from_scratch,
            revision=model_args.model_revision,
        )
    tokenizer = AutoTokenizer.from_pretrained(
        script_args.tokenizer_name_or_path or model_args.model_name_or_path, revision=model_args.model_revision
    )
    with training_args.main_process_first(desc="tokenizing and packing the pretraining mixture"):
        train_dataset = build_pretrain_dataset(
            sources,
            tokenizer,
            script_args.block_size,
            seed=training_args.seed,
            stopping_strategy=script_args.stopping_strategy,
            streaming=script_args.streaming,
            num_proc=script_args.dataset_num_proc,
        )
    model = build_causal_lm(
        model_args.model_name_or_path,
        from_scratch=script_args.from_scratch,
        model_config=script_args.model_config,
        tokenizer=tokenizer,
        seed=training_args.seed,
        revision=model_args.model_revision,
        dtype=model_args.dtype,
        attn_implementation=model_args.attn_implementation,
    )
    script_args.take_over_push(training_args)  # before the trainer: a dry run never touches the Hub
    trainer = PretrainTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        data_collator=collate_blocks,
        processing_class=tokenizer,
    )

    def card():
        mixture = source_summary(sources)
        return stage_card(
            "base",
            trainer,
            script_args,
            model_name=Path(training_args.hub_model_id or training_args.output_dir).name,
            base_model=None if script_args.from_scratch else model_args.model_name_or_path,
            datasets=[s.path for s in sources],
            mixture_table=markdown_table(
                ("source", "config", "text column", "share of tokens"),
                [(source_label(m), m["name"] or "", m["text_column"], f"{m['share']:.1%}") for m in mixture],
            ),
            block_size=script_args.block_size,
            schedule=schedule_description(training_args),
        )

    train_and_publish(trainer, script_args, card)


def make_parser() -> TrlParser:
    """The recipe's ``TrlParser``: script arguments, :class:`PretrainConfig` and TRL's ``ModelConfig``."""
    return TrlParser((PretrainScriptArguments, PretrainConfig, ModelConfig))


if __name__ == "__main__":
    run_recipe_main(main, make_parser)  # bad input: one line naming the file/key/value, exit status 2
