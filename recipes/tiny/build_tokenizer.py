# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Rebuild recipes/tiny/tokenizer/: a 1,024-token byte-level BPE trained on the MATH and GSM8K training solutions of
../shared/data, so the tiny recipes run offline (no Hub tokenizer). Deterministic for the same data.

    python recipes/tiny/build_tokenizer.py [--data ../shared/data] [--out recipes/tiny/tokenizer]
"""

import argparse
import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast


def main() -> None:
    """Train the tiny byte-level BPE tokenizer on the shared data and save it to ``--out`` (offline)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default=str(Path(__file__).parent / "tokenizer"))
    args = parser.parse_args()
    data = Path(args.data) / "benchmarks"
    texts = [json.loads(line)["solution"] for line in (data / "math/train.jsonl").open()]
    texts += [
        json.loads(line)["question"] + "\n" + json.loads(line)["answer"]
        for line in (data / "gsm8k/train.jsonl").open()
    ]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<|pad|>"]
    trainer = trainers.BpeTrainer(vocab_size=1024, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=specials[0], eos_token=specials[1],
                                   pad_token=specials[2])  # fmt: skip
    fast.save_pretrained(args.out)
    print(f"{len(fast)} tokens written to {args.out}")


if __name__ == "__main__":
    main()
