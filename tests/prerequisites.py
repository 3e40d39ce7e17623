"""What the test suite needs from the machine it runs on, and what a missing piece does.

The test command (``.ci/test.sh``) installs every tool the suite drives: Xvfb, xdotool,
tesseract, sshd, rsync, ``ip``, Chromium, Prometheus (``prometheus``, ``promtool``). Where it
could not (it ran without root, say), a test that needs a missing tool skips locally, naming
what is missing and how to install it. Under
``CI=true`` the same test fails with that reason instead: a CI run that drove no desktop, read
no screen and started no cluster must not come out green.

Only what cannot exist on a given machine (a GPU) is skipped everywhere, with
:func:`unavailable_here`. Under ``CI=true`` every other skip fails as well, whoever raised it
(``pytest.skip``, ``skipif``, ``importorskip``): :func:`pytest_runtest_makereport`, which
tests/conftest.py registers. ``-ra`` (pyproject.toml) lists the skips that remain in the
summary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator
from typing import Any, NoReturn

import pytest

CI_VALUES = frozenset({"1", "true", "yes"})
UNAVAILABLE_HERE = "unavailable_here"  # set on the skip of what cannot exist on this machine


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def unavailable_here(reason: str) -> NoReturn:
    """Skip a test that needs what this machine cannot have (a GPU), under CI too."""
    __tracebackhide__ = True  # the summary names the test's line, as for pytest.skip
    skip = pytest.skip.Exception(reason)
    setattr(skip, UNAVAILABLE_HERE, True)
    raise skip


def missing(reason: str) -> NoReturn:
    """A requirement the test command installs is missing: skip, or under ``CI=true`` fail,
    with ``reason`` (what is missing and how to install it)."""
    __tracebackhide__ = True
    if in_ci():
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def require_tools(*names: str, install: str) -> None:
    """Every program in ``names`` is on PATH, or the test skips (fails under ``CI=true``)
    naming the absent ones and ``install``, the command that provides them."""
    __tracebackhide__ = True
    absent = [name for name in names if shutil.which(name) is None]
    if absent:
        missing(f"{', '.join(absent)} not installed ({install})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Under ``CI=true``, a skip that is not :func:`unavailable_here`'s fails the test, with
    its reason: something the test command should have provided is not there."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    excinfo = call.excinfo
    if excinfo is None or getattr(excinfo.value, UNAVAILABLE_HERE, False):
        return
    reason = str(getattr(excinfo.value, "msg", None) or excinfo.value)
    report.outcome = "failed"
    report.longrepr = (
        f"skipped, and CI=true: {reason}\n"
        "Under CI every required tool must be installed (.ci/setup.sh); only what cannot "
        "exist on a machine (a GPU) may skip, with tests.prerequisites.unavailable_here."
    )
