# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Hub uploads with a dry run: checkpoints to one branch per save, final models and datasets with their cards.

Every upload is first an :class:`UploadPlan` (repository, revision, message and the exact files); the plan is then
either committed with ``huggingface_hub`` (``create_repo`` + ``create_branch`` + ``create_commit``) or, in a dry run,
written to ``<dry_run_dir>/<repo_type>s/<repo_id>/<revision>/`` with a ``manifest.json``: the same bytes either way.
Datasets are pushed by ``datasets``' own ``DatasetDict.push_to_hub`` (:func:`push_dataset`; plans only for its dry
run). Set ``HF_ENDPOINT`` (or pass ``api=HfApi(endpoint=...)``) to target another Hub.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.repocard import RepoCard
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR


if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

logger = logging.getLogger(__name__)

#: Checkpoint files not pushed to the per-save branches by default: optimizer, scheduler and RNG states (and
#: DeepSpeed's ``global_step*`` shards). ``full_checkpoint=True`` pushes everything (resumable from the Hub).
TRAINING_STATE_PATTERNS = ("optimizer.pt", "scheduler.pt", "rng_state*.pth", "global_step*/*", "global_step*")
#: Never pushed with a final model: the checkpoints (they have their own branches) and TensorBoard runs.
FINAL_IGNORE_PATTERNS = (f"{PREFIX_CHECKPOINT_DIR}-*", "runs/*", "runs")


@dataclass
class UploadPlan:
    """One commit: ``files`` maps a path in the repository to a local file or to bytes / text content."""

    repo_id: str
    repo_type: str = "model"
    revision: str = "main"
    commit_message: str = "Upload with trl-dsm"
    files: dict[str, Path | bytes | str] = field(default_factory=dict)

    def add_folder(self, folder: str | Path, ignore_patterns: tuple[str, ...] = (), prefix: str = "") -> UploadPlan:
        """Add every file under ``folder`` (at ``prefix`` + its relative path), but those matching ``ignore_patterns``."""
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"folder to upload not found: {folder}")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            if any(_matches(relative, pattern) for pattern in ignore_patterns):
                continue
            self.files[f"{prefix}{relative}"] = path
        return self

    def add_card(self, card: RepoCard | str) -> UploadPlan:
        """Add the card as ``README.md``."""
        self.files["README.md"] = str(card)
        return self

    def content(self, path_in_repo: str) -> bytes:
        """The bytes of one planned file (read from disk for a local path)."""
        value = self.files[path_in_repo]
        if isinstance(value, Path):
            return value.read_bytes()
        return value.encode("utf-8") if isinstance(value, str) else value


def _matches(relative: str, pattern: str) -> bool:
    return fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative.split("/")[0], pattern)


def execute_plan(
    plan: UploadPlan, *, dry_run_dir: str | Path | None = None, api: HfApi | None = None, private: bool | None = None
) -> Path | Any:
    """Commit ``plan`` to the Hub (creating the repository and, for a revision other than ``main``, the branch), or
    with ``dry_run_dir`` write its files there; returns the ``CommitInfo`` or the dry-run directory."""
    if not plan.files:
        raise ValueError(f"nothing to upload to {plan.repo_id}@{plan.revision}")
    if dry_run_dir is not None:
        target = Path(dry_run_dir) / f"{plan.repo_type}s" / plan.repo_id / plan.revision
        if target.exists():
            shutil.rmtree(target)
        for path_in_repo in plan.files:
            destination = target / path_in_repo
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(plan.content(path_in_repo))
        manifest = {
            "repo_id": plan.repo_id,
            "repo_type": plan.repo_type,
            "revision": plan.revision,
            "commit_message": plan.commit_message,
            "files": sorted(plan.files),
        }
        (target.parent / f"{plan.revision}.manifest.json").write_text(json.dumps(manifest, indent=2))
        logger.info("dry run: %d files for %s@%s written to %s", len(plan.files), plan.repo_id, plan.revision, target)
        return target
    api = api or HfApi()
    api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=private, exist_ok=True)
    if plan.revision != "main":
        api.create_branch(plan.repo_id, branch=plan.revision, repo_type=plan.repo_type, exist_ok=True)
    operations = [
        CommitOperationAdd(path_in_repo=path, path_or_fileobj=value if isinstance(value, Path) else plan.content(path))
        for path, value in sorted(plan.files.items())
    ]
    return api.create_commit(
        plan.repo_id,
        operations=operations,
        commit_message=plan.commit_message,
        revision=plan.revision,
        repo_type=plan.repo_type,
    )


def checkpoint_plan(
    checkpoint_dir: str | Path,
    repo_id: str,
    step: int,
    *,
    branch_template: str = "step-{step}",
    card: RepoCard | str | None = None,
    full_checkpoint: bool = False,
) -> UploadPlan:
    """The plan that pushes one checkpoint folder to branch ``step-N`` (weights, config, tokenizer, trainer state)."""
    plan = UploadPlan(
        repo_id, "model", branch_template.format(step=step), f"Training checkpoint at step {step} (trl-dsm)"
    )
    plan.add_folder(checkpoint_dir, () if full_checkpoint else TRAINING_STATE_PATTERNS)
    if card is not None:
        plan.add_card(card)
    return plan


def push_model(
    output_dir: str | Path,
    repo_id: str,
    card: RepoCard | str | None,
    *,
    revision: str = "main",
    commit_message: str = "Upload final model (trl-dsm)",
    dry_run_dir: str | Path | None = None,
    api: HfApi | None = None,
    private: bool | None = None,
):
    """Push a saved model folder (without its ``checkpoint-*`` subfolders) and its card."""
    plan = UploadPlan(repo_id, "model", revision, commit_message).add_folder(output_dir, FINAL_IGNORE_PATTERNS)
    if card is not None:
        plan.add_card(card)
    return execute_plan(plan, dry_run_dir=dry_run_dir, api=api, private=private)


def push_dataset(
    dataset: Dataset | DatasetDict,
    repo_id: str,
    card: RepoCard | str | None,
    *,
    revision: str = "main",
    num_shards: int | Mapping[str, int] = 1,
    commit_message: str = "Upload dataset (trl-dsm)",
    dry_run_dir: str | Path | None = None,
    token: str | None = None,
    private: bool | None = None,
) -> Path | Any:
    """Push a ``Dataset`` (as split ``train``) or ``DatasetDict`` with its card, through ``datasets`` itself.

    The card is committed first, then ``DatasetDict.push_to_hub`` writes the Parquet shards
    ``data/{split}-0000i-of-0000n.parquet`` and adds its ``dataset_info`` / ``configs`` metadata to that card
    (``datasets`` keeps an existing card's text). The Hub is ``datasets.config.HF_ENDPOINT`` (``$HF_ENDPOINT``). With
    ``dry_run_dir`` nothing touches the Hub: the shards (same contiguous split as ``datasets``) and the card are
    written to ``<dry_run_dir>/datasets/<repo_id>/<revision>/`` with a manifest; returns that folder, else the
    ``CommitInfo`` of the data commit.

    >>> push_dataset(Dataset.from_dict({"text": ["a", "b"]}), "org/x", card, dry_run_dir="dry")  # doctest: +SKIP
    """
    import datasets.config
    from datasets import Dataset, DatasetDict

    splits = DatasetDict({"train": dataset}) if isinstance(dataset, Dataset) else dataset
    shards = {
        split: max(1, min(num_shards[split] if isinstance(num_shards, Mapping) else num_shards, len(data) or 1))
        for split, data in splits.items()
    }
    if dry_run_dir is not None:
        plan = UploadPlan(repo_id, "dataset", revision, commit_message)
        with tempfile.TemporaryDirectory(prefix="trl-dsm-push-") as tmp:
            for split, data in splits.items():
                n = shards[split]
                for i in range(n):
                    name = f"data/{split}-{i:05d}-of-{n:05d}.parquet"
                    data.shard(n, i, contiguous=True).to_parquet(str(Path(tmp) / f"{split}-{i}.parquet"))
                    plan.files[name] = Path(tmp) / f"{split}-{i}.parquet"
            if card is not None:
                plan.add_card(card)
            return execute_plan(plan, dry_run_dir=dry_run_dir)
    if card is not None:
        api = HfApi(endpoint=datasets.config.HF_ENDPOINT, token=token)  # the Hub ``datasets`` pushes to
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision != "main":
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        api.upload_file(path_or_fileobj=str(card).encode(), path_in_repo="README.md", repo_id=repo_id,
                        repo_type="dataset", revision=revision, commit_message=f"{commit_message}: card")  # fmt: skip
    return splits.push_to_hub(
        repo_id, private=private, token=token, revision=None if revision == "main" else revision,  # None: main
        num_shards=shards, commit_message=commit_message,
    )  # fmt: skip


class RevisionPushCallback(TrainerCallback):
    """Push every saved checkpoint to its own branch (``step-N``) of ``repo_id``, from the main process, without
    stalling training.

    On each save the checkpoint's files are staged (hard links, or copies across file systems, so that
    ``save_total_limit`` may delete the folder meanwhile) and uploaded by one background thread, in save order;
    training continues at once. At the end of training the callback waits for the pushes still running (at most
    ``wait_timeout_s``, default 6 h) and raises the first error of any of them (a failed push is never silent). ``blocking=True`` pushes in ``on_save`` instead.
    ``card_fn`` (optional) builds the card pushed with each checkpoint; with ``dry_run_dir`` the files are written
    there instead of the Hub, through the same path.
    """

    def __init__(
        self,
        repo_id: str,
        *,
        card_fn: Callable[[], RepoCard | str] | None = None,
        dry_run_dir: str | Path | None = None,
        api: HfApi | None = None,
        private: bool | None = None,
        branch_template: str = "step-{step}",
        full_checkpoint: bool = False,
        blocking: bool = False,
        wait_timeout_s: float = 6 * 3600,
    ) -> None:
        self.repo_id = repo_id
        self.card_fn = card_fn
        self.dry_run_dir = dry_run_dir
        self.api = api
        self.private = private
        self.branch_template = branch_template
        self.full_checkpoint = full_checkpoint
        self.blocking = blocking
        if not 0 < wait_timeout_s < float("inf"):
            raise ValueError(f"wait_timeout_s must be a positive number of seconds, got {wait_timeout_s}")
        self.wait_timeout_s = wait_timeout_s
        self.pushed: list[str] = []  # revisions, in the order their pushes finished
        self._executor = None
        self._futures: list = []
        self._staging: tempfile.TemporaryDirectory | None = None

    def on_save(self, args, state, control, **kwargs):
        """Stage the checkpoint just saved and queue its push to branch ``step-N`` (or push it now when ``blocking``)."""
        if not state.is_world_process_zero:
            return control
        checkpoint = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        if not checkpoint.is_dir():
            logger.warning("RevisionPushCallback: no checkpoint folder %s to push", checkpoint)
            return control
        card = self.card_fn() if self.card_fn else None
        if self.blocking:
            self._push(checkpoint, state.global_step, card)
            return control
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trl-dsm-push")
            self._staging = tempfile.TemporaryDirectory(prefix="trl-dsm-push-")
        staged = _stage(checkpoint, Path(self._staging.name) / checkpoint.name)
        self._futures.append(self._executor.submit(self._push, staged, state.global_step, card, cleanup=True))
        return control

    def _push(self, folder: Path, step: int, card, cleanup: bool = False) -> None:
        try:
            plan = checkpoint_plan(folder, self.repo_id, step, branch_template=self.branch_template, card=card,
                                   full_checkpoint=self.full_checkpoint)  # fmt: skip
            execute_plan(plan, dry_run_dir=self.dry_run_dir, api=self.api, private=self.private)
            self.pushed.append(plan.revision)
        finally:
            if cleanup:
                shutil.rmtree(folder, ignore_errors=True)

    def wait(self) -> None:
        """Block until every checkpoint push has finished, at most ``wait_timeout_s`` seconds in all; raise the
        first error among them (a push still running then is a ``TimeoutError`` naming the repository)."""
        import concurrent.futures
        import time

        futures, self._futures = self._futures, []
        errors: list[BaseException] = []
        deadline = time.monotonic() + self.wait_timeout_s
        for future in futures:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                errors.append(
                    TimeoutError(f"checkpoint push to {self.repo_id} still running after {self.wait_timeout_s:g} s")
                )
                future.cancel()
            except Exception as err:  # collected: every push gets its chance before the first error is raised
                errors.append(err)
        if self._executor is not None:
            self._executor.shutdown(wait=not any(isinstance(e, TimeoutError) for e in errors), cancel_futures=True)
            self._executor = None
        if self._staging is not None:
            self._staging.cleanup()
            self._staging = None
        if errors:
            raise RuntimeError(
                f"{len(errors)} checkpoint push(es) to {self.repo_id} failed: {errors[0]!r}"
            ) from errors[0]

    def on_train_end(self, args, state, control, **kwargs):
        """Wait for the queued pushes (at most ``wait_timeout_s``) and raise the first failure."""
        self.wait()
        return control


def _stage(folder: Path, target: Path) -> Path:
    """A snapshot of ``folder`` at ``target``: hard links where the file system allows them, else copies."""
    if target.exists():
        shutil.rmtree(target)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        destination = target / path.relative_to(folder)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:
            shutil.copy2(path, destination)
    return target
