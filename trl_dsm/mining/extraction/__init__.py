# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""HTML -> text for corpus mining (DeepSeekMath §2.1), in two stages.

Stage one, for every page: :func:`~trl_dsm.mining.extraction.prefilter.looks_like_math` (raw-bytes test) and
:func:`~trl_dsm.mining.extraction.fast.fast_text` (fast plain text for the fastText classifier). Stage two, for the
pages the classifier keeps: :func:`trl_dsm.mining.html_text.html_to_text`, the careful extraction (``extract.py``)
that keeps every formula as TeX (``math.py``; ``mathml.py`` and ``asciimath.py`` convert, ``symbols.py`` maps Unicode
to TeX), the main content (``content.py``) and its text (``text.py``), within hard bounds (``bound.py``).
docs/extraction.md has what it keeps and the measurements.
"""
