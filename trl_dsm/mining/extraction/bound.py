# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The hard bound on one page's extraction (no page may stall a Common Crawl run, DeepSeekMath §2.1).

Three limits, each checked before the work it bounds:

* size: only the first ``MAX_CHARS`` characters of a page are parsed (its text is that of its beginning);
* nesting: HTML parsers (lexbor, used by both stages) take time quadratic in the nesting depth; a page whose
  open-tag depth (end tags that HTML lets a page omit and void elements not counted) passes ``MAX_NESTING`` is
  refused before parsing with :class:`ExtractionTimeout`;
* CPU: the work after parsing calls a :func:`budget` check as it goes, which raises :class:`ExtractionTimeout` once
  the page has used ``CPU_LIMIT_S`` seconds of process CPU time.

:class:`ExtractionTimeout` is a ``TimeoutError``: datatrove's extractor step counts it as ``timeout`` and goes on
with the next page; other callers catch it and record the page.
"""

from __future__ import annotations

import re
import time
from itertools import accumulate


MAX_CHARS = 3_000_000
MAX_NESTING = 4000
CPU_LIMIT_S = 1.5
# Start and end tags; void elements and elements whose end tag may be omitted do not nest.
_TAGS = re.compile(
    r"<(/?)(?!(?:area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr|p|li|dt|dd|tr|td|th|option|"
    r"thead|tbody|tfoot|colgroup|html|head|body)[\s/>])[a-zA-Z]",
    re.IGNORECASE,
)


class ExtractionTimeout(TimeoutError):
    """A page passed a hard bound (its nesting depth or its CPU budget); it yields no text."""


def nesting_depth(html: str) -> int:
    """The deepest open-tag nesting of ``html`` as its tags read (an upper bound of the parsed tree's depth, up to
    mis-nested markup); pages with fewer tags than ``MAX_NESTING`` are not scanned (their count is returned).

    >>> nesting_depth("<div><div><p>a<br></div></div>" * 3000)
    2
    """
    tags = html.count("<")
    if tags <= MAX_NESTING:
        return tags
    marks = _TAGS.findall(html)
    return max(accumulate(-1 if m else 1 for m in marks), default=0)


def check_nesting(html: str) -> None:
    """Raise :class:`ExtractionTimeout` when ``html`` nests deeper than ``MAX_NESTING``."""
    depth = nesting_depth(html)
    if depth > MAX_NESTING:
        raise ExtractionTimeout(f"page nests {depth} elements deep (the bound is {MAX_NESTING})")


def budget(cpu_limit: float = CPU_LIMIT_S):
    """A ``check()`` that raises :class:`ExtractionTimeout` once the process has used ``cpu_limit`` seconds of CPU
    more than at this call."""
    deadline = time.process_time() + cpu_limit

    def check() -> None:
        if time.process_time() > deadline:
            raise ExtractionTimeout(f"page extraction passed its CPU budget of {cpu_limit:g} s")

    return check
