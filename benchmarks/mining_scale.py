# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Corpus mining at scale (§2.1): the whole ``trl-dsm mine`` pipeline on a synthetic crawl.

    python benchmarks/mining_scale.py [--sizes 20000 100000 400000] [--workers 1 2] [--data ../shared/data]
                                      [--autogroup-nice -20]

The crawl: the shared web pages, generated 150-word pages, MATH solutions as math pages (~5%), and planted
near-duplicates (copies of generated pages with 0-3 words replaced, Jaccard of 5-shingles ~0.87-1.0) under their
own URLs, plus 2% URL duplicates. Each size runs with 1 and 2 workers (``executor: local``, a process pool) in a
fresh process and prints: docs/s, the CPU seconds of the whole setting (its process, the pool workers and the
fastText training process, user + system: at 2 workers, more CPU than at 1 is contention, less wall gain at the
same CPU is serial or idle time), the wall seconds of each stage (``driver:*`` and ``train`` are the driver's own
work) and the rest (``driver_other_s``), the driver's peak RSS (its ``VmHWM``; with 1 worker the tasks run in the
driver's process), the largest child process's peak RSS (pool workers and the fastText training process), the
1-minute load before and after, and the near-dedup's recall on planted pairs of Jaccard >= 0.9 and its clusters
against datasketch's in-memory ``MinHashLSH`` on the same signatures.

On a Linux machine with ``sched_autogroup`` (the default on desktops and many VMs), each session's processes share
one CPU slot whatever their nice, so other sessions' niced jobs still take a core from a normal-priority
benchmark; ``--autogroup-nice`` runs each setting in its own session with that autogroup nice (negative values need
CAP_SYS_NICE).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _autogroup import own_autogroup  # benchmarks/_autogroup.py, beside this script


ROOT = Path(__file__).resolve().parents[1]

RUNNER = r"""
import json, resource, sys, time
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.pipeline import MiningPipeline
config = MiningConfig.from_dict(json.loads(sys.argv[1]))
start = time.perf_counter()
result = MiningPipeline(config).run()
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would count the benchmark process this one was forked from
    "driver_rss_mb": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024,
    "task_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "documents_out": result.stats["documents_out"],
    "dedup": result.stats["dedup"],
    "stage_seconds": result.stats["seconds"],
}))
"""


def make_crawl(n: int, data: Path, out: Path, seed: int = 0, per_file: int = 5000) -> dict:
    """Write ``n`` documents as JSONL files under ``out``; return the planted ``(original, copy)`` row pairs."""
    rng = random.Random(seed)
    web = [json.loads(line) for line in (data / "web" / "web_docs.jsonl").open()]
    with (data / "benchmarks" / "math" / "train.jsonl").open() as f:
        math = [(lambda r: r["problem"] + "\n" + r["solution"])(json.loads(line)) for line in f]
    vocab = [f"{chr(97 + i % 26)}{i:x}" for i in range(20_000)]
    docs: list[dict] = [{"text": d["text"], "url": d["url"]} for d in web[: min(len(web), n // 10)]]
    pages: list[list[str]] = []
    pairs: list[tuple[int, int]] = []
    origin: dict[int, int] = {}
    while len(docs) < n:
        r = rng.random()
        i = len(docs)
        if r < 0.05:
            docs.append({"text": rng.choice(math), "url": f"https://math{i % 97}.example/q/{i}"})
        elif r < 0.15 and pages:
            b = rng.randrange(len(pages))
            words = list(pages[b])
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            pairs.append((origin[b], i))
            docs.append({"text": " ".join(words), "url": f"https://mirror{i % 53}.example/p/{i}"})
        elif r < 0.17:
            d = docs[rng.randrange(len(docs))]
            docs.append({"text": d["text"], "url": d["url"].replace("https://", "http://") + "#dup"})
        else:
            words = [rng.choice(vocab) for _ in range(150)]
            origin[len(pages)] = i
            pages.append(words)
            docs.append({"text": " ".join(words), "url": f"https://site{i % 1009}.example/a/{i}"})
    out.mkdir(parents=True, exist_ok=True)
    for k in range(0, n, per_file):
        with gzip.open(out / f"part-{k // per_file:05d}.jsonl.gz", "wt") as f:
            f.writelines(json.dumps(d) + "\n" for d in docs[k : k + per_file])
    return {"pairs": pairs}


def dedup_quality(run: Path, pairs: list[tuple[int, int]]) -> dict:
    """Recall on planted pairs of Jaccard >= 0.9 and agreement with datasketch's in-memory LSH (evaluation only:
    this loads every signature, the pipeline never does)."""
    import pyarrow.parquet as pq

    from trl_dsm.mining.lsh import near_dedup
    from trl_dsm.mining.minhash import shingles

    meta = json.loads((run / "docs" / "shards.json").read_text())
    n_shards = len(meta["rows"])
    sigs = np.concatenate([np.load(run / "prepare" / f"signatures-{s:05d}.npy") for s in range(n_shards)])
    texts = [
        t for s in range(n_shards) for t in pq.read_table(run / "docs" / f"shard-{s:05d}.parquet")["text"].to_pylist()
    ]
    packed = np.concatenate([np.load(p) for p in sorted((run / "dedup" / "urls" / "removed").glob("*.npy"))])
    url_removed = np.asarray(meta["offsets"])[packed >> 32] + (packed & 0xFFFFFFFF)  # (shard, row) -> global row
    candidates = np.ones(len(sigs), dtype=bool)
    candidates[url_removed] = False
    candidates &= np.array([bool(t.strip()) for t in texts])
    rows = np.flatnonzero(candidates)
    start = time.perf_counter()
    reference = near_dedup(sigs[rows], threshold=0.8)
    datasketch_s = time.perf_counter() - start
    expected = [[int(rows[m]) for m in c] for c in reference.clusters]
    parts = sorted((run / "dedup" / "clusters").glob("part-*.jsonl"))  # by smallest row, parts in order
    ours = [json.loads(line)["members"] for part in parts for line in part.open()]
    same = sorted(c[:20] for c in expected) == sorted(ours)
    keep = np.concatenate([np.load(run / "dedup" / "keep" / f"shard-{s:05d}.npy") for s in range(n_shards)])
    expected_keep = candidates.copy()
    expected_keep[rows[~reference.keep]] = False
    cluster_of = {m: i for i, c in enumerate(expected) for m in c}
    shingle = {}

    def jaccard(a: int, b: int) -> float:
        for x in (a, b):
            if x not in shingle:
                shingle[x] = set(shingles(texts[x]))
        return len(shingle[a] & shingle[b]) / len(shingle[a] | shingle[b])

    high = [(a, b) for a, b in pairs if candidates[a] and candidates[b] and jaccard(a, b) >= 0.9]
    found = sum(1 for a, b in high if a in cluster_of and cluster_of.get(a) == cluster_of.get(b))
    root_of = {m: c[0] for c in expected for m in c[1:]}
    removed = np.flatnonzero(candidates & ~keep)
    true_dups = sum(1 for r in removed.tolist() if r in root_of and jaccard(root_of[r], r) >= 0.5)
    return {
        "planted_pairs_j>=0.9": len(high),
        "recall_j>=0.9": round(found / max(1, len(high)), 4),
        "precision (removed rows with true Jaccard >= 0.5 to the kept row)": round(
            true_dups / max(1, len(removed)), 4
        ),
        "same_clusters_as_datasketch": bool(same and (keep == expected_keep).all()),
        "datasketch_lsh_s": round(datasketch_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 400_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--docs-per-shard", type=int, default=2500)
    parser.add_argument("--timeout", type=float, default=6 * 3600)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="run the worker settings this many times, interleaved (1, 2, 2, 1, 1, 2, ...), and print each setting's "
        "median and the median speedup over the first setting (the machine's noise is as large as a speedup)",
    )
    parser.add_argument(
        "--autogroup-nice",
        type=int,
        default=None,
        help="run each setting in its own session with this autogroup nice (Linux with sched_autogroup: the nice "
        "of other sessions' processes does not yield to a normal-priority benchmark, an autogroup nice does)",
    )
    args = parser.parse_args()

    seeds = str(args.data / "benchmarks" / "math" / "train.jsonl")
    with tempfile.TemporaryDirectory(prefix="mining-scale-") as tmp:
        for n in args.sizes:
            crawl = Path(tmp) / f"crawl-{n}"
            planted = make_crawl(n, args.data, crawl)
            seconds: dict[int, list[float]] = {w: [] for w in args.workers}
            order = [ws for r in range(args.repeats) for ws in (args.workers if r % 2 == 0 else args.workers[::-1])]
            for i, workers in enumerate(order):
                run = Path(tmp) / f"run-{n}-{workers}-{i}"
                config = {
                    "output_dir": str(run),
                    "num_shards": max(1, n // args.docs_per_shard),
                    "iterations": 1,
                    "inputs": [{"type": "jsonl", "paths": [str(crawl / "*.jsonl.gz")]}],
                    "seeds": [{"type": "jsonl", "paths": [seeds], "fields": ["problem", "solution"], "limit": 2000}],
                    "classifier": {"dim": 64, "bucket": 200_000, "epoch": 5, "n_positives": 2000, "n_negatives": 2000},
                    "selection": {"method": "threshold", "threshold": 0.8},
                    "dedup": {"partitions": max(1, n // 50_000)},
                    "executor": {"kind": "local", "workers": workers},
                }
                load_before = os.getloadavg()[0]
                usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                proc = subprocess.run(
                    [sys.executable, "-c", RUNNER, json.dumps(config)],
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                    env={**os.environ, "TQDM_DISABLE": "1"},
                    preexec_fn=(lambda: own_autogroup(args.autogroup_nice))
                    if args.autogroup_nice is not None
                    else None,
                )
                load_after = os.getloadavg()[0]
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu_s = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
                if proc.returncode:
                    raise SystemExit(proc.stderr[-3000:])
                out = json.loads(proc.stdout.strip().splitlines()[-1])
                quality = dedup_quality(run, planted["pairs"]) if i == 0 else {}
                seconds[workers].append(out["seconds"])
                print(
                    json.dumps(
                        {
                            "documents": n,
                            "workers": workers,
                            "docs_per_s": round(n / out["seconds"], 1),
                            "seconds": round(out["seconds"], 1),
                            "cpu_s": round(cpu_s, 1),
                            "driver_peak_rss_mb": round(out["driver_rss_mb"], 1),
                            "largest_task_peak_rss_mb": round(out["task_rss_mb"], 1) if workers > 1 else None,
                            "documents_out": out["documents_out"],
                            "dedup": out["dedup"],
                            "stage_seconds": {k: round(v, 2) for k, v in out["stage_seconds"].items()},
                            "driver_other_s": round(out["seconds"] - sum(out["stage_seconds"].values()), 2),
                            "load_1min_before_after": [round(load_before, 2), round(load_after, 2)],
                            **quality,
                        }
                    ),
                    flush=True,
                )
                shutil.rmtree(run)
            if args.repeats > 1:
                anchor = args.workers[0]
                summary = {"documents": n, "repeats": args.repeats, "anchor_workers": anchor}
                for w in args.workers:
                    summary[f"median_s_{w}_workers"] = round(statistics.median(seconds[w]), 2)
                    summary[f"speedup_{w}_workers"] = [round(a / b, 2) for a, b in zip(seconds[anchor], seconds[w])]
                    summary[f"median_speedup_{w}_workers"] = round(
                        statistics.median(a / b for a, b in zip(seconds[anchor], seconds[w])), 2
                    )
                print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
