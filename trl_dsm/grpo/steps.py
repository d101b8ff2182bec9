# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Reasoning steps of a completion for process supervision (DeepSeekMath §4.1.3): exact step text and, for each
step, the index of the token that ends it.

The completion is decoded once (special tokens skipped) and every token is given the character offset up to which
the completion's text is known once that token is read (:func:`token_end_offsets`). With a byte-level BPE a
character such as ``因`` or ``√`` can span several tokens: it is counted at the token that completes it, so the
offsets never cut a character and the step strings are slices of the decoded completion, never garbled bytes.

Steps (:func:`split_completion`): the text is cut right after each occurrence of the separator (default
``"\\n"``); a piece with nothing but whitespace joins the step before it (blank lines, trailing newlines and a
final special token such as EOS belong to the last step). A step ends at the token that completes its last
character; the last step ends at the completion's last token.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence
from typing import Any


_REPLACEMENT = "\ufffd"


def _decoder(tokenizer: Any):
    """``ids -> text`` with special tokens skipped: the Rust backend of a fast tokenizer when there is one (three
    times faster per call), else ``tokenizer.decode``. Callers check the result against ``tokenizer.decode``."""
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "decode"):
        return lambda ids: backend.decode(list(ids), skip_special_tokens=True)
    return lambda ids: tokenizer.decode(list(ids), skip_special_tokens=True)


def _incremental_pieces(ids: Sequence[int], decode) -> list[str]:
    """The text each token adds, decoding a short window around it (the incremental detokenization of vLLM and
    TGI): a token that leaves a character incomplete adds ``""`` and the token completing it adds the character."""
    pieces, prefix, read = [], 0, 0
    for i in range(len(ids)):
        prefix_text = decode(ids[prefix:read]) if read > prefix else ""
        new_text = decode(ids[prefix : i + 1])
        if len(new_text) > len(prefix_text) and not new_text.endswith(_REPLACEMENT):
            pieces.append(new_text[len(prefix_text) :])
            prefix, read = read, i + 1
        else:
            pieces.append("")
    return pieces


def _prefix_offsets(ids: Sequence[int], text: str, tokenizer: Any) -> list[int]:
    """Exact by definition, quadratic: for each token, the longest prefix of ``text`` that the completion's tokens
    up to it decode to (trailing incomplete characters dropped). The fallback for decoders whose output is not
    local (e.g. clean-up of tokenization spaces)."""
    prefixes = tokenizer.batch_decode([list(ids[: i + 1]) for i in range(len(ids))], skip_special_tokens=True)
    offsets, best = [], 0
    for prefix in prefixes:
        prefix = prefix.rstrip(_REPLACEMENT)
        if text.startswith(prefix):
            best = max(best, len(prefix))
        else:  # longest common prefix, by bisection on startswith (C speed)
            lo, hi = 0, min(len(prefix), len(text))
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if text.startswith(prefix[:mid]) else (lo, mid - 1)
            best = max(best, lo)
        offsets.append(best)
    return offsets


def token_end_offsets(
    token_ids: Sequence[int], tokenizer: Any, cache: MutableMapping[int, str] | None = None
) -> tuple[str, list[int]]:
    """The decoded completion (``tokenizer.decode(token_ids, skip_special_tokens=True)``) and, for each token, the
    number of its characters known once that token is read (non-decreasing; the last equals ``len(text)``).

    ``cache`` (token id -> its text alone) makes the common case one dictionary lookup per token: when every
    token decodes to whole characters on its own and their concatenation is the text, those are the offsets.
    Otherwise the text of each token comes from incremental decoding, and if that still does not reproduce the
    text (a decoder that is not local) from decoding every prefix.
    """
    ids = list(token_ids)
    text = tokenizer.decode(ids, skip_special_tokens=True)
    if not ids:
        return text, []
    decode = _decoder(tokenizer)
    if cache is not None:
        pieces = []
        for t in ids:
            piece = cache.get(t)
            if piece is None:
                piece = cache[t] = decode([t])
            pieces.append(piece)
        if _REPLACEMENT not in "".join(pieces) and "".join(pieces) == text:
            return text, _cumulative(pieces)
    pieces = _incremental_pieces(ids, decode)
    if "".join(pieces) == text:
        return text, _cumulative(pieces)
    offsets = _prefix_offsets(ids, text, tokenizer)
    offsets[-1] = len(text)
    return text, offsets


def _cumulative(pieces: Sequence[str]) -> list[int]:
    out, total = [], 0
    for piece in pieces:
        total += len(piece)
        out.append(total)
    return out


def step_boundaries(text: str, separator: str = "\n") -> list[int]:
    """Character positions where the steps of ``text`` end (exclusive; the last is ``len(text)``): right after each
    occurrence of ``separator``, a whitespace-only piece joining the step before it.

    >>> step_boundaries("3 + 4 = 7\\n\\nSo 7.\\n")
    [11, 17]
    """
    if not separator:
        raise ValueError("the step separator must be a non-empty string")
    bounds: list[int] = []
    last = 0
    for match in re.finditer(re.escape(separator), text):
        end = match.end()
        if text[last:end].strip():
            bounds.append(end)
        elif bounds:
            bounds[-1] = end
        last = end
    if text[last:].strip() or not bounds:
        bounds.append(len(text))
    else:
        bounds[-1] = len(text)
    return bounds


def split_completion(
    token_ids: Sequence[int], tokenizer: Any, separator: str = "\n", cache: MutableMapping[int, str] | None = None
) -> tuple[list[int], list[str]]:
    """The steps of one completion: ``(ends, texts)`` with ``ends[k]`` the index (in ``token_ids``) of the token
    that ends step ``k`` and ``texts[k]`` its text, a slice of the decoded completion with surrounding whitespace
    stripped. A token that completes characters on both sides of a boundary ends the earlier step. No tokens: no
    steps. For the ids of ``"因为 3 + 4 = 7\\n所以答案是 7。<eos>"``: ``([k, n - 1], ["因为 3 + 4 = 7", "所以答案是 7。"])``
    with ``k`` the token holding the newline, whatever bytes of ``因`` or ``所`` the tokens split.
    """
    ids = list(token_ids)
    if not ids:
        return [], []
    text, offsets = token_end_offsets(ids, tokenizer, cache)
    bounds = step_boundaries(text, separator)
    ends: list[int] = []
    kept: list[int] = []
    token = 0
    for bound in bounds[:-1]:
        while offsets[token] < bound:
            token += 1
        if ends and ends[-1] == token:  # two boundaries completed by one token: one step
            kept[-1] = bound
            continue
        ends.append(token)
        kept.append(bound)
    if ends and ends[-1] == len(ids) - 1:  # the last token completed the last boundary: merge the tail into it
        ends.pop()
        kept.pop()
    ends.append(len(ids) - 1)
    kept.append(len(text))
    texts, start = [], 0
    for bound in kept:
        texts.append(text[start:bound].strip())
        start = bound
    return ends, texts
