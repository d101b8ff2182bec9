# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Write a tiny Qwen2 model and a byte-level BPE tokenizer (trained on GSM8K text) to OUT, with no Hub access and
without importing trl_dsm or tests/: the wheel smoke test runs it in the wheel's environment.

    python .ci/build_tiny_model.py OUT SHARED_DATA
"""

import json
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM


def main() -> None:
    out, shared = Path(sys.argv[1]), Path(sys.argv[2])
    rows = [json.loads(line) for line in (shared / "benchmarks/gsm8k/train.jsonl").open()][:400]
    texts = [r["question"] + "\n" + r["answer"] for r in rows]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|pad|>", "<|eos|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|eos|>")
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True,
    )  # fmt: skip
    Qwen2ForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    main()
