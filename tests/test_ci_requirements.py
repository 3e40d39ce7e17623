"""Under CI=true a missing tool fails the run (tests/prerequisites.py, .ci/setup.sh); locally it
skips, and the summary lists every skip. Real pytest runs and a real shell, no Ray."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

from tests.prerequisites import in_ci, missing, require_tools, unavailable_here

ROOT = Path(__file__).resolve().parents[1]
ABSENT = "hub-test-no-such-tool"


@pytest.mark.parametrize(
    ("value", "ci"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("", False)],
)
def test_ci_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, ci: bool
) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is ci


def test_a_missing_tool_skips_locally_naming_it_and_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as caught:
        require_tools("sh", ABSENT, install="apt-get install hub-test")
    assert str(caught.value) == f"{ABSENT} not installed (apt-get install hub-test)"


def test_a_missing_tool_fails_under_ci_with_the_same_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as caught:
        require_tools(ABSENT, install="apt-get install hub-test")
    assert str(caught.value) == (
        f"required under CI=true: {ABSENT} not installed (apt-get install hub-test)"
    )
    with pytest.raises(pytest.fail.Exception, match="required under CI=true: no display"):
        missing("no display")


def test_tools_that_are_there_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    require_tools("sh", "env", install="apt-get install coreutils")  # raises when missing


def test_what_cannot_exist_here_skips_under_ci_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.skip.Exception, match="no GPU here"):
        unavailable_here("no GPU here")


INNER = f"""
import pytest
from tests.prerequisites import require_tools, unavailable_here

def test_skip_call():
    pytest.skip("no frobnicator here")

@pytest.mark.skipif(True, reason="a skipif marker")
def test_skipif_marker():
    pass

def test_missing_tool():
    require_tools("{ABSENT}", install="apt-get install hub-test")

def test_no_gpu():
    unavailable_here("needs a GPU, and this machine has none")

@pytest.mark.xfail(strict=True, reason="expected")
def test_expected_failure():
    assert False

def test_fine():
    pass
"""


def inner_run(tmp_path: Path, ci: str | None) -> tuple[int, str]:
    """Run INNER with the hook of tests/prerequisites.py and this project's addopts (``-ra``)."""
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"][
        "addopts"
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # a quick start: none of them is needed here
    command = [sys.executable, "-m", "pytest", *addopts.split(), "-p", "tests.prerequisites"]
    command += ["-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"), str(tmp_path)]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_the_suite_runs_with_the_hook() -> None:
    import tests.conftest
    import tests.prerequisites

    hook = tests.prerequisites.pytest_runtest_makereport
    assert tests.conftest.pytest_runtest_makereport is hook


def summary(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_locally_the_run_passes_and_its_summary_lists_every_skip(tmp_path: Path) -> None:
    code, output = inner_run(tmp_path, ci=None)
    assert code == 0, output
    assert re.search(r"\b1 passed, 4 skipped, 1 xfailed\b", summary(output)), output
    for reason in (
        "no frobnicator here",
        "a skipif marker",
        f"{ABSENT} not installed (apt-get install hub-test)",
        "needs a GPU, and this machine has none",
    ):
        where = rf"^SKIPPED \[1\] .*test_inner\.py:\d+: {re.escape(reason)}$"
        assert re.search(where, output, re.M), output


def test_under_ci_every_skip_fails_the_run_with_its_reason_but_a_gpu_skip(
    tmp_path: Path,
) -> None:
    code, output = inner_run(tmp_path, ci="true")
    assert code == 1, output
    # The skipif marker acts while the test is set up: it is reported as an error there.
    assert re.search(r"\b2 failed, 1 passed, 1 skipped, 1 xfailed, 1 error\b", summary(output)), (
        output
    )
    assert re.search(
        r"^FAILED .*test_skip_call - skipped, and CI=true: no frobnicator", output, re.M
    )
    assert re.search(r"^ERROR .*test_skipif_marker - skipped, and CI=true: a skipif", output, re.M)
    assert re.search(
        rf"^FAILED .*test_missing_tool - (Failed: )?required under CI=true: {ABSENT} not insta",
        output,
        re.M,
    ), output
    gpu = r"^SKIPPED \[1\] .*test_inner\.py:\d+: needs a GPU, and this machine has none$"
    assert re.search(gpu, output, re.M), output


def test_setup_fails_under_ci_when_it_cannot_install_missing_packages() -> None:
    """.ci/setup.sh as a user that is not root, on a PATH where none of the tools are."""
    with tempfile.TemporaryDirectory(prefix="hub-ci-setup-") as bin_dir:
        os.chmod(bin_dir, 0o755)  # the user the script runs as must find these
        for tool in ("dirname", "id"):  # all the script runs before it gives up
            found = shutil.which(tool)
            assert found is not None
            (Path(bin_dir) / tool).symlink_to(found)
        command = ["/bin/bash", str(ROOT / ".ci" / "setup.sh")]
        if os.geteuid() == 0:  # as a real other user, so that it cannot install anything
            setpriv = shutil.which("setpriv")
            assert setpriv is not None, "setpriv (util-linux) runs the script as nobody"
            command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        env = {"PATH": bin_dir, "CI": "true", "HUB_EXTRAS": "dev,desktop,ocr"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "command not found" not in done.stderr, done.stderr
    [listed] = re.findall(
        r"^error: CI=true and these Debian packages are missing: (.*)$", done.stderr, re.M
    )
    expected = ["xvfb", "x11-utils", "xdotool", "tesseract-ocr", "rsync", "iproute2", "prometheus"]
    if not os.access("/usr/sbin/sshd", os.X_OK):  # found there by its path, not on PATH
        expected.append("openssh-server")
    assert set(expected) <= set(listed.split()), listed
    assert "install them as root" in done.stderr
