"""SSE framing, heartbeats and resumption (serve._sse) over an in-memory event source."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hub.errors import InvalidRequest
from hub.records import Event
from serve._sse import event_frames, event_json, frame, start_after


class Source:
    """Events appear in batches; fetch long-polls like the Recorder (returns [] when idle)."""

    def __init__(self, batches: list[list[str]]) -> None:
        self.events: list[Event] = []
        self.batches = batches
        self.calls = 0

    async def fetch(self, after: int, wait_s: float) -> list[Event]:
        self.calls += 1
        if self.batches:
            for kind in self.batches.pop(0):
                self.events.append(Event(execution_id="e", type=kind, seq=len(self.events) + 1))
        return [e for e in self.events if e.seq > after]

    async def over(self) -> bool:
        return bool(self.events) and self.events[-1].type.startswith("execution_c")


def collect(source: Source, after: int = 0) -> list[str]:
    async def run() -> list[str]:
        return [f async for f in event_frames(source.fetch, source.over, after, 1.0, event_json)]

    return asyncio.run(run())


def ids(frames: list[str]) -> list[int]:
    return [int(f.split("\n")[0][4:]) for f in frames if f.startswith("id: ")]


def test_every_event_once_then_the_stream_ends_at_the_terminal_event() -> None:
    source = Source([["execution_started", "step_started"], [], ["execution_completed"]])
    frames = collect(source)
    assert ids(frames) == [1, 2, 3]
    assert ": heartbeat\n\n" in frames  # the idle poll in between
    last = json.loads(frames[-1].split("data: ", 1)[1])
    assert last["type"] == "execution_completed" and last["id"] == 3


def test_resuming_after_an_id_gives_only_later_events() -> None:
    source = Source([["execution_started", "step_started", "execution_completed"]])
    assert ids(collect(source, after=2)) == [3]


def test_a_finished_execution_with_nothing_new_ends_at_once() -> None:
    source = Source([["execution_started", "execution_completed"]])
    collect(source)
    assert ids(collect(source, after=2)) == []


def test_frame_format() -> None:
    assert frame(7, {"a": 1}) == 'id: 7\ndata: {"a":1}\n\n'


class FakeRequest:
    def __init__(self, header: str | None) -> None:
        self.headers = {} if header is None else {"last-event-id": header}


@pytest.mark.parametrize(("header", "after", "expected"), [(None, 4, 4), ("9", 4, 9), (" ", 2, 2)])
def test_last_event_id_wins_over_the_query(header: str | None, after: int, expected: int) -> None:
    request: Any = FakeRequest(header)
    assert start_after(request, after) == expected


def test_a_bad_last_event_id_is_a_clear_error() -> None:
    request: Any = FakeRequest("abc")
    with pytest.raises(InvalidRequest, match="Last-Event-ID"):
        start_after(request, None)


def test_events_that_land_between_an_empty_poll_and_the_status_check_are_sent() -> None:
    """The poll comes back empty, then the run finishes before the stream asks whether it is
    over: the stream reads once more and sends the final events before it ends."""
    events = [Event(execution_id="e", type="execution_started", seq=1)]

    async def fetch(after: int, wait_s: float) -> list[Event]:
        return [e for e in events if e.seq > after]

    async def over() -> bool:
        events.append(Event(execution_id="e", type="execution_completed", seq=2))
        return True

    async def run() -> list[str]:
        return [f async for f in event_frames(fetch, over, 1, 1.0, event_json)]

    assert ids(asyncio.run(run())) == [2]


def test_a_stream_of_an_execution_that_had_ended_never_waits() -> None:
    """A client that reconnects after the last event of a finished execution (or reads its
    history again) gets its answer at once, not after a heartbeat's wait."""
    events = [
        Event(execution_id="e", type="execution_started", seq=1),
        Event(execution_id="e", type="execution_completed", seq=2),
    ]
    waits: list[float] = []

    async def fetch(after: int, wait_s: float) -> list[Event]:
        waits.append(wait_s)
        return [e for e in events if e.seq > after]

    async def over() -> bool:
        return True

    async def run(after: int) -> list[str]:
        frames = event_frames(fetch, over, after, 15.0, event_json, ended=True)
        return [f async for f in frames]

    assert ids(asyncio.run(run(2))) == []
    assert ids(asyncio.run(run(0))) == [1, 2]
    assert waits and set(waits) == {0}
