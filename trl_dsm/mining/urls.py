# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""URL normalization and exact URL dedup (DeepSeekMath §2.1: "URL-based deduplication" of Common Crawl).

:func:`normalize_url` maps spellings of one page to one key (scheme, ``www.``, default ports, fragments, tracking
parameters, parameter order, percent-encoding case, trailing slash). Exact dedup keeps the first document of each
key in (unit, position) order, in three stages sharded by the key's hash: :func:`write_url_keys` (per unit: a
shard of ``trl-dsm mine``, or a datatrove task) -> :func:`find_url_duplicates` (per hash partition) ->
:func:`url_duplicates` (per unit). ``trl-dsm mine`` and the datatrove steps of :mod:`trl_dsm.mining.steps` both
run these.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np


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


def url_partition(key: str, partitions: int) -> int:
    """The hash partition of a normalized URL key (stable across processes and machines)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") % partitions


def _folder(folder):
    from datatrove.io import get_datafolder

    return get_datafolder(os.fspath(folder) if isinstance(folder, os.PathLike) else folder)


def _save_npy(folder, name: str, array: np.ndarray) -> None:
    """``array`` as ``folder/name``, written under a temporary name and moved: a file that exists is complete."""
    tmp = f"{name}.{os.getpid()}.tmp"
    with folder.open(tmp, "wb") as f:
        np.save(f, array)
    folder.mv(tmp, name)


def write_url_keys(folder, unit: int, keys: Sequence[str], partitions: int) -> int:
    """Stage 1 of exact URL dedup: ``folder/keys/UNIT.parquet`` holds ``(key, position)`` of unit ``unit``'s
    documents (a shard, or a datatrove task) that have a key, one row group per hash partition (one file per unit
    whatever ``partitions``). ``keys`` are normalized URLs in position order, ``""`` for none. Returns the keys
    written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = _folder(folder)
    parts: list[tuple[list[str], list[int]]] = [([], []) for _ in range(partitions)]
    for position, key in enumerate(keys):
        if key:  # documents without a URL cannot be compared: all kept
            part = parts[url_partition(key, partitions)]
            part[0].append(key)
            part[1].append(position)
    schema = pa.schema([("key", pa.string()), ("position", pa.int64())])
    name, tmp = f"keys/{unit:05d}.parquet", f"keys/{unit:05d}.parquet.{os.getpid()}.tmp"
    with folder.open(tmp, "wb") as f, pq.ParquetWriter(f, schema) as writer:
        for k, positions in parts:  # exactly one row group per partition, empty ones included
            table = pa.table({"key": pa.array(k, pa.string()), "position": pa.array(positions, pa.int64())})
            writer.write_table(table, row_group_size=max(1, table.num_rows))
    folder.mv(tmp, name)
    return sum(len(k) for k, _ in parts)


def find_url_duplicates(folder, partition: int) -> int:
    """Stage 2 of exact URL dedup, one call per hash partition: the partition's keys from every unit's file; each
    document whose key a document earlier in (unit, position) order has is a duplicate. Writes
    ``folder/removed/PART.npy``, the sorted ``unit << 32 | position`` of the duplicates; returns their number.
    Memory: one partition's keys."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = _folder(folder)
    tables = []
    for path in folder.list_files(subdirectory="keys", glob_pattern="*.parquet"):
        with folder.open(path, "rb") as f:
            table = pq.ParquetFile(f).read_row_group(partition)
        unit = int(path.rsplit("/", 1)[-1].split(".")[0])
        tables.append(table.append_column("unit", pa.array(np.full(table.num_rows, unit, dtype=np.int64))))
    removed = np.zeros(0, dtype=np.int64)
    if tables and (table := pa.concat_tables(tables)).num_rows:
        order = pc.sort_indices(
            table, sort_keys=[("key", "ascending"), ("unit", "ascending"), ("position", "ascending")]
        )
        table = table.take(order)
        keys = table.column("key").combine_chunks()
        repeat = np.r_[False, pc.equal(keys.slice(1), keys.slice(0, len(keys) - 1)).to_numpy(zero_copy_only=False)]
        units, positions = table.column("unit").to_numpy()[repeat], table.column("position").to_numpy()[repeat]
        removed = np.sort((units << 32) | positions)
    _save_npy(folder, f"removed/{partition:05d}.npy", removed)
    return len(removed)


def url_duplicates(folder, unit: int, partitions: int) -> np.ndarray:
    """Stage 3 of exact URL dedup: the sorted positions of unit ``unit``'s duplicates, from every partition's
    ``removed`` file (by binary search in a memory map on a local disk)."""
    folder = _folder(folder)
    lo, hi = unit << 32, (unit + 1) << 32
    out = []
    for partition in range(partitions):
        name = f"removed/{partition:05d}.npy"
        if folder.is_local():
            rows = np.load(folder.resolve_paths(name), mmap_mode="r")
        else:
            with folder.open(name, "rb") as f:
                rows = np.load(f)
        start, end = np.searchsorted(rows, [lo, hi])
        out.append(np.asarray(rows[start:end], dtype=np.int64) - lo)
    return np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def url_duplicates_total(folder, partitions: int) -> int:
    """The duplicates found over all partitions (the sizes of the ``removed`` files)."""
    folder = _folder(folder)
    total = 0
    for partition in range(partitions):
        name = f"removed/{partition:05d}.npy"
        if folder.is_local():
            total += len(np.load(folder.resolve_paths(name), mmap_mode="r"))
        else:
            with folder.open(name, "rb") as f:
                total += len(np.load(f))
    return total
