# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The whole DeepSeekMath recipe in miniature, offline, on one CPU (``trl-dsm demo``).

1. **Mining (§2.1)**: a generated crawl (worksheet pages among news/sport/recipe/travel pages, duplicates, pages
   that copy held-out problems; plus real pages with ``--web-docs``) goes through the fastText mining pipeline
   (URL + MinHash dedup, classifier, selection, domain discovery), then 10-gram decontamination against the
   held-out problems.
2. **Pretraining (§2.2)**: a tiny Llama from scratch on the mined corpus mixed with generated word problems with
   worked steps, packed into blocks, with the paper's multi-step learning-rate schedule.
3. **SFT (§3)**: chain-of-thought solutions in DeepSeekMath's chat format, loss on the completion only.
4. **RL (§4, §5.2.1)**: arms from the same SFT model, each a trainer mode of the library: RFT (``rft_dataset`` then
   ``SFTTrainer``), Online RFT (``advantage_estimator="online_rft"``), GRPO with outcome supervision, with process
   supervision (a rule checking each arithmetic step, or a learned step reward model), and iterative GRPO (§4.1.4:
   reference reset, the step reward model retrained on fresh samples with 10% replay); beside them the control,
   SFT continued on the same demonstrations at the RL learning rate for as many steps.
5. **Evaluation (§5)**: greedy accuracy, pass@k and maj@k on held-out problems after SFT and after each arm.

``DemoConfig.study()`` (``trl-dsm demo --study``) is the §5.2 study: scarce worked solutions, plentiful questions with
final answers only, every arm.

Everything is built from the library (``trl_dsm.mining``, ``.decontamination``, ``.pretrain``, ``.sft``, ``.grpo``,
``.eval``); nothing is downloaded.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from trl_dsm.demo.corpus import generate_web_pages
from trl_dsm.demo.problems import Problem, generate_problems, split_problems


logger = logging.getLogger(__name__)

#: RL arms (§5.2.1) by ``DemoConfig.arms`` name, and the stage each one reports as.
ARM_STAGES = {
    "rft": "rft",  # offline: correct samples of the SFT model, then SFT
    "online_rft": "online_rft",  # coefficient 1 for a correct sample of the current policy, 0 otherwise
    "outcome": "grpo_outcome",  # GRPO, outcome supervision (rule reward)
    "process": "grpo_process",  # GRPO, process supervision (rule step reward + the final answer)
    "process_prm": "grpo_process_prm",  # GRPO, process supervision by a learned step reward model, one pass
    "iterative": "grpo_iterative",  # the same, iterative (§4.1.4): reference reset, the PRM retrained
}
ARMS = tuple(ARM_STAGES)
#: Arms scored by the learned step reward model (trained once per run on the SFT model's samples).
PRM_ARMS = ("process_prm", "iterative")


@dataclass
class DemoConfig:
    """Sizes and hyperparameters of the miniature run; the defaults take about 11 minutes on 2 CPU cores
    (628 s measured for one seed alone, docs/demo.md; the issue's budget is 15)."""

    output_dir: str = "trl-dsm-demo"
    seed: int = 0
    smoke_test: bool = False  # set by DemoConfig.quick(): toy sizes whose numbers mean nothing (the report says so)
    study_run: bool = False  # set by DemoConfig.study(): the §5.2 comparisons in the scarce-demonstration regime
    web_docs: str | None = None  # JSONL of real pages (url, text) mixed into the generated crawl
    # an earlier run's output directory (same data and model settings): its tokenizer, SFT model and pretrained / SFT
    # evaluations are reused, mining, pretraining and SFT skipped; runs the selected arms (e.g. several processes
    # side by side, each with its own arms, merged by trl_dsm.demo.report.merge_results)
    resume_from: str | None = None
    # problems (a held-out set never seen in mining, pretraining, SFT or RL)
    n_problems: int = 12000
    n_heldout: int = 500
    n_pretrain_problems: int = 6000
    n_sft_problems: int = 1000
    n_rl_problems: int = 0  # questions with final answers only for RL / RFT (0: every training problem left)
    demo_max_steps: int = 0  # worked solutions (pretraining, SFT) only of problems with at most this many operations
    min_steps: int = 2
    max_steps: int = 3
    max_value: int = 40
    max_operand: int = 10
    max_factor: int = 12
    # crawl and mining
    n_math_pages: int = 300
    n_other_pages: int = 600
    n_contaminated: int = 8
    mining_iterations: int = 2
    classifier_epochs: int = 3  # §2.1's fastText setting (dim 256, lr 0.1, word 3-grams, min count 3 kept too)
    # tokenizer and model (a 4-layer Llama, ~0.9M parameters)
    vocab_size: int = 512
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 4
    block_size: int = 128
    # pretraining
    pretrain_steps: int = 1300
    pretrain_batch_size: int = 16
    pretrain_lr: float = 3e-3
    pretrain_warmup_steps: int = 50  # §2.2.1 warms up 2000 steps of a long run; the 0.8/0.9 drops are kept
    corpus_weight: float = 0.3  # share of pretraining tokens from the mined corpus (the rest: worked problems)
    # SFT
    sft_steps: int = 300
    sft_batch_size: int = 16
    sft_lr: float = 1e-3
    sft_scheduler: str = "constant"  # see docs/demo.md: with cosine the SFT model converges and GRPO stalls
    sft_warmup_steps: int = 0
    # GRPO
    arms: tuple[str, ...] = ("outcome", "process")  # any of ARMS; DemoConfig.study() runs them all
    grpo_steps: int = 150
    grpo_prompts_per_step: int = 8
    num_generations: int = 8  # G; §4.2 samples 64 per question, too many for one CPU
    grpo_lr: float = 5e-5  # §4.2 uses 1e-6 for the 7B policy; 2e-4 broke some seeds (docs/demo.md)
    grpo_warmup_steps: int = 0  # steps of linear warmup of the RL learning rate (0: none)
    beta: float = 0.04  # the KL coefficient of §4.2
    # The control RL must beat (§5.2.1 sets RL beside SFT-based methods): SFT continued from the SFT model at the RL
    # learning rate for as many steps as GRPO runs, on batches of sft_batch_size demonstrations.
    sft_control: bool = True
    # The learned step reward model of the process_prm and iterative arms (a copy of the SFT model trained as a
    # Math-Shepherd step-tag PRM on prm_samples samples of the SFT model, each step labelled by prm_rollouts rollouts)
    prm_samples: int = 128
    prm_rollouts: int = 4
    prm_steps: int = 60
    prm_lr: float = 1e-3
    prm_batch_size: int = 8
    iterations: int = 2  # iterative arm: reference reset and PRM retraining every grpo_steps // iterations steps
    prm_update_steps: int = 20  # iterative arm: PRM optimizer steps per retraining (10% replay, §4.1.4)
    max_completion_length: int = 48
    temperature: float = 0.7  # sampling temperature of the RL rollouts
    # evaluation
    eval_samples: int = 8
    eval_temperature: float = 0.7  # DeepSeekMath's sampling temperature for maj@k
    threads: int = 0  # torch threads (0: torch default, all cores); use 1 per run when runs share the machine
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked here, not minutes later when the stage that reads the field starts.
        self.arms = tuple(self.arms)
        if not self.arms or not set(self.arms) <= set(ARMS) or len(set(self.arms)) != len(self.arms):
            raise ValueError(f"DemoConfig.arms: a non-empty selection of {ARMS} without repeats, got {self.arms!r}")
        from transformers.trainer_utils import SchedulerType

        schedulers = [s.value for s in SchedulerType]
        if self.sft_scheduler not in schedulers:
            raise ValueError(f"DemoConfig.sft_scheduler: one of {schedulers}, got {self.sft_scheduler!r}")
        positive = (
            "n_problems", "n_heldout", "n_pretrain_problems", "n_sft_problems", "min_steps", "vocab_size",
            "hidden_size", "num_layers", "num_heads", "block_size", "pretrain_steps", "pretrain_batch_size",
            "sft_steps", "sft_batch_size", "grpo_steps", "grpo_prompts_per_step", "num_generations",
            "max_completion_length", "eval_samples", "intermediate_size", "max_value", "max_operand", "max_factor",
            "prm_samples", "prm_rollouts", "prm_steps", "prm_batch_size", "iterations", "prm_update_steps",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"DemoConfig.{name}: a positive integer, got {value!r}")
        for name in ("n_math_pages", "n_other_pages", "n_contaminated", "pretrain_warmup_steps", "sft_warmup_steps",
                     "grpo_warmup_steps", "threads", "n_rl_problems", "demo_max_steps"):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"DemoConfig.{name}: a non-negative integer, got {value!r}")
        for name in ("pretrain_lr", "sft_lr", "grpo_lr", "temperature", "eval_temperature", "prm_lr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
                raise ValueError(f"DemoConfig.{name}: a positive number, got {value!r}")
        if isinstance(self.beta, bool) or not isinstance(self.beta, int | float) or not 0 <= self.beta < float("inf"):
            raise ValueError(f"DemoConfig.beta: a non-negative number, got {self.beta!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"DemoConfig.hidden_size ({self.hidden_size}) must be a multiple of num_heads ({self.num_heads})"
            )
        if self.max_steps < self.min_steps:
            raise ValueError(f"DemoConfig.max_steps ({self.max_steps}) < min_steps ({self.min_steps})")
        if self.num_generations < 2:
            raise ValueError("DemoConfig.num_generations: GRPO needs at least 2 completions per group")
        if self.demo_max_steps and not self.min_steps <= self.demo_max_steps:
            raise ValueError(f"DemoConfig.demo_max_steps ({self.demo_max_steps}) < min_steps ({self.min_steps})")
        if "iterative" in self.arms and self.grpo_steps < self.iterations:
            raise ValueError(f"DemoConfig.grpo_steps ({self.grpo_steps}) < iterations ({self.iterations})")
        if not 0.0 < self.corpus_weight < 1.0:
            raise ValueError(f"DemoConfig.corpus_weight: a share strictly between 0 and 1, got {self.corpus_weight}")

    @property
    def kind(self) -> str:
        """``quick``, ``study`` or ``default``."""
        return "quick" if self.smoke_test else "study" if self.study_run else "default"

    @classmethod
    def quick(cls, **overrides) -> DemoConfig:
        """A run of about a minute for tests: everything tiny, the same code paths."""
        values = dict(
            smoke_test=True, n_problems=900, n_heldout=40, n_pretrain_problems=300, n_sft_problems=100, n_math_pages=40,
            n_other_pages=60, n_contaminated=3, mining_iterations=1, classifier_epochs=20, hidden_size=32,
            intermediate_size=64,
            num_layers=2, num_heads=2, vocab_size=300, pretrain_steps=20, sft_steps=10, grpo_steps=2,
            grpo_prompts_per_step=2, num_generations=4, max_completion_length=24, eval_samples=4, prm_samples=8,
            prm_rollouts=2, prm_steps=2, prm_update_steps=1, iterations=2,
        )  # fmt: skip
        values.update(overrides)
        return cls(**values)

    @classmethod
    def study(cls, **overrides) -> DemoConfig:
        """The §5.2 comparisons where RL has something SFT lacks: 300 worked solutions (2-3 operations) for SFT,
        4000 questions with final answers only (2-4 operations) for RL and RFT, held-out problems with 2-4
        operations (a third need one more step than any worked solution, in pretraining or SFT). SFT is annealed
        (cosine) to convergence on its demonstrations; every arm runs from it (docs/demo.md)."""
        values = dict(
            study_run=True, output_dir="trl-dsm-study", arms=ARMS, n_problems=16000, max_steps=4, demo_max_steps=3,
            n_sft_problems=300, n_rl_problems=4000, sft_steps=200, sft_scheduler="cosine", max_completion_length=64,
        )  # fmt: skip
        values.update(overrides)
        return cls(**values)


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
        logging_steps=10, disable_tqdm=True, dataloader_num_workers=0,
        gradient_checkpointing=False,  # TRL turns it on by default; a tiny model only pays its recomputation
    )  # fmt: skip


def pretrain(cfg: DemoConfig, corpus, splits, tokenizer, workdir: Path):
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
    trainer = PretrainTrainer(model=model, args=args, train_dataset=blocks, data_collator=collate_blocks)
    trainer.train()
    return trainer.model, _losses(trainer.state.log_history), len(blocks)


def _losses(history: list[dict]) -> list[tuple[int, float]]:
    return [(h["step"], float(h["loss"])) for h in history if "loss" in h]


# -- 3. SFT ---------------------------------------------------------------------------------------------------------
def _chat_prompt(problem: Problem) -> list[dict]:
    return [{"role": "user", "content": problem.question}]


def sft(cfg: DemoConfig, model, splits, tokenizer, workdir: Path, name: str = "sft"):
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
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
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


# -- 4. RL arms (§4, §5.2.1) -----------------------------------------------------------------------------------------
def _rl_rows(problems: list[Problem]) -> list[dict]:
    """Questions with final answers only: what RL, RFT and Online RFT learn from (no worked solution)."""
    return [{"prompt": _chat_prompt(p), "answer": str(p.answer)} for p in problems]


def rft(cfg: DemoConfig, sft_dir: Path, splits, tokenizer, workdir: Path):
    """RFT (§5.2.1, offline): ``num_generations`` samples of the SFT model for each of the ``grpo_steps x
    grpo_prompts_per_step`` questions GRPO sees, the distinct correct ones kept (``trl_dsm.grpo.rft.rft_dataset``),
    then SFT on them with the control's schedule (RL learning rate, ``grpo_steps`` steps of ``sft_batch_size``)."""
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from trl_dsm.eval.generation import HFGenerator
    from trl_dsm.grpo.rft import rft_dataset

    model = AutoModelForCausalLM.from_pretrained(sft_dir)
    questions = splits["rl"][: cfg.grpo_steps * cfg.grpo_prompts_per_step]
    generator = HFGenerator(model, tokenizer, max_new_tokens=cfg.max_completion_length, batch_size=64, seed=cfg.seed)
    data = rft_dataset(generator, _rl_rows(questions), tokenizer=tokenizer, k=cfg.num_generations,
                       temperature=cfg.temperature)  # fmt: skip
    stats = {"questions": len(questions), "samples": len(questions) * cfg.num_generations, "kept": len(data),
             "solved_questions": len({str(r) for r in data["prompt"]}) if len(data) else 0}  # fmt: skip
    if not len(data):  # every gradient coefficient is 0: RFT leaves the SFT model as it is
        logger.warning("RFT: no correct sample among %d; the RFT arm is the SFT model", stats["samples"])
        return model, {"loss": [], **stats}
    args = SFTConfig(
        **_common_args(cfg, workdir / "rft"), max_steps=cfg.grpo_steps, per_device_train_batch_size=cfg.sft_batch_size,
        learning_rate=cfg.grpo_lr, lr_scheduler_type="constant_with_warmup", warmup_steps=cfg.grpo_warmup_steps,
        completion_only_loss=True, max_length=256,
    )  # fmt: skip
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=data.select_columns(["prompt", "completion"]), processing_class=tokenizer
    )
    trainer.train()
    return trainer.model, {"loss": _losses(trainer.state.log_history), **stats}


PRM_STEP_TAG, PRM_GOOD, PRM_BAD = " ки", "+", "-"  # Math-Shepherd's step tag and labels


def train_prm(cfg: DemoConfig, sft_dir: Path, splits, tokenizer, workdir: Path) -> tuple[Path, dict]:
    """The learned step reward model (§4.1.3, Math-Shepherd): a copy of the SFT model trained to predict, at a step
    tag after each step, whether that step can still reach the gold answer (hard estimation: any of ``prm_rollouts``
    rollouts of the SFT model from it does). Trained on ``prm_samples`` samples of the SFT model on RL questions
    that no GRPO arm sees first (the last ones); saved to ``workdir/prm-model``."""
    from transformers import AutoModelForCausalLM, TrainingArguments

    from trl_dsm.eval.generation import HFGenerator
    from trl_dsm.grpo import ProcessRewardModel
    from trl_dsm.grpo.reward_models import ProcessRewardTrainer, build_prm_dataset, hf_rollout
    from trl_dsm.grpo.rft import _render

    policy = AutoModelForCausalLM.from_pretrained(sft_dir)
    n_questions = max(1, cfg.prm_samples // cfg.num_generations)
    questions = splits["rl"][-n_questions:]
    prompts = [_render(_chat_prompt(p), tokenizer) for p in questions]
    generator = HFGenerator(policy, tokenizer, max_new_tokens=cfg.max_completion_length, batch_size=64,
                            seed=cfg.seed + 1)  # fmt: skip
    samples = generator.generate(prompts, n=cfg.num_generations, temperature=cfg.temperature)
    records = [{"prompt": prompt, "completion": c, "gold": str(p.answer)}
               for prompt, p, group in zip(prompts, questions, samples) for c in group]  # fmt: skip
    policy.eval()
    rollout = hf_rollout(policy, tokenizer, max_new_tokens=cfg.max_completion_length, temperature=cfg.temperature,
                         batch_size=64)  # fmt: skip
    data = build_prm_dataset(records, rollout, num_rollouts=cfg.prm_rollouts)
    model = AutoModelForCausalLM.from_pretrained(sft_dir)
    prm = ProcessRewardModel(model, tokenizer, step_tag=PRM_STEP_TAG, good_token=PRM_GOOD, bad_token=PRM_BAD,
                             max_length=256)  # fmt: skip
    args = TrainingArguments(
        **_common_args(cfg, workdir / "prm"), max_steps=cfg.prm_steps, per_device_train_batch_size=cfg.prm_batch_size,
        learning_rate=cfg.prm_lr, lr_scheduler_type="cosine",
    )  # fmt: skip
    trainer = ProcessRewardTrainer(prm, args=args, train_dataset=data)
    trainer.train()
    path = workdir / "prm-model"
    trainer.model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    labels = [x for r in data["labels"] for x in r]
    stats = {"records": len(data), "steps": len(labels), "good_steps": sum(labels),
             "loss": _losses(trainer.state.log_history)}  # fmt: skip
    return path, stats


def grpo(cfg: DemoConfig, arm: str, sft_dir: Path, splits, tokenizer, workdir: Path, prm_dir: Path | None = None):
    """One online arm from the SFT model (§4, §5.2.1): ``online_rft``, GRPO ``outcome`` or ``process`` (the rule
    step reward with the final answer), ``process_prm`` (the learned step reward model at ``prm_dir``) or
    ``iterative`` (the same, ``iterations`` iterations: the reference reset to the policy and the PRM retrained on
    fresh samples with 10% replay at each iteration's end, §4.1.4)."""
    from datasets import Dataset

    from trl_dsm.grpo import GRPOMathConfig, GRPOMathTrainer, arithmetic_step_reward, with_final_answer_reward
    from trl_dsm.rewards import math_accuracy_reward

    if arm not in ARMS or arm == "rft":
        raise ValueError(f"grpo(): an online arm of {ARMS[1:]}, got {arm!r}")
    process = arm in ("process", *PRM_ARMS)
    extra: dict[str, Any] = {}
    if arm in PRM_ARMS:
        if prm_dir is None:
            raise ValueError(f"the {arm} arm needs the learned step reward model (prm_dir)")
        extra.update(process_reward_model=str(prm_dir), prm_step_tag=PRM_STEP_TAG, prm_good_token=PRM_GOOD,
                     prm_bad_token=PRM_BAD)  # fmt: skip
    if arm == "iterative":
        extra.update(
            iteration_steps=cfg.grpo_steps // cfg.iterations, reward_model_update_steps=cfg.prm_update_steps,
            reward_model_learning_rate=cfg.prm_lr, reward_model_batch_size=cfg.prm_batch_size,
            reward_model_samples_per_iteration=cfg.prm_samples, math_shepherd_rollouts=cfg.prm_rollouts,
            reward_model_replay_ratio=0.1,
        )  # fmt: skip
    if arm == "online_rft":
        extra["advantage_estimator"] = "online_rft"  # beta left unset: 0, the paper's Online RFT has no KL term
    else:
        extra["beta"] = cfg.beta
    args = GRPOMathConfig(
        **_common_args(cfg, workdir / f"grpo-{arm}"), max_steps=cfg.grpo_steps,
        per_device_train_batch_size=cfg.grpo_prompts_per_step * cfg.num_generations,
        num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
        learning_rate=cfg.grpo_lr, temperature=cfg.temperature, lr_scheduler_type="constant_with_warmup",
        warmup_steps=cfg.grpo_warmup_steps, supervision="process" if process else "outcome", step_separator="\n",
        **extra,
    )  # fmt: skip
    args.logging_steps = 1
    trainer = GRPOMathTrainer(
        model=str(sft_dir), reward_funcs=[math_accuracy_reward], args=args,
        train_dataset=Dataset.from_list(_rl_rows(splits["rl"])), processing_class=tokenizer,
        # every "a op b = c" line checked; the last line ("The answer is N.") scored by the final answer
        process_reward_func=with_final_answer_reward(arithmetic_step_reward) if arm == "process" else None,
    )  # fmt: skip
    trainer.train()
    curve = [
        (h["step"], float(h["reward"]), float(h.get(f"pass@{cfg.num_generations}", "nan")))
        for h in trainer.state.log_history
        if "reward" in h
    ]
    return trainer.model, curve


# -- 5. evaluation ---------------------------------------------------------------------------------------------------
def evaluate(cfg: DemoConfig, model, tokenizer, problems: list[Problem]) -> dict:
    from trl_dsm.eval import EvalConfig, evaluate_model

    records = [{"prompt": _chat_prompt(p), "answer": str(p.answer)} for p in problems]
    config = EvalConfig(
        mode="cot", num_samples=cfg.eval_samples, temperature=cfg.eval_temperature, top_p=1.0, greedy=True,
        max_new_tokens=cfg.max_completion_length, batch_size=64, chat_template=True, fallback="last_number",
        seed=cfg.seed,
    )  # fmt: skip
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


# -- the whole run ------------------------------------------------------------------------------------------------------
def run_demo(cfg: DemoConfig) -> dict:
    """Run the five stages; write ``results.json``, ``report.md`` and plots to ``cfg.output_dir``."""
    import torch

    from trl_dsm.demo.report import write_report

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    timings: dict[str, float] = {}
    results: dict[str, Any] = {"config": asdict(cfg)}

    start = time.perf_counter()
    total, expected = expected_seconds(cfg)
    if total:
        print(f"[trl-dsm demo] {cfg.kind} configuration: about {total / 60:.0f} minutes (measured on the 2-core dev "
              "machine, docs/demo.md)", flush=True)  # fmt: skip

    def stage(name: str, fn, *args):
        tic = time.perf_counter()
        logger.info("stage %s", name)
        # every finished stage's record is on disk, so a run stopped midway keeps what it measured
        (out / "results.partial.json").write_text(json.dumps(_json_safe({**results, "timings": timings}), indent=2))
        print(f"[trl-dsm demo] {name} ... (elapsed {tic - start:.0f} s)", flush=True)
        value = fn(*args)
        timings[name] = round(time.perf_counter() - tic, 1)
        guess = f" (expected ~{expected[name]:.0f} s)" if name in expected else ""
        of = f" of ~{total:.0f} s expected" if total else ""
        print(f"[trl-dsm demo] {name}: {timings[name]:.0f} s{guess}; elapsed {time.perf_counter() - start:.0f} s{of}",
              flush=True)  # fmt: skip
        return value

    splits = make_problem_splits(cfg)
    results["splits"] = {
        name: {"problems": len(problems), "by_operations": _count_steps(problems)} for name, problems in splits.items()
    }
    if cfg.resume_from:
        tokenizer, sft_dir = _resume(cfg, results)
    else:
        corpus, results["mining"] = stage("mining + decontamination", mine_corpus, cfg, splits, out)
        tokenizer = stage(
            "tokenizer", build_tokenizer, list(corpus["text"]) + [_problem_text(p) for p in splits["pretrain"]],
            cfg.vocab_size,
        )  # fmt: skip
        model, results["pretrain_loss"], results["pretrain_blocks"] = stage(
            "pretraining", pretrain, cfg, corpus, splits, tokenizer, out
        )
        model.save_pretrained(out / "pretrained-model")
        tokenizer.save_pretrained(out / "pretrained-model")
        results["eval"] = {"pretrained": stage("eval pretrained", evaluate, cfg, model, tokenizer, splits["heldout"])}
        model, results["sft_loss"] = stage("sft", sft, cfg, model, splits, tokenizer, out)
        sft_dir = out / "sft-model"
        model.save_pretrained(sft_dir)
        tokenizer.save_pretrained(sft_dir)
        results["eval"]["sft"] = stage("eval sft", evaluate, cfg, model, tokenizer, splits["heldout"])
        del model
    if cfg.sft_control:
        control, results["sft_continued_loss"] = stage(
            "sft continued", sft_continued, cfg, sft_dir, splits, tokenizer, out
        )
        results["eval"]["sft_continued"] = stage(
            "eval sft continued", evaluate, cfg, control, tokenizer, splits["heldout"]
        )
        del control
    results["reward_curves"] = {}
    prm_dir = None
    for arm in cfg.arms:
        name = ARM_STAGES[arm]
        if arm in PRM_ARMS and prm_dir is None:  # trained once, before the first arm that scores with it
            prm_dir, results["prm"] = stage("step reward model", train_prm, cfg, sft_dir, splits, tokenizer, out)
        if arm == "rft":
            rl_model, results["rft"] = stage("rft", rft, cfg, sft_dir, splits, tokenizer, out)
        else:
            rl_model, results["reward_curves"][arm] = stage(
                name.replace("_", " "), grpo, cfg, arm, sft_dir, splits, tokenizer, out, prm_dir
            )
        results["eval"][name] = stage(f"eval {name}", evaluate, cfg, rl_model, tokenizer, splits["heldout"])
        del rl_model
    results["timings"] = timings
    results["total_seconds"] = round(sum(timings.values()), 1)
    (out / "results.json").write_text(json.dumps(_json_safe(results), indent=2))
    write_report(results, out)
    return results


#: Fields that may differ between a run and the earlier run it resumes from (``DemoConfig.resume_from``).
_RESUMABLE = ("output_dir", "resume_from", "arms", "sft_control", "threads")


def _resume(cfg: DemoConfig, results: dict) -> tuple[Any, Path]:
    """The tokenizer and SFT model directory of the run at ``cfg.resume_from``, its records copied into ``results``;
    refused when the two configurations differ beyond the arms, the control and the thread count."""
    from transformers import AutoTokenizer

    prev = Path(cfg.resume_from)
    found = [prev / name for name in ("results.json", "results.partial.json") if (prev / name).is_file()]
    if not found or not (prev / "sft-model").is_dir():
        raise ValueError(f"resume_from={prev}: no results.json (or results.partial.json) and sft-model/ there")
    earlier = json.loads(found[0].read_text())
    if "sft" not in earlier.get("eval", {}):
        raise ValueError(f"resume_from={prev}: that run has not finished SFT")
    mine = {k: v for k, v in _json_safe(asdict(cfg)).items() if k not in _RESUMABLE}
    theirs = {k: v for k, v in earlier["config"].items() if k not in _RESUMABLE}
    differ = sorted(k for k in mine if mine[k] != theirs.get(k))
    if differ:
        raise ValueError(f"resume_from={prev}: its configuration differs in {differ}")
    for key in ("mining", "pretrain_loss", "pretrain_blocks", "sft_loss"):
        if key in earlier:
            results[key] = earlier[key]
    results["eval"] = {k: earlier["eval"][k] for k in ("pretrained", "sft")}
    results["resumed_from"] = str(prev)
    return AutoTokenizer.from_pretrained(prev / "sft-model"), prev / "sft-model"


def _count_steps(problems: list[Problem]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in problems:
        counts[str(p.steps)] = counts.get(str(p.steps), 0) + 1
    return dict(sorted(counts.items()))


#: Seconds measured on the 2-core dev machine (docs/demo.md: the default with 2 torch threads alone, the study with
#: 1 thread beside other users' jobs), for the progress lines: the whole run, and each stage where it was recorded.
#: Only the unmodified default and study configurations have them.
EXPECTED_TOTAL_SECONDS: dict[str, float] = {"default": 628.0, "study": 5100.0}  # study: measured + PRM arms estimated
EXPECTED_SECONDS: dict[str, dict[str, float]] = {
    "default": {},
    "study": {
        "mining + decontamination": 9, "tokenizer": 1, "pretraining": 324, "eval pretrained": 72, "sft": 42,
        "eval sft": 40, "sft continued": 39, "eval sft continued": 80, "rft": 350, "eval rft": 153, "online rft": 496,
        "eval online_rft": 70, "grpo outcome": 609, "eval grpo_outcome": 50, "grpo process": 709,
        "eval grpo_process": 105, "step reward model": 147,
    },
}  # fmt: skip


def expected_seconds(cfg: DemoConfig) -> tuple[float, dict[str, float]]:
    """(total, per stage) measured seconds for ``cfg`` when it is the default or the study configuration, with any
    seed, output directory, web pages or thread count; (0, {}) otherwise."""
    if cfg.smoke_test:
        return 0.0, {}
    reference = DemoConfig.study() if cfg.study_run else DemoConfig()
    same = replace(cfg, output_dir=reference.output_dir, seed=0, web_docs=None, threads=0)
    if same != reference:
        return 0.0, {}
    return EXPECTED_TOTAL_SECONDS[cfg.kind], dict(EXPECTED_SECONDS[cfg.kind])


def config_for(quick: bool, study: bool = False, **overrides) -> DemoConfig:
    if quick and study:
        return DemoConfig.quick(study_run=True, arms=ARMS, **overrides)
    if quick:
        return DemoConfig.quick(**overrides)
    return DemoConfig.study(**overrides) if study else replace(DemoConfig(), **overrides)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    run_demo(DemoConfig())
