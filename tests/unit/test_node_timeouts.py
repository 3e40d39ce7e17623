"""hub.nodes.attempt_timeout_s: the one place that decides how long an attempt may run, for
every node family (docs/dsl.md, "Node timeouts")."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from hub.errors import HubError, StepFailed
from hub.nodes import (
    DEFAULT_TIMEOUT_S,
    NodeRegistry,
    NodeType,
    NoParameters,
    attempt_timeout_s,
    default_registry,
    node_type,
    run_here,
)
from hub.nodes._timeouts import SELF_ENFORCED_GRACE_S

GRACE = SELF_ENFORCED_GRACE_S


def builtin(name: str) -> NodeType:
    return default_registry().get(name)


def limit(name: str, node_timeout_s: float | None = None, **parameters: Any) -> float | None:
    return attempt_timeout_s(builtin(name), node_timeout_s, parameters)


async def _nothing(params: Any, ctx: Any) -> Any:  # pragma: no cover - never run here
    return {}


def plugin(name: str, parameters: type[BaseModel] = NoParameters, **options: Any) -> NodeType:
    registry = NodeRegistry()
    node_type(name, parameters=parameters, registry=registry, **options)(_nothing)
    return registry.get(name)


# --- the family defaults, with nothing said in the workflow ------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("code", 30.0),  # isolated: the caller is the only one that can stop it, so exact
        ("shell", 60.0 + GRACE),  # kills its program at 60 s itself; the caller backs it up
        ("http", 30.0 + GRACE),
        ("sql", 30.0 + GRACE),
        ("webhook", 30.0 + GRACE),
        ("email", 30.0 + GRACE),
        ("file.read", DEFAULT_TIMEOUT_S),
        ("datetime", DEFAULT_TIMEOUT_S),
        ("desktop.wait_for_text", 10.0 + GRACE),
        ("desktop.capture", 60.0),
        ("desktop.ocr", 60.0),
        ("desktop.read_text", 60.0),
        ("desktop.find_text", 60.0),
        ("desktop.click", 60.0),
        ("desktop.move", 60.0),
        ("desktop.type", 60.0),
        ("desktop.key", 60.0),
        ("set", DEFAULT_TIMEOUT_S),
        ("log", DEFAULT_TIMEOUT_S),
        ("fail", DEFAULT_TIMEOUT_S),
        ("condition", DEFAULT_TIMEOUT_S),
        ("switch", DEFAULT_TIMEOUT_S),
        ("merge", DEFAULT_TIMEOUT_S),
    ],
)
def test_every_family_is_bounded_by_its_default_when_no_timeout_is_given(
    name: str, expected: float
) -> None:
    assert limit(name) == expected


def test_only_delay_workflow_and_foreach_have_no_limit_of_their_own() -> None:
    unbounded = [
        t.name for t in default_registry().types() if attempt_timeout_s(t, None, {}) is None
    ]
    # A delay's `seconds` bounds it; a sub-workflow's own settings.timeout_s bounds it; each
    # item of a foreach has its item node's limit.
    assert sorted(unbounded) == ["delay", "foreach", "workflow"]
    assert limit("delay", 2.5, seconds=10) == 2.5


def test_the_declared_default_is_the_parameter_default_where_a_type_has_one() -> None:
    """One number per family: the table (NodeType.default_timeout_s) and validation agree."""
    declared = {
        t.name: t.default_timeout_s
        for t in default_registry().types()
        if "timeout_s" in t.parameters.model_fields
    }
    assert declared == {
        "code": 30.0,
        "shell": 60.0,
        "http": 30.0,
        "sql": 30.0,
        "webhook": 30.0,
        "email": 30.0,
        "desktop.wait_for_text": 10.0,
    }
    for name, default in declared.items():
        assert builtin(name).parameters.model_fields["timeout_s"].default == default


# --- what the workflow says --------------------------------------------------------------------


def test_code_takes_its_timeout_parameter_exactly() -> None:
    assert limit("code", timeout_s=90) == 90.0
    assert limit("code", timeout_s=0.5) == 0.5


def test_the_node_timeout_shortens_a_parameter_limit_but_never_lengthens_it() -> None:
    assert limit("code", 5) == 5.0
    assert limit("code", 120) == 30.0  # the parameter's default still bounds it
    assert limit("code", 120, timeout_s=90) == 90.0
    assert limit("shell", 2) == 2.0
    assert limit("shell", 600, timeout_s=1) == 1.0 + GRACE


def test_the_node_timeout_replaces_the_default_of_a_type_without_a_parameter() -> None:
    assert limit("desktop.ocr", 300) == 300.0
    assert limit("set", 0.5) == 0.5


def test_the_parameter_is_read_as_the_node_validates_it() -> None:
    assert limit("code", timeout_s="7") == 7.0  # pydantic takes "7" as 7.0; so does the limit
    # Invalid values fail the node's own validation at once; the default stands meanwhile.
    assert limit("code", timeout_s=-1) == 30.0
    assert limit("code", timeout_s="soon") == 30.0
    assert limit("code", timeout_s=None) == 30.0


# --- plugins -----------------------------------------------------------------------------------


def test_a_plugin_that_declares_nothing_gets_the_documented_default() -> None:
    assert attempt_timeout_s(plugin("p.plain"), None, {}) == DEFAULT_TIMEOUT_S == 300.0


def test_a_plugin_declares_its_own_default_at_registration() -> None:
    quick = plugin("p.quick", default_timeout_s=2)
    assert quick.default_timeout_s == 2
    assert attempt_timeout_s(quick, None, {}) == 2
    assert attempt_timeout_s(quick, 10, {}) == 10


class WithTimeout(BaseModel):
    timeout_s: float = Field(default=12, gt=0)


class WithOptionalTimeout(BaseModel):
    timeout_s: float | None = None


def test_a_plugin_timeout_parameter_is_its_default_and_its_own_limit() -> None:
    typed = plugin("p.typed", WithTimeout)
    assert typed.default_timeout_s == 12
    assert attempt_timeout_s(typed, None, {}) == 12 + GRACE
    assert attempt_timeout_s(typed, None, {"timeout_s": 3}) == 3 + GRACE
    optional = plugin("p.optional", WithOptionalTimeout)
    assert attempt_timeout_s(optional, None, {}) == DEFAULT_TIMEOUT_S
    assert attempt_timeout_s(optional, None, {"timeout_s": 3}) == 3 + GRACE


def test_a_default_that_contradicts_the_parameter_default_is_refused() -> None:
    with pytest.raises(HubError, match=r"p\.both.*contradicts.*timeout_s parameter \(12\)"):
        plugin("p.both", WithTimeout, default_timeout_s=5)
    with pytest.raises(HubError, match="must be positive"):
        plugin("p.zero", default_timeout_s=0)


# --- instant types: no timer at all ------------------------------------------------------------

# A valid attempt of each built-in instant type (hub.nodes.NodeType.instant).
INSTANT = {
    "set": {"values": {"a": 1}},
    "condition": {"expression": True},
    "switch": {"value": "x", "cases": ["x"]},
    "merge": {},
    "log": {"message": "hello"},
    "fail": {"message": "no"},
    "datetime": {"operation": "now"},
}


def test_the_instant_types_are_the_control_nodes_that_never_wait() -> None:
    registry = default_registry()
    assert {n for n in registry.names() if registry.get(n).instant} == set(INSTANT)


@pytest.mark.parametrize("name", sorted(INSTANT))
def test_an_instant_type_runs_to_its_end_without_awaiting(name: str) -> None:
    """What lets the runner set no timer for its attempts (hub.runner.call_inline): one step
    of its coroutine runs it to its answer, or to its failure; a timer could never fire."""
    from hub.nodes import NodeContext

    kind = builtin(name)
    typed = kind.parameters.model_validate(INSTANT[name])
    running = kind.run(typed, NodeContext(execution_id="e", workflow_id="w", node_id="n"))
    with pytest.raises((StopIteration, StepFailed)):
        running.send(None)


def test_only_an_inline_type_can_be_instant() -> None:
    with pytest.raises(HubError, match=r"p\.pooled.*only an inline type can be instant"):
        plugin("p.pooled", instant=True)
    assert plugin("p.inline", inline=True, instant=True).instant


# --- nodes that enforce their own timeout_s ----------------------------------------------------


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Answers 200 and then one byte of its body every 0.1 s, for 4 s in all."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "40")
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up
            for _ in range(40):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def trickle_url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/slow"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_http_timeout_bounds_the_whole_request_not_each_read(trickle_url: str) -> None:
    """httpx's timeout is per read: a server that trickles its answer never trips it, so the
    node bounds the request as a whole (and says so itself, before the caller's backstop)."""
    with pytest.raises(StepFailed) as failed:
        run_here("http", {"url": trickle_url, "timeout_s": 1})
    assert failed.value.category.value == "timeout"
    assert failed.value.message == f"GET {trickle_url} timed out after 1s"
