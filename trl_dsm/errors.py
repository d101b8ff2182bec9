# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Bad input as one line and exit status 2, for the ``trl-dsm`` commands and the recipes alike.

The API (standard library only at import; ``trl`` and ``huggingface_hub`` are imported when used):

- :class:`UsageError` — raise it for bad input (a file, key, option or value the user gave). Its message names that
  file/key/option and says what was expected. It is a ``ValueError``, so ``trl-dsm``'s ``main`` already prints
  ``trl-dsm <cmd>: error: <message>`` and returns 2 for it; :class:`trl_dsm.configs.ConfigError` is one.
- :func:`error_line` — ``"<prog>: error: <message>"`` in one line (a multi-line message is folded).
- :func:`is_main_process` — false on the ranks other than 0 of ``accelerate launch``/``torchrun``/``deepspeed``.
- :func:`exit_with_usage_error` — print :func:`error_line` once (rank 0) and exit with status 2.
- :class:`OneLineErrors` — a mixin making an ``argparse`` parser's usage errors one line (the ``trl-dsm`` parsers).
- :func:`unknown_options` — ``unknown option '--inptu' (did you mean '--input'?)`` against a parser's options.
- :func:`run_recipe_main` — the ``__main__`` body of a recipe: parse its ``TrlParser`` (``--config`` YAML and
  command line; the errors are rewritten to name the file, key and value), run ``main`` and turn bad input into one
  line on rank 0 and exit status 2 (the launcher stops the other ranks). Any other exception keeps its traceback.
  After ``main`` it calls :func:`release_process_group` (destroy torch's process group before the interpreter
  exits; call it at the end of your own launched scripts too).
- Checks that raise :class:`UsageError`: :func:`check_model_source` (a model folder or Hub id, before anything
  loads), :func:`check_data_files` (an empty local data file, before ``datasets`` reads it: its JSON builder fails
  on one with ``StopIteration``), :func:`check_not_empty` (a dataset or list with no rows, naming its source).

Exit statuses (``trl_dsm.configs.EXIT_*``, README "Command line"): 0 success, 1 a negative result, 2 bad input or
usage, 3 ``mine`` waiting for an annotation file.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


#: Exit status of bad input or usage (the same value as ``trl_dsm.configs.EXIT_USAGE``).
EXIT_USAGE = 2


class UsageError(ValueError):
    """Bad input: the message names the file, key, option or value and what was expected."""


#: What a recipe's ``main`` may raise for bad input (besides errors while parsing, which are all bad input).
RECIPE_BAD_INPUT: tuple[type[BaseException], ...] = (UsageError, FileNotFoundError, NotADirectoryError)


def error_line(prog: str, exc: BaseException | str) -> str:
    """``<prog>: error: <message>`` on one line (``KeyError``'s quotes dropped, newlines folded into ``; ``).

    >>> error_line("trl-dsm grade", UsageError("give COMPLETION and GOLD"))
    'trl-dsm grade: error: give COMPLETION and GOLD'
    """
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    text = "; ".join(part.strip() for part in str(message).strip().splitlines() if part.strip())
    return text if text.startswith(f"{prog}: ") else f"{prog}: error: {text}"


def is_main_process() -> bool:
    """True unless a distributed launcher set ``RANK`` (torchrun, ``accelerate launch``, ``deepspeed``) to a rank > 0."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


#: Seconds a rank other than 0 waits before it reports bad input itself: when rank 0 fails the same way (the usual
#: case: every rank parses the same config) it exits first, and the launcher stops the other ranks silently.
PEER_GRACE_S = 20.0


def exit_with_usage_error(prog: str, exc: BaseException | str) -> None:
    """Print :func:`error_line` to stderr and exit with status 2 (``SystemExit``).

    Under a distributed launcher only rank 0 prints. Another rank first waits :data:`PEER_GRACE_S` seconds: if rank 0
    hit the same error, it exits meanwhile and the launcher stops this rank (so rank 0 is never killed before its
    line is out, and the line appears once); if this rank is still running, the error is its own (a file missing on
    one node), and it prints the line prefixed with its rank."""
    if not is_main_process():
        import time

        time.sleep(PEER_GRACE_S)
        print(f"[rank {os.environ.get('RANK')}] {error_line(prog, exc)}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USAGE)
    print(error_line(prog, exc), file=sys.stderr, flush=True)
    raise SystemExit(EXIT_USAGE)


class OneLineErrors:
    """Mixin (first base) for an ``argparse.ArgumentParser``: a usage error is one line ``<prog>: error: <message>
    (see <prog> --help)`` on rank 0 and exit status 2, instead of the usage block."""

    def error(self, message: str) -> None:
        """argparse's hook for a usage error: the one line, then exit status 2."""
        exit_with_usage_error(self.prog, f"{message} (see {self.prog} --help)")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or an empty string.

    >>> did_you_mean("learning_rat", ["learning_rate", "seed"])
    " (did you mean 'learning_rate'?)"
    """
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- recipes: TrlParser with one-line errors naming the file, key and value --------------------------------------


def recipe_prog(argv0: str | None = None) -> str:
    """The recipe's name in its errors: the script path as typed (``recipes/grpo.py``)."""
    path = Path(argv0 if argv0 is not None else sys.argv[0])
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_recipe_args(parser: Any, argv: Sequence[str] | None = None) -> tuple:
    """``parser.parse_args_and_config(argv)`` (a ``TrlParser``), with every bad input a :class:`UsageError` naming
    the config file, the key or option, and the value: a missing or malformed YAML file, an unknown key (with the
    closest known one), an unknown command-line option, a value of the wrong type, and a dataclass's own check."""
    from trl_dsm.configs import ConfigError, load_yaml

    argv = list(sys.argv[1:] if argv is None else argv)
    config_path, config = None, {}
    if "--config" in argv:
        at = argv.index("--config")
        if at + 1 >= len(argv) or argv[at + 1].startswith("--"):
            raise UsageError("--config needs a YAML file")
        config_path = argv[at + 1]
        config = load_yaml(config_path)  # FileNotFoundError / ConfigError with path:line:column
        if not isinstance(config.get("env", {}), dict):
            raise UsageError(f"{config_path}: env must be a mapping of environment variables")
    options = _options(parser)
    unknown_flags = [a for a in argv if a.startswith("--") and a != "--config" and not _known_flag(parser, a)]
    if unknown_flags:  # before the dataclasses are built: their checks would hide the misspelling
        raise UsageError(unknown_options(unknown_flags, parser))
    from_config = {k for k in config if k != "env"} - set(_given_on_command_line(argv, parser))
    unknown = [k for k in config if k != "env" and k not in options]
    if unknown:
        raise UsageError(f"{config_path}: {_unknown('key', unknown, options)}")
    for key in from_config:
        _check_config_value(parser, key, config[key], config_path)

    def error(message: str) -> None:  # argparse's usage errors (bad value, missing required option): one line
        match = re.match(r"argument (--[\w-]+)(?:/[^:]*)?: (.*)", message)
        if match and match.group(1) in parser._option_string_actions:
            dest = parser._option_string_actions[match.group(1)].dest
            if dest in from_config:
                raise UsageError(f"{config_path}: {dest}: {match.group(2)}")
        raise UsageError(f"{message} (see --help)")

    parser.error = error
    try:
        *parsed, config_rest, cli_rest = parser.parse_args_and_config(
            argv, return_remaining_strings=True, separate_remaining_strings=True
        )
    except UsageError:
        raise
    except ConfigError as exc:
        raise UsageError(f"{config_path}: {exc}") from None
    except (ValueError, TypeError) as exc:  # a dataclass's __post_init__ check (TrainingArguments and ours)
        raise UsageError(f"{config_path + ': ' if config_path else ''}{exc}") from None
    if config_rest:  # keys TrlParser did not consume (checked above; kept for a parser whose options differ)
        raise UsageError(f"{config_path}: {_unknown('key', config_rest[::2], options)}")
    if cli_rest:
        flags = [a for a in cli_rest if a.startswith("-")]
        if flags:
            raise UsageError(unknown_options(flags, parser))
        raise UsageError(f"unexpected argument(s) {cli_rest} (options take the form --name value; see --help)")
    return tuple(parsed)


def _options(parser: Any) -> set[str]:
    """The dests of the parser's options: the config keys it knows."""
    return {a.dest for a in parser._actions if a.option_strings and a.dest != "help"}


def _known_flag(parser: Any, arg: str) -> bool:
    """Whether ``--name`` or ``--name=value`` is an option of the parser (a unique prefix too, as argparse's)."""
    name = arg.split("=", 1)[0]
    if name in parser._option_string_actions:
        return True
    return parser.allow_abbrev and len([o for o in parser._option_string_actions if o.startswith(name)]) == 1


def _given_on_command_line(argv: Sequence[str], parser: Any) -> list[str]:
    """The dests of the options present in ``argv`` (they override the config's values)."""
    out = []
    for arg in argv:
        action = parser._option_string_actions.get(arg.split("=", 1)[0]) if arg.startswith("--") else None
        if action is not None:
            out.append(action.dest)
    return out


def _unknown(what: str, names: Sequence[str], known: Iterable[str]) -> str:
    known = sorted(known)
    if len(names) == 1:
        return f"unknown {what} {names[0]!r}{did_you_mean(names[0], known)}"
    return f"unknown {what}s " + ", ".join(f"{n!r}{did_you_mean(n, known)}" for n in names)


def unknown_options(flags: Sequence[str], parser: Any) -> str:
    """``unknown option '--learnin_rate' (did you mean '--learning_rate'?)`` for the options ``parser`` lacks.

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--input")
    >>> unknown_options(["--inptu=x.jsonl"], parser)
    "unknown option '--inptu' (did you mean '--input'?)"
    """
    known = sorted({o.lstrip("-") for o in parser._option_string_actions if o.startswith("--")})
    parts = []
    for flag in flags:
        name = flag.split("=", 1)[0].lstrip("-")
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        parts.append(f"'--{name}'" + (f" (did you mean '--{close[0]}'?)" if close else ""))
    return ("unknown option " if len(parts) == 1 else "unknown options ") + ", ".join(parts)


def _check_config_value(parser: Any, key: str, value: Any, config_path: str | None) -> None:
    """A YAML value that is not a string (argparse converts and checks strings) against its field's annotation."""
    import dataclasses

    from trl_dsm.configs import ConfigError, _coerce, _type_hints

    if value is None or isinstance(value, str):
        return
    for dtype in parser.dataclass_types:
        if key in {f.name for f in dataclasses.fields(dtype)}:
            hint = _type_hints(dtype).get(key)
            if hint is None:
                return
            try:
                _coerce(hint, value, key)
            except ConfigError as exc:
                raise UsageError(f"{config_path}: {exc}") from None
            return


def run_recipe_main(
    main: Callable[..., Any], make_parser: Callable[[], Any], argv: Sequence[str] | None = None
) -> None:
    """Parse the recipe's arguments (:func:`parse_recipe_args`) and run ``main(*dataclasses)``. Bad input — any
    error while parsing, and :data:`RECIPE_BAD_INPUT` from ``main`` — is one line ``recipes/x.py: error: ...`` on
    rank 0 and exit status 2 on every rank; anything else propagates with its traceback."""
    prog = recipe_prog()
    try:
        args = parse_recipe_args(make_parser(), argv)
    except (UsageError, FileNotFoundError, NotADirectoryError) as exc:
        exit_with_usage_error(prog, exc)
    try:
        main(*args)
    except RECIPE_BAD_INPUT as exc:
        exit_with_usage_error(prog, exc)
    release_process_group()


def release_process_group() -> None:
    """Destroy torch's default process group, if one was initialized, before the interpreter exits: left to the
    exit-time destructors, gloo's threads can end a rank that finished its work with ``terminate called without
    an active exception`` (SIGABRT), which the launcher reports as a failed run."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# -- checks before heavy work -------------------------------------------------------------------------------------

#: Files any one of which makes a folder hold a tokenizer that ``AutoTokenizer`` loads without extra packages.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")


#: Endings of the weight files ``from_pretrained`` (or vLLM) loads from a folder.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json", ".pt", ".pth", ".gguf")


def check_model_source(
    name: str | os.PathLike | None,
    option: str,
    *,
    tokenizer: bool = True,
    weights: bool = True,
    config: bool = True,
    revision: str | None = None,
) -> None:
    """Raise :class:`UsageError` naming ``option`` unless ``name`` is a folder with what is asked for (``config.json``,
    weight files, a tokenizer file; a PEFT adapter folder counts as config and weights) or a Hub model id that is
    cached or that the Hub knows. A folder is checked on disk only; a Hub id not in the cache costs one request."""
    if name is None or not os.fspath(name):
        raise UsageError(f"{option} is not set (a folder written by save_pretrained, or a Hub id)")
    raw = os.fspath(name)
    path = Path(raw).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{option} {raw}: not a folder (expected a folder written by save_pretrained)")
        missing = []
        adapter = (path / "adapter_config.json").is_file()  # a PEFT adapter: its config names the base model
        if (config or weights) and not adapter and not (path / "config.json").is_file():
            missing.append("config.json")
        if weights and not adapter and not any(p.name.endswith(WEIGHT_SUFFIXES) for p in path.iterdir()):
            missing.append("weights (" + ", ".join(f"*{s}" for s in WEIGHT_SUFFIXES[:2]) + ", ...)")
        if tokenizer and not any((path / f).is_file() for f in TOKENIZER_FILES):
            missing.append("tokenizer file (" + ", ".join(TOKENIZER_FILES) + ")")
        if missing:
            raise UsageError(f"{option} {raw}: not a saved model: this folder has no {', no '.join(missing)}")
        return
    first = Path(raw).parts[0] if Path(raw).parts else raw
    if raw.startswith(("/", "./", "../", "~")) or raw.count("/") > 1 or (os.sep != "/" and os.sep in raw):
        raise UsageError(f"{option} {raw}: no such folder")
    if "/" in raw and Path(first).is_dir():  # outputs/tiny-sft beside an outputs/ folder: a path, not a Hub id
        raise UsageError(f"{option} {raw}: no such folder (in {first}/: {_listing(Path(first))})")
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(raw)
    except HFValidationError:
        raise UsageError(f"{option} {raw}: no such folder, and not a Hub model id (org/name)") from None
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    for filename in ("config.json", "tokenizer_config.json", "adapter_config.json"):
        if isinstance(huggingface_hub.try_to_load_from_cache(raw, filename, revision=revision), str):
            return
    if constants.HF_HUB_OFFLINE:
        raise UsageError(f"{option} {raw}: no such folder, and not in the Hugging Face cache (HF_HUB_OFFLINE is set)")
    try:
        huggingface_hub.model_info(raw, revision=revision, timeout=30)  # one request, no retries
    except RevisionNotFoundError:
        raise UsageError(f"{option} {raw}: the Hub model has no revision {revision!r}") from None
    except RepositoryNotFoundError:
        raise UsageError(f"{option} {raw}: no such folder, and no such model on the Hub (or it is private)") from None
    except Exception as exc:  # no network, a proxy, a server error: the value cannot be used as given
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UsageError(
            f"{option} {raw}: no such folder, and the Hub could not be asked ({type(exc).__name__}: {reason})"
        ) from None


def _listing(folder: Path, limit: int = 8) -> str:
    names = sorted(p.name for p in folder.iterdir())
    if not names:
        return "nothing"
    return ", ".join(names[:limit]) + (f", ... ({len(names)} entries)" if len(names) > limit else "")


def check_data_files(data_files: str | os.PathLike | Sequence | dict | None, what: str) -> None:
    """Raise :class:`UsageError` naming ``what`` and the file when a local data file (``data_files`` of
    ``datasets.load_dataset``: a path, a glob, a list or a split mapping of them) is empty; a glob matching nothing
    or a missing path is a ``FileNotFoundError``. Hub paths and URLs (``hf://``, ``https://``) are left to
    ``datasets``."""
    import glob

    if data_files is None:
        return
    if isinstance(data_files, dict):
        for files in data_files.values():
            check_data_files(files, what)
        return
    for pattern in [data_files] if isinstance(data_files, str | os.PathLike) else list(data_files):
        pattern = os.fspath(pattern)
        if "://" in pattern:
            continue
        matches = sorted(glob.glob(os.path.expanduser(pattern))) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise FileNotFoundError(f"{what} {pattern}: no file matches")
        for name in matches:
            path = Path(name).expanduser()
            if not path.exists():
                raise FileNotFoundError(f"{what} {name}: no such file")
            if path.is_file() and _blank(path):
                raise UsageError(f"{what} {name}: empty file (no rows)")


def _blank(path: Path) -> bool:
    """Whether a file holds nothing but whitespace (read up to the first other byte)."""
    with path.open("rb") as f:
        while chunk := f.read(1 << 16):
            if chunk.strip():
                return False
    return True


def check_not_empty(rows: Any, what: str) -> None:
    """Raise :class:`UsageError` ``<what>: no rows ...`` when ``rows`` (a ``datasets.Dataset``, list, ...) is empty.

    >>> check_not_empty([], "data_files train.jsonl")
    Traceback (most recent call last):
    ...
    trl_dsm.errors.UsageError: data_files train.jsonl: no rows (an empty file, or every row filtered out)
    """
    if len(rows) == 0:
        raise UsageError(f"{what}: no rows (an empty file, or every row filtered out)")
