"""Stop the whole runtime with runs in flight and start it again: every run ends as the recovery
setting says, none is left unfinished. A runtime of its own (its own HUB_HOME and ports), driven
through the CLI as a user would, so the session's shared runtime is not disturbed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.records import ExecutionStatus
from hub.store import Store
from tests.conftest import HUB, free_port

pytestmark = [pytest.mark.chaos]

RUNS = 20

SUBMIT = """
import json, sys
import hub
client = hub.connect()
ids = [client.run(sys.argv[1], wait=False).id for _ in range(int(sys.argv[2]))]
print(json.dumps(ids))
"""


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HUB_HOME": str(home),
        "HUB_MAX_EXECUTION_ACTORS": "8",
        "HUB_WARM_EXECUTION_ACTORS": "2",
    }
    env.pop("HUB_DATABASE_URL", None)
    workflow = tmp_path / "slow.json"
    workflow.write_text(
        json.dumps(
            {
                "id": "slow",
                "nodes": [
                    {"id": f"d{i}", "type": "delay", "parameters": {"seconds": 1}} for i in range(3)
                ],
                "edges": [{"from": "d0", "to": "d1"}, {"from": "d1", "to": "d2"}],
            }
        )
    )
    yield home, env
    subprocess.run([HUB, "down"], env=env, capture_output=True, timeout=120)


def hub_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"hub {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def up(env: dict[str, str]) -> None:
    hub_cli(env, "up", "--port", str(free_port()), "--dashboard-port", str(free_port()))


def submit(env: dict[str, str], count: int) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SUBMIT, "slow", str(count)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    ids: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return ids


def records(home: Path, ids: list[str]) -> dict[str, Any]:
    with Store(f"sqlite:///{home / 'hub.db'}") as store:
        return {i: store.get_execution(i) for i in ids}


def wait_terminal(home: Path, ids: list[str], timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = records(home, ids)
        if all(r.status.terminal for r in found.values()):
            return found
        assert time.monotonic() < deadline, {i: r.status for i, r in found.items()}
        time.sleep(0.5)


def events(home: Path, execution_id: str) -> list[Any]:
    with Store(f"sqlite:///{home / 'hub.db'}") as store:
        return store.events_after(execution_id)


@pytest.mark.timeout(600)
def test_stopping_the_runtime_mid_run_resumes_or_fails_every_run(
    home: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home_dir, env = home
    up(env)
    hub_cli(env, "register", str(tmp_path / "slow.json"))

    # 1. recovery: resume (the default). 8 run at once, 12 wait in the queue.
    ids = submit(env, RUNS)
    time.sleep(1.5)
    hub_cli(env, "down")
    stopped = records(home_dir, ids)
    unfinished = [i for i, r in stopped.items() if not r.status.terminal]
    assert len(unfinished) >= RUNS - 8, {i: r.status for i, r in stopped.items()}
    up(env)
    finals = wait_terminal(home_dir, ids)
    assert {r.status for r in finals.values()} == {ExecutionStatus.COMPLETED}
    resumed = [
        i for i in unfinished if any(e.type == "execution_resumed" for e in events(home_dir, i))
    ]
    assert resumed, "no run resumed after the restart"
    for i in resumed:  # completed steps were not run again
        started = [e.node_id for e in events(home_dir, i) if e.type == "step_started"]
        assert len(started) <= 3 + 1, started

    # 2. recovery: fail. Every unfinished run ends failed, category interrupted.
    ids = submit(env, RUNS)
    time.sleep(1.5)
    hub_cli(env, "down")
    unfinished = [i for i, r in records(home_dir, ids).items() if not r.status.terminal]
    assert len(unfinished) >= RUNS - 8
    up({**env, "HUB_RECOVERY": "fail"})
    finals = wait_terminal(home_dir, unfinished, timeout_s=60)
    for record in finals.values():
        assert record.status == ExecutionStatus.FAILED
        assert record.error is not None and record.error.category == "interrupted"
        assert "recovery setting is 'fail'" in record.error.message


@pytest.mark.timeout(600)
def test_a_crash_of_the_whole_runtime_resumes_at_the_next_start(
    home: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """No `hub down`: every process of the runtime gets SIGKILL, records in flight are lost."""
    import signal

    from hub._processes import session_members
    from hub.runtime import read_runtime

    home_dir, env = home
    up(env)
    hub_cli(env, "register", str(tmp_path / "slow.json"))
    ids = submit(env, RUNS)
    time.sleep(1.5)
    info = read_runtime(home_dir)
    assert info is not None
    for pid in [info.pid, *session_members(info.pid)]:
        os.kill(pid, signal.SIGKILL)
    unfinished = [i for i, r in records(home_dir, ids).items() if not r.status.terminal]
    assert len(unfinished) >= RUNS - 8
    up(env)  # finds the dead runtime's file, starts a new one, which recovers
    finals = wait_terminal(home_dir, ids)
    assert {r.status for r in finals.values()} == {ExecutionStatus.COMPLETED}
    for i in unfinished:
        started = [e.node_id for e in events(home_dir, i) if e.type == "step_started"]
        assert len(started) <= 3 + 1, started  # only the step in flight ran twice
