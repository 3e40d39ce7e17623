"""``hub triggers ls|enable|disable|fire``, ``hub ls --trigger`` and the triggers in ``hub
status``, run as a user runs them (a subprocess joining the session's runtime), against a
workflow with a real 2-second schedule."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hub.records import ExecutionRecord
from tests.conftest import run_cli

pytestmark = pytest.mark.ray

SCHEDULE, HOOK = "every2", "hook"


def _doc(workflow_id: str) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "inputs": {
            "source": {"type": "string", "required": True},
            "name": {"type": "string", "default": "nobody"},
        },
        "nodes": [
            {
                "id": "said",
                "type": "set",
                "parameters": {"values": {"text": "{{ $input.source }}: {{ $input.name }}"}},
            }
        ],
        "triggers": [
            {
                "id": SCHEDULE,
                "type": "schedule",
                "every_s": 2,
                "inputs": {"source": "schedule"},
            },
            {
                "id": HOOK,
                "type": "webhook",
                "inputs": {"source": "webhook", "name": "{{ $trigger.body.name }}"},
            },
        ],
    }


@pytest.fixture()
def cli(runtime: Any, runtime_env: dict[str, str]) -> Callable[..., Any]:
    return lambda *args: run_cli(runtime_env, *args)


@pytest.fixture()
def workflow(runtime: Any, api: Any) -> Iterator[str]:
    """A registered workflow with a running 2-second schedule; deleted afterwards (which stops
    its schedule in the shared runtime)."""
    workflow_id = f"trig-cli-{uuid.uuid4().hex[:8]}"
    runtime.register(_doc(workflow_id))
    yield workflow_id
    assert api.delete(f"/workflows/{workflow_id}").status_code == 200
    assert workflow_id not in {v.workflow_id for v in runtime.triggers()}


def _fired(runtime: Any, workflow_id: str, trigger: str = "schedule") -> list[ExecutionRecord]:
    found: list[ExecutionRecord] = runtime.list(
        workflow_id=workflow_id, trigger=trigger, limit=1000
    )
    return found


def _wait_for(check: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:g}s"
        time.sleep(0.2)


def test_ls_shows_the_schedule_and_its_next_fire(cli: Any, workflow: str) -> None:
    shown = cli("triggers", "ls", workflow, "--json")
    assert shown.returncode == 0, shown.stderr
    views = {v["trigger_id"]: v for v in json.loads(shown.stdout)}
    assert set(views) == {SCHEDULE, HOOK}
    schedule = views[SCHEDULE]
    assert schedule["workflow_id"] == workflow
    assert (schedule["type"], schedule["state"], schedule["enabled"]) == (
        "schedule",
        "running",
        True,
    )
    assert schedule["next_fire_at"] is not None
    assert schedule["detail"]["every_s"] == 2
    assert views[HOOK]["next_fire_at"] is None

    table = cli("triggers", "ls", workflow)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:4] == ["workflow", "trigger", "type", "state"]
    row = next(r for r in rows if SCHEDULE in r.split())
    assert row.split()[:4] == [workflow, SCHEDULE, "schedule", "running"]
    # The next fire, as a person reads it: "(in 1s)", "(now)", or "(3s ago)" while a fire
    # that is due is on its way (a busy machine).
    assert re.search(r"\((in \d+[a-z]+|now|\d+[a-z]+ ago)\)", row), row


def test_disable_stops_the_schedule_and_enable_resumes_it(
    cli: Any, runtime: Any, workflow: str
) -> None:
    _wait_for(lambda: len(_fired(runtime, workflow)) >= 1, "the schedule's first fire")

    off = cli("triggers", "disable", workflow, SCHEDULE)
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == f"{workflow}/{SCHEDULE} disabled"
    view = runtime.trigger(workflow, SCHEDULE)
    assert (view.state, view.enabled, view.next_fire_at) == ("disabled", False, None)
    time.sleep(1)  # a fire already on its way when the switch came may still land
    settled = len(_fired(runtime, workflow))
    time.sleep(5)  # more than two slots
    assert len(_fired(runtime, workflow)) == settled, "a disabled schedule fired"

    on = cli("triggers", "enable", workflow, SCHEDULE, "--json")
    assert on.returncode == 0, on.stderr
    enabled = json.loads(on.stdout)
    assert (enabled["state"], enabled["enabled"]) == ("running", True)
    assert enabled["next_fire_at"] is not None
    _wait_for(lambda: len(_fired(runtime, workflow)) > settled, "a fire after enable")


def test_fire_starts_one_execution_marked_manual(cli: Any, runtime: Any, workflow: str) -> None:
    runtime.disable_trigger(workflow, SCHEDULE)  # only the fires of this test, below
    done = cli("triggers", "fire", workflow, HOOK, "--body", '{"name": "Ada"}', "--wait", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "completed"
    assert record["trigger"] == "webhook"
    assert record["trigger_info"]["manual"] is True
    assert record["trigger_info"]["id"] == HOOK
    assert record["inputs"] == {"source": "webhook", "name": "Ada"}
    assert record["outputs"]["said"]["text"] == "webhook: Ada"

    # A disabled trigger fires too (a test of its mapping); the id alone is printed.
    started = cli("triggers", "fire", workflow, SCHEDULE)
    assert started.returncode == 0, started.stderr
    execution_id = started.stdout.strip()
    fired = runtime.wait(execution_id, timeout_s=60)
    assert (fired.trigger, fired.trigger_info["manual"]) == ("schedule", True)
    manual = [r.id for r in _fired(runtime, workflow) if (r.trigger_info or {}).get("manual")]
    assert manual == [execution_id]

    listed = cli("ls", "--workflow", workflow, "--trigger", "webhook", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)] == [record["id"]]
    view = runtime.trigger(workflow, HOOK)
    assert (view.fires, view.last_execution_id) == (1, record["id"])


def test_status_shows_the_triggers(cli: Any, workflow: str) -> None:
    status = cli("status", "--json")
    assert status.returncode == 0, status.stderr
    triggers = json.loads(status.stdout)["triggers"]
    assert triggers["total"] >= 2
    assert triggers["by_state"]["running"] >= 1  # this workflow's schedule, at least
    assert triggers["next_fire_at"] is not None
    assert isinstance(triggers["errors"], list)


def test_unknown_workflow_or_trigger_is_a_clear_usage_error(cli: Any, workflow: str) -> None:
    cases = {
        ("triggers", "ls", "no-such-workflow"): "workflow 'no-such-workflow' not found",
        ("triggers", "fire", "no-such-workflow", SCHEDULE): "no trigger 'every2' in workflow",
        ("triggers", "enable", workflow, "nope"): f"no trigger 'nope' in workflow '{workflow}'",
        ("triggers", "fire", workflow, HOOK, "--body", "{oops"): "--body is not valid JSON",
    }
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        results = dict(zip(cases, pool.map(lambda argv: cli(*argv), cases), strict=True))
    for argv, fragment in cases.items():
        done = results[argv]
        where = f"hub {' '.join(argv)}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        assert done.returncode == 2, where
        # One error line (the session's runtime environment may add a settings warning).
        [error] = [line for line in done.stderr.splitlines() if line.startswith("hub: ")]
        assert error.startswith("hub: error:") and fragment in error, where
        assert "Traceback" not in done.stderr, where
