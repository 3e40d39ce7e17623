"""Where a run executes, decided from its definition (hub.isolation; docs/dsl.md, "Isolation
modes")."""

from __future__ import annotations

from typing import Any

import pytest

from hub.isolation import SUPERVISOR_NODE_TYPES, isolation_of, runs_in_supervisor
from hub.overrides import apply_settings, effective_settings
from hub.records import ExecutionRecord, RunOrder
from hub.settings import RuntimeSettings


def doc(*types: str, isolation: str | None = "auto") -> dict[str, Any]:
    definition: dict[str, Any] = {
        "id": "w",
        "nodes": [{"id": f"n{i}", "type": t, "parameters": {}} for i, t in enumerate(types)],
    }
    if isolation is not None:
        definition["settings"] = {"isolation": isolation}
    return definition


@pytest.mark.parametrize("node_type", sorted(SUPERVISOR_NODE_TYPES))
def test_an_auto_workflow_of_control_nodes_runs_in_the_supervisor(node_type: str) -> None:
    assert runs_in_supervisor(doc("set", node_type))


@pytest.mark.parametrize("node_type", ["code", "http_request", "shell", "foreach", "workflow"])
def test_one_other_node_makes_an_auto_workflow_exclusive(node_type: str) -> None:
    assert not runs_in_supervisor(doc("set", node_type, "log"))
    assert isolation_of(doc("set", node_type)) == "auto"


@pytest.mark.parametrize("isolation", [None, "exclusive", "shared"])
def test_only_the_auto_mode_runs_in_the_supervisor(isolation: str | None) -> None:
    assert not runs_in_supervisor(doc("set", "log", isolation=isolation))
    assert isolation_of(doc("set", isolation=isolation)) == (isolation or "exclusive")


@pytest.mark.parametrize(
    "nodes", [None, "nodes", [None], [{"id": "a"}], [{"id": "a", "type": ["set"]}]]
)
def test_a_malformed_node_list_never_runs_in_the_supervisor(nodes: Any) -> None:
    assert not runs_in_supervisor({"id": "w", "nodes": nodes, "settings": {"isolation": "auto"}})


def test_the_runtime_default_reaches_the_order_and_the_document_wins() -> None:
    settings = RuntimeSettings(default_isolation="auto")
    record = ExecutionRecord(id="e1", workflow_id="w", workflow_version="1", status="queued")
    for definition, local in (
        (doc("set", isolation=None), True),
        (doc("set", isolation="exclusive"), False),
    ):
        applied = apply_settings(definition, effective_settings(definition, settings, None))
        order = RunOrder(definition=applied, record=record)
        assert order.in_supervisor is local
        assert order.shared is False


def test_the_setting_accepts_auto_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.settings import settings_from_env

    monkeypatch.setenv("HUB_DEFAULT_ISOLATION", "auto")
    assert settings_from_env().default_isolation == "auto"
    monkeypatch.setenv("HUB_DEFAULT_ISOLATION", "sideways")
    with pytest.raises(Exception, match="exclusive"):
        settings_from_env()


def test_a_closed_gate_runs_auto_workflows_exclusive() -> None:
    closed = RuntimeSettings(default_isolation="auto", supervisor_runs=False)
    for definition in (doc("set", isolation=None), doc("set", isolation="auto")):
        effective = effective_settings(definition, closed, None)
        assert not runs_in_supervisor(apply_settings(definition, effective))
        assert effective.workflow.get("isolation", "exclusive") == "exclusive"


def test_the_settings_api_cannot_open_the_gate_the_environment_closed() -> None:
    from hub.errors import GateLocked
    from hub.gates import check_within

    environment = RuntimeSettings(supervisor_runs=False)
    with pytest.raises(GateLocked, match="HUB_SUPERVISOR_RUNS=1"):
        check_within(environment, RuntimeSettings(supervisor_runs=True))
    check_within(RuntimeSettings(), RuntimeSettings(supervisor_runs=False))  # closing is fine
