"""Runtime settings: limits, pool sizes and which dangerous node families are enabled.

Defaults here, overridden by environment variables (``HUB_ENABLE_CODE_NODES=1``,
``HUB_MAX_CONCURRENT_EXECUTIONS=16``, ...). The settings a run used are stored with it.
Who may open the gates (``enable_*``, ``desktop_dry_run``) is hub.gates' rule; the variables
``env_allowlist`` may never name are :func:`protected_env_names`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Literal, TypeGuard, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.ai import LLM_TYPE, AiSettings
from hub.breakers import BreakerSettings
from hub.errors import HubError, InvalidRequest
from hub.model import Isolation
from hub.records import Retention

LogLevel = Literal["debug", "info", "warn", "error"]  # as the log node names them
LOG_LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40}
# Settings a running runtime cannot change: they size pools and processes made at start.
RESTART_SETTINGS = frozenset(
    {
        "warm_execution_actors",
        "max_execution_actors",
        "journal_flush_ms",
        "step_writes",
        "ocr_placement",
        "node_pool_resources",
        "amqp_control",
        "amqp_control_queue",
        "amqp_control_url_credential",
    }
)

# Node families that stay off until enabled: family -> the setting that enables it.
FAMILY_SETTINGS = {
    "code": "enable_code_nodes",
    "shell": "enable_shell_nodes",
    "desktop": "enable_desktop",
}
DANGEROUS_FAMILIES = tuple(FAMILY_SETTINGS)


_log = logging.getLogger("runtime_hub.settings")


def how_to_enable(family: str, *, closed_by_api: bool = False) -> str:
    """How to open a family's gate: only the environment that starts the runtime opens one;
    a family that environment enabled but the settings API closed is reopened by the API."""
    setting = FAMILY_SETTINGS.get(family, f"enable_{family}_nodes")
    if closed_by_api:
        return (
            f"they were disabled through the settings API; reopen them with "
            f'PUT /api/v1/settings {{"{setting}": true}}'
        )
    var = f"HUB_{setting.upper()}"
    return (
        f"start the runtime with {var}=1 in its environment (`{var}=1 hub up`); "
        "the settings API cannot enable them"
    )


# env_allowlist never exposes these: the runtime's own configuration (HUB_*: the database URL,
# the home with its token and key), Ray's (RAY_*: the cluster's auth token), and anything whose
# name says it is a secret. Matched case-insensitively; a listed name that matches is refused
# by the API and dropped, with a warning, from the environment or stored settings.
PROTECTED_ENV_PREFIXES = ("HUB_", "RAY_")
PROTECTED_ENV_WORDS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "KEY",
    "CREDENTIAL",
    "AUTH",
    "PRIVATE",
    "DATABASE_URL",
    "DSN",
)


def protected_env_names(names: list[str]) -> list[str]:
    """The names of ``names`` that ``$env`` may never read, whatever the allow-list says."""
    return [
        name
        for name in names
        if name.upper().startswith(PROTECTED_ENV_PREFIXES)
        or any(word in name.upper() for word in PROTECTED_ENV_WORDS)
    ]


def protected_env_message(names: list[str]) -> str:
    return (
        f"env_allowlist may not name {', '.join(names)}: variables starting with "
        f"{' or '.join(PROTECTED_ENV_PREFIXES)} or containing {', '.join(PROTECTED_ENV_WORDS)} "
        "(any case) are never exposed to workflows; pass such a value as a credential or a "
        "secret input instead"
    )


def without_protected_env(values: dict[str, Any], source: str) -> dict[str, Any]:
    """``values`` (raw settings) with protected names dropped from env_allowlist, warning so."""
    names = values.get("env_allowlist")
    if not isinstance(names, list):
        return values
    dropped = protected_env_names([str(n) for n in names])
    if not dropped:
        return values
    _log.warning("%s; dropped from %s", protected_env_message(dropped), source)
    return {**values, "env_allowlist": [n for n in names if n not in dropped]}


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
    # Where an ExecutionActor's step rows go: straight to the store when it can reach it
    # ("direct": PostgreSQL, or SQLite on the Recorder's machine; else through the Recorder),
    # or always through the Recorder ("recorder").
    step_writes: Literal["direct", "recorder"] = "direct"
    # A `delay` with at least this many seconds left parks its execution: the ExecutionActor
    # is released and the runtime resumes the run when the delay is due (docs/dsl.md,
    # "Sleeping executions"). None: never park.
    park_delay_s: float | None = Field(default=60.0, ge=0)
    # Isolation modes (docs/dsl.md, "Isolation modes"): workflows that do not choose run on an
    # ExecutionActor of their own ("exclusive") or on one of at most shared_execution_actors
    # actors that carry many executions each ("shared"), at most shared_max_executions of them
    # running at once (the rest queue); "auto": workflows of built-in control nodes only run
    # in the supervisor's process (counted as shared), the others exclusive. An embedded
    # runtime's default is "auto" (hub.runtime._embedded_defaults).
    default_isolation: Isolation = "exclusive"
    # A gate (hub.gates): whether `auto` runs may run in the supervisor's process at all; off,
    # they run exclusive. Only the start environment opens it (HUB_SUPERVISOR_RUNS).
    supervisor_runs: bool = True
    shared_execution_actors: int = Field(default=1, ge=1, le=64)
    shared_max_executions: int = Field(default=1000, ge=1, le=100_000)
    # Sub-workflows (docs/dsl.md, "Sub-workflows"): how deep workflow nodes may nest.
    max_workflow_depth: int = Field(default=10, ge=1, le=100)
    # Defaults of llm nodes (hub.ai: default_model, temperature, max_tokens,
    # request_timeout_s, max_retries, rate_limit_strategy): HUB_AI (JSON) or HUB_AI_<FIELD>.
    ai: AiSettings = Field(default_factory=AiSettings)
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
    # Circuit breakers (docs/dsl.md, "Circuit breakers"): off unless enabled here (for every
    # workflow) or in a workflow's own settings; HUB_CIRCUIT_BREAKER (JSON) or one variable a
    # field (HUB_CIRCUIT_BREAKER_ENABLED=1, HUB_CIRCUIT_BREAKER_FAILURE_THRESHOLD=3, ...).
    circuit_breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    # The runtime-wide AMQP control queue (hub/triggers/_control.py): HUB_AMQP_CONTROL=1
    # consumes `workflow.start|pause|resume|cancel` messages from this queue, on the broker of
    # this credential (default amqp://guest:guest@127.0.0.1:5672/). Read at start.
    amqp_control: bool = False
    amqp_control_queue: str = Field(default="hub.control", min_length=1, max_length=255)
    amqp_control_url_credential: str | None = None

    @field_validator("env_allowlist")
    @classmethod
    def _no_protected_env(cls, names: list[str]) -> list[str]:
        protected = protected_env_names(names)
        if protected:
            raise ValueError(protected_env_message(protected))
        return names

    def retention(self) -> Retention:
        days = self.retention_days
        return Retention(
            max_age_s=None if days is None else days * 86_400,
            max_executions=self.retention_max_executions,
            interval_s=self.retention_interval_s,
        )

    def node_defaults(self) -> dict[str, dict[str, Any]]:
        """Parameters node types get unless a node sets them (the AI settings for llm)."""
        return {LLM_TYPE: self.ai.node_defaults()}

    def enabled_families(self) -> frozenset[str]:
        return frozenset(f for f, setting in FAMILY_SETTINGS.items() if getattr(self, setting))

    def allowed_env(self) -> dict[str, str]:
        # Validation refuses protected names; this holds even for settings built without it.
        names = [k for k in self.env_allowlist if not protected_env_names([k])]
        return {k: os.environ[k] for k in names if k in os.environ}


class WorkflowOverrides(BaseModel):
    """Per-workflow settings that win over the document's own (hub.overrides)."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float | None = Field(default=None, gt=0)
    on_error: Literal["halt", "ignore", "branch"] | None = None
    max_parallel_steps: int | None = Field(default=None, ge=1, le=10_000)
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    log_level: LogLevel | None = None
    isolation: Isolation | None = None


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
    if type(None) in get_args(annotation) and raw.strip().lower() in ("", "null", "none", "off"):
        return None  # a setting that may be unset: HUB_PARK_DELAY_S=off
    if annotation is bool:
        return env_flag(name, raw)
    if annotation == list[str]:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if getattr(annotation, "__origin__", None) is dict or _is_model(annotation):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise HubError(
                f"{name} is not valid JSON: {exc.msg} (at character {exc.pos})"
            ) from None
    return raw


def _is_model(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def settings_from_env(environ: dict[str, str] | None = None) -> RuntimeSettings:
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for field, info in RuntimeSettings.model_fields.items():
        name = f"HUB_{field.upper()}"
        if name in environ:
            values[field] = _env_value(name, environ[name], info.annotation)
        if _is_model(info.annotation):  # one variable a field of the group, over its JSON
            for sub, sub_info in info.annotation.model_fields.items():
                sub_name = f"{name}_{sub.upper()}"
                if sub_name in environ:
                    group = values.setdefault(field, {})
                    if isinstance(group, dict):
                        group[sub] = _env_value(sub_name, environ[sub_name], sub_info.annotation)
    values = without_protected_env(values, "HUB_ENV_ALLOWLIST")
    try:
        return RuntimeSettings.model_validate(values)
    except Exception as exc:
        raise HubError(f"invalid settings from the environment: {exc}") from None


def hub_home() -> Path:
    home = Path(os.environ.get("HUB_HOME") or Path.home() / ".runtime-hub").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
