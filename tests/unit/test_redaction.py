"""Secrets and credentials: redacted in every form a run stores or answers (hub.redaction), and
``$credential`` resolved at step time (hub.credentials, the runner's credential source)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from hub.compiler import compile_workflow
from hub.credentials import CredentialSource
from hub.errors import CredentialMissing
from hub.local import MemoryJournal, dispatch_in_process, new_execution
from hub.records import (
    EVENT_OUTPUT_LIMIT,
    CreateExecution,
    ExecutionRecord,
    ExecutionStatus,
    output_preview,
)
from hub.redaction import REDACTED, Redactor
from hub.runner import ExecutionRunner
from tests.unit.test_runner import events, execute, log, node, plan_of

TOKEN = "hunter2-Secret"


def leaks(journal: MemoryJournal, record: ExecutionRecord, *secrets: str) -> list[str]:
    """Every write (and the returned record) that holds a secret in any letter case."""
    texts = [(w.kind, w.model_dump_json()) for w in journal.writes]
    texts.append(("record", record.model_dump_json()))
    return [kind for kind, text in texts if any(s.casefold() in text.casefold() for s in secrets)]


# --- the Redactor ---------------------------------------------------------------------------------


def test_a_secret_is_redacted_inside_text_in_any_case_and_in_keys() -> None:
    redact = Redactor([TOKEN])
    value = {
        "header": f"Bearer {TOKEN}",
        "shout": TOKEN.upper(),
        TOKEN.lower(): 1,
        "nested": [{"deep": f"x{TOKEN}y"}],
    }
    assert redact(value) == {
        "header": "Bearer ***",
        "shout": "***",
        "***": 1,
        "nested": [{"deep": "x***y"}],
    }


def test_numbers_holding_a_secret_and_json_credential_leaves_are_redacted() -> None:
    redact = Redactor([{"user": "admin-user", "password": "pa55word!", "port": 5432}, 987654])
    assert redact({"n": 987654, "m": 19876543, "port": 5432, "ok": 12}) == {
        "n": REDACTED,
        "m": REDACTED,
        "port": REDACTED,
        "ok": 12,
    }
    assert redact("login admin-user:PA55WORD!@db") == "login ***:***@db"


def test_short_secrets_are_redacted_only_as_whole_values() -> None:
    redact = Redactor(["ab7"])
    assert redact({"a": "ab7", "b": "AB7", "c": "tab7le"}) == {
        "a": "***",
        "b": "***",
        "c": "tab7le",
    }


def test_the_longest_secret_wins_where_secrets_overlap() -> None:
    redact = Redactor(["abcd", "abcdefgh"])
    assert redact("xabcdefghx") == "x***x"


def test_learning_more_secrets_later() -> None:
    redact = Redactor()
    assert not redact and redact("rotated-1") == "rotated-1"
    redact.add("rotated-1")
    redact.add("rotated-2")
    assert redact("rotated-1 rotated-2") == "*** ***"


# --- secret inputs through a whole run ------------------------------------------------------------


def test_secret_inputs_leak_through_no_expression_form() -> None:
    """Regression: dict keys and case changes came out readable (issue 13, defect 1)."""
    plan = plan_of(
        [
            node(
                "s",
                "set",
                {
                    "values": {
                        "key": "{{ {$input.token: 1} }}",
                        "bearer": "Bearer {{ $input.token }}",
                        "upper": "{{ upper($input.token) }}",
                        "lower": "{{ lower($input.token) }}",
                        "list": "{{ [$input.token, 1] }}",
                    }
                },
            ),
            log("l", "token is {{ upper($input.token) }} / {{ $s.key }}"),
            node("f", "fail", {"message": "bad {{ lower($input.token) }}"}),
        ],
        [{"from": "s", "to": "l"}, {"from": "l", "to": "f"}],
        inputs={"token": {"type": "string", "secret": True}},
    )
    record, journal = execute(plan, {"token": TOKEN})
    assert record.status == ExecutionStatus.FAILED
    assert leaks(journal, record, TOKEN) == []
    assert record.outputs["s"]["key"] == {REDACTED: 1}
    assert record.error is not None and record.error.message == "bad ***"


def test_evaluate_and_inspect_answers_are_redacted() -> None:
    plan = plan_of(
        [node("s", "set", {"values": {"t": "{{ upper($input.token) }}"}}), log("l", "x")],
        [{"from": "s", "to": "l"}],
        inputs={"token": {"type": "string", "secret": True}},
    )

    async def main() -> tuple[Any, Any]:
        record, validated = new_execution(plan, {"token": TOKEN})
        runner = ExecutionRunner(
            plan,
            record.model_copy(update={"inputs": validated}),
            dispatch=dispatch_in_process,
            journal=MemoryJournal(),
            start_paused=False,
        )
        runner.gate.set_breakpoints([])
        from hub.records import Breakpoint

        runner.gate.set_breakpoints([Breakpoint(node_id="l")])
        task = asyncio.create_task(runner.run())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if runner.effective_status() == ExecutionStatus.PAUSED:
                break
        value = runner.evaluate("{{ {lower($input.token): $s.t, 'x': 'Bearer ' + $input.token} }}")
        view = runner.inspect()
        runner.resume()
        await task
        return value, view

    value, view = asyncio.run(main())
    assert value == {REDACTED: REDACTED, "x": "Bearer ***"}
    assert TOKEN.casefold() not in view.model_dump_json().casefold()


# --- credentials ----------------------------------------------------------------------------


class Vault:
    """A credential source over a dict (the runtime's is the ExecutionActor reading the
    Recorder, tested end to end in tests/e2e/test_api_secrets.py). Counts what it was asked."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.asked: list[list[str]] = []

    async def __call__(self, names: Sequence[str]) -> dict[str, Any]:
        self.asked.append(list(names))
        missing = [n for n in names if n not in self.values]
        if missing:
            raise CredentialMissing(missing)
        return {n: self.values[n] for n in names}


def with_rotation(vault: Vault, to: str) -> Any:
    """The built-in node types and ``rotate``, which changes the vault's ``api`` to ``to``."""
    from hub.nodes import NodeRegistry, NoParameters, default_registry, node_type

    registry = NodeRegistry()
    for builtin in default_registry().types():
        registry.add(builtin)

    @node_type("rotate", parameters=NoParameters, inline=True, registry=registry)
    async def rotate(params: Any, ctx: Any) -> Any:
        vault.values["api"] = to
        return {}

    return registry


def run_with(
    plan: Any, vault: CredentialSource | None, inputs: dict[str, Any] | None = None
) -> tuple[ExecutionRecord, MemoryJournal]:
    async def main() -> tuple[ExecutionRecord, MemoryJournal]:
        record, validated = new_execution(plan, inputs or {})
        journal = MemoryJournal()
        journal.emit(CreateExecution(record=record.model_copy()))
        runner = ExecutionRunner(
            plan,
            record.model_copy(update={"inputs": validated}),
            dispatch=dispatch_in_process,
            journal=journal,
            credentials=vault,
        )
        return await runner.run(), journal

    return asyncio.run(main())


def test_a_credential_and_a_field_of_a_json_credential_are_usable_and_redacted() -> None:
    plan = plan_of(
        [
            node(
                "s",
                "set",
                {
                    "values": {
                        "auth": "Bearer {{ $credential.api }}",
                        "is_api": "{{ $credential.api == 'tok-123456' }}",
                        "user_ok": "{{ $credential.db.user == 'warehouse' }}",
                        "dsn": "postgresql://{{ $credential.db.user }}:"
                        "{{ $credential['db'].password }}@h/db",
                    }
                },
            )
        ]
    )
    vault = Vault({"api": "tok-123456", "db": {"user": "warehouse", "password": "s3cr3t-pw"}})
    record, journal = run_with(plan, vault)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert record.outputs["s"] == {
        "auth": "Bearer ***",
        "is_api": True,
        "user_ok": True,
        "dsn": "postgresql://***:***@h/db",
    }
    assert leaks(journal, record, "tok-123456", "s3cr3t-pw", "warehouse") == []


def test_the_answer_redacts_what_a_credential_learned_later_makes_secret() -> None:
    """The run's answer reuses each step's last recorded row (hub.runner.final_row) only while
    nothing is secret: an earlier step's output that a credential's value, rotated and read by
    a later step, turns out to hold is redacted in the answer, as in its outputs."""
    vault = Vault({"api": "first-value"})
    registry = with_rotation(vault, "value-abcdef")
    doc = {
        "id": "learned-late",
        "nodes": [
            node("early", "set", {"values": {"v": "value-abcdef"}}),
            node("rotate", "rotate"),
            node("late", "set", {"values": {"ok": "{{ $credential.api == 'value-abcdef' }}"}}),
        ],
        "edges": [{"from": "early", "to": "rotate"}, {"from": "rotate", "to": "late"}],
    }
    plan = compile_workflow(doc, registry=registry).raise_for_errors()
    record, _ = run_with(plan, vault)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert record.outputs["late"] == {"ok": True}
    early = next(s for s in record.steps if s.node_id == "early")
    assert early.output == record.outputs["early"] == {"v": REDACTED}


def test_without_secrets_the_answer_s_steps_are_the_rows_last_recorded() -> None:
    plan = plan_of(
        [node("a", "set", {"values": {"v": 1}}), log("b", "hi")], [{"from": "a", "to": "b"}]
    )
    record, journal = run_with(plan, None)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    last = {w.step.node_id: w.step for w in journal.writes if w.kind == "upsert_step"}
    assert [s.node_id for s in record.steps] == ["a", "b"]
    assert all(s is last[s.node_id] for s in record.steps)  # reused, not built again


def test_a_missing_credential_fails_the_run_before_its_first_step() -> None:
    plan = plan_of(
        [log("first", "hi"), log("uses", "{{ $credential.nope }}")],
        [{"from": "first", "to": "uses"}],
    )
    record, journal = run_with(plan, Vault({}))
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None and record.error.category == "validation"
    assert (
        "'nope'" in record.error.message and "PUT /api/v1/credentials/nope" in record.error.message
    )
    assert record.steps == []
    assert "step_started" not in [e.type for e in events(journal)]


def test_without_a_credential_source_the_run_fails_naming_the_credential() -> None:
    plan = plan_of([log("uses", "{{ $credential.api }}")])
    record, _ = run_with(plan, None)
    assert record.status == ExecutionStatus.FAILED
    assert record.error is not None and "'api'" in record.error.message


def test_credentials_resolve_at_step_time_so_a_rotated_one_is_used_by_the_next_step() -> None:
    vault = Vault({"api": "first-value"})
    registry = with_rotation(vault, "second-value")
    doc = {
        "id": "rotation",
        "nodes": [
            node("before", "set", {"values": {"old": "{{ $credential.api == 'first-value' }}"}}),
            node("rotate", "rotate"),
            node("after", "set", {"values": {"new": "{{ $credential.api == 'second-value' }}"}}),
        ],
        "edges": [{"from": "before", "to": "rotate"}, {"from": "rotate", "to": "after"}],
    }
    plan = compile_workflow(doc, registry=registry).raise_for_errors()
    record, journal = run_with(plan, vault)
    assert record.status == ExecutionStatus.COMPLETED, record.error
    assert record.outputs["before"] == {"old": True}
    assert record.outputs["after"] == {"new": True}
    assert leaks(journal, record, "first-value", "second-value") == []


def test_a_credential_deleted_mid_run_fails_that_step_naming_it() -> None:
    plan = plan_of([log("a", "{{ $credential.api }}"), log("b", "{{ $credential.api }}")])
    vault = Vault({"api": "value-1234"})
    calls = 0

    async def vanishing(names: Sequence[str]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise CredentialMissing(list(names))
        return await vault(names)

    record, _ = run_with(plan, vanishing)
    assert record.status == ExecutionStatus.FAILED
    failed = [s for s in record.steps if s.status == "failed"]
    assert failed and failed[0].error is not None
    assert failed[0].error.category == "validation" and "'api'" in failed[0].error.message


def test_a_computed_credential_name_is_a_compile_error() -> None:
    doc = {
        "id": "dynamic",
        "inputs": {"which": {"type": "string"}},
        "nodes": [node("a", "log", {"message": "{{ $credential[$input.which] }}"})],
    }
    report = compile_workflow(doc)
    errors = [d for d in report.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["bad_reference"]
    assert "$credential must name the credential" in errors[0].message
    assert errors[0].path == "/nodes/0/parameters/message"


# --- step_completed events carry the output -------------------------------------------------------


def test_step_completed_events_carry_the_output_redacted_and_truncated() -> None:
    big = "x" * (EVENT_OUTPUT_LIMIT + 10)
    plan = plan_of(
        [
            node("small", "set", {"values": {"t": "Bearer {{ $input.token }}", "n": 1}}),
            node("big", "set", {"values": {"blob": big}}),
        ],
        inputs={"token": {"type": "string", "secret": True}},
    )
    _, journal = execute(plan, {"token": TOKEN})
    done = {e.node_id: e.data for e in events(journal) if e.type == "step_completed"}
    assert done["small"]["output"] == {"t": "Bearer ***", "n": 1}
    assert done["big"]["output_truncated"] is True
    assert "output" not in done["big"]
    assert len(done["big"]["output_preview"]) == EVENT_OUTPUT_LIMIT
    assert done["big"]["output_size"] > EVENT_OUTPUT_LIMIT
    assert output_preview({"a": 1}) == {"output": {"a": 1}}


@pytest.mark.parametrize("value", ["", None, True])
def test_values_that_are_not_secrets_are_ignored(value: Any) -> None:
    assert not Redactor([value])
