"""Gates: the settings that let workflows run arbitrary programs or move the mouse, and who may
open them.

Contracts:
- Only whoever starts the runtime opens a gate: the environment ``hub up`` (or the process that
  starts an embedded runtime) runs with, read at every start: ``HUB_ENABLE_CODE_NODES=1``,
  ``HUB_ENABLE_SHELL_NODES=1``, ``HUB_ENABLE_DESKTOP=1``, ``HUB_DESKTOP_DRY_RUN=0`` (the default),
  ``HUB_AMQP_CONTROL=1`` (the AMQP control queue), ``HUB_SUPERVISOR_RUNS=1`` (the default:
  ``auto`` runs in the supervisor's process).
- The settings API may close a gate, and reopen it up to what that environment allows; a change
  that would open one wider is refused (:class:`~hub.errors.GateLocked`, HTTP 403) naming the
  variable to set instead.
- Stored settings never widen a gate. A gate closed through the API is stored as closed
  (``closed_gates``) and stays closed at the next start; gate values in a row an older version
  wrote (the whole settings, the environment's gates included) are ignored, with a warning, so an
  unrelated settings change never freezes ``HUB_ENABLE_SHELL_NODES`` at its value of that day.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

from hub.errors import GateLocked
from hub.settings import (
    RuntimeSettings,
    protected_env_message,
    protected_env_names,
    with_changes,
)

# Setting -> the value that opens its gate (dry-run is open when off: the mouse really moves).
GATES: dict[str, bool] = {
    "enable_code_nodes": True,
    "enable_shell_nodes": True,
    "enable_desktop": True,
    "desktop_dry_run": False,
    # Whoever can publish to the control queue can start and cancel runs (hub/triggers/_control).
    "amqp_control": True,
    # Runs of the `auto` isolation mode in the supervisor's own process (hub.isolation).
    "supervisor_runs": True,
}
# The key of the stored settings row that lists the gates closed through the API.
CLOSED_KEY = "closed_gates"


def env_var(setting: str) -> str:
    return f"HUB_{setting.upper()}"


def is_open(settings: RuntimeSettings, setting: str) -> bool:
    return bool(getattr(settings, setting) == GATES[setting])


def how_to_open(setting: str) -> str:
    assignment = f"{env_var(setting)}={'1' if GATES[setting] else '0'}"
    return f"start the runtime with {assignment} in its environment (`{assignment} hub up`)"


def check_within(environment: RuntimeSettings, new: RuntimeSettings) -> None:
    """Refuse ``new`` settings that open a gate the start ``environment`` keeps closed."""
    widened = [s for s in GATES if is_open(new, s) and not is_open(environment, s)]
    if not widened:
        return
    asked = ", ".join(f"{s}={json.dumps(getattr(new, s))}" for s in widened)
    how = "; ".join(how_to_open(s) for s in widened)
    raise GateLocked(
        f"{asked} cannot be set through the settings: gates (code, shell, desktop control, "
        f"the AMQP control queue, runs in the supervisor) are opened only by whoever starts "
        f"the runtime; {how}",
        settings=widened,
        env_vars=[env_var(s) for s in widened],
    )


def stored_row(environment: RuntimeSettings, settings: RuntimeSettings) -> dict[str, Any]:
    """What the store keeps of ``settings``: every setting but the gates, and which gates the
    API closed (never a gate's open value, so a stored row cannot open one)."""
    row = settings.model_dump(mode="json", exclude=set(GATES))
    closed = [s for s in GATES if is_open(environment, s) and not is_open(settings, s)]
    return {**row, CLOSED_KEY: closed}


def settings_at_start(
    environment: RuntimeSettings, row: Mapping[str, Any] | None
) -> tuple[RuntimeSettings, list[str]]:
    """The settings a start runs with: ``environment`` (what ``hub up`` read) with the stored
    ``row`` applied, never wider than ``environment``; and warnings about what was ignored."""
    if not isinstance(row, Mapping):
        return environment, []
    values = dict(row)
    warnings: list[str] = []
    closed = values.pop(CLOSED_KEY, None)
    legacy = {s: values.pop(s) for s in GATES if s in values}
    ignored = [f"{s}={json.dumps(v)}" for s, v in legacy.items() if v != getattr(environment, s)]
    if ignored:
        warnings.append(
            f"ignored {', '.join(ignored)} in the stored settings (written by an older version): "
            "gates come from the environment the runtime starts with; the settings API can "
            "only close them"
        )
    names = values.get("env_allowlist")
    if isinstance(names, list):
        dropped = protected_env_names([str(n) for n in names])
        if dropped:
            warnings.append(f"{protected_env_message(dropped)}; dropped from the stored settings")
            values["env_allowlist"] = [n for n in names if n not in dropped]
    settings = with_changes(environment, values)
    closing = {
        s: not GATES[s]
        for s in (closed if isinstance(closed, list) else [])
        if s in GATES and is_open(environment, s)
    }
    return settings.model_copy(update=closing), warnings


class GateState(BaseModel):
    """A gate as ``GET /settings`` shows it."""

    value: bool
    environment: bool  # what the runtime's start environment gave: the widest the API may set
    source: Literal["environment", "settings"]
    env_var: str


def gate_states(environment: RuntimeSettings, settings: RuntimeSettings) -> dict[str, GateState]:
    return {
        s: GateState(
            value=getattr(settings, s),
            environment=getattr(environment, s),
            source="environment" if getattr(settings, s) == getattr(environment, s) else "settings",
            env_var=env_var(s),
        )
        for s in GATES
    }
