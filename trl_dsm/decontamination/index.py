# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The benchmark n-gram index: sorted ``uint64`` hashes with the benchmark text each came from.

Memory: 8 bytes per n-gram hash plus 4 for its text id; the full benchmark list (about 1.3M distinct
10-grams) takes about 15 MB. Look-ups are one ``np.searchsorted`` over a whole batch of documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trl_dsm.benchmarks import BenchmarkText
from trl_dsm.decontamination.ngrams import (
    MIN_EXACT_GRAMS,
    NGRAM_SIZE,
    is_informative,
    ngram_hashes,
    sequence_hash,
    tokenize,
)


#: Bits of the look-up prefilter (2 MiB): about 5% of absent hashes pass it for a 1M-entry index.
_BITMAP_BITS = 1 << 24


@dataclass
class NgramIndex:
    """Hashed n-grams (and short exact texts) of benchmark questions and answers."""

    n: int
    min_exact: int
    vocab: dict[str, int]
    ngram_keys: np.ndarray  # sorted unique uint64 hashes of every n-gram of every long-enough text
    ngram_text: np.ndarray  # int32, the (first) text each key came from
    exact_keys: np.ndarray  # sorted uint64 hashes of whole texts with min_exact <= grams < n
    exact_text: np.ndarray
    sources: list[tuple[str, str, str]]  # text id -> (benchmark, item id, field)

    @classmethod
    def build(
        cls, texts: Sequence[BenchmarkText], n: int = NGRAM_SIZE, min_exact: int = MIN_EXACT_GRAMS
    ) -> NgramIndex:
        """Index ``texts`` (§2.1): every ``n``-gram (10 in the paper) of texts of at least ``n`` grams, and the whole
        text of shorter ones with at least ``min_exact`` (3) grams, matched exactly.

        >>> from trl_dsm.benchmarks import BenchmarkText
        >>> q = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning."
        >>> texts = [BenchmarkText("gsm8k", "0", "question", q), BenchmarkText("gsm8k", "0", "answer", "9 duck eggs")]
        >>> stats = NgramIndex.build(texts).stats()
        >>> stats["ngram_entries"], stats["exact_entries"]
        (6, 1)"""
        if n < 2 or not 1 <= min_exact <= n:
            raise ValueError(f"need n >= 2 and 1 <= min_exact <= n, got n={n}, min_exact={min_exact}")
        vocab: dict[str, int] = {}
        keys, owners, exact, exact_owners = [], [], [], []
        sources = []
        for text_id, text in enumerate(texts):
            sources.append((text.benchmark, text.item_id, text.field))
            tokens = tokenize(text.text)
            ids = np.fromiter((vocab.setdefault(t, len(vocab) + 1) for t in tokens), dtype=np.int64, count=len(tokens))
            if len(ids) >= n:
                h = np.unique(ngram_hashes(ids, n))
                keys.append(h)
                owners.append(np.full(len(h), text_id, dtype=np.int32))

            elif len(ids) >= min_exact:
                exact.append(sequence_hash(ids.tolist()))
                exact_owners.append(text_id)
        ngram_keys, ngram_text = _sorted_unique(keys, owners)
        exact_keys, exact_text = _sorted_unique(
            [np.array(exact, dtype=np.uint64)], [np.array(exact_owners, dtype=np.int32)]
        )
        return cls(n, min_exact, vocab, ngram_keys, ngram_text, exact_keys, exact_text, sources)

    # -- look-ups ---------------------------------------------------------------------------------
    def ids(self, tokens: list[str]) -> list[int]:
        """Vocabulary ids of ``tokens`` (0 for tokens no benchmark text contains)."""
        get = self.vocab.get
        return [get(t, 0) for t in tokens]

    def lookup_ngrams(self, hashes: np.ndarray) -> np.ndarray:
        """Text id of each hash, -1 where the hash is not in the index.

        A bitmap over the hashes' low bits rejects most absent hashes with one memory read each; only the
        rest are binary-searched."""
        bitmap = self._bitmap()
        low = (hashes & np.uint64(_BITMAP_BITS - 1)).astype(np.int64)
        maybe = np.flatnonzero((bitmap[low >> 3] >> (low & 7).astype(np.uint8)) & 1)
        out = np.full(len(hashes), -1, dtype=np.int32)
        if len(maybe):
            out[maybe] = _lookup(self.ngram_keys, self.ngram_text, hashes[maybe])
        return out

    def _bitmap(self) -> np.ndarray:
        cached = self.__dict__.get("_bitmap_cache")
        if cached is None:
            cached = np.zeros(_BITMAP_BITS // 8, dtype=np.uint8)
            low = (self.ngram_keys & np.uint64(_BITMAP_BITS - 1)).astype(np.int64)
            np.bitwise_or.at(cached, low >> 3, (1 << (low & 7)).astype(np.uint8))
            self.__dict__["_bitmap_cache"] = cached
        return cached

    def lookup_exact_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """Text id of each whole-text hash (see :func:`sequence_hash`), -1 where absent."""
        return _lookup(self.exact_keys, self.exact_text, hashes)

    def informative_mask(self) -> np.ndarray:
        """Boolean array over vocabulary ids (0 = unknown): which grams are informative words."""
        mask = np.zeros(len(self.vocab) + 1, dtype=bool)
        for token, i in self.vocab.items():
            mask[i] = is_informative(token)
        return mask

    def lookup_exact(self, ids: list[int]) -> int:
        """Text id of a short benchmark text equal to the whole sequence ``ids``, or -1."""
        if not self.min_exact <= len(ids) < self.n or 0 in ids:
            return -1
        return int(_lookup(self.exact_keys, self.exact_text, np.array([sequence_hash(ids)], dtype=np.uint64))[0])

    # -- bookkeeping --------------------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Bytes held by the hash arrays and the look-up bitmap (the vocabulary is counted by :meth:`stats`)."""
        arrays = (self.ngram_keys, self.ngram_text, self.exact_keys, self.exact_text)
        return sum(a.nbytes for a in arrays) + _BITMAP_BITS // 8

    def stats(self) -> dict:
        """Sizes for reports and cards: n, entries per rule, texts, vocabulary, array megabytes, benchmarks."""
        benchmarks = sorted({b for b, _, _ in self.sources})
        return {
            "n": self.n,
            "ngram_entries": int(len(self.ngram_keys)),
            "exact_entries": int(len(self.exact_keys)),
            "texts": len(self.sources),
            "vocab_size": len(self.vocab),
            "array_megabytes": round(self.nbytes / 2**20, 2),
            "benchmarks": benchmarks,
        }

    def fingerprint(self) -> str:
        """A digest of the index contents (used as the `datasets` fingerprint of the map step)."""
        digest = hashlib.sha256()
        for array in (self.ngram_keys, self.exact_keys):
            digest.update(array.tobytes())
        digest.update(str(self.n).encode())
        return digest.hexdigest()[:16]

    def save(self, directory: str | Path) -> None:
        """Write ``index.npz`` (the hash arrays) and ``index.json`` (n, vocabulary, sources) to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / "index.npz",
            ngram_keys=self.ngram_keys,
            ngram_text=self.ngram_text,
            exact_keys=self.exact_keys,
            exact_text=self.exact_text,
        )
        meta = {"n": self.n, "min_exact": self.min_exact, "vocab": self.vocab, "sources": self.sources}
        (directory / "index.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> NgramIndex:
        """Read an index written by :meth:`save`; a directory without its two files is a ``FileNotFoundError``."""
        directory = Path(directory)
        for name in ("index.npz", "index.json"):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"{directory / name} not found: not a directory written by NgramIndex.save")
        arrays = np.load(directory / "index.npz")
        meta = json.loads((directory / "index.json").read_text(encoding="utf-8"))
        return cls(
            meta["n"],
            meta["min_exact"],
            meta["vocab"],
            arrays["ngram_keys"],
            arrays["ngram_text"],
            arrays["exact_keys"],
            arrays["exact_text"],
            [tuple(s) for s in meta["sources"]],
        )


def _sorted_unique(keys: list[np.ndarray], owners: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not keys or sum(len(k) for k in keys) == 0:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int32)
    all_keys = np.concatenate(keys)
    all_owners = np.concatenate(owners)
    order = np.argsort(all_keys, kind="stable")  # stable: a key keeps its first text
    all_keys, all_owners = all_keys[order], all_owners[order]
    first = np.ones(len(all_keys), dtype=bool)
    first[1:] = all_keys[1:] != all_keys[:-1]
    return all_keys[first], all_owners[first]


def _lookup(keys: np.ndarray, owners: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if len(keys) == 0 or len(queries) == 0:
        return np.full(len(queries), -1, dtype=np.int32)
    pos = np.searchsorted(keys, queries)
    pos = np.minimum(pos, len(keys) - 1)
    return np.where(keys[pos] == queries, owners[pos], -1).astype(np.int32)
