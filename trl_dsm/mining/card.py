# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The dataset card of a mined corpus (``trl_dsm/hub_cards/mined_corpus_card.md``) and its Hub upload."""

from __future__ import annotations

from pathlib import Path

from trl_dsm.hub.cards import _size_category, markdown_table, render_dataset_card


_COLUMNS = (
    ("id", "record id from the source (WARC-Record-ID, input id) or a hash of url and text"),
    ("url", "page URL"),
    ("domain", "host without www. (the paper's base URL)"),
    ("title", "page title"),
    ("text", "main text; math kept as TeX ($...$, $$...$$)"),
    ("source", "reader and input file"),
    ("math_score", "fastText P(math) from the final iteration's classifier"),
)


def _pct(value) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def render_card(stats: dict, config, decontam_section: str | None = None, command: str | None = None):
    """A ``huggingface_hub.DatasetCard`` describing a finished mining run from its ``stats`` and config."""
    dedup = stats["dedup"]
    rows = [
        ("input pages", stats["documents_in"]),
        ("after URL and near-duplicate removal", dedup["kept"]),
        (f"selected (iteration {stats['final_iteration']})", stats["documents_out"]),
        ("selected words", stats["tokens_out"]),
    ]
    known = stats.get("known_positives")
    if known:
        rows += [
            ("known math pages selected", f"{known['kept']} of {known['known']}"),
            ("other pages selected (not known to be math)", known["other"]),
        ]
    summary = markdown_table(("", "pages"), rows)
    dedup_table = markdown_table(
        ("step", "removed"),
        [
            ("exact URL (normalized)", dedup["url_duplicates_removed"]),
            (
                f"MinHash LSH (Jaccard >= {dedup.get('threshold', '-')}, {dedup.get('num_perm', '-')} permutations, "
                f"{dedup.get('ngram', '-')}-word shingles)",
                dedup.get("near_duplicates_removed", 0),
            ),
            ("near-duplicate clusters", dedup.get("clusters", 0)),
        ],
    )
    iterations = markdown_table(
        ("iteration", "collected", "new", "overlap with previous", "seeds", "math domains", "prefixes accepted"),
        [
            (
                r["iteration"],
                r["collected"],
                r["new"],
                _pct(r["overlap_with_previous"]),
                r["seeds"],
                r["math_domains"],
                r["prefixes_accepted"],
            )
            for r in stats["iterations"]
        ],
    )
    c = stats["classifier"]
    classifier = markdown_table(
        ("setting", "value"),
        [
            ("dim", c["dim"]),
            ("lr", c["lr"]),
            ("word n-grams", c["word_ngrams"]),
            ("min count", c["min_count"]),
            ("epochs", c["epoch"]),
            ("buckets", c["bucket"]),
            ("positives / negatives (max)", f"{c['n_positives']} / {c['n_negatives']}"),
            ("quantized", c["quantize"]),
        ],
    )
    s = stats["selection"]
    selection = (
        f"score >= {s['threshold']}"
        if s["method"] == "threshold"
        else f"best-scored pages within {s['token_budget']} tokens ({s['tokenizer']})"
    )
    card_data = {
        "pretty_name": config.pretty_name,
        "license": "other",
        "language": ["en", "zh"],
        "tags": ["trl-dsm", "deepseekmath", "math", "common-crawl", "fasttext"],
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(stats["documents_out"])],
    }
    return render_dataset_card(
        "mined_corpus",
        card_data,
        pretty_name=config.pretty_name,
        summary_table=summary,
        dedup_table=dedup_table,
        iterations_table=iterations,
        classifier_table=classifier,
        selection=selection,
        decontamination_section=decontam_section or "Benchmark decontamination was not run on this corpus.",
        columns_table=markdown_table(("column", "content"), [(f"`{a}`", b) for a, b in _COLUMNS]),
        command=command or "trl-dsm mine --config recipes/mining/<recipe>.yaml",
    )


def push_export(
    export_dir: str | Path,
    repo_id: str,
    dry_run_dir: str | Path | None = None,
    private: bool | None = None,
    api=None,
):
    """Upload an export folder (``data/*.parquet``, ``README.md``, ``mining_stats.json``) as a dataset repository in
    one commit with ``huggingface_hub`` (``HF_ENDPOINT`` selects the Hub); with ``dry_run_dir`` write the exact files
    there instead (``api``: an ``HfApi`` to use). Returns the ``CommitInfo`` or the dry-run directory."""
    from trl_dsm.hub.push import UploadPlan, execute_plan

    plan = UploadPlan(repo_id, "dataset", "main", "Upload mined math corpus (trl-dsm)").add_folder(export_dir)
    return execute_plan(plan, dry_run_dir=dry_run_dir, private=private, api=api)
