# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Optional dependency groups ("extras") and the one-line error for a missing one.

The core install (``pip install trl-dsm``) holds what GRPO, the grader, the rewards, evaluation, decontamination,
the sandbox and the training recipes need. Corpus mining (§2.1) and the end-to-end demo, which mines its own
corpus, need ``pip install "trl-dsm[mining]"``; :func:`require_extra` says so in one line, before anything heavy is
imported. Only the standard library is imported here.
"""

from __future__ import annotations

import importlib.util


#: Import names of each extra's packages (``[project.optional-dependencies]`` in ``pyproject.toml``).
EXTRAS: dict[str, tuple[str, ...]] = {
    "mining": (
        "datatrove",
        "trafilatura",
        "lxml_html_clean",
        "resiliparse",
        "selectolax",
        "warcio",
        "fasttext",
        "datasketch",
        "orjson",
    ),
}

#: The extra each ``trl-dsm`` command needs beyond the core install.
COMMAND_EXTRAS: dict[str, str] = {"mine": "mining", "demo": "mining"}


class MissingExtraError(ImportError):
    """A feature needs an extra that is not installed. The message is one line ending in the ``pip`` command."""


def install_line(extra: str) -> str:
    """The command that installs ``extra``.

    >>> install_line("mining")
    'pip install "trl-dsm[mining]"'
    """
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}; known: {', '.join(sorted(EXTRAS))}")
    return f'pip install "trl-dsm[{extra}]"'


def missing_modules(extra: str) -> list[str]:
    """The import names of ``extra``'s packages that cannot be found (none are imported)."""
    install_line(extra)  # checks the name
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, feature: str | None = None) -> None:
    """Raise :class:`MissingExtraError` naming the missing packages and the install line unless every package of
    ``extra`` is installed; ``feature`` (e.g. ``"corpus mining"``) starts the message."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(
            f"{feature or extra} needs the [{extra}] extra ({', '.join(missing)} not installed): {install_line(extra)}"
        )


def require_command_extras(command: str | None) -> None:
    """:func:`require_extra` for the extra a ``trl-dsm`` ``command`` needs (:data:`COMMAND_EXTRAS`), if any."""
    extra = COMMAND_EXTRAS.get(command or "")
    if extra is not None:
        require_extra(extra, "this command")
