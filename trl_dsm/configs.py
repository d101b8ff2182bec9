# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Dataclass configs from outside input: one YAML/dict loader and the glue between ``trl-dsm``'s command lines and
TRL's ``TrlParser`` (a ``transformers.HfArgumentParser``).

:func:`from_dict` builds a (nested) dataclass from a mapping and checks every value against the field's annotation:
nested dataclasses, ``list[...]``/``tuple[...]`` (each item, with its index), ``dict[K, V]``, ``X | None``,
``Literal[...]``, ``int``/``float``/``str``/``bool``/``Path``. An error is one line naming the key path, e.g.
``recipe.yaml: config.inputs[2].paths must be of type list[str], got 3``; unknown keys list the valid ones and
missing required keys are named. The mining recipe (``MiningConfig.from_yaml``), its input and seed specs and the
pretraining mixture (``coerce_sources``) all go through it.

Only the standard library is imported here, so ``trl-dsm <cmd> --help`` and a missing-file error stay fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

from trl_dsm.errors import UsageError


T = TypeVar("T")

#: Exit statuses of every ``trl-dsm`` command (README, "Command line"): 0 success; 1 the command ran and reports a
#: negative result (``grade`` of a wrong answer); 2 bad input or usage (a missing file, a bad field or value, bad
#: YAML; argparse's own usage errors are 2 too); 3 ``mine`` paused for a person to label its annotation file.
EXIT_OK, EXIT_NEGATIVE, EXIT_USAGE, EXIT_PAUSED = 0, 1, 2, 3


class ConfigError(UsageError):
    """A value of a config that does not fit its dataclass; the message names the key path (and the file)."""


def load_yaml(path: str | Path) -> dict:
    """The mapping in a YAML file; a missing file is a ``FileNotFoundError`` and bad YAML a ``ConfigError`` naming
    ``path:line:column`` (nothing heavy is imported before the file is known to exist)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys, got {type(data).__name__}")
    return data


def from_yaml(cls: type[T], path: str | Path, where: str = "config") -> T:
    """``from_dict(cls, load_yaml(path))``; every error starts with the file's path."""
    data = load_yaml(path)
    try:
        return from_dict(cls, data, where)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def from_dict(cls: type[T], data: Any, where: str = "config") -> T:
    """``cls(**data)`` with nested dataclasses built recursively and every value checked against its field's
    annotation; an instance of ``cls`` is returned as is. Errors are :class:`ConfigError` naming ``where`` and the
    key path below it; a ``ValueError``/``TypeError`` of ``cls.__post_init__`` is re-raised as one too.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Point:
    ...     x: int
    ...     y: int = 0
    >>> from_dict(Point, {"x": 1})
    Point(x=1, y=0)
    """
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {_describe(data)}")
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(known), key=str)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    missing = [
        name
        for name, f in known.items()
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {missing}")
    hints = _type_hints(cls)
    kwargs = {name: _coerce(hints.get(name, Any), value, f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):  # one annotation does not resolve: resolve the others one by one
        module = vars(sys.modules.get(cls.__module__, object()))
        hints = {}
        for f in dataclasses.fields(cls):
            try:
                hints[f.name] = eval(f.type, module) if isinstance(f.type, str) else f.type  # noqa: S307
            except Exception:  # left unchecked (Any): the dataclass itself still validates its values
                continue
        return hints


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked against (and, for nested dataclasses, tuples and paths, converted to) type ``tp``."""
    if tp is Any or tp is object or isinstance(tp, TypeVar):
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union or origin is types.UnionType:
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{where} must be of type {_name(tp)}, got null")
        for arm in (a for a in args if a is not type(None)):
            try:
                return _coerce(arm, value, where)
            except ConfigError as exc:
                if _is_container(arm) and _is_container_value(arm, value):
                    raise exc from None  # the right container with a bad item: that item's error
        raise ConfigError(f"{where} must be of type {_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        if value in args and not (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            return value
        raise ConfigError(f"{where} must be one of {list(args)}, got {_describe(value)}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value, where)
    if value is None:
        raise ConfigError(f"{where} must be of type {_name(tp)}, got null")
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be of type {_name(tp)}, got {_describe(value)}")
        if origin is tuple and args and args[-1] is not Ellipsis:  # tuple[int, str]: one type per item
            if len(args) != len(value):
                raise ConfigError(f"{where} must have {len(args)} items, got {len(value)}")
            items = [_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value))]
        else:
            item = args[0] if args else Any  # list[T], Sequence[T], tuple[T, ...]
            items = [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {_describe(value)}")
        key_t, value_t = args if len(args) == 2 else (Any, Any)
        return {_coerce(key_t, k, f"{where} key {k!r}"): _coerce(value_t, v, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value  # an int is a valid float (YAML's `1` for a threshold)
    elif tp is Path:
        if isinstance(value, str | Path):
            return Path(value)
    elif isinstance(tp, type) and tp in (int, str, bool):
        if isinstance(value, tp) and (tp is bool or not isinstance(value, bool)):
            return value
    else:
        return value  # a type this loader does not check (a callable, a class of the library): the field's job
    raise ConfigError(f"{where} must be of type {_name(tp)}, got {_describe(value)}")


def _is_container(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return origin in (list, tuple, Sequence, dict, Mapping) or dataclasses.is_dataclass(tp)


def _is_container_value(tp: Any, value: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return (
        isinstance(value, Mapping)
        if origin in (dict, Mapping) or dataclasses.is_dataclass(tp)
        else (isinstance(value, list | tuple))
    )


def _name(tp: Any) -> str:
    """``int``, ``list[str]``, ``str or list[str]`` (None left out: a null is reported as null)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union or origin is types.UnionType:
        return " or ".join(_name(a) for a in args if a is not type(None))
    if origin is Literal:
        return "one of " + str(list(args))
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else _name(a) for a in args)
        base = getattr(origin, "__name__", str(origin))
        return f"{base}[{inner}]" if inner else base
    return getattr(tp, "__name__", str(tp))


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str | int | float | bool):
        return repr(value)
    return type(value).__name__


# -- command lines: TRL's TrlParser (an HfArgumentParser) on the library's dataclasses


def dataclass_parser(
    subparsers: argparse._SubParsersAction | None,
    name: str,
    dataclass_types: Sequence[type],
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """The parser of ``trl-dsm <name>``, built as TRL builds ``trl sft``: ``subparsers.add_parser(name,
    dataclass_types=...)`` on a ``TrlParser`` parser class, or a stand-alone ``TrlParser`` without ``subparsers``.
    Every dataclass field is an option ``--field_name``/``--field-name`` whose default and help (``metadata``) are
    the field's; ``--help`` shows each default (a field without one is a required option)."""
    if subparsers is not None:
        parser = subparsers.add_parser(name, dataclass_types=list(dataclass_types), **kwargs)
    else:
        from trl.scripts.utils import TrlParser

        kwargs.pop("help", None)  # the one-line summary in `trl-dsm --help`: a subparser's only
        parser = TrlParser(list(dataclass_types), prog=f"trl-dsm {name}", **kwargs)
    for action in parser._actions:
        # no "(default: None)" for a required option, no "(default: False)" for HfArgumentParser's --no-flag
        if action.option_strings and (action.required or isinstance(action, argparse._StoreFalseAction)):
            action.default = argparse.SUPPRESS
    return parser


def repeatable(help: str, metavar: str) -> Any:
    """A ``list[str]`` dataclass field whose option is given once per value (``--set a=1 --set b=2``; ``--set a=1
    b=2`` too): HfArgumentParser's ``nargs="+"`` with argparse's ``extend`` action, default empty."""
    return dataclasses.field(default_factory=list, metadata={"help": help, "action": "extend", "metavar": metavar})


def set_option_type(parser: argparse.ArgumentParser, dest: str, convert: Any) -> None:
    """Parse option ``dest`` with ``convert`` instead of the converter HfArgumentParser derived from the field's
    annotation (a timeout checked at parse time, ``auto``/``on``/``off`` for a ``bool | None`` field)."""
    for action in parser._actions:
        if action.dest == dest and action.option_strings:
            action.type = convert
            return
    raise KeyError(f"{parser.prog} has no option {dest!r}")


def dataclasses_from_args(args: argparse.Namespace, *dataclass_types: type) -> tuple:
    """One instance per dataclass type from a parsed namespace, as ``HfArgumentParser.parse_args_into_dataclasses``
    builds them (the namespace of ``trl-dsm``'s top-level parser holds the subcommand's fields)."""
    out = []
    for dtype in dataclass_types:
        names = [f.name for f in dataclasses.fields(dtype) if f.init]
        out.append(dtype(**{name: getattr(args, name) for name in names if hasattr(args, name)}))
    return tuple(out)


def error_line(command: str, exc: BaseException) -> str:
    """``trl-dsm <command>: error: <message>``: the one line printed for bad input (:func:`trl_dsm.errors.error_line`)."""
    from trl_dsm.errors import error_line as line

    return line(f"trl-dsm {command}", exc)
