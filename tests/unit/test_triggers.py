"""Triggers' pure core: specs as the compiler checks them, schedule slots (with DST), misfire
policies, input mapping over $trigger, idempotency keys and webhook signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.compiler import compile_workflow
from hub.triggers import (
    ScheduleTrigger,
    TriggerInputError,
    WebhookTrigger,
    catch_up,
    idempotency_key,
    last_slot_at_or_before,
    make_fire,
    next_slot,
    signature,
    signature_valid,
    slot_id,
    slots_after,
)


def doc(*triggers: Any, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "wf",
        "inputs": inputs if inputs is not None else {"n": {"type": "integer"}},
        "nodes": [{"id": "a", "type": "set", "parameters": {"values": {"n": "{{ $input.n }}"}}}],
        "triggers": list(triggers),
    }


def errors(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(d.code, d.path, d.message) for d in compile_workflow(document).errors]


def every(seconds: float, **kw: Any) -> ScheduleTrigger:
    return ScheduleTrigger(id="s", type="schedule", every_s=seconds, **kw)


def cron(expr: str, tz: str = "UTC", **kw: Any) -> ScheduleTrigger:
    return ScheduleTrigger(id="s", type="schedule", cron=expr, timezone=tz, **kw)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- specs ----------------------------------------------------------------------------------------


def test_a_valid_document_compiles_its_triggers_into_the_plan() -> None:
    result = compile_workflow(
        doc(
            {"id": "tick", "type": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Paris"},
            {"id": "secs", "type": "schedule", "cron": "*/10 * * * * *"},
            {"id": "hook", "type": "webhook", "secret": "hook_secret", "respond": "outputs"},
            {"id": "orders", "type": "amqp", "queue": "orders", "inputs": {"n": "{{ 1 }}"}},
            {"id": "boot", "type": "startup", "enabled": False},
        )
    )
    assert result.ok, result.errors
    plan = result.raise_for_errors()
    assert [t.id for t in plan.triggers] == ["tick", "secs", "hook", "orders", "boot"]
    assert plan.triggers[3].dead_letter == "orders.dead"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("trigger", "path", "says"),
    [
        ({"id": "t", "type": "cronjob"}, "/triggers/0/type", "unknown trigger type 'cronjob'"),
        ({"id": "t"}, "/triggers/0/type", "'type' is required"),
        ({"id": "t", "type": "schedule"}, "/triggers/0", "exactly one of 'cron' or 'every_s'"),
        (
            {"id": "t", "type": "schedule", "cron": "* * * * *", "every_s": 5},
            "/triggers/0",
            "exactly one",
        ),
        ({"id": "t", "type": "schedule", "cron": "61 * * * *"}, "/triggers/0/cron", "not valid"),
        ({"id": "t", "type": "schedule", "cron": "* * *"}, "/triggers/0/cron", "has 3 fields"),
        (
            {"id": "t", "type": "schedule", "cron": "* * * * *", "timezone": "Mars/Base"},
            "/triggers/0/timezone",
            "not an IANA time zone",
        ),
        ({"id": "t", "type": "schedule", "every_s": 0.1}, "/triggers/0/every_s", "greater than"),
        (
            {"id": "t", "type": "schedule", "every_s": 5, "misfire": "later"},
            "/triggers/0/misfire",
            "'skip', 'once' or 'all'",
        ),
        ({"id": "Bad Id", "type": "startup"}, "/triggers/0/id", "must match"),
        ({"id": "t", "type": "amqp"}, "/triggers/0/queue", "'queue' is required"),
        ({"id": "t", "type": "webhook", "secret": "no spaces"}, "/triggers/0/secret", "match"),
        ({"id": "t", "type": "startup", "cron": "x"}, "/triggers/0/cron", "unknown key 'cron'"),
        (
            {"id": "t", "type": "startup", "inputs": {"m": "1"}},
            "/triggers/0/inputs/m",
            "'m' is not a declared input",
        ),
        (
            {"id": "t", "type": "startup", "inputs": {"n": "{{ $input.n }}"}},
            "/triggers/0/inputs/n",
            "only $trigger",
        ),
        (
            {"id": "t", "type": "startup", "inputs": {"n": "{{ $trigger. }}"}},
            "/triggers/0/inputs/n",
            "",
        ),
    ],
)
def test_each_bad_trigger_is_named_where_it_is(trigger: Any, path: str, says: str) -> None:
    found = errors(doc(trigger))
    assert any(p == path and says in m for _, p, m in found), found


def test_trigger_ids_are_unique_and_one_bad_trigger_hides_no_other() -> None:
    found = errors(
        doc(
            {"id": "t", "type": "startup"},
            {"id": "t", "type": "startup"},
            {"id": "u", "type": "schedule", "cron": "bad"},
        )
    )
    paths = {p for _, p, _ in found}
    assert paths == {"/triggers/1/id", "/triggers/2/cron"}


def test_triggers_must_be_a_list() -> None:
    assert any(p == "/triggers" for _, p, _ in errors(doc() | {"triggers": {"id": "x"}}))


# --- slots ----------------------------------------------------------------------------------------


def test_interval_slots_are_multiples_of_the_interval_since_the_epoch() -> None:
    spec = every(30)
    slots = list(zip(range(3), slots_after(spec, at("2026-01-01T00:00:10+00:00")), strict=False))
    assert [s.isoformat() for _, s in slots] == [
        "2026-01-01T00:00:30+00:00",
        "2026-01-01T00:01:00+00:00",
        "2026-01-01T00:01:30+00:00",
    ]
    # Strictly after: a slot is never its own successor.
    assert next_slot(spec, at("2026-01-01T00:00:30+00:00")) == at("2026-01-01T00:01:00+00:00")
    assert last_slot_at_or_before(spec, at("2026-01-01T00:00:59.999+00:00")) == at(
        "2026-01-01T00:00:30+00:00"
    )


def test_cron_slots_follow_the_time_zone_and_seconds_come_first() -> None:
    paris = cron("0 9 * * *", "Europe/Paris")
    assert next_slot(paris, at("2026-07-01T12:00:00+00:00")) == at("2026-07-02T09:00:00+02:00")
    assert next_slot(paris, at("2026-01-01T12:00:00+00:00")) == at("2026-01-02T09:00:00+01:00")
    seconds = cron("*/10 * * * * *")
    assert next_slot(seconds, at("2026-01-01T00:00:01+00:00")) == at("2026-01-01T00:00:10+00:00")


def test_dst_spring_forward_fires_a_skipped_time_at_the_end_of_the_gap() -> None:
    # Europe/Paris, 2026-03-29: 02:00 -> 03:00. 02:30 does not exist that day.
    spec = cron("30 2 * * *", "Europe/Paris")
    first = next_slot(spec, at("2026-03-28T12:00:00+00:00"))
    assert first == at("2026-03-29T03:00:00+02:00")
    assert next_slot(spec, first) == at("2026-03-30T02:30:00+02:00")


def test_dst_fall_back_fires_a_repeated_time_once_but_keeps_intervals() -> None:
    # Europe/Paris, 2026-10-25: 03:00 -> 02:00. 02:30 happens twice that day.
    daily = cron("30 2 * * *", "Europe/Paris")
    first = next_slot(daily, at("2026-10-24T12:00:00+00:00"))
    assert first == at("2026-10-25T02:30:00+02:00")
    assert next_slot(daily, first) == at("2026-10-26T02:30:00+01:00")
    half_hourly = cron("*/30 * * * *", "Europe/Paris")
    start = at("2026-10-25T01:45:00+02:00")
    gaps = [b - a for a, b in zip(*_pairs(half_hourly, start, 6), strict=True)]
    assert gaps == [timedelta(minutes=30)] * 5  # 02:00, 02:30 twice each, in real time


def _pairs(spec: ScheduleTrigger, start: datetime, n: int) -> tuple[list[datetime], ...]:
    slots = [s for _, s in zip(range(n), slots_after(spec, start), strict=False)]
    return slots[:-1], slots[1:]


def test_slot_ids_are_utc_with_milliseconds() -> None:
    assert slot_id(at("2026-10-25T02:30:00+02:00")) == "2026-10-25T00:30:00.000Z"


# --- misfire policies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "fired", "skipped"),
    [
        ("skip", [], 5),
        ("once", ["00:00:50"], 4),
        ("all", ["00:00:10", "00:00:20", "00:00:30", "00:00:40", "00:00:50"], 0),
    ],
)
def test_misfire_policies(policy: str, fired: list[str], skipped: int) -> None:
    spec = every(10, misfire=policy)
    plan = catch_up(spec, at("2026-01-01T00:00:00+00:00"), at("2026-01-01T00:00:55+00:00"), policy)
    assert [s.strftime("%H:%M:%S") for s in plan.fire] == fired
    assert plan.skipped == skipped
    assert plan.cursor == at("2026-01-01T00:00:50+00:00")


def test_all_is_capped_to_the_latest_slots() -> None:
    spec = every(1, misfire="all", misfire_cap=3)
    start = at("2026-01-01T00:00:00+00:00")
    plan = catch_up(spec, start, start + timedelta(days=7), "all")  # 604,800 missed slots
    assert [s.strftime("%d %H:%M:%S") for s in plan.fire] == [
        "07 23:59:58",
        "07 23:59:59",
        "08 00:00:00",
    ]
    assert plan.skipped == 1  # "at least": counted up to the cap, never enumerated
    cron_plan = catch_up(cron("* * * * *", misfire_cap=2), start, start + timedelta(days=7), "all")
    assert [s.strftime("%d %H:%M") for s in cron_plan.fire] == ["07 23:59", "08 00:00"]


def test_nothing_missed_fires_nothing() -> None:
    spec = every(60)
    start = at("2026-01-01T00:00:00+00:00")
    plan = catch_up(spec, start, start + timedelta(seconds=59), "all")
    assert plan.fire == [] and plan.skipped == 0 and plan.cursor == start


# --- fires ----------------------------------------------------------------------------------------


def test_inputs_map_what_the_trigger_received() -> None:
    spec = WebhookTrigger(
        id="hook", type="webhook", inputs={"n": "{{ $trigger.body.count * 2 }}", "q": "x"}
    )
    received = {"type": "webhook", "id": "hook", "body": {"count": 21}, "query": {}}
    fire = make_fire(
        "wf", spec, "webhook", received, key_part="abc", info={"idempotency_key": "abc"}
    )
    assert fire.inputs == {"n": 42, "q": "x"}
    assert fire.idempotency_key == "webhook:wf:hook:abc"
    assert fire.info == {"id": "hook", "type": "webhook", "idempotency_key": "abc"}


def test_without_a_mapping_an_object_body_is_the_inputs() -> None:
    spec = WebhookTrigger(id="hook", type="webhook")
    assert make_fire("wf", spec, "webhook", {"body": {"n": 1}}, key_part=None).inputs == {"n": 1}
    assert make_fire("wf", spec, "webhook", {"body": [1, 2]}, key_part=None).inputs == {}
    assert make_fire("wf", spec, "webhook", {"body": None}, key_part=None).idempotency_key is None


def test_a_mapping_that_cannot_be_computed_names_the_trigger() -> None:
    spec = WebhookTrigger(id="hook", type="webhook", inputs={"n": "{{ $trigger.body.missing }}"})
    with pytest.raises(TriggerInputError, match="trigger 'hook'"):
        make_fire("wf", spec, "webhook", {"body": {}}, key_part=None)


def test_long_caller_keys_are_hashed_to_fit_the_column() -> None:
    key = idempotency_key("amqp", "w" * 64, "t" * 64, "m" * 1000)
    assert len(key) < 255 and key.endswith(key.rsplit(":", 1)[1])
    assert "sha256-" in key
    assert idempotency_key("amqp", "w", "t", "m" * 1000) != idempotency_key("amqp", "w", "t", "m")


def test_signatures_follow_githubs_convention() -> None:
    body = b'{"hello": "world"}'
    # openssl dgst -sha256 -hmac s3cret <<< '{"hello": "world"}' (without the newline)
    assert signature("s3cret", body) == (
        "sha256=" + __import__("hmac").new(b"s3cret", body, "sha256").hexdigest()
    )
    good = signature("s3cret", body)
    assert signature_valid("s3cret", body, good)
    assert signature_valid("s3cret", body, f"  {good} ")
    assert not signature_valid("s3cret", body + b" ", good)
    assert not signature_valid("other", body, good)
    assert not signature_valid("s3cret", body, None)
    assert not signature_valid("s3cret", body, good.replace("sha256=", ""))
    assert not signature_valid("s3cret", body, "sha256=é")


def test_bodies_with_nan_or_infinity_are_text_not_json() -> None:
    from hub.triggers._amqp import decode_body

    assert decode_body(b'{"x": NaN}') == '{"x": NaN}'
    assert decode_body(b"[Infinity]") == "[Infinity]"
    assert decode_body(b'{"x": 1.5}') == {"x": 1.5}
