# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""What the miniature run writes to its output directory, what it removes at the end, and the check that keeps one
run's results from mixing with another's.

A finished run leaves :data:`RESULTS` (the report, its numbers and plots) and :data:`MODELS` (a few MB); the
working directories of its stages (:data:`INTERMEDIATES`: the mining run, nearly all of the space, and the trainers'
output directories) are removed at the end unless ``keep_intermediates``."""

from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path


#: The run's results: report, numbers, plots (and, with several seeds, the summary and one directory per seed).
RESULTS = (
    "report.md", "results.json", "reward_curve.png", "accuracy_by_stage.png", "pass_maj_at_k.png",
    "seeds_summary.md", "seed-*",
)  # fmt: skip

#: The models a run saves: ``--resume-from`` reuses ``sft-model``, ``base_from`` ``pretrained-model``.
MODELS = ("pretrained-model", "sft-model", "prm-model")

#: The stages' working directories, and the record of finished stages a run keeps while it goes on (replaced by
#: ``results.json`` at the end; an interrupted run keeps it).
INTERMEDIATES = ("mining", "pretrain", "sft", "sft-continued", "rft", "prm", "grpo-*")
PARTIAL = "results.partial.json"


def _is_demo_entry(name: str) -> bool:
    patterns = (*RESULTS, *MODELS, *INTERMEDIATES, PARTIAL)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _describe_run(out: Path) -> str:
    """``the results of a finished --quick run (seed 0)``, read from the run's records, or ``an earlier run's
    files``."""
    for name in ("results.json", PARTIAL):
        try:
            config = json.loads((out / name).read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        kind = "--quick" if config.get("smoke_test") else "--study" if config.get("study_run") else "default"
        state = "a finished" if name == "results.json" else "an unfinished"
        return f"the results of {state} {kind} run (seed {config.get('seed')})"
    return "an earlier run's files"


def prepare_output_dir(out: Path) -> str | None:
    """Make ``out`` ready for a new run: created when missing; when it holds an earlier demo run's files (and
    nothing else), those are removed and the returned message says so; a directory holding other files is refused
    (``ValueError`` naming them), so results never mix and nothing of the user's is deleted."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--output-dir {out} is a file, not a directory")
    entries = sorted(out.iterdir()) if out.is_dir() else []
    foreign = [p.name for p in entries if not _is_demo_entry(p.name)]
    if foreign:
        raise ValueError(
            f"--output-dir {out} holds files that are not a trl-dsm demo run's ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}); give an empty or new directory"
        )
    message = None
    if entries:
        message = f"{out} holds {_describe_run(out)}: removing them before this run writes there"
        for path in entries:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return message


def check_seeds_dir(out: Path, seeds: list[int]) -> None:
    """Make ``out`` ready for a run of several ``seeds`` (one ``seed-N`` directory each, prepared by that seed's
    run): refused when it holds other files than those seeds' directories and a seeds summary, whose earlier copy
    is removed (the run writes its own at the end)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--output-dir {out} is a file, not a directory")
    if not out.is_dir():
        return
    ours = {f"seed-{s}" for s in seeds} | {"seeds_summary.md"}
    other = sorted(p.name for p in out.iterdir() if p.name not in ours)
    if other:
        raise ValueError(
            f"--output-dir {out} holds files that are not this run's ({', '.join(other[:5])}"
            f"{', ...' if len(other) > 5 else ''}); give an empty or new directory"
        )
    (out / "seeds_summary.md").unlink(missing_ok=True)


def remove_intermediates(out: Path, finished: bool) -> int:
    """Remove the stages' working directories under ``out`` (and, when the run ``finished``, the partial record
    ``results.json`` replaces); returns the bytes freed."""
    out = Path(out)
    freed = 0
    if not out.is_dir():
        return 0
    for path in sorted(out.iterdir()):
        if any(fnmatch.fnmatchcase(path.name, p) for p in INTERMEDIATES) and path.is_dir() and not path.is_symlink():
            freed += disk_usage(path)
            shutil.rmtree(path)
        elif finished and path.name == PARTIAL:
            freed += path.stat().st_size
            path.unlink()
    return freed


def disk_usage(path: Path) -> int:
    """Bytes in the files under ``path`` (``path`` itself when it is a file)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def megabytes(n: int) -> str:
    """``n`` bytes in MB, one decimal.

    >>> megabytes(3_450_000)
    '3.5 MB'
    """
    return f"{n / 1e6:.1f} MB"
