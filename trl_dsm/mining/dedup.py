# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""URL normalization, exact URL dedup and MinHash-LSH near-dedup (DeepSeekMath §2.1).

The paper runs "URL-based deduplication and near-deduplication" on Common Crawl before mining. Here:

* :func:`normalize_url` maps spellings of one page to one key (scheme, ``www.``, default ports, fragments,
  tracking parameters, parameter order, percent-encoding case, trailing slash); :func:`url_dedup_mask` keeps the
  first occurrence of each key.
* :func:`minhash_signatures` computes datasketch-compatible MinHash signatures for a batch of documents in a
  numba kernel: SHA-1 of each word shingle (datasketch's ``sha1_hash32``), the MurmurHash3 finalizer and the
  ``affine32`` permutations ``a * h + b mod 2**32`` drawn exactly as ``datasketch.MinHash(num_perm, seed)`` draws
  them. The result is bit-identical to feeding the same shingles to ``MinHash.update`` one by one, so Jaccard
  estimates are datasketch's.
* :func:`near_dedup` feeds the signatures to ``datasketch.MinHashLSH``, verifies candidate pairs by estimated
  Jaccard, forms clusters with union-find and keeps the lowest row of each cluster (deterministic).
* :func:`band_hashes`, :func:`bucket_edges` and :func:`clusters_from_edges` are the same near-dedup in stages with
  bounded memory (band buckets per shard, merged per band and hash range, pairs, union-find over the pairs); the
  mining pipeline runs them as tasks (:mod:`trl_dsm.mining.stages`) and finds the same clusters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numba
import numpy as np


# ----------------------------------------------------------------------------------------------- URL dedup

#: Query parameters that never change a page's content (analytics and session tracking).
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|yclid|_ga|_gl|igshid|ref_src|sessionid|phpsessid|sid)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalize_percent(part: str) -> str:
    # RFC 3986 §6.2.2: escapes of unreserved characters are decoded, the others get upper-case hex (an escaped
    # '/' stays escaped: it is not a path separator).
    def fix(match: re.Match) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED_CHARS else "%" + match.group(1).upper()

    return _PERCENT.sub(fix, part)


def normalize_url(url: str) -> str:
    """The dedup key of ``url``: ``host[:port]/path?sorted-query`` without scheme, ``www.``, fragment, default
    port, tracking parameters or a trailing slash; host lower-cased, percent-escapes canonical.

    ``http://WWW.Example.com:80/a/b/?utm_source=x&b=2&a=1#top`` and ``https://example.com/a/b?a=1&b=2`` give the
    same key ``example.com/a/b?a=1&b=2``. A string without a host is returned stripped (it still dedups exactly).
    """
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url if "//" in url else "//" + url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return url
    if host.startswith("www."):
        host = host[4:]
    try:
        port = parts.port
    except ValueError:  # a malformed port: keep the string as written
        port = None
    scheme = (parts.scheme or "http").lower()
    netloc = host if port is None or str(port) == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = _normalize_percent(re.sub(r"/{2,}", "/", parts.path))
    path = path.rstrip("/")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)]
    query_string = urlencode(sorted(query), doseq=True)
    return urlunsplit(("", netloc, path, query_string, "")).lstrip("/") or netloc


def url_dedup_mask(urls: Sequence[str], seen: set[str] | None = None) -> tuple[np.ndarray, set[str]]:
    """Boolean keep-mask: the first row of each normalized URL is kept. Rows with an empty URL are all kept (they
    cannot be compared). ``seen`` carries keys across calls (shards processed in order)."""
    seen = set() if seen is None else seen
    keep = np.ones(len(urls), dtype=bool)
    for i, url in enumerate(urls):
        key = normalize_url(url)
        if not key:
            continue
        if key in seen:
            keep[i] = False
        else:
            seen.add(key)
    return keep, seen


# ----------------------------------------------------------------------------------------------- MinHash

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


# ----------------------------------------------------------------------------------------------- LSH clusters


@dataclass
class NearDedupResult:
    """Outcome of :func:`near_dedup`: a keep-mask and the duplicate clusters (row indices, lowest first)."""

    keep: np.ndarray
    clusters: list[list[int]] = field(default_factory=list)
    threshold: float = 0.8
    num_perm: int = 128

    @property
    def removed(self) -> int:
        return int((~self.keep).sum())

    def report(self, urls: Sequence[str] | None = None, ids: Sequence[str] | None = None, max_members: int = 20):
        """Summary dict and one row per cluster (kept row, members with URLs/ids, size)."""
        sizes = [len(c) for c in self.clusters]
        rows = []
        for cid, members in enumerate(self.clusters):
            row = {"cluster": cid, "size": len(members), "kept": members[0], "members": members[:max_members]}
            if urls is not None:
                row["urls"] = [urls[m] for m in members[:max_members]]
            if ids is not None:
                row["ids"] = [ids[m] for m in members[:max_members]]
            rows.append(row)
        summary = {
            "documents": len(self.keep),
            "kept": int(self.keep.sum()),
            "removed": self.removed,
            "clusters": len(self.clusters),
            "largest_cluster": max(sizes, default=0),
            "threshold": self.threshold,
            "num_perm": self.num_perm,
        }
        return summary, rows


def near_dedup(
    signatures: np.ndarray,
    threshold: float = 0.8,
    seed: int = 1,
    verify: bool = True,
    skip: np.ndarray | None = None,
    lsh_weights: tuple[float, float] = (0.5, 0.5),
) -> NearDedupResult:
    """Cluster near-duplicate rows with ``datasketch.MinHashLSH(threshold, num_perm)``; keep the lowest row of
    each cluster. With ``verify`` an LSH candidate pair joins a cluster only if its estimated Jaccard (fraction of
    equal signature entries) is >= ``threshold``. Rows flagged in ``skip`` (e.g. empty texts) are kept and never
    clustered. Deterministic: the result depends only on the signatures and the row order."""
    from datasketch import MinHashLSH

    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    n, num_perm = signatures.shape
    perms = datasketch_permutations(num_perm, seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=lsh_weights)
    skip = np.zeros(n, dtype=bool) if skip is None else np.asarray(skip, dtype=bool)
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in range(n):
        if skip[row]:
            continue
        mh = to_datasketch(signatures[row], seed, perms)
        for other in lsh.query(mh):
            if verify and np.count_nonzero(signatures[row] == signatures[other]) < threshold * num_perm:
                continue
            ra, rb = find(row), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        lsh.insert(row, mh, check_duplication=False)
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    keep = roots == np.arange(n)
    groups: dict[int, list[int]] = {}
    for row in np.flatnonzero(~keep):
        groups.setdefault(int(roots[row]), []).append(int(row))
    clusters = [[root, *members] for root, members in sorted(groups.items())]
    return NearDedupResult(keep=keep, clusters=clusters, threshold=threshold, num_perm=num_perm)


# ----------------------------------------------------------------------------------------------- distributed LSH
#
# The multi-stage near-dedup of §2.1 at crawl scale: (1) each task hashes the bands of its shard's signatures and
# writes ``(bucket hash, row)`` sorted per band and hash range; (2) one task per band and range merges what all
# shards wrote and turns each bucket into duplicate pairs; (3) union-find over the pairs (O(duplicates), not
# O(documents)) gives the clusters, each represented by its smallest row. The components equal those of
# :func:`near_dedup` (datasketch's LSH with the same bands): a pair is a candidate iff it shares a band bucket,
# and a verified pair is skipped only when its rows are already connected.

_FNV_PRIME = np.uint64(0x100000001B3)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """``(bands, rows per band)`` that ``datasketch.MinHashLSH(threshold, num_perm, weights)`` chooses."""
    from datasketch.lsh import _optimal_param

    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    return _optimal_param(threshold, num_perm, *weights)


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(n, bands)`` uint64 keys of each band ``signatures[:, b * rows : (b + 1) * rows]`` (FNV-1a over the
    32-bit values, then the splitmix64 finalizer). datasketch's bucket key is the band's bytes; two different
    bands share a 64-bit key with probability 2**-64 (and such a pair still has to pass verification)."""
    n = signatures.shape[0]
    out = np.empty((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b in range(bands):
            h = np.full(n, 0xCBF29CE484222325, dtype=np.uint64)
            for c in range(b * rows, (b + 1) * rows):
                h = (h ^ signatures[:, c].astype(np.uint64)) * _FNV_PRIME
            h ^= h >> np.uint64(30)
            h *= _MIX1
            h ^= h >> np.uint64(27)
            h *= _MIX2
            h ^= h >> np.uint64(31)
            out[:, b] = h
    return out


def hash_partition(keys: np.ndarray, partitions: int) -> np.ndarray:
    """The hash range (``0 .. partitions - 1``) of uint64 ``keys`` (from their high bits)."""
    return ((keys >> np.uint64(32)) % np.uint64(partitions)).astype(np.int64)


def sorted_buckets(keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``(n, 2)`` uint64 ``[key, row]`` sorted by key, then row."""
    order = np.lexsort((rows, keys))
    return np.stack([keys[order], rows[order].astype(np.uint64)], axis=1)


def bucket_edges(buckets: np.ndarray, signatures, threshold: float, verify: bool = True) -> np.ndarray:
    """Duplicate pairs ``(n, 2)`` int64 (``a < b``) from sorted ``[key, row]`` entries of one band: within each
    bucket, a later row is joined to each earlier component it has a verified pair with (estimated Jaccard >=
    ``threshold``, or any pair without ``verify``). The pairs form a spanning forest of the verified candidate
    graph restricted to this band. ``signatures(rows)`` returns the rows' signatures (rows are global)."""
    if len(buckets) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    keys, rows = buckets[:, 0], buckets[:, 1].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    multi = sizes >= 2
    if not multi.any():
        return np.zeros((0, 2), dtype=np.int64)
    starts, sizes = starts[multi], sizes[multi]
    members = np.concatenate([rows[s : s + k] for s, k in zip(starts, sizes)])
    uniq, inverse = np.unique(members, return_inverse=True)
    sigs = np.asarray(signatures(uniq))
    need = threshold * sigs.shape[1]
    edges: list[np.ndarray] = []
    pairs = sizes == 2  # the common case, checked in one pass
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    if pairs.any():
        a, b = inverse[first[pairs]], inverse[first[pairs] + 1]
        ok = np.ones(len(a), dtype=bool)
        if verify:
            ok = np.count_nonzero(sigs[a] == sigs[b], axis=1) >= need
        edges.append(np.stack([uniq[a][ok], uniq[b][ok]], axis=1))
    for s, k in zip(first[~pairs], sizes[~pairs]):
        local = inverse[s : s + k]
        label = np.arange(k)
        for j in range(1, k):
            if verify:
                ok = np.count_nonzero(sigs[local[:j]] == sigs[local[j]], axis=1) >= need
            else:
                ok = np.ones(j, dtype=bool)
            hit = np.flatnonzero(ok)
            if not len(hit):
                continue
            joined, at = np.unique(label[hit], return_index=True)
            for i in hit[at]:
                edges.append(np.array([[uniq[local[i]], uniq[local[j]]]], dtype=np.int64))
            label[j] = joined[0]
            label[np.isin(label, joined)] = joined[0]
    return np.concatenate(edges).astype(np.int64) if edges else np.zeros((0, 2), dtype=np.int64)


def clusters_from_edges(edges: np.ndarray) -> list[list[int]]:
    """Connected components of duplicate pairs, each sorted (its smallest row, the one kept, first), sorted by
    that row. Memory is O(rows that have a duplicate)."""
    if not len(edges):
        return []
    nodes, inverse = np.unique(np.asarray(edges, dtype=np.int64).ravel(), return_inverse=True)
    parent = np.arange(len(nodes))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in inverse.reshape(-1, 2):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # nodes are sorted: the smaller index is the smaller row
    roots = np.array([find(i) for i in range(len(nodes))])
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(roots):
        groups.setdefault(int(r), []).append(int(nodes[i]))
    return [groups[r] for r in sorted(groups)]
