"""Runtime settings: limits, pool sizes and which dangerous node families are enabled.

Defaults here, overridden by environment variables (``HUB_ENABLE_CODE_NODES=1``,
``HUB_MAX_CONCURRENT_EXECUTIONS=16``, ...). The settings a run used are stored with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import HubError

DANGEROUS_FAMILIES = ("code", "shell")


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_concurrent_executions: int = Field(default=32, ge=1, le=10_000)
    warm_execution_actors: int = Field(default=4, ge=0, le=256)
    max_execution_actors: int = Field(default=8, ge=1, le=1024)
    enable_code_nodes: bool = False
    enable_shell_nodes: bool = False
    env_allowlist: list[str] = Field(default_factory=list)
    journal_flush_ms: float = Field(default=10.0, ge=0, le=10_000)

    def enabled_families(self) -> frozenset[str]:
        return frozenset(f for f in DANGEROUS_FAMILIES if getattr(self, f"enable_{f}_nodes"))

    def allowed_env(self) -> dict[str, str]:
        return {k: os.environ[k] for k in self.env_allowlist if k in os.environ}


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_value(name: str, raw: str, annotation: Any) -> Any:
    if annotation is bool:
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise HubError(f"{name}={raw!r}: expected 1/0, true/false, yes/no or on/off")
    if annotation == list[str]:
        return [item.strip() for item in raw.split(",") if item.strip()]
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
