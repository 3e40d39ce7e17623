"""AMQP triggers' pure core: a message as ``$trigger`` and as a fire, which failures dead-letter
a message and which retry it, the dead-letter copy's headers, the terminal event, and the
control queue's messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from hub.errors import HubError, InputsInvalid, NotFound
from hub.records import ErrorInfo, ExecutionRecord, ExecutionStatus
from hub.triggers import AmqpPublish, AmqpTrigger, TriggerInputError
from hub.triggers._amqp import (
    REASON_HEADER,
    RETRY_MAX_S,
    ConsumerCounts,
    Delivery,
    Outcome,
    dead_letter_headers,
    decode_body,
    event_routing_key,
    fire_for,
    is_duplicate,
    plain_value,
    received,
    refusal_reason,
    retry_delay_s,
    terminal_event,
)
from hub.triggers._control import (
    ControlCommand,
    ControlMessageInvalid,
    parse_control,
    reply,
    start_info,
    start_key,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def spec(**kw: Any) -> AmqpTrigger:
    return AmqpTrigger(id="orders", type="amqp", queue="orders", **kw)


def delivery(body: bytes = b'{"n": 2}', **kw: Any) -> Delivery:
    kw.setdefault("headers", {})
    kw.setdefault("routing_key", "orders")
    return Delivery(body=body, **kw)


def test_trigger_holds_the_decoded_body_headers_and_routing() -> None:
    got = received(
        spec(),
        delivery(
            # pamqp decodes AMQP timestamps as naive datetimes in UTC
            headers={"tenant": b"acme", "n": Decimal("3"), "at": datetime(2025, 1, 1)},  # noqa: DTZ001
            message_id="m-1",
            exchange="shop",
        ),
        NOW,
    )
    assert got == {
        "type": "amqp",
        "id": "orders",
        "body": {"n": 2},
        "headers": {"tenant": "acme", "n": 3, "at": "2025-01-01T00:00:00+00:00"},
        "routing_key": "orders",
        "exchange": "shop",
        "message_id": "m-1",
        "fired_at": "2025-03-01T12:00:00.123Z",
    }


@pytest.mark.parametrize(
    ("body", "decoded"),
    [
        (b"", None),
        (b"[1, 2]", [1, 2]),
        (b"plain words", "plain words"),
        (b"\xff\xfe", {"base64": "//4=", "content_type": "application/octet-stream"}),
    ],
)
def test_bodies_are_json_else_text_else_base64(body: bytes, decoded: Any) -> None:
    assert decode_body(body, "application/octet-stream") == decoded


def test_header_values_become_json() -> None:
    value = {"a": [b"x", Decimal("1.5"), {"b": b"\xff"}], "c": True, "d": None}
    assert plain_value(value) == {"a": ["x", 1.5, {"b": {"base64": "/w=="}}], "c": True, "d": None}


def test_the_message_id_is_the_idempotency_key() -> None:
    fire = fire_for(
        "wf", spec(inputs={"n": "{{ $trigger.body.n * 10 }}"}), delivery(message_id="m-7"), NOW
    )
    assert fire.kind == "amqp"
    assert fire.inputs == {"n": 20}
    assert fire.idempotency_key == "amqp:wf:orders:m-7"
    assert fire.info == {
        "id": "orders",
        "type": "amqp",
        "message_id": "m-7",
        "routing_key": "orders",
    }


@pytest.mark.parametrize("message_id", [None, ""])
def test_a_message_without_an_id_has_no_key(message_id: str | None) -> None:
    fire = fire_for("wf", spec(), delivery(message_id=message_id), NOW)
    assert fire.idempotency_key is None
    assert fire.inputs == {"n": 2}  # no mapping: an object body is the inputs
    assert fire.info["message_id"] is None


def test_a_mapping_that_fails_raises_a_trigger_input_error() -> None:
    with pytest.raises(TriggerInputError, match="trigger 'orders'"):
        fire_for("wf", spec(inputs={"n": "{{ $trigger.body.missing.deeper }}"}), delivery(), NOW)


@pytest.mark.parametrize(
    ("exc", "final"),
    [
        (TriggerInputError("cannot map"), True),
        (InputsInvalid("n must be an integer", errors=[]), True),
        (NotFound("workflow 'wf' does not exist"), True),
        (HubError("the runtime is stopping; start it again with `hub up`"), False),
        (RuntimeError("actor restarting"), False),
        (ConnectionError("lost"), False),
    ],
)
def test_refused_for_good_versus_transient(exc: BaseException, final: bool) -> None:
    reason = refusal_reason(exc)
    assert (reason is not None) == final
    if final:
        assert reason == str(exc)


def test_a_refusal_of_the_trigger_actor_is_final() -> None:
    from actors.triggers import Refused

    assert refusal_reason(Refused("inputs invalid: n")) == "inputs invalid: n"


def test_retries_back_off_to_a_cap() -> None:
    delays = [retry_delay_s(n) for n in range(12)]
    assert delays[0] > 0
    assert delays == sorted(delays)
    assert delays[1] == 2 * delays[0]
    assert delays[-1] == RETRY_MAX_S
    assert retry_delay_s(10_000) == RETRY_MAX_S


def test_dead_letter_copies_keep_the_headers_and_say_why() -> None:
    headers = dead_letter_headers(
        {"tenant": b"acme", "x-trace": "t1"},
        "bad inputs",
        queue="orders",
        workflow_id="wf",
        trigger_id="orders",
    )
    assert headers == {
        "tenant": b"acme",
        "x-trace": "t1",
        REASON_HEADER: "bad inputs",
        "x-hub-workflow": "wf",
        "x-hub-trigger": "orders",
        "x-hub-queue": "orders",
    }
    long = dead_letter_headers({}, "x" * 10_000, queue="hub.control")
    assert long["x-hub-queue"] == "hub.control" and "x-hub-workflow" not in long
    assert 100 < len(long[REASON_HEADER]) <= 2000
    assert spec().dead_letter == "orders.dead"
    assert spec(dead_letter_queue="dlq").dead_letter == "dlq"


def record(**kw: Any) -> ExecutionRecord:
    return ExecutionRecord(id="e1", workflow_id="wf", workflow_version="v1", created_at=NOW, **kw)


def test_a_record_made_before_the_submit_is_a_duplicate() -> None:
    assert is_duplicate(record(status=ExecutionStatus.COMPLETED), NOW + timedelta(seconds=1))
    assert not is_duplicate(record(status=ExecutionStatus.QUEUED), NOW)
    assert not is_duplicate(record(status=ExecutionStatus.QUEUED), NOW - timedelta(seconds=1))


def test_terminal_events_carry_outputs_or_the_error() -> None:
    done = record(status=ExecutionStatus.COMPLETED, outputs={"a": {"n": 1}})
    assert terminal_event(done) == {
        "execution_id": "e1",
        "workflow_id": "wf",
        "status": "completed",
        "outputs": {"a": {"n": 1}},
    }
    failed = record(
        status=ExecutionStatus.FAILED, error=ErrorInfo(message="boom", category="node_error")
    )
    event = terminal_event(failed)
    assert event["status"] == "failed" and "outputs" not in event
    assert event["error"]["message"] == "boom" and event["error"]["severity"] == "high"


def test_events_are_routed_by_workflow_and_status_unless_set() -> None:
    assert event_routing_key(AmqpPublish(exchange="hub.events"), "wf", "failed") == "wf.failed"
    assert event_routing_key(AmqpPublish(exchange="e", routing_key="all"), "wf", "failed") == "all"


def test_counts_follow_outcomes() -> None:
    counts = ConsumerCounts(started_at=NOW)
    for outcome in (Outcome.STARTED, Outcome.STARTED, Outcome.DUPLICATE, Outcome.DEAD_LETTERED):
        counts.count(outcome)
    counts.count(Outcome.RETRIED)
    status = counts.as_status()
    assert (status["started"], status["duplicates"], status["dead_lettered"]) == (2, 1, 1)
    assert status["retried"] == 1
    assert status["error"] is None and status["connected"] is False


# --- the control queue ----------------------------------------------------------------------------


def control(body: Any, **kw: Any) -> ControlCommand:
    return parse_control(delivery(json.dumps(body).encode(), **kw))


def test_control_messages_name_an_action_and_its_target() -> None:
    start = control({"action": "workflow.start", "workflow_id": "wf", "inputs": {"n": 1}})
    assert (start.action, start.workflow_id, start.inputs) == ("workflow.start", "wf", {"n": 1})
    cancel = control({"action": "workflow.cancel", "execution_id": "e1", "reason": "enough"})
    assert (cancel.execution_id, cancel.reason) == ("e1", "enough")
    # The seed's topic names: the action may be the routing key or the message's type.
    assert control({"execution_id": "e1"}, routing_key="workflow.pause").action == "workflow.pause"
    routed = parse_control(
        delivery(b'{"execution_id": "e1"}', routing_key="x"), message_type="workflow.resume"
    )
    assert routed.action == "workflow.resume"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[1]", "must be a JSON object"),
        (b"not json", "must be a JSON object"),
        (b'{"workflow_id": "wf"}', "needs an action"),
        (b'{"action": "workflow.explode", "workflow_id": "wf"}', "action"),
        (b'{"action": "workflow.start"}', "takes a workflow_id"),
        (b'{"action": "workflow.start", "workflow_id": "wf", "execution_id": "e"}', "workflow_id"),
        (b'{"action": "workflow.pause", "workflow_id": "wf"}', "takes an execution_id"),
        (b'{"action": "workflow.resume", "execution_id": "e", "inputs": {"n": 1}}', "no inputs"),
        (b'{"action": "workflow.pause", "execution_id": "e", "reason": "x"}', "no reason"),
        (b'{"action": "workflow.start", "workflow_id": "wf", "input": {}}', "input"),
    ],
)
def test_malformed_control_messages_say_why(body: bytes, says: str) -> None:
    with pytest.raises(ControlMessageInvalid, match=says) as caught:
        parse_control(delivery(body))
    assert refusal_reason(caught.value) == caught.value.message  # dead-lettered, not retried


def test_a_control_start_is_keyed_by_its_message_id() -> None:
    start = control({"action": "workflow.start", "workflow_id": "wf"})
    assert start_key(start, "m-1") == "amqp:wf:hub.control:m-1"
    assert start_key(start, None) is None and start_key(start, "") is None
    assert start_info("m-1", "hub.control")["id"] == "hub.control"


def test_control_replies_say_what_was_done_or_why_not() -> None:
    start = control({"action": "workflow.start", "workflow_id": "wf"})
    assert reply(start, execution_id="e1", status="queued") == {
        "ok": True,
        "action": "workflow.start",
        "execution_id": "e1",
        "status": "queued",
    }
    assert reply(None, error="bad") == {"ok": False, "error": "bad"}
