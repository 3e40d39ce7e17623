"""Who opens the gates (hub.gates) and what ``env_allowlist`` may expose (hub.settings).

The rule under test: only the environment that starts the runtime opens code, shell and desktop
control (or turns desktop dry-run off); settings changed through the API or stored in the
database can close a gate, never open it wider, at any start. ``$env`` never reads the runtime's
own variables or anything named like a secret, whatever the allow-list says.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.compiler import compile_workflow
from hub.errors import GateLocked, HubError, InvalidRequest
from hub.gates import CLOSED_KEY, GATES, check_within, gate_states, settings_at_start, stored_row
from hub.local import MemoryJournal, dispatch_in_process, new_execution
from hub.records import ExecutionStatus
from hub.runner import ExecutionRunner
from hub.settings import (
    RuntimeSettings,
    how_to_enable,
    protected_env_names,
    settings_from_env,
    with_changes,
)

ALL_OPEN = {"HUB_ENABLE_CODE_NODES": "1", "HUB_ENABLE_SHELL_NODES": "1", "HUB_ENABLE_DESKTOP": "1"}


def api_change(environment: RuntimeSettings, current: RuntimeSettings, changes: dict[str, Any]):
    """What PUT /settings does with ``changes`` (actors._settings): the new settings and the
    row it stores, or GateLocked / InvalidRequest."""
    new = with_changes(current, changes)
    check_within(environment, new)
    return new, stored_row(environment, new)


# --- the API cannot open a gate ------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "assignment"),
    [
        ("enable_code_nodes", True, "HUB_ENABLE_CODE_NODES=1"),
        ("enable_shell_nodes", True, "HUB_ENABLE_SHELL_NODES=1"),
        ("enable_desktop", True, "HUB_ENABLE_DESKTOP=1"),
        ("desktop_dry_run", False, "HUB_DESKTOP_DRY_RUN=0"),
    ],
)
def test_a_change_that_opens_a_gate_the_environment_keeps_closed_is_refused(
    setting: str, value: bool, assignment: str
) -> None:
    environment = settings_from_env({"HUB_DESKTOP_DRY_RUN": "1"})  # every gate closed
    with pytest.raises(GateLocked) as caught:
        api_change(environment, environment, {setting: value, "log_level": "warn"})
    message = str(caught.value)
    assert f"{setting}={str(value).lower()} cannot be set through the settings" in message
    assert f"start the runtime with {assignment} in its environment (`{assignment} hub up`)" in (
        message
    )
    assert caught.value.settings == [setting]
    assert caught.value.env_vars == [assignment.split("=")[0]]


def test_the_api_closes_a_gate_and_reopens_it_up_to_the_environment() -> None:
    environment = settings_from_env(ALL_OPEN)
    closed, row = api_change(environment, environment, {"enable_shell_nodes": False})
    assert closed.enabled_families() == {"code", "desktop"}
    assert row[CLOSED_KEY] == ["enable_shell_nodes"]
    assert "enable_shell_nodes" not in row  # a stored row never holds a gate's value
    states = gate_states(environment, closed)
    assert states["enable_shell_nodes"].model_dump() == {
        "value": False,
        "environment": True,
        "source": "settings",
        "env_var": "HUB_ENABLE_SHELL_NODES",
    }
    assert states["enable_code_nodes"].source == "environment"
    reopened, row = api_change(environment, closed, {"enable_shell_nodes": True})
    assert reopened.enable_shell_nodes is True and row[CLOSED_KEY] == []
    # Dry-run narrows: the API may turn it on, and off again when the environment had it off.
    dry, row = api_change(environment, environment, {"desktop_dry_run": True})
    assert row[CLOSED_KEY] == ["desktop_dry_run"]
    assert api_change(environment, dry, {"desktop_dry_run": False})[0].desktop_dry_run is False


def test_putting_back_the_settings_as_read_is_not_a_widening() -> None:
    environment = settings_from_env(ALL_OPEN)
    whole = environment.model_dump(mode="json")
    assert api_change(environment, environment, whole)[0] == environment


def test_refusal_messages_say_who_opens_a_family() -> None:
    assert how_to_enable("shell") == (
        "start the runtime with HUB_ENABLE_SHELL_NODES=1 in its environment "
        "(`HUB_ENABLE_SHELL_NODES=1 hub up`); the settings API cannot enable them"
    )
    assert 'PUT /api/v1/settings {"enable_code_nodes": true}' in how_to_enable(
        "code", closed_by_api=True
    )


# --- stored settings never widen at a start ------------------------------------------------


def test_an_unrelated_change_does_not_freeze_the_environment_gates() -> None:
    # The defect: PUT {"log_level": "warn"} stored the whole settings, shell nodes included,
    # and HUB_ENABLE_SHELL_NODES=0 was ignored at every later start.
    first = settings_from_env(ALL_OPEN)
    _, row = api_change(first, first, {"log_level": "warn"})
    later = settings_from_env({"HUB_ENABLE_SHELL_NODES": "0"})
    settings, warnings = settings_at_start(later, row)
    assert settings.enabled_families() == frozenset()
    assert settings.log_level == "warn"
    assert warnings == []
    # ... nor does it keep a gate closed that a later environment opens.
    settings, _ = settings_at_start(first, api_change(later, later, {"fail_fast": False})[1])
    assert settings.enabled_families() == {"code", "shell", "desktop"}
    assert settings.fail_fast is False


def test_a_gate_closed_through_the_api_stays_closed_at_the_next_start() -> None:
    environment = settings_from_env(ALL_OPEN)
    _, row = api_change(environment, environment, {"enable_code_nodes": False})
    settings, _ = settings_at_start(environment, row)
    assert settings.enabled_families() == {"shell", "desktop"}
    assert gate_states(environment, settings)["enable_code_nodes"].source == "settings"


def test_gates_in_a_row_written_by_an_older_version_are_ignored_with_a_warning() -> None:
    # Older versions stored model_dump() of the whole settings, the environment's gates included.
    legacy = RuntimeSettings(enable_shell_nodes=True, enable_desktop=True, log_level="info")
    environment = settings_from_env({"HUB_ENABLE_CODE_NODES": "1"})
    settings, warnings = settings_at_start(environment, legacy.model_dump(mode="json"))
    assert settings.enabled_families() == {"code"}
    assert settings.log_level == "info"
    (warning,) = warnings
    # Both directions: the row's code=false was the environment of its day, not a decision.
    assert "ignored enable_code_nodes=false, enable_shell_nodes=true, enable_desktop=true" in (
        warning
    )
    assert "gates come from the environment the runtime starts with" in warning


@given(
    environment=st.fixed_dictionaries({s: st.booleans() for s in GATES}),
    stored=st.dictionaries(st.sampled_from(list(GATES)), st.booleans()),
    closed=st.one_of(
        st.none(), st.lists(st.sampled_from([*GATES, "enable_everything", "log_level"]))
    ),
)
def test_no_stored_row_opens_a_gate_the_environment_keeps_closed(
    environment: dict[str, bool], stored: dict[str, bool], closed: list[str] | None
) -> None:
    start = RuntimeSettings(**environment)
    row: dict[str, Any] = {**stored, "log_level": "error"}
    if closed is not None:
        row[CLOSED_KEY] = closed
    settings, _ = settings_at_start(start, row)
    assert settings.enabled_families() <= start.enabled_families()
    assert settings.desktop_dry_run or not start.desktop_dry_run
    assert settings.log_level == "error"


# --- env_allowlist -------------------------------------------------------------------------


def test_protected_names() -> None:
    names = [
        "HUB_DATABASE_URL",
        "hub_home",
        "RAY_AUTH_TOKEN",
        "DATABASE_URL",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "API_KEY",
        "PGPASSWORD",
        "SENTRY_DSN",
        "REGION",
        "RUNTIME_TEST_VISIBLE",
    ]
    assert protected_env_names(names) == names[:-2]


def test_the_api_cannot_allow_list_protected_variables() -> None:
    with pytest.raises(InvalidRequest) as caught:
        with_changes(RuntimeSettings(), {"env_allowlist": ["REGION", "HUB_DATABASE_URL"]})
    assert caught.value.details["errors"][0]["path"] == "/env_allowlist"
    assert "env_allowlist may not name HUB_DATABASE_URL" in str(caught.value)
    assert "REGION" not in str(caught.value).split("may not name")[1].split(":")[0]


def test_protected_variables_from_the_environment_are_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="runtime_hub.settings"):
        settings = settings_from_env({"HUB_ENV_ALLOWLIST": "REGION, HUB_HOME,my_api_key"})
    assert settings.env_allowlist == ["REGION"]
    assert "env_allowlist may not name HUB_HOME, my_api_key" in caplog.text
    assert "dropped from HUB_ENV_ALLOWLIST" in caplog.text


def test_protected_variables_in_stored_settings_are_dropped_with_a_warning() -> None:
    row = {**RuntimeSettings().model_dump(mode="json"), "env_allowlist": ["REGION", "HUB_HOME"]}
    settings, warnings = settings_at_start(RuntimeSettings(), row)
    assert settings.env_allowlist == ["REGION"]
    assert any("HUB_HOME" in w and "dropped from the stored settings" in w for w in warnings)


def test_env_in_a_workflow_never_reads_a_protected_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_HOME", "/secret/home")
    monkeypatch.setenv("REGION", "eu-1")
    settings = settings_from_env({"HUB_ENV_ALLOWLIST": "REGION,HUB_HOME"})
    assert settings.allowed_env() == {"REGION": "eu-1"}
    # Even settings built without validation expose nothing protected.
    unchecked = RuntimeSettings.model_construct(env_allowlist=["REGION", "HUB_HOME"])
    assert unchecked.allowed_env() == {"REGION": "eu-1"}

    def run(expression: str) -> Any:
        doc = {
            "id": "wf",
            "nodes": [{"id": "s", "type": "set", "parameters": {"values": {"v": expression}}}],
            "edges": [],
        }
        plan = compile_workflow(doc).raise_for_errors()
        record, validated = new_execution(plan, {})
        runner = ExecutionRunner(
            plan,
            record.model_copy(update={"inputs": validated}),
            dispatch=dispatch_in_process,
            journal=MemoryJournal(),
            env=settings.allowed_env(),
        )
        return asyncio.run(runner.run())

    assert run("{{ $env.REGION }}").outputs["s"] == {"v": "eu-1"}
    refused = run("{{ $env.HUB_HOME }}")
    assert refused.status == ExecutionStatus.FAILED
    assert refused.error is not None and "HUB_HOME" in refused.error.message
    assert "/secret/home" not in refused.model_dump_json()


def test_an_optional_setting_is_unset_from_the_environment() -> None:
    from hub.settings import settings_from_env

    assert settings_from_env({}).park_delay_s == 60
    assert settings_from_env({"HUB_PARK_DELAY_S": "15"}).park_delay_s == 15
    for off in ("off", "null", "none", ""):
        assert settings_from_env({"HUB_PARK_DELAY_S": off}).park_delay_s is None
    with pytest.raises(HubError, match="park_delay_s"):
        settings_from_env({"HUB_PARK_DELAY_S": "soon"})
