"""Lifecycle, debugging and recovery actions on the session's real runtime, from the Python
client and from the CLI."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

import hub
from hub import ExecutionStatus, IllegalTransition
from tests.conftest import HUB
from tests.integration.test_runs import chain, step, wf

pytestmark = pytest.mark.ray


def delays(n: int, seconds: float) -> dict[str, Any]:
    ids = [f"d{i}" for i in range(n)]
    return wf(
        [{"id": i, "type": "delay", "parameters": {"seconds": seconds}} for i in ids], chain(*ids)
    )


def debug_doc() -> dict[str, Any]:
    return wf(
        [
            {"id": "a", "type": "set", "parameters": {"values": {"x": "{{ $input.n * 2 }}"}}},
            {"id": "b", "type": "set", "parameters": {"values": {"y": "{{ $a.x + 1 }}"}}},
            {"id": "c", "type": "log", "parameters": {"message": "y={{ $b.y }}"}},
        ],
        chain("a", "b", "c"),
        inputs={"n": {"type": "integer", "required": True}},
    )


def test_pause_lets_steps_in_flight_finish_and_resume_goes_on(runtime: hub.Client) -> None:
    record = runtime.run(delays(4, 0.4), wait=False)
    for event in runtime.watch(record.id):
        if event.type == "step_started" and event.node_id == "d1":
            break
    runtime.pause(record.id)
    paused = runtime.wait_until_paused(record.id, timeout_s=30)
    assert paused.status == ExecutionStatus.PAUSED
    done = {s.node_id for s in paused.steps if s.status == "completed"}
    assert done == {"d0", "d1"}  # d1 was in flight: it finished; d2 did not start
    with pytest.raises(IllegalTransition, match="only running"):
        runtime.pause(record.id)
    assert runtime.get(record.id).status == ExecutionStatus.PAUSED
    runtime.resume(record.id)
    final = runtime.wait(record.id, timeout_s=30)
    assert final.status == ExecutionStatus.COMPLETED
    kinds = [e.type for e in runtime.watch(record.id)]
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("execution_completed")
    with pytest.raises(IllegalTransition, match="already completed"):
        runtime.resume(record.id)


def test_cancel_a_paused_execution(runtime: hub.Client) -> None:
    record = runtime.run(debug_doc(), {"n": 1}, wait=False, breakpoints=["c"])
    assert runtime.wait_until_paused(record.id).status == ExecutionStatus.PAUSED
    cancelled = runtime.cancel(record.id)
    assert cancelled.status == ExecutionStatus.CANCELLED
    assert "c" not in {s.node_id for s in runtime.get(record.id).steps}


def test_breakpoints_step_continue_evaluate_and_inspect(runtime: hub.Client) -> None:
    record = runtime.run(debug_doc(), {"n": 5}, wait=False, breakpoints=["b"])
    runtime.wait_until_paused(record.id)
    view = runtime.inspect(record.id)
    assert (view.hold_reason, view.hold_node) == ("breakpoint", "b")
    assert view.inputs == {"n": 5} and view.outputs == {"a": {"x": 10}}
    assert [(s.node_id, s.parameters) for s in view.next] == [("b", {"values": {"y": 11}})]
    assert runtime.evaluate(record.id, "$a.x * 10") == 100
    assert runtime.evaluate(record.id, "{{ upper(str($input.n)) }}") == "5"
    with pytest.raises(hub.HubError, match="nme not found"):
        runtime.evaluate(record.id, "$a.nme")
    with pytest.raises(hub.HubError):
        runtime.evaluate(record.id, "__import__('os').system('true')")

    runtime.step(record.id)
    runtime.wait_until_paused(record.id)
    view = runtime.inspect(record.id)
    assert view.hold_reason == "step" and [s.node_id for s in view.next] == ["c"]
    assert view.outputs["b"] == {"y": 11}
    runtime.continue_(record.id)
    final = runtime.wait(record.id, timeout_s=30)
    assert final.status == ExecutionStatus.COMPLETED
    assert final.outputs["c"]["message"] == "y=11"


def test_conditional_breakpoints_and_breakpoints_set_while_paused(runtime: hub.Client) -> None:
    doc = debug_doc()
    quiet = runtime.run(doc, {"n": 1}, breakpoints=[{"node_id": "b", "condition": "$a.x > 5"}])
    assert quiet.status == ExecutionStatus.COMPLETED  # the condition never held
    record = runtime.run(doc["id"], {"n": 4}, wait=False, breakpoints=["b:$a.x > 5"])
    runtime.wait_until_paused(record.id)
    assert runtime.inspect(record.id).hold_node == "b"
    runtime.set_breakpoints(record.id, ["c"])
    with pytest.raises(hub.HubError, match="unknown node 'cc'; did you mean 'c'"):
        runtime.set_breakpoints(record.id, ["cc"])
    runtime.continue_(record.id)
    runtime.wait_until_paused(record.id)
    assert runtime.inspect(record.id).hold_node == "c"
    runtime.continue_(record.id)
    assert runtime.wait(record.id, timeout_s=30).status == ExecutionStatus.COMPLETED


def test_a_debug_run_without_breakpoints_stops_before_its_first_step(runtime: hub.Client) -> None:
    record = runtime.run(debug_doc(), {"n": 2}, wait=False, debug=True)
    runtime.wait_until_paused(record.id)
    view = runtime.inspect(record.id)
    assert view.hold_reason == "start" and [s.node_id for s in view.next] == ["a"]
    assert view.outputs == {}
    runtime.continue_(record.id)
    assert runtime.wait(record.id, timeout_s=30).status == ExecutionStatus.COMPLETED


def flaky_doc(http_server: Any, key: str) -> dict[str, Any]:
    return wf(
        [
            {"id": "first", "type": "http", "parameters": {"url": f"{http_server.url}/users/1"}},
            {
                "id": "flaky",
                "type": "http",
                "parameters": {"url": f"{http_server.url}/flaky?key={key}&fails=1"},
            },
            {"id": "after", "type": "set", "parameters": {"values": {"n": "{{ $flaky.body }}"}}},
        ],
        chain("first", "flaky", "after"),
    )


def test_retry_from_the_failed_step_reuses_completed_steps(
    runtime: hub.Client, http_server: Any
) -> None:
    key = uuid.uuid4().hex
    failed = runtime.run(flaky_doc(http_server, key))
    assert failed.status == ExecutionStatus.FAILED
    assert failed.error is not None and failed.error.category == "http_status"
    users_calls = len([r for r in http_server.requests if r["path"] == "/users/1"])
    retried = runtime.retry(failed.id)
    assert retried.status == ExecutionStatus.COMPLETED, retried.error
    assert retried.parent_id == failed.id and retried.id != failed.id
    assert retried.outputs["after"] == {"n": {"attempt": 2}}
    # "first" was reused, not called again; "flaky" got a new attempt, numbered after the old.
    assert len([r for r in http_server.requests if r["path"] == "/users/1"]) == users_calls
    assert step(retried, "first").output == step(failed, "first").output
    assert step(retried, "flaky").attempts == 2
    flaky_keys = [
        r["headers"].get("Idempotency-Key") for r in http_server.requests if r["path"] == "/flaky"
    ]
    assert flaky_keys[-2:] == [f"{failed.id}:flaky:1", f"{retried.id}:flaky:2"]
    assert runtime.get(failed.id).status == ExecutionStatus.FAILED  # never changes
    with pytest.raises(IllegalTransition, match="already completed"):
        runtime.retry(retried.id)


def test_retry_one_step_with_new_parameters_skip_it_or_rerun(
    runtime: hub.Client, http_server: Any
) -> None:
    doc = wf(
        [
            {
                "id": "fetch",
                "type": "http",
                "parameters": {"url": f"{http_server.url}/status?code=503"},
            },
            {"id": "use", "type": "set", "parameters": {"values": {"got": "{{ $fetch.body }}"}}},
        ],
        chain("fetch", "use"),
        inputs={"tag": {"type": "string", "default": "t"}},
    )
    failed = runtime.run(doc, {"tag": "x"})
    assert failed.status == ExecutionStatus.FAILED
    fixed = runtime.retry_step(failed.id, "fetch", {"url": f"{http_server.url}/status?code=200"})
    assert fixed.status == ExecutionStatus.COMPLETED
    assert fixed.outputs["use"] == {"got": {"code": 200}}
    assert fixed.settings["origin"]["kind"] == "retry_step"
    with pytest.raises(hub.WorkflowInvalid):
        runtime.retry_step(failed.id, "fetch", {"method": "FETCH"})

    skipped = runtime.skip_step(failed.id, "fetch", {"body": "substitute"})
    assert skipped.status == ExecutionStatus.COMPLETED
    assert skipped.outputs["use"] == {"got": "substitute"}

    again = runtime.rerun(failed.id)
    assert again.status == ExecutionStatus.FAILED and again.parent_id == failed.id
    assert again.inputs == {"tag": "x"}
    shown = runtime.get(failed.id)
    assert shown.error is not None
    from hub.analysis import suggestions

    assert any("retry" in s.lower() for s in suggestions(shown.error.category))


def test_retries_of_runs_with_secret_inputs_use_the_sealed_secret(runtime: hub.Client) -> None:
    doc = wf(
        [
            {
                "id": "ok",
                "type": "condition",
                "parameters": {"expression": "{{ $input.token == 's3cret' }}"},
            },
            {"id": "boom", "type": "fail", "parameters": {"message": "no"}},
        ],
        chain("ok", "boom"),
        inputs={"token": {"type": "string", "secret": True, "required": True}},
    )
    failed = runtime.run(doc, {"token": "s3cret"})
    assert failed.inputs == {"token": "***"}
    again = runtime.rerun(failed.id)  # the secret was kept sealed, not in clear
    assert again.inputs == {"token": "***"} and again.outputs["ok"] == {"result": True}
    other = runtime.rerun(failed.id, inputs={"token": "other"})
    assert other.outputs["ok"] == {"result": False}
    with runtime_store(runtime) as store:
        stored = store.get_execution(failed.id)
    assert "s3cret" not in json.dumps(stored.model_dump(mode="json"))


def runtime_store(runtime: hub.Client) -> Any:
    from hub.store import Store

    return Store(runtime.database_url)


def test_error_patterns_group_repeated_failures(runtime: hub.Client) -> None:
    doc = wf(
        [
            {
                "id": "boom",
                "type": "fail",
                "parameters": {"message": "no stock for item {{ $input.n }}"},
            }
        ],
        inputs={"n": {"type": "integer"}},
    )
    for n in range(3):
        runtime.run(doc, {"n": n})
    patterns = runtime.error_patterns(workflow_id=doc["id"])
    assert len(patterns) == 1
    assert patterns[0].count == 3 and patterns[0].node_id == "boom"
    assert patterns[0].category == "node_error" and patterns[0].suggestions


# --- from the CLI -------------------------------------------------------------------------------


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    return subprocess.run(
        [HUB, *args], env=env, input=stdin, capture_output=True, text=True, timeout=180
    )


def test_cli_debugger_session(
    runtime: hub.Client, runtime_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "debug.json"
    path.write_text(json.dumps(debug_doc()))
    script = "eval $a.x * 10\ninspect\nbogus\nstep\ncontinue\n"
    result = cli(runtime_env, "run", str(path), "-i", "n=4", "--break", "b", stdin=script)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "paused before b (breakpoint)" in out
    assert "\n80\n" in out  # eval
    assert '$a = {"x": 8}' in out  # inspect
    assert "unknown command 'bogus'" in out
    assert "paused before c (step)" in out
    assert "completed" in out


def test_cli_debugger_quit_cancels(
    runtime: hub.Client, runtime_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "debug.json"
    path.write_text(json.dumps(debug_doc()))
    result = cli(runtime_env, "run", str(path), "-i", "n=1", "--debug", stdin="quit\n")
    assert result.returncode == 1
    assert "paused before a (start)" in result.stdout and "cancelled" in result.stdout


def test_cli_pause_resume_retry_errors(
    runtime: hub.Client, runtime_env: dict[str, str], http_server: Any
) -> None:
    # Long enough that the CLI's pause lands before the last step: a pause asked for during the
    # last step lets the run complete, as nothing new would start anyway.
    record = runtime.run(delays(8, 0.5), wait=False)
    paused = cli(runtime_env, "pause", record.id[:12])
    assert paused.returncode == 0, paused.stderr
    assert runtime.wait_until_paused(record.id).status == ExecutionStatus.PAUSED
    resumed = cli(runtime_env, "resume", record.id)
    assert resumed.returncode == 0 and "running" in resumed.stdout
    assert runtime.wait(record.id, timeout_s=30).status == ExecutionStatus.COMPLETED
    again = cli(runtime_env, "resume", record.id)
    assert again.returncode == 1 and "already completed" in again.stderr

    failed = runtime.run(flaky_doc(http_server, uuid.uuid4().hex))
    shown = json.loads(cli(runtime_env, "show", failed.id, "--json").stdout)
    assert shown["error"]["category"] == "http_status" and shown["error"]["suggestions"]
    retried = cli(runtime_env, "retry", failed.id, "--json")
    assert retried.returncode == 0, retried.stderr
    data = json.loads(retried.stdout)
    assert data["status"] == "completed" and data["parent_id"] == failed.id
    errors = cli(runtime_env, "errors", "--workflow", failed.workflow_id, "--json")
    assert errors.returncode == 0 and json.loads(errors.stdout)[0]["category"] == "http_status"


def test_concurrent_starts_with_one_idempotency_key_make_one_execution(
    runtime: hub.Client,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    doc = delays(1, 0.2)
    runtime.register(doc)
    key = uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = set(
            pool.map(
                lambda _: runtime.run(doc["id"], wait=False, idempotency_key=key).id, range(10)
            )
        )
    assert len(ids) == 1
    assert len(runtime.list(workflow_id=doc["id"], limit=100)) == 1
