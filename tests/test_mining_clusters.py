# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The split ``clusters`` stage: per-partition star forests merged in rounds of ``fan_in`` give exactly the
components of one union-find over every pair, and no task reads more than one partition's pairs or ``fan_in``
forests."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trl_dsm.mining import lsh
from trl_dsm.mining.config import MiningConfig
from trl_dsm.mining.rundir import RunDir, json_default
from trl_dsm.mining.stages_dedup import forest_file, forest_inputs, forest_plan, lsh_tasks


def merged_clusters(partitions: list[np.ndarray], fan_in: int) -> tuple[list[list[int]], list[list[int]]]:
    """The forest rounds on in-memory pair files: the clusters of the last forest, and the sizes (pairs) each task
    read."""
    rounds = lsh.forest_rounds(len(partitions), fan_in)
    inputs, read = partitions, []
    for r, tasks in enumerate(rounds):
        out = []
        for t in range(tasks):
            group = [inputs[i] for i in lsh.forest_group(len(partitions), fan_in, r, t)]
            read.append([len(g) for g in group])
            out.append(lsh.star_forest(np.concatenate(group)))
        inputs = out
    assert len(inputs) == 1
    return lsh.clusters_from_edges(inputs[0]), read


def random_partitions(seed: int, nodes: int, pairs: int, parts: int, chains: int) -> list[np.ndarray]:
    """Random pairs split at random into ``parts`` files, plus ``chains`` long paths whose consecutive links sit in
    different files (components that only the later rounds can join)."""
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
def test_merged_forests_equal_one_union_find(seed):
    rng = np.random.default_rng(1000 + seed)
    nodes = int(rng.integers(50, 3000))
    parts = int(rng.integers(1, 90))
    fan_in = int(rng.integers(2, 9))
    partitions = random_partitions(seed, nodes, int(rng.integers(0, nodes)), parts, chains=int(rng.integers(0, 20)))
    expected = lsh.clusters_from_edges(np.concatenate(partitions))
    clusters, read = merged_clusters(partitions, fan_in)
    assert clusters == expected
    # round 0 reads one partition's pairs; later tasks at most fan_in forests, each of them a forest
    assert all(len(r) == 1 for r in read[:parts])
    assert all(len(r) <= fan_in for r in read[parts:])


def test_chain_across_every_partition_needs_every_round():
    """One path 0-1-...-999 whose links are spread round-robin over 64 files: every round-0 forest is a set of
    disjoint links, and only the last round (fan_in 2: 6 merge rounds) joins all rows into one cluster."""
    links = np.stack([np.arange(999), np.arange(1, 1000)], axis=1)
    partitions = [links[p::64] for p in range(64)]
    assert lsh.forest_rounds(64, 2) == [64, 32, 16, 8, 4, 2, 1]
    clusters, read = merged_clusters(partitions, fan_in=2)
    assert clusters == [list(range(1000))]
    # the last task reads 2 forests, together one pair per row they cover less one per component (512 + 487)
    assert read[-1] == [512, 487]


def test_star_forest_is_smaller_than_the_pairs_it_replaces():
    """A 200-row clique (19,900 pairs) is one star of 199 pairs; the clusters are unchanged."""
    rows = np.arange(100, 300)
    a, b = np.triu_indices(len(rows), 1)
    clique = np.stack([rows[a], rows[b]], axis=1)
    forest = lsh.star_forest(clique)
    assert len(clique) == 19900 and forest.tolist() == [[100, r] for r in range(101, 300)]
    assert lsh.clusters_from_edges(forest) == lsh.clusters_from_edges(clique) == [rows.tolist()]
    assert lsh.star_forest(np.zeros((0, 2), dtype=np.int64)).shape == (0, 2)


def test_forest_rounds_refuses_bad_plans():
    with pytest.raises(ValueError, match="fan_in"):
        lsh.forest_rounds(4, 1)
    with pytest.raises(ValueError, match="no task 3 in round 1"):
        lsh.forest_group(10, 4, 1, 3)


def test_each_forests_task_reads_one_partition_or_fan_in_forests(tmp_path):
    """The files each ``forests`` task of a run reads: its own band and partition's pairs in round 0, then at most
    ``fan_in`` forests of the round before, each forest read by exactly one task of the next round."""
    config = MiningConfig.from_dict({"dedup": {"partitions": 7}})
    run = RunDir(tmp_path)
    n = lsh_tasks(config)
    plan = forest_plan(config, fan_in=3)
    assert plan[0] == n > 7 and plan[-1] == 1
    all_pairs = {run.lsh_edges(b, p) for b, p in (divmod(i, 7) for i in range(n))}
    assert [forest_inputs(run, config, 0, i, fan_in=3) for i in range(n)] == [
        [run.lsh_edges(*divmod(i, 7))] for i in range(n)
    ]
    for r in range(1, len(plan)):
        seen = []
        for t in range(plan[r]):
            files = forest_inputs(run, config, r, t, fan_in=3)
            assert 1 <= len(files) <= 3 and not set(files) & all_pairs
            seen += files
        assert seen == [forest_file(run, r - 1, i) for i in range(plan[r - 1])]


def test_forests_stage_on_files_resumes_and_equals_one_union_find(tmp_path, monkeypatch):
    """The ``forests`` rounds as datatrove steps on a run directory (fan-in 2: rounds of 63, 32, 16, 8, 4, 2, 1
    tasks): the last forest's clusters equal one union-find over every pair file, and a task whose forest is deleted
    is redone with the same bytes while the others are left alone."""
    from trl_dsm.mining import stages_dedup
    from trl_dsm.mining.rundir import atomic_json, atomic_npy
    from trl_dsm.mining.stages import ForestStep

    monkeypatch.setattr(stages_dedup, "FOREST_FAN_IN", 2)
    config = MiningConfig.from_dict({"dedup": {"partitions": 7}})
    run = RunDir(tmp_path)
    atomic_json(run.config(), json.loads(json.dumps(config.to_dict(), default=json_default)))
    n = lsh_tasks(config)
    partitions = random_partitions(7, nodes=2000, pairs=900, parts=n, chains=15)
    for i, edges in enumerate(partitions):
        atomic_npy(run.lsh_edges(*divmod(i, 7)), edges)
    plan = forest_plan(config)
    assert plan == [63, 32, 16, 8, 4, 2, 1]
    for r, tasks in enumerate(plan):
        list(ForestStep(tmp_path, r, range(tasks)).run())
    last = forest_file(run, len(plan) - 1, 0)
    assert lsh.clusters_from_edges(np.load(last)) == lsh.clusters_from_edges(np.concatenate(partitions))
    before = {f: f.read_bytes() for f in (tmp_path / "dedup" / "forests").glob("*.npy")}
    assert len(before) == sum(plan)
    redo = forest_file(run, 3, 5)
    redo.unlink()
    stamp = {f: f.stat().st_mtime_ns for f in before if f != redo}
    assert ForestStep(tmp_path, 3).todo(range(plan[3])) == [5]
    list(ForestStep(tmp_path, 3, range(plan[3])).run())
    assert {f: f.read_bytes() for f in before} == before
    assert {f: f.stat().st_mtime_ns for f in stamp} == stamp
