# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""pytest plugin for TRL's GRPO test-suite run offline (.ci/trl_suite.sh): a test that loads a Hub fixture which
the local cache does not hold is skipped with the fixture's name as the reason, so the two runs (TRL's trainer and
ours) report the same offline set and compare only tests that can run.

Hub ids are read from the test's source and its parameters; the cache is ``$HF_HOME/hub`` (models) and
``$HF_HOME/datasets`` (datasets prepared by .ci/build_trl_fixtures.py).

``$TRL_SUITE_MAX_STEPS`` caps the optimizer steps of tests that set none (see :func:`_trl_suite_step_cap`).

The checkout's tests/testing_utils.py may import ``is_<package>_available`` helpers that the installed TRL does not
define (the checkout and the installed release are not the same commit): those resolve to an import check of the
package, the same in every mode.
"""

import importlib
import importlib.util
import inspect
import os
import re
from pathlib import Path

import pytest

HUB_ID = re.compile(r"trl-internal-testing/[A-Za-z0-9_.-]+")


def _availability_check(name: str):
    match = re.fullmatch(r"is_(\w+)_available", name)
    if match is None:
        raise AttributeError(f"module 'trl.import_utils' has no attribute {name!r}")
    package = match.group(1)
    return lambda: importlib.util.find_spec(package) is not None


_import_utils = importlib.import_module("trl.import_utils")
if not hasattr(_import_utils, "__getattr__"):
    _import_utils.__getattr__ = _availability_check


def _available() -> set[str]:
    home = Path(os.environ["HF_HOME"])
    models = {p.name[len("models--") :].replace("--", "/", 1) for p in (home / "hub").glob("models--*")}
    datasets = {p.name.replace("___", "/", 1) for p in (home / "datasets").glob("*___*")}
    return models | datasets


def _hub_ids(item) -> set[str]:
    try:
        source = inspect.getsource(item.function)
    except (OSError, TypeError):
        source = ""
    body = re.search(r"^\s*(async\s+)?def\s", source, re.MULTILINE)  # decorators list every parameter: read the body
    source = source[body.start() :] if body else source
    text = source + " " + " ".join(map(str, getattr(getattr(item, "callspec", None), "params", {}).values()))
    return set(HUB_ID.findall(text))


#: Tests run without the step cap of ``$TRL_SUITE_MAX_STEPS``: they check the batching over a whole epoch.
UNCAPPED = ("test_prepare_input_called_with_correct_data",)


@pytest.fixture(autouse=True)
def _trl_suite_step_cap(request, monkeypatch):
    """``$TRL_SUITE_MAX_STEPS`` (when set) caps the training of every test that sets no ``max_steps`` (TRL's tests
    train 3 epochs of the zen set), in every mode alike; the tests of :data:`UNCAPPED` run in full."""
    cap = int(os.environ.get("TRL_SUITE_MAX_STEPS", "0"))
    if cap <= 0 or request.node.originalname in UNCAPPED:
        return
    from trl.trainer.base_config import _BaseConfig

    post_init = _BaseConfig.__post_init__

    def capped(self):
        if self.max_steps is None or self.max_steps <= 0:
            self.max_steps = cap
        post_init(self)

    monkeypatch.setattr(_BaseConfig, "__post_init__", capped)


def pytest_collection_modifyitems(config, items):
    """Skip each test naming a Hub fixture that is not in the local cache."""
    available = _available()
    for item in items:
        missing = sorted(_hub_ids(item) - available)
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"offline: Hub fixture not in the local cache: {missing[0]}"))
