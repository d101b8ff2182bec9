# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Mining (§2.1) as datatrove pipeline steps that compose with datatrove's own readers, filters and writers.

* :class:`MathHtmlExtractor`: HTML main text with MathJax/KaTeX/MathML kept as TeX (``html_to_text``).
* :class:`TwoStageMathExtractor`: a prefilter and fast plain text scored for every page, the math-preserving
  extraction only for pages above a recall threshold.
* :class:`MathScoreFilter`: the fastText math classifier; keeps pages scoring >= ``threshold`` (the score goes to
  ``metadata["math_score"]``).
* :class:`UrlNormalizer`, then exact URL dedup in three datatrove stages, sharded by the hash of the normalized URL:
  :class:`UrlDedupSignature` (per task: keys by partition) -> :class:`UrlDedupFind` (one task per partition: later
  copies of a key) -> :class:`UrlDedupFilter` (per task: drops them). The first document of each key in
  (task, position) order is kept. ``trl-dsm mine`` runs the same code (:mod:`trl_dsm.mining.urls`) per shard.
* :class:`DecontaminationFilter`: the 10-gram benchmark decontamination (segments or whole documents).
* Token-budget selection ("the top-ranking pages within a token budget") in two stages with a small merge:
  :class:`ScoreHistogram` (per task: partial histogram of score bin -> tokens, and the task's ranking) ->
  :class:`TokenBudgetFilter` (per task: merges the histograms into the cut once, keeps the pages above it). The
  selection equals :func:`trl_dsm.mining.select.select_top_tokens` over all pages (ties by task, then position).

Each step counts what it did with ``stat_update`` (datatrove's stats). ``trl-dsm mine``'s own stages are datatrove
steps too (:mod:`trl_dsm.mining.stages`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.extractors.base import BaseExtractor
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.logging import logger

from trl_dsm.mining.classifier import SCORE_COLUMN
from trl_dsm.mining.extraction.bound import ExtractionTimeout
from trl_dsm.mining.select import BUDGET_BINS, BudgetCut, budget_cut, budget_partial, count_tokens
from trl_dsm.mining.urls import find_url_duplicates, normalize_url, url_duplicates, write_url_keys


class MathHtmlExtractor(BaseExtractor):
    """Main text of an HTML page with its math kept as TeX (MathJax scripts, KaTeX/MathML annotations, LaTeX image
    ``alt``), by :func:`trl_dsm.mining.html_text.html_to_text` (lexbor's HTML parser through selectolax, our own
    main-text rules); runs in datatrove's extractor sandbox with a per-page ``timeout`` in seconds of wall clock.

    Two bounds: the extraction's own (:mod:`trl_dsm.mining.extraction.bound`: nesting depth and
    ``CPU_LIMIT_S`` = 1.5 s of CPU, raising ``ExtractionTimeout``, a ``TimeoutError``) and the sandbox's ``timeout``
    (default 2 s, above the CPU bound so a busy machine's slower wall clock does not cut pages the CPU bound
    allows). The step counts either as ``timeout`` in its stats and goes on with the next page."""

    name = "trl-dsm math-preserving extraction"

    def __init__(self, timeout: float = 2.0):
        super().__init__(timeout)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """datatrove's extraction loop, with the extraction modules and selectolax imported first: the sandbox forks
        its worker from this process (again after each timed-out page), and a worker that had to import them would
        spend its ``timeout`` on imports."""
        import selectolax.lexbor  # noqa: F401

        import trl_dsm.mining.extraction.extract  # noqa: F401
        from trl_dsm.mining import html_text  # noqa: F401

        yield from super().run(data, rank, world_size)

    def extract(self, text: str) -> str | TimeoutError:
        """The main text of ``text`` (an HTML page) with math as TeX; empty when nothing is extracted. A page past
        the extraction's bound gives its ``ExtractionTimeout`` back instead of raising it: the sandbox's worker
        sends it to the step, which raises it there and counts the page as ``timeout`` (raised in the worker, it
        would end the worker and count as ``broken_process``)."""
        from trl_dsm.mining.extraction.bound import ExtractionTimeout
        from trl_dsm.mining.html_text import html_to_text

        try:
            return html_to_text(text)[1]
        except ExtractionTimeout as err:
            return err


class MathScoreFilter(BaseFilter):
    """The fastText math classifier (§2.1) as a filter: ``metadata["math_score"]`` is P(math); pages below
    ``threshold`` are dropped (to ``exclusion_writer`` if given). Scored ``batch_size`` pages at a time."""

    name = "trl-dsm math classifier"

    def __init__(
        self,
        model_path: str,
        threshold: float = 0.5,
        max_chars: int | None = None,
        batch_size: int = 1000,
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.model_path, self.threshold, self.max_chars = str(model_path), threshold, max_chars
        self._classifier = None

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        """Score ``batch``, set each page's ``math_score``, keep pages at or above ``threshold``."""
        from trl_dsm.mining.classifier import FastTextClassifier

        if self._classifier is None:
            self._classifier = FastTextClassifier(self.model_path, max_chars=self.max_chars)
        scores = self._classifier.predict_proba([doc.text for doc in batch])
        out: list[bool | tuple[bool, str]] = []
        for doc, score in zip(batch, scores):
            doc.metadata[SCORE_COLUMN] = float(score)
            out.append(True if score >= self.threshold else (False, "below_threshold"))
        return out

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """One page through :meth:`filter_batch`."""
        return self.filter_batch([doc])[0]


class TwoStageMathExtractor(BaseFilter):
    """Two-stage extraction of HTML pages (``doc.text``) for mining at crawl scale (§2.1). Stage one for every page:
    the raw-HTML prefilter (``prefilter``: :func:`trl_dsm.mining.extraction.prefilter.looks_like_math`; off keeps
    every page) and the fast plain text (:func:`trl_dsm.mining.extraction.fast.fast_text`) scored by the fastText
    classifier (``metadata["fast_score"]``). Stage two, the math-preserving extraction
    (:func:`trl_dsm.mining.html_text.html_to_text`), only for pages whose fast-text score is at least
    ``recall_threshold``, or without fast text (a page of scripts); set the threshold below the selection's cut and
    select after it (e.g. :class:`MathScoreFilter`, which scores the math-preserving text). Other pages are
    dropped (to ``exclusion_writer`` if given)."""

    name = "trl-dsm two-stage math extraction"

    def __init__(
        self,
        model_path: str,
        recall_threshold: float = 0.1,
        prefilter: bool = False,
        max_chars: int | None = None,
        batch_size: int = 256,
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.model_path, self.recall_threshold, self.prefilter = str(model_path), recall_threshold, prefilter
        self.max_chars = max_chars
        self._classifier = None

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        """Stage one for ``batch``, stage two for its pages at or above ``recall_threshold``."""
        from trl_dsm.mining.classifier import FastTextClassifier
        from trl_dsm.mining.extraction.fast import fast_text
        from trl_dsm.mining.extraction.prefilter import looks_like_math
        from trl_dsm.mining.html_text import html_to_text

        if self._classifier is None:
            self._classifier = FastTextClassifier(self.model_path, max_chars=self.max_chars)
        out: list[bool | tuple[bool, str]] = [True] * len(batch)
        candidates = []
        for i, doc in enumerate(batch):
            if self.prefilter and not looks_like_math(doc.text):
                out[i] = (False, "prefilter")
                continue
            try:
                candidates.append((i, fast_text(doc.text)[1]))
            except ExtractionTimeout as err:
                out[i] = self._timed_out(doc, err)
        scores = self._classifier.predict_proba([text for _, text in candidates]) if candidates else []
        for (i, fast), score in zip(candidates, scores):
            doc = batch[i]
            doc.metadata["fast_score"] = float(score)
            if score < self.recall_threshold and fast.strip():  # (no fast text to judge: stage two decides)
                doc.text = fast
                out[i] = (False, "below_recall")
                continue
            try:
                with self.track_time("stage_two"):
                    doc.text = html_to_text(doc.text, url=doc.metadata.get("url"))[1]
            except ExtractionTimeout as err:
                out[i] = self._timed_out(doc, err)
                continue
            self.stat_update("stage_two")
            if not doc.text.strip():
                out[i] = (False, "empty")
        return out

    def _timed_out(self, doc: Document, err: ExtractionTimeout) -> tuple[bool, str]:
        """A page past its extraction's bound: logged with its URL and id, dropped as ``timeout`` (the run goes on)."""
        logger.warning(f"page {doc.metadata.get('url')} ({doc.id}) dropped: {err}")
        return False, "timeout"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """One page through :meth:`filter_batch`."""
        return self.filter_batch([doc])[0]


class UrlNormalizer(PipelineStep):
    """``metadata["url_key"]`` = :func:`trl_dsm.mining.urls.normalize_url` of ``metadata["url"]`` (scheme, ``www.``,
    default port, fragment, tracking parameters, query order, percent-escapes, trailing slash)."""

    name = "trl-dsm URL normalization"
    type = "trl-dsm"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Set ``url_key`` on each document and pass it on."""
        for doc in data:
            key = normalize_url(doc.metadata.get("url") or "")
            doc.metadata["url_key"] = key
            self.stat_update("normalized" if key else "no_url")
            yield doc


def _folder(folder: DataFolderLike | os.PathLike):
    return get_datafolder(os.fspath(folder) if isinstance(folder, os.PathLike) else folder)


class UrlDedupSignature(PipelineStep):
    """Stage 1 of exact URL dedup: each task writes ``(url key, position)`` of its documents to
    ``folder/keys/TASK.parquet``, a row group per hash partition (:func:`trl_dsm.mining.urls.write_url_keys`;
    ``partitions`` = the tasks of stage 2). Uses ``metadata["url_key"]`` (from :class:`UrlNormalizer`) or normalizes
    ``metadata["url"]``; documents without a URL are never duplicates. Consumes the documents."""

    name = "trl-dsm URL dedup 1: signatures"
    type = "trl-dsm"

    def __init__(self, folder: DataFolderLike, partitions: int = 1):
        super().__init__()
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self.folder, self.partitions = _folder(folder), partitions

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Write this task's URL keys; yields nothing."""
        keys = []
        for doc in data:
            key = doc.metadata.get("url_key")
            keys.append(normalize_url(doc.metadata.get("url") or "") if key is None else key)
        self.stat_update("documents", value=len(keys))
        self.stat_update("keys", value=write_url_keys(self.folder, rank, keys, self.partitions))
        return
        yield


class UrlDedupFind(PipelineStep):
    """Stage 2 of exact URL dedup, by hash partition: every task's keys of a partition -> the ``(task, position)``
    of documents whose key an earlier document (in task, then position order) has
    (:func:`trl_dsm.mining.urls.find_url_duplicates`). Task ``rank`` runs partition ``rank``, or
    ``partitions[rank::world_size]`` when given. Memory: one partition's keys."""

    name = "trl-dsm URL dedup 2: duplicates"
    type = "trl-dsm"

    def __init__(self, folder: DataFolderLike, partitions: Sequence[int] | None = None):
        super().__init__()
        self.folder, self.partitions = _folder(folder), None if partitions is None else list(partitions)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Find the duplicates of this task's partitions; yields nothing."""
        for partition in [rank] if self.partitions is None else self.partitions[rank::world_size]:
            with self.track_time():
                self.stat_update("duplicates", value=find_url_duplicates(self.folder, partition))
            self.stat_update("partitions")
        return
        yield


class UrlDedupFilter(BaseFilter):
    """Stage 3 of exact URL dedup: drops the documents stage 2 found (run with the same reader and tasks as stage
    1, so positions match)."""

    name = "trl-dsm URL dedup 3: filter"

    def __init__(self, folder: DataFolderLike, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.folder = _folder(folder)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Read this task's duplicate positions, then filter the documents."""
        partitions = len(self.folder.list_files(subdirectory="removed", glob_pattern="*.npy"))
        self._drop = set(url_duplicates(self.folder, rank, partitions).tolist())
        self._position = 0
        yield from super().run(data, rank, world_size)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """Drop the document if its position is a duplicate's."""
        position = self._position
        self._position += 1
        return (False, "url_duplicate") if position in self._drop else True


class DecontaminationFilter(BaseFilter):
    """10-gram benchmark decontamination (§2.1) as a filter: in ``segment`` mode contaminated segments are cut out
    of ``doc.text`` (a page left empty is dropped), in ``document`` mode contaminated pages are dropped. The index
    is built once per task from ``benchmarks`` (names or ``all``; ``benchmarks_dir`` for local copies)."""

    name = "trl-dsm 10-gram decontamination"

    def __init__(
        self,
        benchmarks: str | list[str] = "all",
        benchmarks_dir: str | None = None,
        mode: str = "segment",
        batch_size: int = 256,
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, batch_size=batch_size)
        if mode not in ("segment", "document"):
            raise ValueError(f"mode must be 'segment' or 'document', got {mode!r}")
        self.benchmarks, self.benchmarks_dir, self.mode = benchmarks, benchmarks_dir, mode
        self._checker = None

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        """Decontaminate ``batch``: contaminated segments cut out of ``doc.text``, or pages dropped."""
        if self._checker is None:
            from trl_dsm.decontamination.decontaminate import Decontaminator
            from trl_dsm.decontamination.pipeline import build_index

            self._checker = Decontaminator(build_index(self.benchmarks, self.benchmarks_dir), mode=self.mode)
        out: list[bool | tuple[bool, str]] = []
        for doc, result in zip(batch, self._checker.check_batch([doc.text for doc in batch])):
            if not result.contaminated:
                out.append(True)
                continue
            self.stat_update("contaminated")
            self.stat_update("segments_removed", value=result.segments_removed)
            if result.text:
                doc.text = result.text
                out.append(True)
            else:
                out.append((False, "contaminated"))
        return out

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """One page through :meth:`filter_batch`."""
        return self.filter_batch([doc])[0]


def write_budget_partial(
    folder: DataFolderLike, rank: int, scores: np.ndarray, tokens: np.ndarray, bins: int = BUDGET_BINS
) -> tuple[int, int]:
    """Write task ``rank``'s share of a token-budget selection to ``folder``: ``ranked/RANK.npy`` (its ranking),
    then ``hist/RANK.npy`` (its partial histogram; written last, so it marks the task done). Returns
    ``(pages, tokens)`` scored."""
    folder = _folder(folder)
    hist, ranked = budget_partial(scores, tokens, bins)
    with folder.open(f"ranked/{rank:05d}.npy", "wb") as f:
        np.save(f, ranked)
    with folder.open(f"hist/{rank:05d}.npy", "wb") as f:
        np.save(f, hist)
    return int(hist[:, 2].sum()), int(hist[:, 1].sum())


def _npy_slice(folder, path: str, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a 1-D ``.npy`` file, read by seeking (any fsspec file system; no full load)."""
    with folder.open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        _, _, dtype = read_header(f)
        f.seek(f.tell() + start * dtype.itemsize)
        return np.frombuffer(f.read((stop - start) * dtype.itemsize), dtype=dtype)


def budget_cut_from_folder(folder: DataFolderLike, token_budget: int, bins: int = BUDGET_BINS) -> BudgetCut:
    """The cut of ``token_budget`` from the partials in ``folder`` (every task's ``hist/RANK.npy``), computed once
    and kept in ``cut-BUDGET.json`` (deterministic: tasks racing to write it write the same bytes)."""
    folder = _folder(folder)
    name = f"cut-{int(token_budget)}.json"
    if folder.exists(name):
        with folder.open(name, "rt") as f:
            return BudgetCut(**json.load(f))
    ranks = sorted(int(p.rsplit("/", 1)[-1].split(".")[0]) for p in folder.list_files(subdirectory="hist"))
    if ranks != list(range(len(ranks))):
        missing = sorted(set(range(max(ranks, default=-1) + 1)) - set(ranks))
        raise FileNotFoundError(f"{folder.path}/hist: partial histograms of tasks {missing[:10]} are missing")

    def hist_of(rank: int) -> np.ndarray:
        with folder.open(f"hist/{rank:05d}.npy", "rb") as f:
            return np.load(f)

    def ranked_slice(rank: int, start: int, stop: int) -> np.ndarray:
        return _npy_slice(folder, f"ranked/{rank:05d}.npy", start, stop)

    cut = budget_cut(hist_of, ranked_slice, len(ranks), int(token_budget), bins)
    with folder.open(name, "wt") as f:
        json.dump(cut.to_dict(), f)
    return cut


class ScoreHistogram(PipelineStep):
    """Stage 1 of token-budget selection (§2.1: "the top-ranking pages" within a token budget; the paper kept the
    top 40B tokens in its first iteration): forwards the documents and, once they have passed, writes this task's
    partial histogram of score bin -> (tokens, pages) and its ranking to ``output_folder``
    (:func:`write_budget_partial`). The score is ``metadata[score_key]`` (:class:`MathScoreFilter` writes it;
    missing = never selected); tokens are ``metadata[token_key]`` (e.g. datatrove's ``TokensCounter``) or, without
    ``token_key``, whitespace words."""

    name = "trl-dsm token budget 1: score histogram"
    type = "trl-dsm"

    def __init__(
        self,
        output_folder: DataFolderLike,
        score_key: str = SCORE_COLUMN,
        token_key: str | None = None,
        bins: int = BUDGET_BINS,
    ):
        super().__init__()
        self.output_folder, self.score_key, self.token_key, self.bins = (
            _folder(output_folder),
            score_key,
            token_key,
            bins,
        )

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Pass the documents on, then write this task's partial histogram and ranking."""
        scores: list[float] = []
        tokens: list[int] = []
        for doc in data:
            score = doc.metadata.get(self.score_key)
            scores.append(math.nan if score is None else float(score))
            if self.token_key is not None:
                tokens.append(int(doc.metadata[self.token_key]))
            else:
                tokens.append(int(count_tokens([doc.text])[0]))
            yield doc
        pages, total = write_budget_partial(
            self.output_folder,
            rank,
            np.asarray(scores, dtype=np.float64),
            np.asarray(tokens, dtype=np.int64),
            self.bins,
        )
        self.stat_update("scored", value=pages)
        self.stat_update("tokens", value=total)


class TokenBudgetFilter(BaseFilter):
    """Stage 2 of token-budget selection: keeps the pages of the longest prefix of the global ranking (score
    descending, then task rank, then position) whose tokens add up to at most ``token_budget``. Run with the same
    documents, order and tasks as :class:`ScoreHistogram` (e.g. reading what stage 1 wrote), so positions match; the
    cut is merged from all tasks' partials once (``cut-BUDGET.json`` in ``input_folder``)."""

    name = "trl-dsm token budget 2: filter"

    def __init__(
        self,
        input_folder: DataFolderLike,
        token_budget: int,
        score_key: str = SCORE_COLUMN,
        bins: int = BUDGET_BINS,
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer)
        if token_budget < 0:
            raise ValueError(f"token_budget must be >= 0, got {token_budget}")
        self.input_folder, self.token_budget = _folder(input_folder), int(token_budget)
        self.score_key, self.bins = score_key, bins

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Read (or merge once) the budget cut, then filter the documents."""
        self._cut = budget_cut_from_folder(self.input_folder, self.token_budget, self.bins)
        self._rank, self._position = rank, 0
        yield from super().run(data, rank, world_size)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """Keep the page if it is within the budget's cut."""
        position = self._position
        self._position += 1
        score = doc.metadata.get(self.score_key)
        score = math.nan if score is None else float(score)
        keep = self._cut.mask(np.array([score]), self._rank, np.array([position]))[0]
        return True if keep else (False, "over_token_budget")
