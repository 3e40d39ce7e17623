"""Every error path of the ``hub`` command that needs no runtime, against the exit codes the
README documents (0 success; 1 failed, cancelled or a runtime error, and ``hub validate``'s
"invalid"; 2 bad usage, an invalid workflow or invalid inputs). The real command runs as a
subprocess, as a script would run it. Paths that need a runtime are in
tests/integration/test_cli.py::test_exit_codes_with_a_runtime.

Rows marked ``GONE`` run with a HUB_HOME whose runtime joined a Ray cluster that no longer
answers: a command that asked the runtime before checking its arguments would fail there with
exit 1, so exit 2 shows the arguments were checked first, in milliseconds.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.records import CreateExecution, ExecutionRecord, ExecutionStatus
from hub.runtime import RuntimeInfo
from hub.store import Store
from tests.conftest import HUB, free_port

VALID = {
    "id": "greet",
    "inputs": {"n": {"type": "integer", "required": True, "minimum": 1}},
    "nodes": [{"id": "a", "type": "log", "parameters": {"message": "n={{ $input.n }}"}}],
}
INVALID = {"id": "broken", "nodes": [{"id": "a", "type": "htp"}]}
FILES = {
    "good.json": json.dumps(VALID).encode(),
    "invalid.json": json.dumps(INVALID).encode(),
    "notjson.json": b'{"id": "x",\n  "nodes": [\n    {"id": "a" "type": "log"}\n  ]\n}\n',
    "array.json": b"[1, 2]",
    "binary.json": b'{"id": "\xff\xfe"}',
    "notyaml.yaml": b"id: x\nnodes: [a, b\n",
}
AMBIGUOUS = ("abcdef01" + "0" * 24, "abcdef02" + "0" * 24)

CLEARED = ("HUB_DATABASE_URL", "RAY_ADDRESS")  # the cases' environment: the tests' own, less these
FORKED_HUB = Path(__file__).with_name("forked_hub.py")

NONE, GONE = "none", "gone"  # no runtime.json / a runtime.json of a cluster that is gone


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    code: int
    stderr: str = ""  # a fragment the one-line error must hold
    home: str = NONE
    stdout_json: Callable[[Any], bool] | None = None  # a check of stdout parsed as JSON
    debug: bool = False  # --debug: the traceback is shown; otherwise it never is
    extra: dict[str, str] = field(default_factory=dict)


def diagnostics(code: str, *fragments: str) -> Callable[[Any], bool]:
    def check(doc: Any) -> bool:
        [diag] = doc["diagnostics"]
        return (
            doc["ok"] is False
            and set(diag) == {"severity", "code", "message", "path", "suggestion"}
            and diag["severity"] == "error"
            and diag["code"] == code
            and all(f in diag["message"] for f in fragments)
        )

    return check


CASES: dict[str, Case] = {
    # argparse: unknown commands and flags, missing and malformed arguments
    "no command": Case((), 2, "required: command"),
    "unknown command": Case(("frobnicate",), 2, "invalid choice: 'frobnicate'"),
    "unknown flag": Case(("run", "good.json", "--frobnicate"), 2, "unrecognized arguments"),
    "missing argument": Case(("show",), 2, "required: id"),
    "not a number": Case(("ls", "--limit", "many"), 2, "invalid int value"),
    "not a choice": Case(("ls", "--status", "lost"), 2, "invalid choice: 'lost'"),
    "clicker without a subcommand": Case(("clicker",), 2, "required: clicker_command"),
    "limit below one": Case(("ls", "--limit", "0"), 2, "--limit must be at least 1"),
    # hub run: the file, the workflow, the inputs; all before any runtime is asked
    "run a missing file": Case(
        ("run", "missing.json"), 2, "cannot read workflow file missing.json", GONE
    ),
    "run a directory": Case(("run", "adir/"), 2, "cannot read workflow file adir", GONE),
    "run a file that is not JSON": Case(
        ("run", "notjson.json"), 2, "not valid JSON: Expecting ',' delimiter (line 3", GONE
    ),
    "run a file that is not a JSON object": Case(
        ("run", "array.json"), 2, "a workflow must be a JSON object", GONE
    ),
    "run an invalid workflow": Case(("run", "invalid.json"), 2, "did you mean 'http'", GONE),
    "run with invalid inputs": Case(("run", "good.json", "-i", "n=zero"), 2, "n:", GONE),
    "run without a required input": Case(("run", "good.json"), 2, "n: is required", GONE),
    "run with a malformed -i": Case(
        ("run", "good.json", "-i", "novalue"), 2, "-i expects KEY=VALUE", GONE
    ),
    "run with --inputs not JSON": Case(
        ("run", "good.json", "--inputs", "{oops"), 2, "--inputs is not valid JSON", GONE
    ),
    "run with --inputs not an object": Case(
        ("run", "good.json", "--inputs", "[1]"), 2, "--inputs must be a JSON object", GONE
    ),
    "run a missing file, --debug": Case(
        ("--debug", "run", "missing.json"), 2, "cannot read workflow file", debug=True
    ),
    # hub register: the same checks, before connecting
    "register a missing file": Case(("register", "missing.json"), 2, "cannot read", GONE),
    "register a file that is not JSON": Case(
        ("register", "notjson.json"), 2, "not valid JSON", GONE
    ),
    "register an invalid workflow": Case(("register", "invalid.json"), 2, "htp", GONE),
    # hub validate: "invalid" is its answer (1, diagnostics); an unreadable file is usage (2)
    "validate an invalid workflow": Case(("validate", "invalid.json"), 1),
    "validate a file that is not JSON": Case(("validate", "notjson.json"), 1),
    "validate --json, invalid": Case(
        ("validate", "invalid.json", "--json"),
        1,
        stdout_json=lambda d: (
            d["ok"] is False and "unknown_node_type" in {x["code"] for x in d["diagnostics"]}
        ),
    ),
    "validate --json, not JSON": Case(
        ("validate", "notjson.json", "--json"),
        1,
        stdout_json=diagnostics("invalid_json", "Expecting ',' delimiter", "line 3, column 16"),
    ),
    "validate --json, not UTF-8": Case(
        ("validate", "binary.json", "--json"),
        1,
        stdout_json=diagnostics("invalid_json", "byte 0xff", "line 1, column 9"),
    ),
    "validate --json, not an object": Case(
        ("validate", "array.json", "--json"),
        1,
        stdout_json=diagnostics("invalid_document", "must be a JSON object"),
    ),
    "validate --json, not YAML": Case(
        ("validate", "notyaml.yaml", "--json"),
        1,
        stdout_json=diagnostics("invalid_yaml", "line 3"),
    ),
    "validate a missing file": Case(("validate", "missing.json"), 2, "cannot read"),
    "validate --json, a missing file": Case(
        ("validate", "missing.json", "--json"),
        2,
        "cannot read workflow file missing.json: No such file or directory",
        stdout_json=diagnostics("unreadable_file", "missing.json", "No such file"),
    ),
    # history, read from the store: ids and prefixes that name nothing, or more than one
    "show an unknown id": Case(("show", "f" * 32), 2, f"execution '{'f' * 32}' not found"),
    "show a short prefix": Case(("show", "abc"), 2, "at least 6 characters"),
    "show an ambiguous prefix": Case(("show", "abcdef"), 2, "is ambiguous"),
    "logs of an unknown id": Case(("logs", "f" * 32), 2, "not found"),
    "errors --since-hours 0": Case(("errors", "--since-hours", "0"), 2, "must be positive"),
    "prune without a bound": Case(("prune",), 2, "nothing to prune"),
    "prune --keep -1": Case(("prune", "--keep", "-1"), 2, "must not be negative"),
    # lifecycle commands: bad arguments before the runtime; no runtime is a runtime error
    "skip with --output not JSON": Case(
        ("skip", "f" * 32, "--output", "{oops"), 2, "--output is not valid JSON", GONE
    ),
    "retry with a malformed --set": Case(
        ("retry", "f" * 32, "--set", "novalue"), 2, "KEY=VALUE", GONE
    ),
    "rerun with --inputs not JSON": Case(
        ("rerun", "f" * 32, "--inputs", "{oops"), 2, "--inputs is not valid JSON", GONE
    ),
    "clicker start with a bad --region": Case(
        ("clicker", "start", "--region", "1,2", "--click", "5,5"), 2, "--region must be 4", GONE
    ),
    "clicker start with a bad --click": Case(
        ("clicker", "start", "--region", "0,0,9,9", "--click", "x"), 2, "--click must be 2", GONE
    ),
    "triggers without a subcommand": Case(("triggers",), 2, "required: triggers_command"),
    "triggers fire with --body not JSON": Case(
        ("triggers", "fire", "w", "t", "--body", "{oops"), 2, "--body is not valid JSON", GONE
    ),
    "triggers ls with no runtime": Case(("triggers", "ls"), 1, "no runtime is running"),
    "cancel with no runtime": Case(("cancel", "f" * 32), 1, "no runtime is running"),
    "pause with no runtime": Case(("pause", "f" * 32), 1, "no runtime is running"),
    "retry with no runtime": Case(("retry", "f" * 32), 1, "no runtime is running"),
    "cancel when the cluster is gone": Case(
        ("cancel", "f" * 32), 1, "no Ray cluster answers", GONE
    ),
    "register when the cluster is gone": Case(
        ("register", "good.json"), 1, "no Ray cluster answers", GONE
    ),
    "up on a port in use": Case(("up", "--api-port", "{busy}"), 1, "the api port {busy} is in use"),
    # not errors: nothing running is a state, reported with 0
    "status with no runtime": Case(("status",), 0),
    "down with no runtime": Case(("down",), 0),
}


def _home(root: Path, kind: str) -> Path:
    home = root / "home"
    home.mkdir()
    database_url = f"sqlite:///{home / 'hub.db'}"
    with Store(database_url) as store:
        store.apply(
            [
                CreateExecution(
                    record=ExecutionRecord(
                        id=i, workflow_id="w", workflow_version="1", status=ExecutionStatus.QUEUED
                    )
                )
                for i in AMBIGUOUS
            ]
        )
    if kind == GONE:
        info = RuntimeInfo(
            address=f"127.0.0.1:{free_port()}",  # nothing listens there any more
            dashboard_url=None,
            pid=None,  # joined, so the file is trusted until the cluster is asked
            database_url=database_url,
            home=str(home),
            started_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        (home / "runtime.json").write_text(info.model_dump_json())
    return home


def _prepare(case: Case, root: Path, busy_port: int) -> tuple[list[str], Path, dict[str, str]]:
    """The case's files, HUB_HOME and environment (made here, in one thread: the store's
    migrations are not for threads), and its argv."""
    for name, content in FILES.items():
        (root / name).write_bytes(content)
    (root / "adir").mkdir()
    home = _home(root, case.home)
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(HUB_HOME=str(home), **case.extra)
    return [a.replace("{busy}", str(busy_port)) for a in case.argv], root, env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed ``hub`` script, in a fresh interpreter."""
    return subprocess.run(
        [HUB, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _run_forked(
    prepared: dict[str, tuple[list[str], Path, dict[str, str]]],
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case at once, each a process forked after ``hub.cli`` was imported once
    (tests/unit/forked_hub.py): a ``hub`` spends about a second of CPU importing before it
    checks anything, which times 54 cases was most of this module's time."""
    jobs = [
        {
            "argv0": HUB,
            "argv": argv,
            "cwd": str(cwd),
            "env": env,
            "stdout": str(cwd / "hub.stdout"),
            "stderr": str(cwd / "hub.stderr"),
        }
        for argv, cwd, env in prepared.values()
    ]
    server_env = {k: v for k, v in os.environ.items() if k not in ("HUB_HOME", *CLEARED)}
    done = subprocess.run(
        [sys.executable, str(FORKED_HUB)],
        input=json.dumps(jobs),
        env=server_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    codes: list[int] = json.loads(done.stdout)
    return {
        name: subprocess.CompletedProcess(
            [HUB, *argv],
            code,
            (cwd / "hub.stdout").read_text(),
            (cwd / "hub.stderr").read_text(),
        )
        for (name, (argv, cwd, _)), code in zip(prepared.items(), codes, strict=True)
    }


@dataclass
class Table:
    busy_port: int  # a port with a live listener, for "up on a port in use"
    outcomes: dict[str, tuple[str, subprocess.CompletedProcess[str]]]  # name -> (argv, result)
    prepared: dict[str, tuple[list[str], Path, dict[str, str]]]  # name -> (argv, cwd, env)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Table]:
    """Every case, run at once, each in a directory and HUB_HOME of its own."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        prepared = {
            name: _prepare(case, tmp_path_factory.mktemp("cli"), port)
            for name, case in CASES.items()
        }
        done = _run_forked(prepared)
        outcomes = {name: (" ".join(prepared[name][0]), done[name]) for name in CASES}
        yield Table(port, outcomes, prepared)


@pytest.mark.timeout(300)  # the first test waits for the whole table
@pytest.mark.parametrize("name", CASES.keys())
def test_exit_code(name: str, table: Table) -> None:
    case = CASES[name]
    argv, done = table.outcomes[name]
    where = f"hub {argv}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert done.returncode == case.code, where
    if case.code == 0:
        return
    if case.stderr:
        assert case.stderr.replace("{busy}", str(table.busy_port)) in done.stderr, where
    if case.debug:
        assert "Traceback" in done.stderr, where
    else:
        assert "Traceback" not in done.stderr, where
        if done.stderr:  # an error is one line
            assert done.stderr.startswith("hub: error:"), where
            assert len(done.stderr.strip().splitlines()) == 1, where
    if case.stdout_json is not None:
        assert case.stdout_json(json.loads(done.stdout)), where


# One case of each kind: argparse, a traceback, JSON on stdout, the store, Ray, a port.
SCRIPT_CASES = (
    "no command",
    "run a missing file, --debug",
    "validate --json, not UTF-8",
    "show an ambiguous prefix",
    "cancel when the cluster is gone",
    "up on a port in use",
    "status with no runtime",
)


def test_the_installed_script_answers_as_the_forked_command(table: Table) -> None:
    """The table's processes are forked after one import (tests/unit/forked_hub.py); the
    installed ``hub`` script, a fresh interpreter each time, gives the same answers."""
    with ThreadPoolExecutor(max_workers=len(SCRIPT_CASES)) as pool:
        fresh = dict(
            zip(
                SCRIPT_CASES,
                pool.map(lambda name: _run(*table.prepared[name]), SCRIPT_CASES),
                strict=True,
            )
        )
    for name in SCRIPT_CASES:
        _, forked = table.outcomes[name]
        got = (fresh[name].returncode, fresh[name].stdout, fresh[name].stderr)
        assert got == (forked.returncode, forked.stdout, forked.stderr), name
