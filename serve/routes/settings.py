"""Runtime settings, per-workflow overrides, export/import, write-only credentials."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.credentials import NAME_PATTERN
from hub.errors import InvalidRequest
from hub.gates import GateState
from hub.history import CredentialInfo
from hub.settings import RuntimeSettings, WorkflowOverrides
from serve._backend import RuntimeBackend
from serve._deps import audit, backend
from serve._models import ErrorBody

router = APIRouter(tags=["settings"])
CREDENTIAL_NAME = NAME_PATTERN  # hub.credentials: names workflows can refer to


class SettingsOut(BaseModel):
    settings: RuntimeSettings
    restart_required: list[str] = Field(
        default_factory=list, description="Changed settings that apply at the next `hub up`"
    )
    gates: dict[str, GateState] = Field(
        default_factory=dict,
        description="Each gate's value, the value the runtime's environment gave (the widest "
        "the settings may set) and where the value comes from",
    )


class SettingsExport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = "runtime-hub/settings-v1"
    settings: dict[str, Any] = Field(default_factory=dict)
    workflow_overrides: dict[str, WorkflowOverrides] = Field(default_factory=dict)


class CredentialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | dict[str, Any] = Field(
        description="A string, or a JSON object whose fields workflows read as "
        "$credential.<name>.<field>",
    )

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        size = len(value) if isinstance(value, str) else len(json.dumps(value))
        if size == 0 or (isinstance(value, dict) and not value):
            raise ValueError("a credential cannot be empty")
        if size > 65_536:
            raise ValueError(f"a credential is at most 65536 characters (this one: {size})")
        return value


class CredentialList(BaseModel):
    items: list[CredentialInfo]


Changes = Body(..., description="Settings to change (any subset of the runtime settings)")
# A change that would open a gate the runtime's environment keeps closed (hub.gates).
GATE_LOCKED: dict[int | str, dict[str, Any]] = {
    403: {
        "model": ErrorBody,
        "description": "The change would enable code, shell or desktop control (or turn desktop "
        "dry-run off) beyond what the runtime's environment allows (`gate_locked`)",
    }
}


@router.get("/settings", response_model=SettingsOut)
async def get_settings(api: RuntimeBackend = Depends(backend)) -> Any:
    return await api.supervisor_call("get_settings")


@router.put("/settings", response_model=SettingsOut, responses=GATE_LOCKED)
async def update_settings(
    request: Request, changes: dict[str, Any] = Changes, api: RuntimeBackend = Depends(backend)
) -> Any:
    """Change runtime settings; most apply at once, pool sizes at the next start. Gates may be
    closed, and reopened up to what the runtime's environment allows, never opened wider."""
    result = await api.supervisor_call("update_settings", changes)
    audit(request, "settings.update", "runtime", fields=sorted(changes))
    return result


@router.post("/settings/validate", response_model=RuntimeSettings, responses=GATE_LOCKED)
async def validate_settings(
    changes: dict[str, Any] = Changes, api: RuntimeBackend = Depends(backend)
) -> Any:
    """The settings these changes would give, or 422 naming each bad field; nothing changes."""
    return await api.supervisor_call("validate_settings", changes)


@router.get("/settings/export", response_model=SettingsExport)
async def export_settings(api: RuntimeBackend = Depends(backend)) -> SettingsExport:
    """Runtime settings and per-workflow overrides as one document (credentials excluded)."""
    current = await api.supervisor_call("get_settings")
    overrides = await api.supervisor_call("all_workflow_overrides")
    return SettingsExport(settings=current["settings"], workflow_overrides=overrides)


@router.post("/settings/import", response_model=SettingsOut, responses=GATE_LOCKED)
async def import_settings(
    request: Request, document: SettingsExport, api: RuntimeBackend = Depends(backend)
) -> Any:
    """Apply an exported settings document: all of it is validated before anything changes."""
    await api.supervisor_call("validate_settings", document.settings)
    result = await api.supervisor_call("update_settings", document.settings)
    for workflow_id, overrides in document.workflow_overrides.items():
        await api.supervisor_call("set_workflow_overrides", workflow_id, overrides)
    audit(request, "settings.import", "runtime", workflows=sorted(document.workflow_overrides))
    return result


@router.get("/workflows/{workflow_id}/settings", response_model=WorkflowOverrides)
async def get_workflow_settings(workflow_id: str, api: RuntimeBackend = Depends(backend)) -> Any:
    await api.recorder_call("get_workflow", workflow_id, None)  # 404 for an unknown workflow
    return await api.supervisor_call("get_workflow_overrides", workflow_id)


@router.put("/workflows/{workflow_id}/settings", response_model=WorkflowOverrides)
async def set_workflow_settings(
    request: Request,
    workflow_id: str,
    overrides: WorkflowOverrides,
    api: RuntimeBackend = Depends(backend),
) -> Any:
    """Settings of this workflow that win over its document's (for runs started later)."""
    await api.recorder_call("get_workflow", workflow_id, None)
    result = await api.supervisor_call("set_workflow_overrides", workflow_id, overrides)
    audit(request, "workflow.settings", workflow_id)
    return result


@router.delete("/workflows/{workflow_id}/settings", response_model=WorkflowOverrides)
async def clear_workflow_settings(
    request: Request, workflow_id: str, api: RuntimeBackend = Depends(backend)
) -> Any:
    result = await api.supervisor_call("set_workflow_overrides", workflow_id, None)
    audit(request, "workflow.settings_clear", workflow_id)
    return result


# --- credentials: write-only ----------------------------------------------------------------


@router.get("/credentials", response_model=CredentialList)
async def list_credentials(api: RuntimeBackend = Depends(backend)) -> CredentialList:
    """Names and dates only: a credential's value is never returned."""
    return CredentialList(items=await api.recorder_call("credential_names"))


@router.put("/credentials/{name}", status_code=204)
async def set_credential(
    request: Request,
    body: CredentialIn,
    name: str = Path(pattern=CREDENTIAL_NAME),
    api: RuntimeBackend = Depends(backend),
) -> None:
    """Store (or replace) a credential, sealed with the runtime's key."""
    if not re.match(CREDENTIAL_NAME, name):
        raise InvalidRequest(f"credential name {name!r} must match {CREDENTIAL_NAME}")
    await api.supervisor_call("set_credential", name, body.value)
    audit(request, "credential.set", name)


@router.delete("/credentials/{name}", status_code=204)
async def delete_credential(
    request: Request, name: str, api: RuntimeBackend = Depends(backend)
) -> None:
    await api.recorder_call("delete_credential", name)
    audit(request, "credential.delete", name)
