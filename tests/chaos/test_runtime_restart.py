"""Stop the whole runtime with runs in flight and start it again: every run ends as the recovery
setting says, none is left unfinished, and schedules follow their misfire policies. A runtime of
its own (its own HUB_HOME and ports), driven through the CLI as a user would, so the session's
shared runtime is not disturbed."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.records import ExecutionRecord, ExecutionStatus
from hub.store import Store
from tests.chaos.conftest import wait_for
from tests.conftest import HUB, free_port

pytestmark = [pytest.mark.chaos]

RUNS = 20
SHARED_RUNS = 8  # of the same workflow in the shared isolation mode, beside the RUNS
AUTO_RUNS = 8  # and in the auto mode: its delays run in the supervisor's own process

SUBMIT = """
import json, sys
import hub
client = hub.connect()
pairs = zip(sys.argv[1::2], sys.argv[2::2])
ids = [client.run(w, wait=False).id for w, count in pairs for _ in range(int(count))]
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
        # The sleeper's 30 s delay parks its execution (docs/dsl.md, "Sleeping executions"):
        # the stop and the restart find it asleep, not on an actor.
        "HUB_PARK_DELAY_S": "10",
    }
    env.pop("HUB_DATABASE_URL", None)
    for workflow_id, isolation in (
        ("slow", "exclusive"),
        ("slow-shared", "shared"),
        ("slow-auto", "auto"),
    ):
        workflow = tmp_path / f"{workflow_id}.json"
        workflow.write_text(
            json.dumps(
                {
                    "id": workflow_id,
                    "settings": {"isolation": isolation},
                    "nodes": [
                        {"id": f"d{i}", "type": "delay", "parameters": {"seconds": 2}}
                        for i in range(3)
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


def register_slow(env: dict[str, str], tmp_path: Path) -> None:
    """The slow workflow in the three isolation modes (docs/dsl.md, "Isolation modes")."""
    for workflow_id in ("slow", "slow-shared", "slow-auto"):
        hub_cli(env, "register", str(tmp_path / f"{workflow_id}.json"))


def submit(env: dict[str, str], count: int) -> list[str]:
    """``count`` runs of the slow workflow, then SHARED_RUNS of its shared-mode twin and
    AUTO_RUNS of its auto-mode one."""
    runs = ["slow", str(count), "slow-shared", str(SHARED_RUNS), "slow-auto", str(AUTO_RUNS)]
    done = subprocess.run(
        [sys.executable, "-c", SUBMIT, *runs],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    ids: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return ids


DISABLE = """
import sys
import hub
client = hub.connect()
for trigger_id in sys.argv[2:]:
    client.disable_trigger(sys.argv[1], trigger_id)
"""


def disable_triggers(env: dict[str, str], workflow_id: str, *trigger_ids: str) -> None:
    """Switch schedules off (one process for all: a ``hub`` command each costs a second)."""
    done = subprocess.run(
        [sys.executable, "-c", DISABLE, workflow_id, *trigger_ids],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def reading(home: Path) -> Store:
    """The runtime's store, to read while it runs: no migration (that takes the write lock,
    and waits behind a busy runtime's commits: a poll took seconds)."""
    return Store(f"sqlite:///{home / 'hub.db'}", migrate=False)


def records(home: Path, ids: list[str]) -> dict[str, Any]:
    with reading(home) as store:
        return {i: store.get_execution(i) for i in ids}


def wait_terminal(home: Path, ids: list[str], timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = records(home, ids)
        if all(r.status.terminal for r in found.values()):
            return found
        assert time.monotonic() < deadline, {i: r.status for i, r in found.items()}
        time.sleep(0.5)


def stopped_mid_flight(stopped: dict[str, Any]) -> bool:
    """The stop came with runs both running and still queued (how many of the 20 had ended by
    then depends on how fast the machine submitted them: not asserted)."""
    statuses = {r.status for r in stopped.values()}
    return {ExecutionStatus.RUNNING, ExecutionStatus.QUEUED} <= statuses


def started_in_each_mode(home: Path, ids: list[str]) -> bool:
    """A run of each isolation mode has started: its record says running. (A fixed wait was
    not enough on a loaded machine: the supervisor's own runs, submitted last, could all be
    still queued at the stop, and a queued run starts over rather than resumes.)"""
    found = records(home, ids)
    shared_at, auto_at = len(ids) - SHARED_RUNS - AUTO_RUNS, len(ids) - AUTO_RUNS
    groups = (ids[:shared_at], ids[shared_at:auto_at], ids[auto_at:])
    return all(any(found[i].status == ExecutionStatus.RUNNING for i in g) for g in groups)


def events(home: Path, execution_id: str) -> list[Any]:
    with reading(home) as store:
        return store.events_after(execution_id)


# --- schedules' misfire policies (issue 14) -------------------------------------------------------

DOWN_S = 6  # at least this long without a runtime: 6 one-second slots and more are missed
POLICIES = ("skip", "once", "all")
MISFIRE_WORKFLOW = {
    "id": "misfire",
    "inputs": {"slot": {"type": "string"}},
    "nodes": [{"id": "a", "type": "set", "parameters": {"values": {"at": "{{ $input.slot }}"}}}],
    "triggers": [
        {
            "id": policy,
            "type": "schedule",
            "every_s": 1,
            "misfire": policy,
            "inputs": {"slot": "{{ $trigger.slot }}"},
        }
        for policy in POLICIES
    ],
}


def by_trigger(home: Path) -> dict[str, list[ExecutionRecord]]:
    """The misfire workflow's executions per trigger, in slot order."""
    with reading(home) as store:
        found = store.list_executions(workflow_id="misfire", limit=10_000)
    runs: dict[str, list[ExecutionRecord]] = {p: [] for p in POLICIES}
    for r in sorted(found, key=slot):
        assert r.trigger_info is not None
        runs[r.trigger_info["id"]].append(r)
    return runs


def each_fired(home: Path, count: int) -> bool:
    return all(len(runs) >= count for runs in by_trigger(home).values())


def slot(r: ExecutionRecord) -> datetime:
    assert r.trigger_info is not None
    return datetime.fromisoformat(r.trigger_info["slot"])


def gaps(runs: list[ExecutionRecord]) -> list[timedelta]:
    """The gaps between consecutive slots longer than one slot."""
    one = timedelta(seconds=1)
    return [b - a for a, b in itertools.pairwise(slot(r) for r in runs) if b - a != one]


def assert_misfire_policies(runs: dict[str, list[ExecutionRecord]]) -> None:
    late = {
        p: [r for r in runs[p] if r.trigger_info and "catch_up" in r.trigger_info] for p in POLICIES
    }
    # skip: nothing of the downtime fires; one gap, at least as long as it.
    assert late["skip"] == []
    (gap,) = gaps(runs["skip"])
    assert gap > timedelta(seconds=DOWN_S)
    # once: one late fire, for the latest missed slot; the gap is just before it.
    assert [r.trigger_info["catch_up"] for r in late["once"]] == ["once"]  # type: ignore[index]
    (gap,) = gaps(runs["once"])
    at = runs["once"].index(late["once"][0])
    assert slot(runs["once"][at]) - slot(runs["once"][at - 1]) == gap > timedelta(seconds=DOWN_S)
    # all: every missed slot fires late, so there is no gap at all.
    assert len(late["all"]) >= DOWN_S
    assert gaps(runs["all"]) == []
    for policy in POLICIES:  # and each slot once
        slots = [slot(r) for r in runs[policy]]
        assert len(slots) == len(set(slots)), policy


SLEEP_S = 30
SLEEPER = {
    "id": "sleeper",
    "nodes": [{"id": "nap", "type": "delay", "parameters": {"seconds": SLEEP_S}}],
}


def assert_woke_when_due(home: Path, execution_id: str) -> None:
    """The delay ended SLEEP_S after it started (+-1 s), or at once after the resume when the
    runtime came back later than that; it did not start its sleep over."""
    (final,) = wait_terminal(home, [execution_id], timeout_s=120).values()
    assert final.status == ExecutionStatus.COMPLETED, final.error
    (nap,) = final.steps
    resumed = next(e for e in events(home, execution_id) if e.type == "execution_resumed")
    due = max(nap.started_at + timedelta(seconds=SLEEP_S), resumed.ts)
    assert abs((nap.ended_at - due).total_seconds()) <= 1.0, (nap, resumed.ts)


@pytest.mark.timeout(600)
def test_stopping_the_runtime_mid_run_resumes_or_fails_every_run(
    home: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home_dir, env = home
    up(env)
    register_slow(env, tmp_path)
    # Three one-second schedules, one per misfire policy, go through the same stop (issue 14).
    (tmp_path / "misfire.json").write_text(json.dumps(MISFIRE_WORKFLOW))
    hub_cli(env, "register", str(tmp_path / "misfire.json"))
    wait_for(lambda: each_fired(home_dir, 2), 60)

    # A long delay sleeps through the stop (issue 16): it wakes when it was due.
    (tmp_path / "sleeper.json").write_text(json.dumps(SLEEPER))
    sleeper = json.loads(hub_cli(env, "run", str(tmp_path / "sleeper.json"), "--no-wait", "--json"))
    # 1. recovery: resume (the default). 8 run at once, 12 wait in the queue.
    ids = submit(env, RUNS)
    wait_for(lambda: started_in_each_mode(home_dir, ids), 60, every_s=0.25)
    hub_cli(env, "down")
    down_at = time.monotonic()
    stopped = records(home_dir, ids)
    unfinished = [i for i, r in stopped.items() if not r.status.terminal]
    assert stopped_mid_flight(stopped), {i: r.status for i, r in stopped.items()}
    fired_before = max(len(r) for r in by_trigger(home_dir).values())
    time.sleep(max(0.0, DOWN_S - (time.monotonic() - down_at)))
    up(env)
    finals = wait_terminal(home_dir, ids)
    assert {r.status for r in finals.values()} == {ExecutionStatus.COMPLETED}
    resumed = [
        i for i in unfinished if any(e.type == "execution_resumed" for e in events(home_dir, i))
    ]
    assert resumed, "no run resumed after the restart"
    assert set(resumed) & set(ids[-AUTO_RUNS:]), {i: stopped[i].status for i in ids[-AUTO_RUNS:]}
    for i in resumed:  # completed steps were not run again
        started = [e.node_id for e in events(home_dir, i) if e.type == "step_started"]
        assert len(started) <= 3 + 1, started
    assert_woke_when_due(home_dir, sleeper["id"])
    wait_for(lambda: each_fired(home_dir, fired_before + 3), 120)
    assert_misfire_policies(by_trigger(home_dir))
    # Checked: the three schedules would only add a run a second each to the rest of the test
    # (and, with "all", a catch-up burst after the next restart).
    disable_triggers(env, "misfire", *POLICIES)

    # 2. recovery: fail. Every unfinished run ends failed, category interrupted.
    ids = submit(env, RUNS)
    wait_for(lambda: started_in_each_mode(home_dir, ids), 60, every_s=0.25)
    hub_cli(env, "down")
    stopped = records(home_dir, ids)
    unfinished = [i for i, r in stopped.items() if not r.status.terminal]
    assert stopped_mid_flight(stopped), {i: r.status for i, r in stopped.items()}
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
    register_slow(env, tmp_path)
    ids = submit(env, RUNS)
    wait_for(lambda: started_in_each_mode(home_dir, ids), 60, every_s=0.25)
    info = read_runtime(home_dir)
    assert info is not None and info.pid is not None  # started here, not joined
    for pid in [info.pid, *session_members(info.pid)]:
        with contextlib.suppress(ProcessLookupError):  # gone with the head it belonged to
            os.kill(pid, signal.SIGKILL)
    stopped = records(home_dir, ids)
    unfinished = [i for i, r in stopped.items() if not r.status.terminal]
    assert stopped_mid_flight(stopped), {i: r.status for i, r in stopped.items()}
    up(env)  # finds the dead runtime's file, starts a new one, which recovers
    finals = wait_terminal(home_dir, ids)
    assert {r.status for r in finals.values()} == {ExecutionStatus.COMPLETED}
    assert set(unfinished) & set(ids[-AUTO_RUNS:]), "the crash caught no run of the supervisor's"
    for i in unfinished:
        started = [e.node_id for e in events(home_dir, i) if e.type == "step_started"]
        assert len(started) <= 3 + 1, started  # only the step in flight ran twice
