# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""HTML -> text extractors on pages with ground truth: formula recall, word F1, boilerplate share, CPU speed.

A page set is a directory of ``<id>.html`` + ``<id>.json`` (``gt_text``, ``formulas``) pairs, in ``math/`` and
``nonmath/`` subdirectories (../shared/data/extract_dev has this layout; pass others with ``--pages``). Measured,
per page and averaged over pages:

* formula recall: share of the ground truth's formulas found in the output after whitespace normalization
  (``exact``), and ignoring all spaces and ``\\left``/``\\right`` (``loose``); math pages with formulas only;
* word F1 of the output's bag of words against ``gt_text`` (words: runs of letters/digits; each CJK character is
  one word); boilerplate share: output words absent from ``gt_text``;
* CPU seconds (``time.process_time``, this process, one core) per page; pages/s over the pages of at most 250 KB.

Extractors: trl-dsm stage two (``html_to_text``) and stage one (``fast_text``), trafilatura, resiliparse
(``extract_plain_text(main_content=True)``), and OpenWebMath's extractor when ``--owm-python``/``--owm-src`` name an
environment and a checkout of github.com/keirp/OpenWebMath (run in a subprocess, timed there the same way). The
stage-one prefilter's pass rates and speed are printed too.

    OMP_NUM_THREADS=1 python benchmarks/extraction.py --pages ../shared/data/extract_dev \\
        --owm-python /work/venvs/owm/bin/python --owm-src /path/to/OpenWebMath
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


SMALL_BYTES = 250_000
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORDS = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?![A-Za-z])")


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``; each CJK character is a word."""
    return _WORDS.findall(text.lower())


def word_f1(out: str, gt: str) -> float:
    """F1 of the bags of words of ``out`` and ``gt``."""
    a, b = Counter(words(out)), Counter(words(gt))
    common = sum((a & b).values())
    if not a or not b or not common:
        return 1.0 if not a and not b else 0.0
    p, r = common / sum(a.values()), common / sum(b.values())
    return 2 * p * r / (p + r)


def boilerplate_share(out: str, gt: str) -> float:
    """Share of the output's words that do not occur in ``gt``."""
    ws = words(out)
    if not ws:
        return 0.0
    vocab = set(words(gt))
    return sum(w not in vocab for w in ws) / len(ws)


def _exact(s: str) -> str:
    return " ".join(s.split())


def _loose(s: str) -> str:
    return "".join(_LEFT_RIGHT.sub("", s).split())


def formula_recall(out: str, formulas: list[str]) -> tuple[float, float]:
    """``(exact, loose)`` share of ``formulas`` found in ``out``."""
    ex, lo = _exact(out), _loose(out)
    hits_e = sum(_exact(f) in ex for f in formulas)
    hits_l = sum(_loose(f) in lo for f in formulas)
    return hits_e / len(formulas), hits_l / len(formulas)


def load_pages(root: Path) -> list[dict]:
    """Pages of a page set: ``id``, ``kind`` (math/nonmath), ``html`` (bytes), ``gt_text``, ``formulas``."""
    pages = []
    for kind in ("math", "nonmath"):
        for html_path in sorted((root / kind).glob("*.html")):
            meta = json.loads(html_path.with_suffix(".json").read_text())
            pages.append(
                {
                    "id": html_path.stem,
                    "kind": kind,
                    "html": html_path.read_bytes(),
                    "gt_text": meta["gt_text"],
                    "formulas": meta.get("formulas") or [],
                }
            )
    if not pages:
        raise FileNotFoundError(f"--pages {root}: no math/*.html or nonmath/*.html pages")
    return pages


def _trafilatura(html: bytes) -> str:
    import trafilatura

    return trafilatura.extract(html, include_tables=True, include_comments=True) or ""


def _resiliparse(html: bytes) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import detect_encoding
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse_from_bytes(html, detect_encoding(html)), main_content=True)


def _stage_two(html: bytes) -> str:
    from trl_dsm.mining.html_text import html_to_text

    return html_to_text(html)[1]


def _stage_one(html: bytes) -> str:
    from trl_dsm.mining.extraction.fast import fast_text

    return fast_text(html)[1]


EXTRACTORS = {
    "trl-dsm stage two (html_to_text)": _stage_two,
    "trl-dsm stage one (fast_text)": _stage_one,
    "trafilatura": _trafilatura,
    "resiliparse main_content": _resiliparse,
}


def run_local(fn, pages: list[dict]) -> list[tuple[str, float]]:
    """``(text, CPU seconds)`` of ``fn`` on each page (one warm-up call first); an exception counts as no text."""
    fn(pages[0]["html"])
    results = []
    for page in pages:
        t0 = time.process_time()
        try:
            text = fn(page["html"])
        except Exception as exc:  # a failed page scores zero, and is reported
            print(f"  {page['id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
            text = ""
        results.append((text, time.process_time() - t0))
    return results


# Runs inside OpenWebMath's environment: its text_extraction package on each page, with the most likely value of
# each randomized option of its Common Crawl config (configs/randomized_all.yaml), as extract_from_warc.py calls it.
_OWM_RUNNER = r"""
import json, sys, time
import yaml
src, paths_file, out_file = sys.argv[1:4]
sys.path.insert(0, src + "/text_extraction")
from text_extract.extract import extract_text

def mode(value):
    if isinstance(value, dict):
        return {k: mode(v) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(x, list) and len(x) == 2 for x in value):
        return max(value, key=lambda x: x[0])[1]
    return value

config = mode(yaml.safe_load(open(src + "/extract_from_cc/configs/randomized_all.yaml")))
paths = json.load(open(paths_file))
out = []
for i, path in enumerate([paths[0]] + paths):
    raw = open(path, "rb").read()
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    html = bytes_to_str(raw, detect_encoding(raw))
    t0 = time.process_time()
    try:
        res = extract_text(html, config, fast=True)
        text = res[0] if res else ""
    except Exception:
        text = ""
    if i:
        out.append([text or "", time.process_time() - t0])
json.dump(out, open(out_file, "w"))
"""


def run_owm(python: str, src: str, pages: list[dict], tmp: Path) -> list[tuple[str, float]]:
    """OpenWebMath's extractor in its own environment (a subprocess), timed per page there."""
    paths = []
    for page in pages:
        p = tmp / f"{page['kind']}_{page['id']}.html"
        p.write_bytes(page["html"])
        paths.append(str(p))
    (tmp / "paths.json").write_text(json.dumps(paths))
    (tmp / "runner.py").write_text(_OWM_RUNNER)
    subprocess.run(
        [python, str(tmp / "runner.py"), src, str(tmp / "paths.json"), str(tmp / "out.json")],
        check=True,
        timeout=3600,
    )
    return [tuple(x) for x in json.loads((tmp / "out.json").read_text())]


def summarize(name: str, pages: list[dict], results: list[tuple[str, float]]) -> dict:
    """Averages of the measures over the page set."""
    math = [(p, r) for p, r in zip(pages, results) if p["kind"] == "math"]
    other = [(p, r) for p, r in zip(pages, results) if p["kind"] == "nonmath"]
    with_f = [(p, r) for p, r in math if p["formulas"]]
    rec = [formula_recall(r[0], p["formulas"]) for p, r in with_f]
    small = [r[1] for p, r in zip(pages, results) if len(p["html"]) <= SMALL_BYTES]

    def mean(xs):
        return sum(xs) / len(xs) if xs else float("nan")

    return {
        "name": name,
        "recall_exact": mean([e for e, _ in rec]),
        "recall_loose": mean([lo for _, lo in rec]),
        "f1_math": mean([word_f1(r[0], p["gt_text"]) for p, r in math]),
        "f1_other": mean([word_f1(r[0], p["gt_text"]) for p, r in other]),
        "boiler_math": mean([boilerplate_share(r[0], p["gt_text"]) for p, r in math]),
        "boiler_other": mean([boilerplate_share(r[0], p["gt_text"]) for p, r in other]),
        "pages_per_s": len(small) / sum(small) if small and sum(small) else float("nan"),
        "cpu_ms_mean": 1000 * mean([r[1] for r in results]),
        "cpu_s_max": max(r[1] for r in results),
    }


def print_table(title: str, rows: list[dict], n_math: int, n_other: int) -> None:
    """A markdown table of ``rows``."""
    print(f"\n### {title} ({n_math} math pages, {n_other} other pages)\n")
    print(
        "| extractor | formula recall exact | loose | math word F1 | other word F1 | boilerplate math/other "
        "| pages/s (<=250 KB) | CPU ms/page (all) | max s/page |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['recall_exact']:.3f} | {r['recall_loose']:.3f} | {r['f1_math']:.3f} | "
            f"{r['f1_other']:.3f} | {r['boiler_math']:.2f}/{r['boiler_other']:.2f} | {r['pages_per_s']:.0f} | "
            f"{r['cpu_ms_mean']:.1f} | {r['cpu_s_max']:.2f} |"
        )


def prefilter_report(pages: list[dict]) -> None:
    """Pass rates of ``looks_like_math`` on math and other pages, and its speed."""
    from trl_dsm.mining.extraction.prefilter import looks_like_math

    t0 = time.process_time()
    passed = [looks_like_math(p["html"]) for p in pages]
    dt = time.process_time() - t0
    m = [x for x, p in zip(passed, pages) if p["kind"] == "math"]
    o = [x for x, p in zip(passed, pages) if p["kind"] == "nonmath"]
    print(
        f"\nprefilter looks_like_math: passes {sum(m)}/{len(m)} math pages, {sum(o)}/{len(o)} other pages; "
        f"{len(pages) / dt:.0f} pages/s ({sum(len(p['html']) for p in pages) / dt / 1e6:.0f} MB/s)"
    )


def per_page(pages: list[dict], results: list[tuple[str, float]]) -> None:
    """One line per page for the first extractor (for finding what it loses)."""
    for p, (text, cpu) in zip(pages, results):
        rec = formula_recall(text, p["formulas"]) if p["formulas"] else (float("nan"),) * 2
        print(
            f"  {p['kind']:7s} {p['id'][:40]:40s} recall {rec[0]:.2f}/{rec[1]:.2f} "
            f"F1 {word_f1(text, p['gt_text']):.2f} boiler {boilerplate_share(text, p['gt_text']):.2f} "
            f"{1000 * cpu:.0f} ms {len(p['html']) // 1000} KB"
        )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run every extractor on every page set, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", nargs="+", default=["../shared/data/extract_dev"], help="page-set directories")
    ap.add_argument("--owm-python", help="python of an environment with OpenWebMath's requirements")
    ap.add_argument("--owm-src", help="a checkout of github.com/keirp/OpenWebMath")
    ap.add_argument("--only", nargs="*", help="extractor names to run (substrings); default all")
    ap.add_argument("--per-page", action="store_true", help="print per-page figures of the first extractor")
    args = ap.parse_args(argv)
    for root in args.pages:
        pages = load_pages(Path(root))
        rows, first = [], None
        for name, fn in EXTRACTORS.items():
            if args.only and not any(o in name for o in args.only):
                continue
            res = run_local(fn, pages)
            first = first or res
            rows.append(summarize(name, pages, res))
        if args.owm_python and args.owm_src and (not args.only or any("openwebmath" in o for o in args.only)):
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(summarize("OpenWebMath", pages, run_owm(args.owm_python, args.owm_src, pages, Path(tmp))))
        n_math = sum(p["kind"] == "math" for p in pages)
        print_table(root, rows, n_math, len(pages) - n_math)
        prefilter_report(pages)
        if args.per_page and first:
            per_page(pages, first)


if __name__ == "__main__":
    main()
