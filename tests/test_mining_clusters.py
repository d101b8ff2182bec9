# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The near-dedup's connected components by node hash partition (§2.1): rounds of large-star / small-star tasks and
the per-partition ``clusters`` give exactly the components of one union-find over every pair, each task reads only
its own node partition's pairs, and a killed run resumes to the same bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trl_dsm.mining import lsh
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.rundir import RunDir, atomic_json, atomic_npy, json_default


ROOT = Path(__file__).resolve().parents[1]


def random_partitions(seed: int, nodes: int, pairs: int, parts: int, chains: int) -> list[np.ndarray]:
    """Random pairs split at random into ``parts`` files, plus ``chains`` long paths whose consecutive links sit in
    different files (components that only later rounds can join)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, nodes, pairs)
    b = rng.integers(0, nodes, pairs)
    edges = [np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)[a != b]]
    for _ in range(chains):
        path = rng.permutation(nodes)[: rng.integers(2, 40)]
        edges.append(np.stack([np.minimum(path[:-1], path[1:]), np.maximum(path[:-1], path[1:])], axis=1))
    edges = np.concatenate(edges).astype(np.int64)
    where = rng.integers(0, parts, len(edges))
    return [edges[where == p] for p in range(parts)]


@pytest.mark.parametrize("seed", range(12))
def test_partitioned_components_equal_one_union_find(seed):
    rng = np.random.default_rng(1000 + seed)
    nodes = int(rng.integers(50, 3000))
    files = int(rng.integers(1, 90))
    partitions = int(rng.integers(1, 12))
    inputs = random_partitions(seed, nodes, int(rng.integers(0, nodes)), files, chains=int(rng.integers(0, 20)))
    edges = np.concatenate(inputs)
    expected = lsh.clusters_from_edges(edges)
    clusters, read = lsh.partitioned_components(inputs, partitions)
    assert clusters == expected
    rows = len(np.unique(edges))
    rounds = len(read) - 2  # round 0, rounds 1..R, then the clusters tasks
    assert rounds >= 2 and rounds % 2 == 0 and rounds <= lsh.component_round_limit(rows)
    assert len(read[0]) == files and all(len(r) == partitions for r in read[1:])
    # the clusters tasks read every clustered row once as a key, and one pair per non-smallest row in each direction
    assert sum(r for _, r in read[-1]) == rows
    assert sum(p for p, _ in read[-1]) == 2 * sum(len(c) - 1 for c in expected)


def test_long_path_across_partitions_needs_several_rounds():
    """A 2,000-row path, its rows in a random order, its links spread round-robin over 64 files and 8 node
    partitions: no round-0 file has two links of a row, so only the rounds join them; 20 rounds (the alternation's
    O(log^2 n) bound allows 246), after which each clusters task holds its partition's share of the star."""
    rng = np.random.default_rng(0)
    order = rng.permutation(2000)
    links = np.sort(np.stack([order[:-1], order[1:]], axis=1), axis=1)
    clusters, read = lsh.partitioned_components([links[p::64] for p in range(64)], 8)
    assert clusters == [list(range(2000))]
    assert len(read) - 2 == 20 and lsh.component_round_limit(2000) == 246
    # converged: the one star's 1,999 pairs keyed at both ends, split by node partition (the centre, row 0, holds
    # its own 1,999; each other row its one pair)
    centre = lsh.node_partition(np.array([0]), 8)[0]
    per_part = np.bincount(lsh.node_partition(np.arange(1, 2000), 8), minlength=8)
    assert [p for p, _ in read[-1]] == (per_part + 1999 * (np.arange(8) == centre)).tolist()
    # the rounds before hold about their partition's share of the path's 2 x 1,999 directed pairs
    assert max(p for r in read[1:-1] for p, _ in r) < 2 * 1999


def test_star_around_its_largest_row_and_in_order_path():
    """A star whose centre is its largest row (every other row's only neighbour is larger) and a path 0-1-...-999
    whose links all sit in different files: one cluster each, smallest row kept."""
    centre = 10_000
    star = np.stack([np.arange(3000), np.full(3000, centre)], axis=1)
    path = np.stack([np.arange(20_000, 20_999), np.arange(20_001, 21_000)], axis=1)
    inputs = [star[p::50] for p in range(50)] + [path[p::50] for p in range(50)]
    clusters, read = lsh.partitioned_components(inputs, 5)
    assert clusters == [[*range(3000), centre], list(range(20_000, 21_000))]
    assert 2 <= len(read) - 2 <= lsh.component_round_limit(4001)


def test_rounds_are_star_steps():
    """Large-star links each row's larger neighbours to its smallest neighbour; small-star a row and its smaller
    neighbours to the smallest of them; the counts are the pairs changed; the converged stars give the removed rows,
    cluster sizes and first members."""
    # the path 1-2-3 keyed at both ends: 2 (smallest neighbour 1) re-links 3 to 1
    both = np.array([[1, 2], [2, 1], [2, 3], [3, 2]])
    out, changed = lsh.component_round(both, 1)
    assert out.tolist() == [[2, 1], [3, 1]] and changed == 1
    # small-star at 5 with smaller neighbours 2, 3, 4: 3, 4 and 5 linked to 2 (two changed), keyed at both ends
    out, changed = lsh.component_round(np.array([[5, 4], [5, 2], [5, 3]]), 2)
    assert changed == 2
    assert out.tolist() == [[2, 3], [2, 4], [2, 5], [3, 2], [4, 2], [5, 2]]
    with pytest.raises(ValueError, match="larger row"):
        lsh.component_round(np.array([[1, 2]]), 2)
    removed, roots, shown = lsh.star_clusters(out, max_members=3)
    assert removed.tolist() == [3, 4, 5] and roots.tolist() == [[2], [4]]
    assert shown.tolist() == [[2, 3, 4], [2, 2, 2], [0, 1, 2]]
    with pytest.raises(RuntimeError, match="not converged"):
        lsh.star_clusters(np.array([[3, 1], [3, 2], [1, 3], [2, 3]]))
    assert lsh.components_converged([0, 5, 0, 0, 0]) and not lsh.components_converged([0, 0, 0, 0])


def _write_run(tmp_path: Path, partitions: int, seed: int = 7) -> tuple[RunDir, MiningConfig, list[np.ndarray]]:
    """A run directory holding random duplicate pairs as every (band, LSH partition)'s ``lsh_merge`` output."""
    from trl_dsm.mining.stages_dedup import lsh_tasks

    config = MiningConfig.from_dict({"dedup": {"partitions": partitions}})
    run = RunDir(tmp_path)
    atomic_json(run.config(), json.loads(json.dumps(config.to_dict(), default=json_default)))
    n = lsh_tasks(config)
    pairs = random_partitions(seed, nodes=2000, pairs=900, parts=n, chains=15)
    for i, edges in enumerate(pairs):
        atomic_npy(run.lsh_edges(*divmod(i, partitions)), edges)
    return run, config, pairs


def _run_components(run: RunDir, config: MiningConfig) -> int:
    """The driver's loop over ``components`` rounds (as ``MiningPipeline._dedup`` runs it); the converged round."""
    from trl_dsm.mining.stages import ComponentsStep
    from trl_dsm.mining.stages_dedup import component_changes

    changed: list[int] = []
    while not lsh.components_converged(changed):
        list(ComponentsStep(run.root, len(changed), range(config.dedup.partitions)).run())
        changed.append(component_changes(run, config, len(changed)))
    return len(changed) - 1


def test_each_task_reads_only_its_node_partition(tmp_path, monkeypatch):
    """Every ``components`` task of round 0 reads its own LSH partition's pairs of each band, every later task and
    every ``clusters`` task slice ``p`` (its own node partition's pairs, every key hashing to ``p``) of each file of
    the round before, and nothing else; the slices together are every pair written."""
    from trl_dsm.mining import stages_dedup
    from trl_dsm.mining.stages import ClustersStep

    partitions = 5
    run, config, _ = _write_run(tmp_path, partitions)
    loaded: list[Path] = []
    sliced: list[tuple[Path, int]] = []
    real_load, real_slice = np.load, stages_dedup._slice

    def load(path, *args, **kwargs):
        loaded.append(Path(path))
        return real_load(path, *args, **kwargs)

    def read_slice(path, offsets, partition):
        out = real_slice(path, offsets, partition)
        assert (lsh.node_partition(out[:, 0], partitions) == partition).all()
        sliced.append((Path(path), partition, len(out)))
        return out

    monkeypatch.setattr(np, "load", load)
    monkeypatch.setattr(stages_dedup, "_slice", read_slice)
    last = None
    for round_ in range(100):
        for p in range(partitions):
            loaded.clear(), sliced.clear()
            stages_dedup.components_task(run, config, round_, p)
            if round_ == 0:
                assert loaded == [run.lsh_edges(b, p) for b in range(9)] and not sliced
            else:
                files = [run.components(round_ - 1, q) for q in range(partitions)]
                assert [(f, q) for f, q, _ in sliced] == [(f, p) for f in files]
                offsets = [run.component_offsets(round_ - 1, q) for q in range(partitions)]
                assert loaded == [x for o, f in zip(offsets, files) for x in (o, f)]
        written = sum(len(real_load(run.components(round_, q))) for q in range(partitions))
        got = 0
        for p in range(partitions):  # the next round's slices add up to what this round wrote
            got += sum(
                len(real_slice(run.components(round_, q), run.component_offsets(round_, q), p))
                for q in range(partitions)
            )
        assert got == written
        if lsh.components_converged([stages_dedup.component_changes(run, config, r) for r in range(round_ + 1)]):
            last = round_
            break
    assert last is not None and last >= 2
    for p in range(partitions):
        sliced.clear()
        list(ClustersStep(run.root, last, [p]).run())
        assert [(f, q) for f, q, _ in sliced] == [(run.components(last, q), p) for q in range(partitions)]


def test_components_stage_on_files_resumes_and_equals_one_union_find(tmp_path):
    """The ``components`` rounds and ``clusters`` as datatrove steps on a run directory: the partitions' clusters
    (smallest row and size, first members, removed rows) equal one union-find over every pair file; a round-2 task
    whose files are deleted is redone with the same bytes while the others are left alone."""
    from trl_dsm.mining.stages import ClustersStep, ComponentsStep

    partitions = 7
    run, config, pairs = _write_run(tmp_path, partitions)
    last = _run_components(run, config)
    list(ClustersStep(run.root, last, range(partitions)).run())
    expected = lsh.clusters_from_edges(np.concatenate(pairs))
    roots = np.concatenate([np.load(run.cluster_roots(p)) for p in range(partitions)], axis=1)
    roots = roots[:, np.argsort(roots[0])]
    assert roots.T.tolist() == [[c[0], len(c)] for c in expected]
    shown = np.concatenate([np.load(run.cluster_shown(p)) for p in range(partitions)], axis=1)
    firsts: dict[int, list[int]] = {}
    for member, root, position in sorted(shown.T.tolist(), key=lambda x: (x[1], x[2])):
        assert len(firsts.setdefault(root, [])) == position
        firsts[root].append(member)
    assert [firsts[c[0]] for c in expected] == [c[:20] for c in expected]
    removed = np.sort(np.concatenate([np.load(run.near_removed(p)) for p in range(partitions)]))
    assert removed.tolist() == sorted(m for c in expected for m in c[1:])
    for p in range(partitions):  # each partition's removed rows are sorted and its own
        part = np.load(run.near_removed(p))
        assert (np.diff(part) > 0).all() and (lsh.node_partition(part, partitions) == p).all()
    before = {f: f.read_bytes() for f in (tmp_path / "dedup").rglob("*") if f.is_file()}
    redo = [run.components(2, 3), run.component_offsets(2, 3), run.component_counts(2, 3)]
    for f in redo:
        f.unlink()
    stamp = {f: f.stat().st_mtime_ns for f in before if f not in redo}
    assert ComponentsStep(run.root, 2).todo(range(partitions)) == [3]
    list(ComponentsStep(run.root, 2, range(partitions)).run())
    assert {f: f.read_bytes() for f in before} == before
    assert {f: f.stat().st_mtime_ns for f in stamp} == stamp


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["components:9", "cluster_members:2"])
def test_killed_run_resumes_to_the_same_dedup_files(tmp_path, kill):
    """A mining run on a planted near-duplicate crawl, SIGKILLed after 9 ``components`` units (in round 2 of 4
    node partitions) or after 2 ``cluster_members`` shards, then resumed: every dedup file (the rounds' pairs and
    counts, removed rows, clusters, keep-masks, report parts, summary) and the export are byte-identical to an
    uninterrupted run."""
    from tests.test_mining_dedup import planted_crawl

    texts, _ = planted_crawl(300, seed=5)
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": t, "url": f"https://e.org/{i}"}) + "\n" for i, t in enumerate(texts)))
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[:30]))
    config = {
        "iterations": 1,
        "num_shards": 3,
        "dedup": {"partitions": 4},
        "inputs": [{"type": "jsonl", "paths": [str(docs)]}],
        "seeds": [{"type": "jsonl", "paths": [str(seeds)], "fields": ["text"]}],
        "classifier": {"bucket": 1000, "n_positives": 20, "n_negatives": 20},
    }
    script = [sys.executable, str(ROOT / "tests" / "scripts" / "mining_run.py")]
    env = dict(os.environ, TQDM_DISABLE="1", HF_HUB_OFFLINE="1")
    killed = subprocess.run([*script, str(tmp_path / "a"), json.dumps(config), kill], env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    dedup = tmp_path / "a" / "dedup"
    if kill.startswith("components"):  # round 0 and 1 done, one task of round 2
        done = [len(list((dedup / "components" / f"round-{r:03d}").glob("*.json"))) for r in range(3)]
        assert done == [4, 4, 1] and not (dedup / "summary.json").exists()
    else:  # the summary and keep-masks written, 2 of 3 shards' report members, no report part
        assert (dedup / "summary.json").is_file() and len(list((dedup / "keep").glob("*.npy"))) == 3
        assert len(list((dedup / "near").glob("members-*"))) == 2 and not (dedup / "clusters").exists()
    for run in ("a", "b"):
        done = subprocess.run([*script, str(tmp_path / run), json.dumps(config)], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]

    def files(run: str) -> dict[str, bytes]:
        root = tmp_path / run
        return {
            str(f.relative_to(root)): f.read_bytes()
            for f in sorted([*(root / "dedup").rglob("*"), *(root / "export" / "data").rglob("*")])
            if f.is_file()
        }

    a, b = files("a"), files("b")
    assert a == b
    rounds = {Path(f).parent.name for f in a if f.startswith("dedup/components/")}
    summary = json.loads(a["dedup/summary.json"])
    assert len(rounds) >= 4 and summary["clusters"] > 50
    report = [json.loads(line) for f in sorted(a) if f.startswith("dedup/clusters/") for line in a[f].splitlines()]
    assert [c["cluster"] for c in report] == list(range(summary["clusters"]))
