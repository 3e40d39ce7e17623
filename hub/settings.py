"""Runtime settings: limits, pool sizes and which dangerous node families are enabled.

Defaults here, overridden by environment variables (``HUB_ENABLE_CODE_NODES=1``,
``HUB_MAX_CONCURRENT_EXECUTIONS=16``, ...). The settings a run used are stored with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import HubError, InvalidRequest
from hub.records import Retention

LogLevel = Literal["debug", "info", "warn", "error"]  # as the log node names them
LOG_LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40}
# Settings a running runtime cannot change: they size pools and processes made at start.
RESTART_SETTINGS = frozenset(
    {
        "warm_execution_actors",
        "max_execution_actors",
        "journal_flush_ms",
        "ocr_placement",
        "node_pool_resources",
    }
)

# Node families that stay off until enabled: family -> the setting that enables it.
FAMILY_SETTINGS = {
    "code": "enable_code_nodes",
    "shell": "enable_shell_nodes",
    "desktop": "enable_desktop",
}
DANGEROUS_FAMILIES = tuple(FAMILY_SETTINGS)


def how_to_enable(family: str) -> str:
    setting = FAMILY_SETTINGS.get(family, f"enable_{family}_nodes")
    return f"set HUB_{setting.upper()}=1 (or {setting} in the settings)"


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_concurrent_executions: int = Field(default=32, ge=1, le=10_000)
    warm_execution_actors: int = Field(default=4, ge=0, le=256)
    max_execution_actors: int = Field(default=8, ge=1, le=1024)
    enable_code_nodes: bool = False
    enable_shell_nodes: bool = False
    enable_desktop: bool = False
    desktop_dry_run: bool = False
    desktop_max_clicks_per_s: float = Field(default=10.0, gt=0, le=1000)
    ocr_placement: Literal["auto", "local", "pool"] = "auto"
    # Ray resources each member of a node type's pool asks for, so the pool runs only on nodes
    # that offer them (hub.placement): {"http": {"egress": 0.01}}; "CPU" and "GPU" count too.
    node_pool_resources: dict[str, dict[str, float]] = Field(default_factory=dict)
    env_allowlist: list[str] = Field(default_factory=list)
    journal_flush_ms: float = Field(default=10.0, ge=0, le=10_000)
    # Durability (docs/dsl.md, "Durability"): what a restarted runtime does with unfinished
    # runs, and whether each action step is committed before its dependents start ("step") or
    # the records of an execution are shipped in batches ("execution": faster, and a crash
    # reruns the steps since the last batch).
    recovery: Literal["resume", "fail"] = "resume"
    step_commit: Literal["step", "execution"] = "step"
    # Retention: terminal executions older than this many days, or beyond this many, are
    # pruned in batches by the Recorder every ``retention_interval_s``.
    retention_days: float | None = Field(default=None, gt=0)
    retention_max_executions: int | None = Field(default=None, ge=1)
    retention_interval_s: float = Field(default=3600.0, ge=1)
    # Defaults for workflows that do not say (hub.overrides): the execution timeout, attempts
    # of a node without a retry policy, halt on the first failure (fail_fast) or go on
    # (on_error "ignore"), and the lowest log level recorded.
    default_timeout_s: float | None = Field(default=None, gt=0)
    default_max_attempts: int = Field(default=1, ge=1, le=100)
    fail_fast: bool = True
    log_level: LogLevel = "debug"

    def retention(self) -> Retention:
        days = self.retention_days
        return Retention(
            max_age_s=None if days is None else days * 86_400,
            max_executions=self.retention_max_executions,
            interval_s=self.retention_interval_s,
        )

    def enabled_families(self) -> frozenset[str]:
        return frozenset(f for f, setting in FAMILY_SETTINGS.items() if getattr(self, setting))

    def allowed_env(self) -> dict[str, str]:
        return {k: os.environ[k] for k in self.env_allowlist if k in os.environ}


class WorkflowOverrides(BaseModel):
    """Per-workflow settings that win over the document's own (hub.overrides)."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float | None = Field(default=None, gt=0)
    on_error: Literal["halt", "ignore", "branch"] | None = None
    max_parallel_steps: int | None = Field(default=None, ge=1, le=10_000)
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    log_level: LogLevel | None = None


def with_changes(current: RuntimeSettings, changes: dict[str, Any]) -> RuntimeSettings:
    """``current`` with ``changes`` applied, validated; InvalidRequest names each bad field."""
    from pydantic import ValidationError

    try:
        return RuntimeSettings.model_validate({**current.model_dump(), **changes})
    except ValidationError as exc:
        errors = [
            {"path": "/" + "/".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise InvalidRequest(f"invalid settings: {summary}", details={"errors": errors}) from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_flag(name: str, raw: str) -> bool:
    """A yes/no environment variable, as every HUB_ flag reads it."""
    value = raw.strip().lower()
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise HubError(f"{name}={raw!r}: expected 1/0, true/false, yes/no or on/off")


def _env_value(name: str, raw: str, annotation: Any) -> Any:
    if annotation is bool:
        return env_flag(name, raw)
    if annotation == list[str]:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if getattr(annotation, "__origin__", None) is dict:
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise HubError(
                f"{name} is not valid JSON: {exc.msg} (at character {exc.pos})"
            ) from None
    return raw


def settings_from_env(environ: dict[str, str] | None = None) -> RuntimeSettings:
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for field, info in RuntimeSettings.model_fields.items():
        name = f"HUB_{field.upper()}"
        if name in environ:
            values[field] = _env_value(name, environ[name], info.annotation)
    try:
        return RuntimeSettings.model_validate(values)
    except Exception as exc:
        raise HubError(f"invalid settings from the environment: {exc}") from None


def hub_home() -> Path:
    home = Path(os.environ.get("HUB_HOME") or Path.home() / ".runtime-hub").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
