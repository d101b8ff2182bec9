# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The core install and the ``[mining]`` extra: the package's core modules import without any mining package, a
command that needs the extra says how to install it in one line (exit status 2), and the extra's import names
match ``pyproject.toml``."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest


try:
    import tomllib
except ImportError:  # Python 3.10: pytest's own TOML reader
    import tomli as tomllib

from trl_dsm import _extras, cli


ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _distribution(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]


def test_mining_extra_lists_the_import_names_of_its_distributions():
    requirements = PYPROJECT["project"]["optional-dependencies"]["mining"]
    by_distribution: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for dist in distributions:
            by_distribution.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    provided = set()
    for requirement in requirements:
        dist = _distribution(requirement).lower().replace("_", "-")
        assert dist in by_distribution, f"{dist} (the [mining] extra) is not installed in the test environment"
        provided |= by_distribution[dist]
    assert set(_extras.EXTRAS["mining"]) <= provided
    # every distribution of the extra is checked through at least one of its import names
    for requirement in requirements:
        dist = _distribution(requirement).lower().replace("_", "-")
        assert by_distribution[dist] & set(_extras.EXTRAS["mining"]), f"no import name of {dist} in EXTRAS"


def test_core_dependencies_hold_no_mining_package():
    core = {_distribution(r).lower() for r in PYPROJECT["project"]["dependencies"]}
    mining = {_distribution(r).lower() for r in PYPROJECT["project"]["optional-dependencies"]["mining"]}
    assert not core & mining and "evaluate" not in core
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    assert "trl-dsm[mining]" in dev  # the test suite covers mining


@pytest.mark.parametrize("command", ["mine", "demo"])
def test_command_without_its_extra_prints_the_install_line(command, monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(_extras.EXTRAS, "mining", ("datatrove", "trl_dsm_absent_module"))
    config = tmp_path / "recipe.yaml"
    config.write_text("{}\n")
    out = tmp_path / "out"
    argv = [command, "--config", str(config), "--output-dir", str(out)]
    if command == "demo":
        argv = [command, "--quick", "--output-dir", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        f"trl-dsm {command}: error: this command needs the [mining] extra (trl_dsm_absent_module not installed): "
        'pip install "trl-dsm[mining]"\n'
    )
    assert not out.exists()  # nothing ran


def test_require_extra_passes_when_installed_and_names_unknown_extras():
    _extras.require_extra("mining")  # the test environment has [dev], which includes [mining]
    with pytest.raises(KeyError, match="unknown extra 'minig'; known: mining"):
        _extras.require_extra("minig")


BLOCKER = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Block())
import importlib.util
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in BLOCKED else real_find_spec(name, *a)
"""


def test_core_modules_import_without_the_mining_packages():
    """Without any package of [mining], ``import trl_dsm``, every core subpackage, ``trl-dsm --help`` and
    ``trl-dsm mine --help`` work, and ``trl-dsm mine`` prints the install line with exit status 2."""
    code = BLOCKER + (
        "import trl_dsm, trl_dsm.grading, trl_dsm.rewards, trl_dsm.eval, trl_dsm.eval.evaluate, trl_dsm.grpo\n"
        "import trl_dsm.sandbox, trl_dsm.decontamination.pipeline, trl_dsm.hub.cards, trl_dsm.benchmarks\n"
        "import trl_dsm.pretrain, trl_dsm.sft, trl_dsm.prompts, trl_dsm.configs\n"
        "from trl_dsm import GRPOMathConfig, GRPOMathTrainer, grade\n"
        "assert grade('The answer is 18.', '#### 18')\n"
        "from trl_dsm.cli import build_parser, main\n"
        "parser = build_parser()\n"
        "for argv in (['--help'], ['mine', '--help'], ['demo', '--help']):\n"
        "    try:\n"
        "        parser.parse_args(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, argv\n"
        "sys.exit(main(['mine', '--config', 'absent.yaml']))\n"
    )
    blocked = ",".join(_extras.EXTRAS["mining"])
    out = subprocess.run([sys.executable, "-c", code, blocked], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 2, out.stderr[-3000:]
    assert out.stderr.strip().splitlines()[-1] == (
        f"trl-dsm mine: error: this command needs the [mining] extra ({', '.join(_extras.EXTRAS['mining'])} not "
        'installed): pip install "trl-dsm[mining]"'
    )
