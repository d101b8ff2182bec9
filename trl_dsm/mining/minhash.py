# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""datasketch-compatible MinHash signatures in a numba kernel (DeepSeekMath §2.1 near-deduplication).

:func:`minhash_signatures` computes the signatures of a batch of documents: SHA-1 of each word shingle
(datasketch's ``sha1_hash32``), the MurmurHash3 finalizer and the ``affine32`` permutations ``a * h + b mod 2**32``
drawn exactly as ``datasketch.MinHash(num_perm, seed)`` draws them. The result is bit-identical to feeding the same
shingles to ``MinHash.update`` one by one, so Jaccard estimates are datasketch's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np


_MAX32 = np.uint32(0xFFFFFFFF)


def datasketch_permutations(num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """The ``(2, num_perm)`` uint32 array ``[a, b]`` that ``datasketch.MinHash(num_perm, seed)`` uses (affine32
    scheme: odd ``a``, any ``b``, drawn from ``numpy.random.RandomState(seed)`` in this order)."""
    if num_perm < 1:
        raise ValueError(f"num_perm must be positive, got {num_perm}")
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint32)
    return np.array([a, b])


@numba.njit(cache=True, inline="always")
def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


@numba.njit(cache=True)
def _sha1_word0(buf: np.ndarray, start: int, end: int, w: np.ndarray) -> int:
    """First 32-bit word of SHA-1(buf[start:end]), as datasketch's ``sha1_hash32`` reads it (little-endian)."""
    length = end - start
    bitlen = length * 8
    nblocks = (length + 8) // 64 + 1
    total = nblocks * 64
    h0, h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0
    for blk in range(nblocks):
        base = blk * 64
        for t in range(16):
            pos = base + t * 4
            if pos + 4 <= length:  # fast path: four message bytes
                q = start + pos
                w[t] = (buf[q] << 24) | (buf[q + 1] << 16) | (buf[q + 2] << 8) | buf[q + 3]
                continue
            word = 0
            for j in range(4):
                pos = base + t * 4 + j
                if pos < length:
                    byte = buf[start + pos]
                elif pos == length:
                    byte = 0x80
                elif pos >= total - 8:
                    byte = (bitlen >> (8 * (total - 1 - pos))) & 0xFF
                else:
                    byte = 0
                word = (word << 8) | byte
            w[t] = word
        for t in range(16, 80):
            w[t] = _rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
        a, b, c, d, e = h0, h1, h2, h3, h4
        for t in range(20):
            temp = (_rotl(a, 5) + ((b & c) | ((~b) & d & 0xFFFFFFFF)) + e + 0x5A827999 + w[t]) & 0xFFFFFFFF
            e, d, c, b, a = d, c, _rotl(b, 30), a, temp
        for t in range(20, 40):
            temp = (_rotl(a, 5) + (b ^ c ^ d) + e + 0x6ED9EBA1 + w[t]) & 0xFFFFFFFF
            e, d, c, b, a = d, c, _rotl(b, 30), a, temp
        for t in range(40, 60):
            temp = (_rotl(a, 5) + ((b & c) | (b & d) | (c & d)) + e + 0x8F1BBCDC + w[t]) & 0xFFFFFFFF
            e, d, c, b, a = d, c, _rotl(b, 30), a, temp
        for t in range(60, 80):
            temp = (_rotl(a, 5) + (b ^ c ^ d) + e + 0xCA62C1D6 + w[t]) & 0xFFFFFFFF
            e, d, c, b, a = d, c, _rotl(b, 30), a, temp
        h0 = (h0 + a) & 0xFFFFFFFF
        h1 = (h1 + b) & 0xFFFFFFFF
        h2 = (h2 + c) & 0xFFFFFFFF
        h3 = (h3 + d) & 0xFFFFFFFF
        h4 = (h4 + e) & 0xFFFFFFFF
    # digest()[:4] is h0 big-endian; struct.unpack("<I", ...) reads it little-endian: a byte swap.
    return ((h0 & 0xFF) << 24) | (((h0 >> 8) & 0xFF) << 16) | (((h0 >> 16) & 0xFF) << 8) | (h0 >> 24)


@numba.njit(cache=True)
def _signatures_kernel(
    buf: np.ndarray, offsets: np.ndarray, ngram: int, a: np.ndarray, b: np.ndarray, out: np.ndarray
) -> None:
    num_perm = a.shape[0]
    mask = np.uint64(0xFFFFFFFF)
    w = np.empty(80, dtype=np.int64)
    starts = np.empty(64, dtype=np.int64)
    ends = np.empty(64, dtype=np.int64)
    for doc in range(offsets.shape[0] - 1):
        lo, hi = offsets[doc], offsets[doc + 1]
        sig = out[doc]
        for k in range(num_perm):
            sig[k] = 0xFFFFFFFF
        if hi <= lo:
            continue
        # Words are separated by exactly one space (see _prepare).
        n_words = 1
        for p in range(lo, hi):
            if buf[p] == 32:
                n_words += 1
        if starts.shape[0] < n_words:
            starts = np.empty(n_words * 2, dtype=np.int64)
            ends = np.empty(n_words * 2, dtype=np.int64)
        idx = 0
        starts[0] = lo
        for p in range(lo, hi):
            if buf[p] == 32:
                ends[idx] = p
                idx += 1
                starts[idx] = p + 1
        ends[idx] = hi
        n_shingles = max(1, n_words - ngram + 1)
        span = min(ngram, n_words)
        for s in range(n_shingles):
            hv = np.uint64(_sha1_word0(buf, starts[s], ends[s + span - 1], w))
            # MurmurHash3 fmix32 (datasketch's pre-mix), modulo 2**32 (numba widens uint32 products).
            hv = hv ^ (hv >> np.uint64(16))
            hv = (hv * np.uint64(0x85EBCA6B)) & mask
            hv = hv ^ (hv >> np.uint64(13))
            hv = (hv * np.uint64(0xC2B2AE35)) & mask
            hv = hv ^ (hv >> np.uint64(16))
            h32 = np.uint32(hv)
            for k in range(num_perm):
                v = np.uint32(a[k] * h32 + b[k])
                if v < sig[k]:
                    sig[k] = v


def shingle_text(text: str) -> str:
    """The normalized text that shingles are cut from: lower-cased words joined by single spaces."""
    return " ".join(text.lower().split())


def shingles(text: str, ngram: int = 5) -> list[bytes]:
    """Word ``ngram``-shingles as UTF-8 bytes (what :func:`minhash_signatures` hashes; a text shorter than
    ``ngram`` words is one shingle, an empty text none). Feed these to ``datasketch.MinHash.update`` to reproduce
    a signature."""
    words = text.lower().split()
    if not words:
        return []
    return [" ".join(words[i : i + ngram]).encode("utf-8") for i in range(max(1, len(words) - ngram + 1))]


def minhash_signatures(
    texts: Sequence[str], num_perm: int = 128, seed: int = 1, ngram: int = 5, permutations: np.ndarray | None = None
) -> np.ndarray:
    """``(len(texts), num_perm)`` uint32 MinHash signatures, equal to ``datasketch.MinHash(num_perm, seed)`` updated
    with :func:`shingles` of each text. An empty text gets the all-``0xFFFFFFFF`` signature of an empty MinHash."""
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    perms = datasketch_permutations(num_perm, seed) if permutations is None else permutations
    encoded = [shingle_text(t or "").encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8) if offsets[-1] else np.zeros(1, dtype=np.uint8)
    out = np.empty((len(encoded), perms.shape[1]), dtype=np.uint32)
    _signatures_kernel(buf, offsets, ngram, perms[0], perms[1], out)
    return out


def to_datasketch(signature: np.ndarray, seed: int = 1, permutations: np.ndarray | None = None):
    """A ``datasketch.MinHash`` holding ``signature`` (for ``MinHashLSH`` or ``jaccard``)."""
    from datasketch import MinHash

    perms = datasketch_permutations(len(signature), seed) if permutations is None else permutations
    return MinHash(seed=seed, hashvalues=signature, permutations=perms, scheme="affine32")
