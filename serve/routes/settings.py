"""Runtime settings, per-workflow overrides, export/import, write-only credentials."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.errors import InvalidRequest
from hub.history import CredentialInfo
from hub.settings import RuntimeSettings, WorkflowOverrides
from serve._backend import RuntimeBackend
from serve._deps import audit, backend

router = APIRouter(tags=["settings"])
CREDENTIAL_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"


class SettingsOut(BaseModel):
    settings: RuntimeSettings
    restart_required: list[str] = Field(
        default_factory=list, description="Changed settings that apply at the next `hub up`"
    )


class SettingsExport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = "runtime-hub/settings-v1"
    settings: dict[str, Any] = Field(default_factory=dict)
    workflow_overrides: dict[str, WorkflowOverrides] = Field(default_factory=dict)


class CredentialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=65_536)


class CredentialList(BaseModel):
    items: list[CredentialInfo]


Changes = Body(..., description="Settings to change (any subset of the runtime settings)")


@router.get("/settings", response_model=SettingsOut)
async def get_settings(api: RuntimeBackend = Depends(backend)) -> Any:
    return await api.supervisor_call("get_settings")


@router.put("/settings", response_model=SettingsOut)
async def update_settings(
    request: Request, changes: dict[str, Any] = Changes, api: RuntimeBackend = Depends(backend)
) -> Any:
    """Change runtime settings; most apply at once, pool sizes at the next start."""
    result = await api.supervisor_call("update_settings", changes)
    audit(request, "settings.update", "runtime", fields=sorted(changes))
    return result


@router.post("/settings/validate", response_model=RuntimeSettings)
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


@router.post("/settings/import", response_model=SettingsOut)
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
