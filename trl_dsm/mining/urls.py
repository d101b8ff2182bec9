# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""URL normalization and exact URL dedup (DeepSeekMath §2.1: "URL-based deduplication" of Common Crawl).

:func:`normalize_url` maps spellings of one page to one key (scheme, ``www.``, default ports, fragments, tracking
parameters, parameter order, percent-encoding case, trailing slash); :func:`url_dedup_mask` keeps the first
occurrence of each key. The sharded form runs as tasks (:mod:`trl_dsm.mining.stages`) or datatrove steps
(:mod:`trl_dsm.mining.steps`).
"""

from __future__ import annotations

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
