# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The config system (issue #20): every ``trl-dsm`` subcommand is a ``TrlParser`` on dataclasses whose defaults and
help are the options', one YAML/dict loader (:mod:`trl_dsm.configs`) with errors naming file, key path and list
index, and one exit-status convention (0 success, 1 negative result, 2 bad input or usage)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from trl_dsm.cli import build_parser, main
from trl_dsm.configs import ConfigError, from_dict, from_yaml, load_yaml


COMMANDS = ("grade", "decontaminate", "evaluate", "mine", "demo")
#: Command-line arguments that are no dataclass field: grade's positionals, and mine's --config (TrlParser reserves
#: the name for a YAML file; its dataclass is the recipe, MiningConfig).
NOT_FIELDS = {("grade", "completion"), ("grade", "gold"), ("mine", "config")}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if a.dest == "command").choices


def _field_default(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_each_dataclass_fields_default_and_help(command):
    """`trl-dsm <cmd> --help` shows, for every option, the help and the default of its dataclass field (the
    library's EvalConfig for evaluate, the command's own arguments dataclass otherwise); every option has help."""
    sub = _subparsers()[command]
    fields = {f.name: f for dtype in sub.dataclass_types for f in dataclasses.fields(dtype)}
    formatter = sub._get_formatter()
    seen = set()
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, (command, action.dest)
        if (command, action.dest) in NOT_FIELDS:
            continue
        f = fields[action.dest]
        shown = " ".join(formatter._expand_help(action).split())
        if any(o.startswith(("--no_", "--no-")) for o in action.option_strings):  # HfArgumentParser's --no-greedy
            assert f.default is True and action.const is False and shown == f.metadata["help"]
            continue
        seen.add(action.dest)
        assert action.help == f.metadata["help"], (command, action.dest)
        if _field_default(f) is dataclasses.MISSING:
            assert action.required and shown == f.metadata["help"], (command, action.dest)
            continue
        assert action.default == _field_default(f), (command, action.dest)
        assert shown == f"{f.metadata['help']} (default: {_field_default(f)})", (command, action.dest)
    assert seen == set(fields), (command, set(fields) - seen)  # every field is an option


def test_the_options_the_issue_named_show_help_and_default():
    from trl_dsm.demo.run import DemoConfig

    subs = _subparsers()

    def shown(command: str, option: str) -> str:
        sub = subs[command]
        action = sub._option_string_actions[option]
        return " ".join(sub._get_formatter()._expand_help(action).split())

    assert shown("decontaminate", "--mode").endswith("(default: segment)")
    assert shown("decontaminate", "--segment-by") == "what a segment is in --mode segment (default: paragraph)"
    assert shown("decontaminate", "--format").endswith("(default: jsonl)")
    assert shown("evaluate", "--top-p") == "nucleus sampling of the K samples (default: 0.95)"
    assert shown("evaluate", "--max-new-tokens").endswith("(default: 512)")
    assert shown("evaluate", "--dtype").endswith("(default: auto)")
    assert shown("grade", "--fallback").endswith("(default: last_math)")
    assert subs["grade"]._option_string_actions["--fallback"].choices == ("none", "last_number", "last_math")
    assert shown("demo", "--output-dir").endswith(f"(default: {DemoConfig.output_dir})")


def test_cli_choices_and_defaults_are_the_librarys():
    """Where a CLI dataclass spells a library value out (to keep `--help` free of heavy imports), it equals it."""
    from trl_dsm.cli import GradeArguments
    from trl_dsm.decontamination.cli import DecontaminateArguments
    from trl_dsm.decontamination.decontaminate import Mode, SegmentBy
    from trl_dsm.decontamination.ngrams import NGRAM_SIZE
    from trl_dsm.demo.cli import DemoArguments
    from trl_dsm.demo.run import DemoConfig
    from trl_dsm.eval.config import MODES, EvalConfig
    from trl_dsm.grading.extract import Fallback
    from trl_dsm.mining.cli import MineArguments
    from trl_dsm.mining.executors import ALIASES, KINDS

    hints = typing.get_type_hints
    assert typing.get_args(hints(DecontaminateArguments)["mode"]) == typing.get_args(Mode)
    assert typing.get_args(hints(DecontaminateArguments)["segment_by"]) == typing.get_args(SegmentBy)
    assert DecontaminateArguments.ngram == NGRAM_SIZE
    executor = typing.get_args(hints(MineArguments)["executor"])[0]
    assert typing.get_args(executor) == KINDS + tuple(ALIASES)
    assert hints(GradeArguments)["fallback"] == Fallback
    eval_fields = {f.name: f for f in dataclasses.fields(EvalConfig)}
    assert set(eval_fields["fallback"].metadata["choices"]) == set(typing.get_args(Fallback))
    assert tuple(eval_fields["mode"].metadata["choices"]) == MODES
    assert DemoArguments.output_dir == DemoConfig.output_dir


@pytest.mark.parametrize(
    ("dashed", "underscored"),
    [
        (["grade", "--completion-field", "c", "--num-workers", "2", "a", "b"],
         ["grade", "--completion_field", "c", "--num_workers", "2", "a", "b"]),
        (["decontaminate", "--input", "x", "--output-dir", "o", "--segment-by", "line", "--extra-benchmark", "a=b:c"],
         ["decontaminate", "--input", "x", "--output_dir", "o", "--segment_by", "line", "--extra_benchmark", "a=b:c"]),
        (["evaluate", "--model", "m", "--no-greedy", "--chat-template", "off", "--top-p", "0.5"],
         ["evaluate", "--model", "m", "--no_greedy", "--chat_template", "off", "--top_p", "0.5"]),
        (["mine", "--config", "r.yaml", "--push-to-hub", "me/c", "--dry-run", "d"],
         ["mine", "--config", "r.yaml", "--push_to_hub", "me/c", "--dry_run", "d"]),
        (["demo", "--output-dir", "o", "--resume-from", "r", "--set", "a=1", "--set", "b=2"],
         ["demo", "--output_dir", "o", "--resume_from", "r", "--set", "a=1", "--set", "b=2"]),
    ],
)  # fmt: skip
def test_both_spellings_parse_alike(dashed, underscored):
    parser = build_parser()
    assert vars(parser.parse_args(dashed)) == vars(parser.parse_args(underscored))


def test_parsed_values():
    parser = build_parser()
    args = parser.parse_args(["evaluate", "--model", "m", "--no-greedy", "--chat-template", "on"])
    assert args.greedy is False and args.chat_template is True
    assert parser.parse_args(["evaluate", "--model", "m", "--chat-template", "auto"]).chat_template is None
    assert parser.parse_args(["demo", "--set", "a=1", "--set", "b=2"]).set == ["a=1", "b=2"]
    assert parser.parse_args(["demo"]).set == []  # the default list is not shared between parses
    args = parser.parse_args(["decontaminate", "--input", "x", "--output-dir", "o"])
    assert args.output_dir == Path("o") and args.extra_benchmark == [] and args.num_proc is None
    assert parser.parse_args(["mine", "--config", "r.yaml", "--executor", "slurm"]).executor == "slurm"


def test_a_command_parser_stands_alone_as_trls_do():
    """Like ``trl.scripts.sft.make_parser``, a command's ``make_parser()`` without subparsers is a ``TrlParser``
    that fills the dataclasses itself."""
    from trl.scripts.utils import TrlParser

    from trl_dsm.eval.cli import EvalArguments, make_parser
    from trl_dsm.eval.config import EvalConfig

    parser = make_parser()
    assert isinstance(parser, TrlParser) and parser.prog == "trl-dsm evaluate"
    opts, config, _ = parser.parse_args_into_dataclasses(
        ["--model", "m", "--num_samples", "4", "--chat-template", "off"], look_for_args_file=False
    )
    assert opts == EvalArguments(model="m") and config == EvalConfig(num_samples=4, chat_template=False)


def test_evaluate_builds_the_librarys_config_from_its_options(monkeypatch, tmp_path, capsys):
    import trl_dsm.eval.evaluate
    from trl_dsm.eval.config import EvalConfig

    seen = {}

    def fake_run_evaluation(model, benchmarks, config, **kwargs):
        seen.update(model=model, benchmarks=benchmarks, config=config, **kwargs)
        return {}

    monkeypatch.setattr(trl_dsm.eval.evaluate, "run_evaluation", fake_run_evaluation)
    monkeypatch.setattr("trl_dsm.errors.check_model_source", lambda *args, **kwargs: None)  # org/m: no Hub here
    argv = ["evaluate", "--model", "org/m", "--benchmarks", "gsm8k", "--num-samples", "4", "--temperature", "0.5",
            "--no-greedy", "--chat-template", "off", "--fallback", "none", "--grade-timeout", "3", "--limit", "2",
            "--output-dir", str(tmp_path), "--vllm-kwargs", '{"enforce_eager": true}', "--dtype", "float32"]  # fmt: skip
    assert main(argv) == 0
    assert seen["config"] == EvalConfig(
        num_samples=4, temperature=0.5, greedy=False, chat_template=False, fallback="none", grade_timeout=3.0
    )
    assert seen["model"] == "org/m" and seen["benchmarks"] == ["gsm8k"] and seen["limit"] == 2
    assert seen["output_dir"] == tmp_path and seen["vllm_kwargs"] == {"enforce_eager": True}
    assert seen["dtype"] == "float32" and seen["backend"] == "auto" and seen["device"] is None


def test_demo_passes_its_options_to_the_run(monkeypatch, tmp_path):
    import trl_dsm.demo.report
    import trl_dsm.demo.run

    configs = []
    monkeypatch.setattr(trl_dsm.demo.run, "run_demo", lambda cfg: configs.append(cfg) or {"seed": cfg.seed})
    monkeypatch.setattr(trl_dsm.demo.report, "write_seeds_summary", lambda results, out: None)
    argv = ["demo", "--quick", "--output-dir", str(tmp_path), "--seeds", "3,4", "--set", "grpo_steps=5",
            "--set", "beta=0", "--resume-from", "earlier"]  # fmt: skip
    assert main(argv) == 0
    assert [c.seed for c in configs] == [3, 4] and [c.output_dir for c in configs] == [
        str(tmp_path / "seed-3"),
        str(tmp_path / "seed-4"),
    ]
    assert all(c.smoke_test and c.grpo_steps == 5 and c.beta == 0 and c.resume_from == "earlier" for c in configs)


# -- exit statuses: 0 success, 1 a negative result, 2 bad input or usage


def _one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"trl-dsm {command}: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grade", "--input", "{tmp}/missing.jsonl"], "trl-dsm grade: error: --input {tmp}/missing.jsonl does not exist"),
        (["decontaminate", "--input", "{tmp}/missing.jsonl", "--output-dir", "{tmp}/out"],
         "trl-dsm decontaminate: error: input '{tmp}/missing.jsonl' not found"),
        (["evaluate", "--model", "{tmp}/missing-model"],
         "trl-dsm evaluate: error: --model {tmp}/missing-model: no such folder"),
        (["evaluate", "--model", "m", "--benchmarks-dir", "{tmp}/missing"],
         "trl-dsm evaluate: error: --benchmarks-dir {tmp}/missing is not a directory"),
        (["mine", "--config", "{tmp}/missing.yaml"], "trl-dsm mine: error: config file {tmp}/missing.yaml does not exist"),
        (["demo", "--web-docs", "{tmp}/missing.jsonl", "--output-dir", "{tmp}/out"],
         "trl-dsm demo: error: --web-docs {tmp}/missing.jsonl does not exist"),
        (["demo", "--merge", "{tmp}/missing", "--output-dir", "{tmp}/out"],
         "trl-dsm demo: error: --merge: {tmp}/missing/results.json does not exist"),
    ],
)  # fmt: skip
def test_a_missing_file_is_exit_status_2_in_one_line(tmp_path, capsys, argv, message):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    assert _one_error_line(capsys, argv[0]).startswith(message.format(tmp=tmp_path))


def test_bad_fields_and_values_are_exit_status_2(tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("inputs:\n  - {type: jsonl, paths: [a.jsonl]}\n  - {type: jsonl, paths: 3}\n")
    assert main(["mine", "--config", str(recipe)]) == 2
    err = _one_error_line(capsys, "mine")
    assert err == f"trl-dsm mine: error: {recipe}: config.inputs[1].paths must be of type list[str], got 3"
    recipe.write_text("iterations: [\n")
    assert main(["mine", "--config", str(recipe)]) == 2
    assert f"{recipe}:2:1: not valid YAML" in _one_error_line(capsys, "mine")
    assert main(["demo", "--set", "grpo_steps=forty"]) == 2  # a SystemExit message of a command: bad input too
    assert "grpo_steps: 'forty' is not a valid value" in _one_error_line(capsys, "demo")
    assert main(["demo", "--seeds", "0,x"]) == 2
    assert _one_error_line(capsys, "demo").endswith("--seeds must be comma-separated integers, got '0,x'")
    assert main(["evaluate", "--model", "m", "--vllm-kwargs", "[1]"]) == 2
    assert _one_error_line(capsys, "evaluate").endswith("--vllm-kwargs must be a JSON object, got '[1]'")
    assert main(["grade"]) == 2
    assert _one_error_line(capsys, "grade") == "trl-dsm grade: error: give COMPLETION and GOLD, or --input FILE.jsonl"
    with pytest.raises(SystemExit) as usage:  # argparse's usage errors: 2
        main(["evaluate", "--model", "m", "--mode", "cod"])
    assert usage.value.code == 2
    assert main([]) == 2


def test_grade_exit_status_says_whether_the_answer_is_right(capsys):
    assert main(["grade", "The answer is 4.", "4"]) == 0
    assert main(["grade", "The answer is 3.", "4"]) == 1
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["correct"] is False


# -- the YAML/dict loader


@dataclass
class Inner:
    name: str
    paths: list[str] = field(default_factory=list)
    weight: float = 1.0


@dataclass
class Outer:
    inputs: list[Inner] = field(default_factory=list)
    inner: Inner | None = None
    mode: Literal["a", "b"] = "a"
    limit: int | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    shape: tuple[int, ...] = (1,)
    out: Path = Path("out")
    anything: typing.Any = None
    size: int = 1

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"size must be >= 1, got {self.size}")


def test_loader_builds_nested_dataclasses_and_converts_what_the_annotations_say():
    got = from_dict(
        Outer,
        {
            "inputs": [{"name": "x", "paths": ["a"]}, {"name": "y", "weight": 2}],
            "inner": {"name": "z"},
            "mode": "b",
            "limit": None,
            "flags": {"k": True},
            "shape": [2, 3],
            "out": "dir",
            "anything": {"free": [1]},
        },
    )
    assert got == Outer(
        inputs=[Inner("x", ["a"]), Inner("y", [], 2)],
        inner=Inner("z"),
        mode="b",
        flags={"k": True},
        shape=(2, 3),
        out=Path("dir"),
        anything={"free": [1]},
    )
    assert from_dict(Outer, {}) == Outer() and from_dict(Outer, got) is got


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"inputs": [{"name": "x"}, {"name": "y", "paths": 3}]}, "config.inputs[1].paths must be of type list[str], got 3"),
        ({"inputs": [{"name": "x", "paths": ["a", 5]}]}, "config.inputs[0].paths[1] must be of type str, got 5"),
        ({"inputs": [{"paths": []}]}, "config.inputs[0]: missing required key(s) ['name']"),
        ({"inputs": [{"name": "x", "wieght": 1}]},
         "config.inputs[0]: unknown key(s) ['wieght']; known: ['name', 'paths', 'weight']"),
        ({"inputs": {"name": "x"}}, "config.inputs must be of type list[Inner], got dict"),
        ({"inputs": ["x"]}, "config.inputs[0] must be a mapping, got 'x'"),
        ({"inner": 3}, "config.inner must be of type Inner, got 3"),
        ({"inner": {"name": 3}}, "config.inner.name must be of type str, got 3"),
        ({"mode": "c"}, "config.mode must be one of ['a', 'b'], got 'c'"),
        ({"limit": "many"}, "config.limit must be of type int, got 'many'"),
        ({"limit": True}, "config.limit must be of type int, got True"),
        ({"size": None}, "config.size must be of type int, got null"),
        ({"flags": {"k": "yes"}}, "config.flags.k must be of type bool, got 'yes'"),
        ({"shape": [1, "2"]}, "config.shape[1] must be of type int, got '2'"),
        ({"size": 0}, "config: size must be >= 1, got 0"),
        ({"inputs": [{"name": "x", "weight": "heavy"}]}, "config.inputs[0].weight must be of type float, got 'heavy'"),
    ],
)  # fmt: skip
def test_loader_errors_name_the_key_path_and_index(data, message):
    with pytest.raises(ConfigError) as error:
        from_dict(Outer, data)
    assert str(error.value) == message


@dataclass
class Partly:
    a: int = 1
    b: NotDefinedAnywhere | None = None  # noqa: F821  (an annotation that does not resolve)


def test_an_unresolvable_annotation_leaves_only_its_field_unchecked():
    assert from_dict(Partly, {"a": 2, "b": "anything"}) == Partly(2, "anything")
    with pytest.raises(ConfigError, match=r"^config.a must be of type int, got 'x'$"):
        from_dict(Partly, {"a": "x"})


def test_yaml_errors_name_the_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("inputs:\n  - name: a\n  - name: b\n  - name: c\n    paths: 7\n")
    with pytest.raises(ConfigError) as error:
        from_yaml(Outer, path)
    assert str(error.value) == f"{path}: config.inputs[2].paths must be of type list[str], got 7"
    path.write_text("- 1\n")
    with pytest.raises(ConfigError, match=r"x.yaml: the config must be a mapping of keys, got list"):
        load_yaml(path)
    path.write_text("")
    assert load_yaml(path) == {} and from_yaml(Outer, path) == Outer()
    with pytest.raises(FileNotFoundError, match=r"config file .*nope.yaml does not exist"):
        load_yaml(tmp_path / "nope.yaml")


def test_the_three_old_coercers_use_the_loader(tmp_path):
    """MiningConfig (with its inputs and seeds), SourceSpec.from_dict and coerce_sources give the loader's errors."""
    from trl_dsm.mining.config import MiningConfig
    from trl_dsm.mining.readers import SourceSpec
    from trl_dsm.pretrain.data import PretrainSource, coerce_sources

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("inputs:\n  - {type: jsonl, paths: [a.jsonl]}\n  - {paths: [b.jsonl]}\n")
    with pytest.raises(ConfigError) as error:
        MiningConfig.from_yaml(recipe)
    assert str(error.value) == f"{recipe}: config.inputs[1]: missing required key(s) ['type']"
    recipe.write_text("seeds:\n  - {type: jsonl, paths: [a.jsonl], limit: lots}\n")
    with pytest.raises(ConfigError, match=r"recipe.yaml: config.seeds\[0\].limit must be of type int, got 'lots'$"):
        MiningConfig.from_yaml(recipe)
    recipe.write_text("inputs:\n  - {type: html, paths: [a.html]}\n")
    with pytest.raises(ConfigError, match=r"recipe.yaml: config.inputs\[0\]: input type 'html' unknown"):
        MiningConfig.from_yaml(recipe)
    assert SourceSpec.from_dict({"type": "wet", "paths": "a.wet"}).paths == ["a.wet"]  # one path as a string
    with pytest.raises(ConfigError, match=r"^input spec.min_text_chars must be of type int, got 'x'$"):
        SourceSpec.from_dict({"type": "wet", "min_text_chars": "x"})
    assert coerce_sources([{"path": "a", "data_files": {"train": "a.jsonl"}}, PretrainSource("b")]) == [
        PretrainSource("a", data_files={"train": "a.jsonl"}),
        PretrainSource("b"),
    ]
    with pytest.raises(ConfigError) as error:
        coerce_sources([{"path": "a"}, {"path": "b", "weight": "heavy"}])
    assert str(error.value) == "datasets[1].weight must be of type float, got 'heavy'"
    with pytest.raises(ConfigError, match=r"^datasets\[0\]: source 'a': weight must be a positive number, got -1$"):
        coerce_sources([{"path": "a", "weight": -1}])


def test_ctrl_c_is_one_line_and_exit_status_130(monkeypatch, tmp_path, capsys):
    """Ctrl-C in any command: one line naming it on stderr, status 130 (128 + SIGINT), no traceback."""
    import trl_dsm.cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(trl_dsm.cli, "_run_grade", interrupted)
    parser = trl_dsm.cli.build_parser()  # the grade subcommand binds _run_grade at build time: rebuild after patching
    monkeypatch.setattr(trl_dsm.cli, "build_parser", lambda: parser)
    assert trl_dsm.cli.main(["grade", "42", "42"]) == 130
    err = capsys.readouterr().err
    assert err == "trl-dsm grade: interrupted\n"
