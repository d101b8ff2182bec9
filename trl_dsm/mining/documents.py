# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The mining document record (DeepSeekMath §2.1) that every reader yields: ``id``, ``url``, ``domain``,
``title``, ``text``, ``source``; and the file helpers the readers share. No heavy imports (``datasets`` is only
needed by the builders in :mod:`trl_dsm.mining.readers`)."""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit


#: The columns of every mining document, in order.
COLUMNS = ["id", "url", "domain", "title", "text", "source"]


def url_domain(url: str) -> str:
    """The page's domain (its base URL, DeepSeekMath §2.1): the lower-cased host without ``www.`` or port."""
    host = (urlsplit(url if "//" in (url or "") else "//" + (url or "")).hostname or "").rstrip(".")
    return host[4:] if host.startswith("www.") else host


def doc_id(url: str, text: str) -> str:
    """A stable 20-hex-digit id for a page without one: SHA-1 of its URL and text."""
    return hashlib.sha1(f"{url}\n{text}".encode()).hexdigest()[:20]


def make_record(url: str, title: str, text: str, source: str, rid: str | None = None) -> dict:
    """One document with :data:`COLUMNS`; ``rid`` (the source's record id) or else :func:`doc_id` as its id."""
    return {
        "id": rid or doc_id(url, text),
        "url": url,
        "domain": url_domain(url),
        "title": title,
        "text": text,
        "source": source,
    }


def open_input(path: str | Path) -> BinaryIO:
    """``path`` opened for binary reading; a missing file is a ``FileNotFoundError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    return path.open("rb")


def expand_paths(paths: Sequence[str | Path]) -> list[str]:
    """Files matching each of ``paths`` (globs allowed), sorted per pattern; a pattern matching nothing is a
    ``FileNotFoundError`` naming it."""
    files = []
    for pattern in paths:
        matched = sorted(glob.glob(str(pattern)))
        if not matched:
            raise FileNotFoundError(f"input {pattern!r} matches no file")
        files += matched
    return files
