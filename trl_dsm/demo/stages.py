# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The miniature run's stages before RL: problem splits, mining and decontamination (§2.1), tokenizer and
pretraining (§2.2), SFT and the continued-SFT control (§3, §5.2.1), and evaluation (§5)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from trl_dsm.demo.config import GEN_BATCH, DemoConfig
from trl_dsm.demo.corpus import generate_web_pages
from trl_dsm.demo.problems import Problem, generate_problems, split_problems
from trl_dsm.demo.threads import sampling_threads, trainer_callbacks


# -- data ----------------------------------------------------------------------------------------------------------
def make_problem_splits(cfg: DemoConfig) -> dict[str, list[Problem]]:
    """Held-out, pretraining, SFT and RL problems; the same for every seed (the seed varies the training)."""
    problems = generate_problems(
        cfg.n_problems, seed=1234, min_steps=cfg.min_steps, max_steps=cfg.max_steps, max_value=cfg.max_value,
        max_operand=cfg.max_operand, max_factor=cfg.max_factor,
    )  # fmt: skip
    train, heldout = split_problems(problems, cfg.n_heldout, seed=1234)
    a, b = cfg.n_pretrain_problems, cfg.n_pretrain_problems + cfg.n_sft_problems
    if cfg.demo_max_steps:  # worked solutions only up to demo_max_steps operations; RL questions of any length
        worked = [p for p in train if p.steps <= cfg.demo_max_steps]
        if len(worked) < b:
            raise ValueError(
                f"n_problems={cfg.n_problems} leaves {len(worked)} training problems of at most "
                f"{cfg.demo_max_steps} operations; pretraining and SFT need {b}"
            )
        used = {p.question for p in worked[:b]}
        rest = [p for p in train if p.question not in used]
        # questions drawn with the operation counts of all problems (as the held-out ones), not the leftovers' mix
        n = cfg.n_rl_problems or len(rest)
        share = _count_steps(problems)
        rl: list[Problem] = []
        for steps, count in share.items():
            pool = [p for p in rest if str(p.steps) == steps]
            rl += pool[: round(n * count / len(problems))]
        taken = {p.question for p in rl}
        rl += [p for p in rest if p.question not in taken][: max(0, n - len(rl))]  # rounding, or a pool run dry
        random.Random(1234).shuffle(rl)
        splits = {"heldout": heldout, "pretrain": worked[:a], "sft": worked[a:b], "rl": rl}
    else:
        if len(train) <= b:
            raise ValueError(f"n_problems={cfg.n_problems} leaves {len(train)} training problems; need more than {b}")
        splits = {"heldout": heldout, "pretrain": train[:a], "sft": train[a:b], "rl": train[b:]}
    if cfg.n_rl_problems:
        if len(splits["rl"]) < cfg.n_rl_problems:
            raise ValueError(
                f"n_problems={cfg.n_problems} leaves {len(splits['rl'])} RL questions; n_rl_problems={cfg.n_rl_problems}"
            )
        splits["rl"] = splits["rl"][: cfg.n_rl_problems]
    if not splits["rl"]:
        raise ValueError(f"n_problems={cfg.n_problems} leaves no RL question")
    return splits


def _count_steps(problems: list[Problem]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in problems:
        counts[str(p.steps)] = counts.get(str(p.steps), 0) + 1
    return dict(sorted(counts.items()))


def _read_web_docs(path: str | None) -> list[dict]:
    if not path:
        return []
    from trl_dsm._jsonl import iter_jsonl_numbered

    pages = []
    with open(path, encoding="utf-8") as f:
        for line_no, row in iter_jsonl_numbered(f, path):
            if not isinstance(row.get("text"), str):
                raise ValueError(f"{path}:{line_no}: a web page needs a string `text` field")
            hint = row.get("category_hint") or row.get("label") or row.get("kind")
            pages.append({"url": row.get("url") or f"local://{line_no}", "title": row.get("title") or "",
                          "text": row["text"], "kind": "real-math" if hint == "math" else "real"})  # fmt: skip
    return pages


def _problem_text(problem: Problem) -> str:
    return f"Problem. {problem.question}\nSolution.\n{problem.solution}"


# -- 1. mining and decontamination -----------------------------------------------------------------------------------
def mine_corpus(cfg: DemoConfig, splits: dict[str, list[Problem]], workdir: Path) -> tuple[Any, dict]:
    """Stage 1 (§2.1): the generated crawl (plus ``web_docs``) through ``trl_dsm.mining.mine`` with the worked
    solutions as seed corpus, then 10-gram decontamination against the held-out problems; (corpus, statistics)."""
    from datasets import Dataset

    from trl_dsm.benchmarks import BenchmarkText
    from trl_dsm.decontamination.pipeline import build_index, decontaminate_dataset
    from trl_dsm.mining.pipeline import mine

    rng = random.Random(cfg.seed)
    heldout = splits["heldout"]
    contaminated = rng.sample(heldout, min(cfg.n_contaminated, len(heldout)))
    pages = generate_web_pages(
        splits["pretrain"], n_math=cfg.n_math_pages, n_other=cfg.n_other_pages, contaminated=contaminated,
        n_duplicates=max(4, cfg.n_math_pages // 8), seed=cfg.seed,
    )  # fmt: skip
    pages += _read_web_docs(cfg.web_docs)
    # The seed corpus (the paper's OpenWebMath): 1000 worked solutions (the SFT ones first, then pretraining ones when
    # SFT has fewer, as in the study), not pages of the crawl.
    seeds = [_problem_text(p) for p in (splits["sft"] + splits["pretrain"])[: max(1000, len(splits["sft"]))]]
    config = {
        "num_shards": 2,
        "iterations": cfg.mining_iterations,
        # the paper's settings but a smaller hash table (and more epochs in quick mode, whose seed set is tiny)
        "classifier": {"epoch": cfg.classifier_epochs, "min_count": 1, "bucket": 100_000},
        "selection": {"threshold": 0.5},
        "domains": {"auto_accept_score": 0.5},
        "dedup": {"threshold": 0.8},
        "executor": {"kind": "local", "workers": 1},
    }
    config.update(cfg.extra.get("mining", {}))
    documents = Dataset.from_list(pages)
    selected, stats = mine(documents, seeds=seeds, config=config, output_dir=workdir / "mining", overwrite=True)
    if len(selected) == 0:
        raise ValueError(
            f"mining selected no page out of {len(pages)}: the classifier scores stayed under the threshold; "
            "train it longer (--set classifier_epochs=20) or give more seed text (n_sft_problems)"
        )
    index = build_index(
        benchmarks=[],
        extra=[BenchmarkText("demo-heldout", str(i), "question", p.question) for i, p in enumerate(heldout)],
    )
    clean, report = decontaminate_dataset(selected, "text", index=index)
    kind_of = {page["url"]: page["kind"] for page in pages}
    kinds = [kind_of.get(url, "real") for url in selected["url"]]
    math_total = sum(1 for p in pages if p["kind"] == "math")
    clean_text = "\n".join(clean["text"])
    selected_text = "\n".join(selected["text"])
    stats = {
        "pages": len(pages),
        "math_pages": math_total,
        "selected": len(selected),
        "selected_math": sum(k == "math" for k in kinds),
        "selected_other": sum(k == "other" for k in kinds),
        "selected_real": sum(k.startswith("real") for k in kinds),
        "selected_real_math": sum(k == "real-math" for k in kinds),
        "real_math_pages": sum(1 for p in pages if p["kind"] == "real-math"),
        "decontaminated_documents": report.summary.get("documents_contaminated", 0),
        "decontaminated_chars": report.summary.get("chars_removed", 0),
        "planted_contaminated": sum(p.question in selected_text for p in contaminated),
        "planted_removed": sum(p.question in selected_text and p.question not in clean_text for p in contaminated),
        "corpus_pages": len(clean),
        "corpus_chars": sum(len(t) for t in clean["text"]),
        "mining": _json_safe(stats),
        "decontamination": _json_safe(report.summary),
    }
    return clean, stats


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


# -- 2. tokenizer and pretraining --------------------------------------------------------------------------------------
def build_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE with one token per digit (arithmetic needs digits) and DeepSeekMath's chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from trl_dsm.sft.chat_templates import ensure_chat_template

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<pad>", "<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts + ["User: ", "\n\nAssistant: "], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")
    tokenizer.bos_token = None
    return ensure_chat_template(tokenizer, "deepseek-math")


def _common_args(cfg: DemoConfig, output_dir: Path) -> dict:
    return dict(
        output_dir=str(output_dir), report_to="none", use_cpu=True, bf16=False, save_strategy="no", seed=cfg.seed,
        logging_steps=10, dataloader_num_workers=0,  # transformers' bar: step count and ETA per training stage
        activation_checkpointing=False,  # TRL turns it on by default; a tiny model only pays its recomputation
    )  # fmt: skip


def pretrain(cfg: DemoConfig, corpus, splits, tokenizer, workdir: Path):
    """Stage 2 (§2.2): a tiny Llama from scratch on packed blocks of the mined corpus and worked pretraining
    problems (``corpus_weight`` of the tokens from the corpus), multi-step schedule; (model, losses, blocks)."""
    from datasets import Dataset

    from trl_dsm.pretrain import (
        PretrainConfig,
        PretrainTrainer,
        build_causal_lm,
        build_pretrain_dataset,
        collate_blocks,
    )

    problems = Dataset.from_dict({"text": [_problem_text(p) for p in splits["pretrain"]]})
    sources = [
        {"path": "demo/mined-corpus", "weight": cfg.corpus_weight},
        {"path": "demo/word-problems", "weight": 1 - cfg.corpus_weight},
    ]
    blocks = build_pretrain_dataset(
        sources,
        tokenizer,
        block_size=cfg.block_size,
        seed=cfg.seed,
        datasets=[corpus.select_columns(["text"]), problems],
    )
    model = build_causal_lm(
        from_scratch=True,
        model_config={
            "model_type": "llama", "hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
            "num_hidden_layers": cfg.num_layers, "num_attention_heads": cfg.num_heads,
            "num_key_value_heads": cfg.num_heads, "max_position_embeddings": 256, "tie_word_embeddings": True,
        },
        tokenizer=tokenizer,
        seed=cfg.seed,
    )  # fmt: skip
    args = PretrainConfig(
        **_common_args(cfg, workdir / "pretrain"), max_steps=cfg.pretrain_steps,
        per_device_train_batch_size=cfg.pretrain_batch_size, learning_rate=cfg.pretrain_lr,
        warmup_steps=cfg.pretrain_warmup_steps, max_grad_norm=1.0,
    )  # fmt: skip
    trainer = PretrainTrainer(
        model=model, args=args, train_dataset=blocks, data_collator=collate_blocks, callbacks=trainer_callbacks()
    )
    trainer.train()
    return trainer.model, _losses(trainer.state.log_history), len(blocks)


def _losses(history: list[dict]) -> list[tuple[int, float]]:
    return [(h["step"], float(h["loss"])) for h in history if "loss" in h]


# -- 3. SFT ---------------------------------------------------------------------------------------------------------
def _chat_prompt(problem: Problem) -> list[dict]:
    return [{"role": "user", "content": problem.question}]


def sft(cfg: DemoConfig, model, splits, tokenizer, workdir: Path, name: str = "sft"):
    """Stage 3 (§3): ``model`` fine-tuned on the SFT split's chain-of-thought solutions in DeepSeekMath's chat
    format, loss on the completion only, ``sft_steps`` steps at ``sft_lr`` (``sft_scheduler``); (model, losses)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from trl_dsm.sft import build_sft_dataset

    rows = [{"question": p.question, "solution": p.solution} for p in splits["sft"]]
    data = build_sft_dataset(
        Dataset.from_list(rows), tokenizer, fmt="cot", response_column="solution", add_instruction=False
    )
    args = SFTConfig(
        **_common_args(cfg, workdir / name), max_steps=cfg.sft_steps, per_device_train_batch_size=cfg.sft_batch_size,
        learning_rate=cfg.sft_lr, lr_scheduler_type=cfg.sft_scheduler, warmup_steps=cfg.sft_warmup_steps,
        completion_only_loss=True,
        max_length=256,
    )  # fmt: skip
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=data, processing_class=tokenizer, callbacks=trainer_callbacks()
    )
    trainer.train()
    return trainer.model, _losses(trainer.state.log_history)


def sft_continued(cfg: DemoConfig, sft_dir: Path, splits, tokenizer, workdir: Path):
    """The control for GRPO: the SFT model trained on the same demonstrations for ``grpo_steps`` more steps at the RL
    learning rate and warmup, so "GRPO beat SFT" can be told apart from "a lower learning rate beat a higher one"."""
    from transformers import AutoModelForCausalLM

    control = replace(
        cfg, sft_lr=cfg.grpo_lr, sft_steps=cfg.grpo_steps, sft_scheduler="constant_with_warmup",
        sft_warmup_steps=cfg.grpo_warmup_steps,
    )  # fmt: skip
    return sft(control, AutoModelForCausalLM.from_pretrained(sft_dir), splits, tokenizer, workdir, "sft-continued")


# -- 5. evaluation ---------------------------------------------------------------------------------------------------
def evaluate(cfg: DemoConfig, model, tokenizer, problems: list[Problem]) -> dict:
    """Stage 5 (§5): greedy accuracy, pass@k and maj@k (``eval_samples`` samples at ``eval_temperature``) on
    ``problems``, plus greedy accuracy by number of operations (``greedy_ops<n>``, ``n_ops<n>``)."""
    from trl_dsm.eval import EvalConfig, evaluate_model

    records = [{"prompt": _chat_prompt(p), "answer": str(p.answer)} for p in problems]
    config = EvalConfig(
        mode="cot", num_samples=cfg.eval_samples, temperature=cfg.eval_temperature, top_p=1.0, greedy=True,
        max_new_tokens=cfg.max_completion_length, batch_size=GEN_BATCH, chat_template=True, fallback="last_number",
        seed=cfg.seed,
    )  # fmt: skip
    with sampling_threads():
        result = evaluate_model(model, tokenizer, records, config, name="heldout")
    metrics = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
    by_steps: dict[int, list[float]] = {}
    for problem, record in zip(problems, result.samples):
        by_steps.setdefault(problem.steps, []).append(record["scores"]["greedy"])
    for steps, scores in sorted(by_steps.items()):  # greedy accuracy on the problems of each number of operations
        metrics[f"greedy_ops{steps}"] = sum(scores) / len(scores)
        metrics[f"n_ops{steps}"] = len(scores)
    k = cfg.eval_samples
    print(
        f"[trl-dsm demo]   held-out greedy {metrics['greedy']:.1%}, pass@{k} {metrics.get(f'pass@{k}', 0):.1%}, "
        f"maj@{k} {metrics.get(f'maj@{k}', 0):.1%}",
        flush=True,
    )
    return metrics
