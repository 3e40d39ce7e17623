"""Runtime defaults and per-workflow overrides (hub.overrides), and the API token (hub.auth)."""

from __future__ import annotations

import stat
from pathlib import Path

from hub.auth import load_or_create_token, token_digest, token_matches
from hub.compiler import compile_workflow
from hub.overrides import EffectiveSettings, apply_settings, effective_settings
from hub.settings import RuntimeSettings, WorkflowOverrides, settings_from_env

DOC = {
    "id": "wf",
    "settings": {"timeout_s": 5},
    "nodes": [
        {"id": "a", "type": "set", "parameters": {"values": {}}},
        {"id": "b", "type": "fail", "parameters": {"message": "x"}, "retry": {"max_attempts": 2}},
    ],
    "edges": [{"from": "a", "to": "b"}],
}


def test_override_beats_document_beats_runtime_default() -> None:
    runtime = RuntimeSettings(default_timeout_s=60)
    assert effective_settings(DOC, runtime, None).workflow["timeout_s"] == 5
    bare = {**DOC, "settings": {}}
    assert effective_settings(bare, runtime, None).workflow["timeout_s"] == 60
    chosen = effective_settings(DOC, runtime, WorkflowOverrides(timeout_s=1.5))
    assert chosen.workflow["timeout_s"] == 1.5


def test_isolation_override_beats_document_beats_runtime_default() -> None:
    shared_default = RuntimeSettings(default_isolation="shared")
    assert "isolation" not in effective_settings(DOC, RuntimeSettings(), None).workflow
    assert effective_settings(DOC, shared_default, None).workflow["isolation"] == "shared"
    exclusive = {**DOC, "settings": {"isolation": "exclusive"}}
    assert effective_settings(exclusive, shared_default, None).workflow["isolation"] == (
        "exclusive"
    )
    chosen = effective_settings(exclusive, RuntimeSettings(), WorkflowOverrides(isolation="shared"))
    applied = apply_settings(DOC, chosen)
    assert applied["settings"]["isolation"] == "shared"
    assert compile_workflow(applied).raise_for_errors().settings.isolation == "shared"


def test_an_unknown_isolation_mode_is_a_compile_error_naming_the_choices() -> None:
    result = compile_workflow({**DOC, "settings": {"isolation": "pooled"}})
    [error] = [d for d in result.diagnostics if d.severity == "error"]
    assert error.path.startswith("/settings/isolation") or "isolation" in error.message
    assert "exclusive" in error.message and "shared" in error.message


def test_fail_fast_off_defaults_on_error_to_ignore_unless_the_document_says() -> None:
    relaxed = RuntimeSettings(fail_fast=False)
    assert effective_settings({**DOC, "settings": {}}, relaxed, None).workflow["on_error"] == (
        "ignore"
    )
    halting = {**DOC, "settings": {"on_error": "halt"}}
    assert effective_settings(halting, relaxed, None).workflow["on_error"] == "halt"
    assert "on_error" not in effective_settings(DOC, RuntimeSettings(), None).workflow


def test_default_attempts_only_for_nodes_without_their_own_retry() -> None:
    effective = effective_settings(DOC, RuntimeSettings(default_max_attempts=4), None)
    applied = apply_settings(DOC, effective)
    nodes = {n["id"]: n for n in applied["nodes"]}
    assert nodes["a"]["retry"] == {"max_attempts": 4}
    assert nodes["b"]["retry"] == {"max_attempts": 2}
    assert "retry" not in DOC["nodes"][0]  # the stored document is untouched
    plan = compile_workflow(applied).raise_for_errors()
    assert plan.nodes["a"].retry.max_attempts == 4


def test_snapshot_round_trips_and_reapplies_the_same() -> None:
    effective = effective_settings(
        DOC, RuntimeSettings(log_level="warn"), WorkflowOverrides(max_parallel_steps=2)
    )
    again = EffectiveSettings.model_validate(effective.model_dump(mode="json"))
    assert apply_settings(DOC, again) == apply_settings(DOC, effective)
    assert again.log_level == "warn"
    assert apply_settings(DOC, again)["settings"]["max_parallel_steps"] == 2


def test_new_settings_read_from_the_environment() -> None:
    settings = settings_from_env(
        {"HUB_DEFAULT_TIMEOUT_S": "30", "HUB_FAIL_FAST": "0", "HUB_LOG_LEVEL": "error"}
    )
    assert (settings.default_timeout_s, settings.fail_fast, settings.log_level) == (
        30.0,
        False,
        "error",
    )


def test_api_token_is_made_once_private_and_checked_by_digest(tmp_path: Path) -> None:
    token, created = load_or_create_token(tmp_path)
    assert created and token.startswith("hub_") and len(token) > 40
    mode = stat.S_IMODE((tmp_path / "api.token").stat().st_mode)
    assert mode == 0o600
    again, created_again = load_or_create_token(tmp_path)
    assert (again, created_again) == (token, False)
    digest = token_digest(token)
    assert token_matches(token, digest)
    assert not token_matches(token + "x", digest)
    assert not token_matches("", digest)


def test_a_run_s_settings_are_worked_out_once_and_again_after_any_change() -> None:
    """The supervisor's new runs share the definition and settings worked out for their
    workflow until the workflow, the runtime's settings or the workflow's overrides change
    (each is replaced, never changed in place); the digest tells the definitions apart."""
    from actors._settings import SettingsControl
    from hub.overrides import definition_digest
    from hub.records import WorkflowRecord

    class Control(SettingsControl):
        def __init__(self) -> None:
            self.settings = RuntimeSettings()
            self.overrides = {}
            self._settings_of_runs = {}

    definition = {"id": "wf", "nodes": [{"id": "a", "type": "set"}], "edges": []}
    workflow = WorkflowRecord(id="wf", version="1", name="wf", definition=definition)
    control = Control()
    first = control._run_settings(workflow)
    assert control._run_settings(workflow) is first
    effective, stored, run_definition, digest = first
    assert stored == effective.model_dump(mode="json")
    assert digest == definition_digest(run_definition)
    assert run_definition is not definition
    assert "isolation" not in run_definition.get("settings", {})

    control.settings = RuntimeSettings(default_isolation="auto")
    auto = control._run_settings(workflow)
    assert auto[2]["settings"]["isolation"] == "auto" and auto[3] != digest
    control.overrides = {"wf": WorkflowOverrides(isolation="shared")}
    assert control._run_settings(workflow)[2]["settings"]["isolation"] == "shared"
    again = workflow.model_copy(update={"definition": {**definition, "on_error": "halt"}})
    assert control._run_settings(again)[2]["on_error"] == "halt"
    assert definition == {"id": "wf", "nodes": [{"id": "a", "type": "set"}], "edges": []}


def test_a_run_s_basis_is_worked_out_once_per_settings_object() -> None:
    """The families, environment and node defaults every start carries are shared until the
    runtime's settings are replaced (a settings change), then worked out again."""
    from actors._settings import SettingsControl

    class Control(SettingsControl):
        def __init__(self) -> None:
            self.settings = RuntimeSettings(enable_code_nodes=True)
            self._run_basis_of = None

    control = Control()
    families, env, defaults = control._run_basis()
    assert isinstance(env, dict)
    assert "code" in families and families == sorted(families)
    assert control._run_basis()[0] is families and control._run_basis()[2] is defaults
    control.settings = RuntimeSettings(enable_code_nodes=False)
    again, _, _ = control._run_basis()
    assert "code" not in again and again is not families
