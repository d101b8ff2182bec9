# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The fastText math classifier of DeepSeekMath §2.1.

"We select 500,000 data points from the seed corpus as positive training examples and another 500,000 web pages
from Common Crawl as negative ones. We employ an open-source library (fastText) for training, configuring the
vector dimension to 256, learning rate to 0.1, the maximum length of word n-gram to 3, the minimum number of word
occurrences to 3, and the number of training epochs to 3." Those are :class:`FastTextConfig`'s defaults.

Texts are normalized the same way for training and scoring (:func:`normalize_text`): lower-cased, one line, and
ASCII punctuation and each CJK character split off as its own token, so LaTeX such as ``\\frac{a}{b}`` yields the tokens ``\\ frac { a }
{ b }`` that the classifier can generalize from. Scoring is a ``datasets.map(batched=True)`` step
(:class:`FastTextScorer`) that loads the model once per worker process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import string
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numba
import numpy as np


POSITIVE_LABEL = "__label__math"
NEGATIVE_LABEL = "__label__other"
SCORE_COLUMN = "math_score"

_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF))


_PUNCT = np.zeros(128, dtype=np.bool_)
_PUNCT[[ord(c) for c in string.punctuation]] = True
_SPACE = np.zeros(128, dtype=np.bool_)
_SPACE[[ord(c) for c in "\n\r\t\x0b\x0c\x00"]] = True
_CJK_LO = np.array([lo for lo, _ in _CJK_RANGES], dtype=np.int64)
_CJK_HI = np.array([hi for _, hi in _CJK_RANGES], dtype=np.int64)


@numba.njit(cache=True)
def _normalize_utf8(src, out, punct, space, cjk_lo, cjk_hi) -> int:
    n = src.shape[0]
    i = 0
    j = 0
    while i < n:
        c = src[i]
        if c < 128:
            if punct[c]:
                out[j] = 32
                out[j + 1] = c
                out[j + 2] = 32
                j += 3
            elif space[c]:
                out[j] = 32
                j += 1
            else:
                out[j] = c
                j += 1
            i += 1
            continue
        length = 2 if c < 0xE0 else (3 if c < 0xF0 else 4)
        if length > n - i:
            length = n - i
        split = False
        if length == 3:
            cp = ((c & 0x0F) << 12) | ((src[i + 1] & 0x3F) << 6) | (src[i + 2] & 0x3F)
            for r in range(cjk_lo.shape[0]):
                if cjk_lo[r] <= cp <= cjk_hi[r]:
                    split = True
        if split:
            out[j] = 32
            j += 1
        for k in range(length):
            out[j] = src[i + k]
            j += 1
        if split:
            out[j] = 32
            j += 1
        i += length
    return j


def normalize_text(text: str, max_chars: int | None = None) -> str:
    """The classifier's view of a page: lower-cased, on one line, ASCII punctuation and each CJK character split
    into tokens; the first ``max_chars`` characters when given. A numba pass over the UTF-8 bytes, equal to the
    ``str.translate`` specification in ``tests/reference_mining.py`` (``benchmarks/mining.py`` measures both)."""
    if max_chars is not None:
        text = text[:max_chars]
    src = np.frombuffer(text.lower().encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if not len(src):
        return ""
    out = np.empty(3 * len(src), dtype=np.uint8)
    n = _normalize_utf8(src, out, _PUNCT, _SPACE, _CJK_LO, _CJK_HI)
    return out[:n].tobytes().decode("utf-8", "surrogatepass")


@dataclass
class FastTextConfig:
    """fastText settings (DeepSeekMath §2.1 defaults) and training-set sizes."""

    dim: int = 256
    lr: float = 0.1
    word_ngrams: int = 3
    min_count: int = 3
    epoch: int = 3
    #: Hash buckets for word n-grams (fastText's default). The input matrix is (vocab + bucket) x dim floats:
    #: 2M x 256 is 2 GB; use e.g. 200_000 for small corpora and demos.
    bucket: int = 2_000_000
    loss: str = "softmax"
    n_positives: int = 500_000
    n_negatives: int = 500_000
    #: Training threads. 1 makes training deterministic for a given seed (fastText's Hogwild updates are not).
    threads: int = 1
    seed: int = 0
    #: Also write a product-quantized ``.ftz`` model and score with it (smaller, slightly less accurate).
    quantize: bool = False
    #: Rows (words and n-gram buckets with the largest norms) kept by quantization (fastText's ``cutoff``; 0 = all).
    quantize_cutoff: int = 100_000
    #: Score (and train on) only the first ``max_chars`` characters of each page; None = whole page.
    max_chars: int | None = None

    def fasttext_kwargs(self) -> dict:
        """These settings as ``fasttext.train_supervised`` keyword arguments."""
        return dict(
            dim=self.dim,
            lr=self.lr,
            wordNgrams=self.word_ngrams,
            minCount=self.min_count,
            epoch=self.epoch,
            bucket=self.bucket,
            loss=self.loss,
            thread=self.threads,
            seed=self.seed,
            verbose=0,
        )


def _sample(texts: Sequence[str], n: int, rng: random.Random) -> list[str]:
    texts = [t for t in texts if t and t.strip()]
    return texts if len(texts) <= n else rng.sample(texts, n)


def train_classifier(
    positives: Sequence[str],
    negatives: Sequence[str],
    output_path: str | Path,
    config: FastTextConfig | None = None,
) -> FastTextClassifier:
    """Train on up to ``n_positives`` seed texts vs up to ``n_negatives`` random pages (sampled with ``seed``),
    save to ``output_path`` (``.bin``; plus ``.ftz`` when ``quantize``) and return the classifier."""
    config = config or FastTextConfig()
    rng = random.Random(config.seed)
    pos = _sample(positives, config.n_positives, rng)
    neg = _sample(negatives, config.n_negatives, rng)
    if not pos or not neg:
        raise ValueError(f"training needs positives and negatives, got {len(pos)} positive and {len(neg)} negative")
    rows = [f"{POSITIVE_LABEL} {normalize_text(t, config.max_chars)}" for t in pos]
    rows += [f"{NEGATIVE_LABEL} {normalize_text(t, config.max_chars)}" for t in neg]
    rng.shuffle(rows)
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_path.parent) as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
        _train_with_retries(str(train_file), Path(tmp), config)
        os.replace(Path(tmp) / "model.bin", output_path)  # atomic: a killed run never leaves half a model
        quantized = None
        if config.quantize:
            quantized = output_path.with_suffix(".ftz")
            os.replace(Path(tmp) / "model.ftz", quantized)
    classifier = FastTextClassifier(quantized or output_path, max_chars=config.max_chars)
    classifier.training = {"positives": len(pos), "negatives": len(neg), **asdict(config)}
    return classifier


_TRAIN_SCRIPT = """
import json, sys
import fasttext
args = json.loads(sys.argv[1])
model = fasttext.train_supervised(input=args["input"], **args["kwargs"])
model.save_model(args["bin"])
if args["quantize"]:
    model.quantize(input=args["input"], retrain=False, qnorm=True, cutoff=args["cutoff"])
    model.save_model(args["ftz"])
"""


def _train_with_retries(train_file: str, out_dir: Path, config: FastTextConfig, attempts: int = 5) -> None:
    # fasttext-numpy2 0.10 reads uninitialized heap memory during supervised training: in a process that has
    # already trained (or otherwise reused its heap) it aborts with "Encountered NaN" at random, whatever the lr;
    # in a fresh process (zeroed pages) it does not. So each training runs in a fresh Python process (a plain
    # subprocess: no re-import of the caller's __main__), and a rare failure is retried in another one.
    import subprocess
    import sys

    args = {
        "input": train_file,
        "kwargs": config.fasttext_kwargs(),
        "bin": str(out_dir / "model.bin"),
        "ftz": str(out_dir / "model.ftz"),
        "quantize": config.quantize,
        "cutoff": config.quantize_cutoff,
    }
    errors = ""
    for _ in range(attempts):
        for name in ("model.bin", "model.ftz"):
            (out_dir / name).unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-c", _TRAIN_SCRIPT, json.dumps(args)], capture_output=True, text=True)
        done = (out_dir / "model.bin").is_file() and (not config.quantize or (out_dir / "model.ftz").is_file())
        if proc.returncode == 0 and done:
            return
        errors = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
    raise RuntimeError(
        f"fastText training failed in {attempts} fresh processes: {errors} "
        "(an 'Encountered NaN' that persists: try a lower classifier.lr)"
    )


_MODELS: dict[tuple[str, float, int], object] = {}


def load_fasttext(path: str | Path):
    """Load a fastText model once per process (cached by path, size and mtime)."""
    import fasttext

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"fastText model {path} does not exist")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    if key not in _MODELS:
        _MODELS[key] = fasttext.load_model(str(path))
    return _MODELS[key]


def _positive_probs(labels: list, probs: list) -> np.ndarray:
    # k=1 on a two-label softmax: P(math) is the top probability or its complement.
    out = np.fromiter((p[0] for p in probs), dtype=np.float64, count=len(probs))
    is_pos = np.fromiter((lab[0] == POSITIVE_LABEL for lab in labels), dtype=bool, count=len(labels))
    return np.clip(np.where(is_pos, out, 1.0 - out), 0.0, 1.0)


class FastTextClassifier:
    """A trained math classifier: ``predict_proba(texts)`` gives P(math) per text."""

    def __init__(self, path: str | Path, max_chars: int | None = None):
        self.path = Path(path)
        self.max_chars = max_chars
        self.training: dict = {}
        load_fasttext(self.path)  # fail early on a bad path

    @property
    def model(self):
        """The loaded fastText model (cached per process by :func:`load_fasttext`)."""
        return load_fasttext(self.path)

    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        """P(math) of each text (normalized as in training; the first ``max_chars`` characters)."""
        lines = [normalize_text(t or "", self.max_chars) for t in texts]
        if not lines:
            return np.zeros(0)
        labels, probs = self.model.predict(lines, k=1)
        return _positive_probs(labels, probs)

    def scorer(self, text_column: str = "text", score_column: str = SCORE_COLUMN) -> FastTextScorer:
        """A picklable ``datasets.map`` scoring step for this model."""
        return FastTextScorer(self.path, text_column, score_column, self.max_chars)

    def fingerprint(self) -> str:
        """A short hash of the model file's path, size and modification time (a cache key for scores)."""
        stat = self.path.stat()
        return hashlib.sha256(f"{self.path.resolve()}-{stat.st_size}-{stat.st_mtime}".encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=2)
def cached_classifier(path: str, mtime_ns: int, max_chars: int | None) -> FastTextClassifier:
    """One :class:`FastTextClassifier` per process and model file (``mtime_ns`` tells a rewritten file apart): a
    persistent worker pool scores many shards with it."""
    return FastTextClassifier(path, max_chars=max_chars)


class FastTextScorer:
    """``datasets.map(batched=True)`` function adding ``score_column`` = P(math). Pickles without the model;
    each worker process loads it once (:func:`load_fasttext`)."""

    def __init__(
        self,
        model_path: str | Path,
        text_column: str = "text",
        score_column: str = SCORE_COLUMN,
        max_chars: int | None = None,
    ):
        self.model_path = str(model_path)
        self.text_column = text_column
        self.score_column = score_column
        self.max_chars = max_chars

    def __call__(self, batch: dict) -> dict:
        model = load_fasttext(self.model_path)
        texts = batch[self.text_column]
        lines = [normalize_text(t or "", self.max_chars) for t in texts]
        if not lines:
            return {self.score_column: []}
        labels, probs = model.predict(lines, k=1)
        return {self.score_column: _positive_probs(labels, probs)}


def score_dataset(
    dataset,
    classifier: FastTextClassifier,
    text_column: str = "text",
    score_column: str = SCORE_COLUMN,
    num_proc: int | None = None,
    batch_size: int = 1000,
):
    """``dataset`` with a ``score_column`` of P(math), computed by ``dataset.map(batched=True, num_proc=...)``."""
    if text_column not in dataset.column_names:
        raise KeyError(f"column {text_column!r} not in the dataset (columns: {dataset.column_names})")
    if score_column in dataset.column_names:
        dataset = dataset.remove_columns(score_column)
    return dataset.map(
        classifier.scorer(text_column, score_column),
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        desc="fastText scoring",
        new_fingerprint=hashlib.sha256(
            f"{dataset._fingerprint}-fasttext-{classifier.fingerprint()}-{text_column}-{score_column}".encode()
        ).hexdigest()[:32],
    )


def precision_at_k(scores: Sequence[float], relevant: Sequence[bool], k: int | None = None) -> float:
    """Fraction of relevant items among the ``k`` highest scores (``k`` = number of relevant items by default);
    ties broken by row order."""
    relevant = np.asarray(relevant, dtype=bool)
    k = int(relevant.sum()) if k is None else k
    if k <= 0:
        raise ValueError("k must be positive (no relevant items?)")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]
    return float(relevant[order].sum() / k)
