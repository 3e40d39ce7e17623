"""Workflows: create (compiled on save), list, get, versions, delete, validate, input schema,
saved input configurations."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request

from hub.compiler import CompileResult, compile_workflow
from hub.errors import InvalidRequest, NotFound
from hub.history import SavedInputs
from hub.inputs import check_saved_inputs
from hub.plan import ExecutionPlan
from hub.records import WorkflowRecord
from serve._backend import RuntimeBackend
from serve._deps import audit, backend, iso
from serve._models import (
    CompileReport,
    Deleted,
    SavedInputsIn,
    SavedInputsList,
    SavedInputsOut,
    VersionList,
    WorkflowList,
    WorkflowOut,
    WorkflowSaved,
    WorkflowSummary,
)

router = APIRouter(prefix="/workflows", tags=["workflows"])
Document = Body(
    ...,
    description="A workflow document (docs/dsl.md)",
    examples=[
        {
            "id": "hello",
            "inputs": {"name": {"type": "string", "required": True}},
            "nodes": [
                {"id": "greet", "type": "log", "parameters": {"message": "Hi {{ $input.name }}"}}
            ],
            "edges": [],
        }
    ],
)


def compile_report(result: CompileResult) -> CompileReport:
    plan = result.plan
    return CompileReport(
        valid=plan is not None,
        diagnostics=[d.to_dict() for d in result.diagnostics],
        levels=[list(level) for level in plan.levels] if plan else None,
        input_schema=plan.input_schema if plan else None,
        plan=plan.summary() if plan else None,
    )


def workflow_out(record: WorkflowRecord) -> WorkflowOut:
    return WorkflowOut(
        id=record.id,
        version=record.version,
        name=record.name,
        description=record.description,
        created_at=iso(record.created_at) or "",
        definition=record.definition,
        diagnostics=record.diagnostics,
    )


async def _save(api: RuntimeBackend, document: dict[str, Any]) -> WorkflowSaved:
    result = compile_workflow(document)
    result.raise_for_errors()  # 422 with the diagnostics; nothing is saved
    record: WorkflowRecord = await api.supervisor_call("register", document)
    return WorkflowSaved(workflow=workflow_out(record), compile=compile_report(result))


@router.post("", status_code=201, response_model=WorkflowSaved)
async def create_workflow(
    request: Request,
    document: dict[str, Any] = Document,
    api: RuntimeBackend = Depends(backend),
) -> WorkflowSaved:
    """Register a workflow version; it is compiled first and refused (422) with diagnostics."""
    saved = await _save(api, document)
    audit(request, "workflow.create", f"{saved.workflow.id}@{saved.workflow.version}")
    return saved


@router.post("/validate", response_model=CompileReport)
async def validate_workflow(document: dict[str, Any] = Document) -> CompileReport:
    """Compile without saving: diagnostics, levels and input schema."""
    return compile_report(compile_workflow(document))


@router.get("", response_model=WorkflowList)
async def list_workflows(api: RuntimeBackend = Depends(backend)) -> WorkflowList:
    records: list[WorkflowRecord] = await api.recorder_call("list_workflows")
    return WorkflowList(
        items=[
            WorkflowSummary(
                id=r.id,
                version=r.version,
                name=r.name,
                description=r.description,
                created_at=iso(r.created_at) or "",
            )
            for r in records
        ]
    )


async def _workflow(api: RuntimeBackend, workflow_id: str, version: str | None) -> WorkflowRecord:
    record: WorkflowRecord = await api.recorder_call("get_workflow", workflow_id, version)
    return record


@router.get("/{workflow_id}", response_model=WorkflowSaved)
async def get_workflow(
    workflow_id: str,
    version: str | None = Query(default=None, max_length=255),
    api: RuntimeBackend = Depends(backend),
) -> WorkflowSaved:
    """A workflow version (default: the latest) with its compiled plan."""
    record = await _workflow(api, workflow_id, version)
    return WorkflowSaved(
        workflow=workflow_out(record), compile=compile_report(compile_workflow(record.definition))
    )


@router.get("/{workflow_id}/versions", response_model=VersionList)
async def list_versions(workflow_id: str, api: RuntimeBackend = Depends(backend)) -> VersionList:
    versions: list[str] = await api.recorder_call("workflow_versions", workflow_id)
    if not versions:
        raise NotFound(f"workflow {workflow_id!r} not found", details={"id": workflow_id})
    return VersionList(workflow_id=workflow_id, versions=versions)


@router.post("/{workflow_id}/versions", status_code=201, response_model=WorkflowSaved)
async def create_version(
    request: Request,
    workflow_id: str,
    document: dict[str, Any] = Document,
    api: RuntimeBackend = Depends(backend),
) -> WorkflowSaved:
    """A new version of an existing workflow. Without ``version`` in the document the next
    number is taken (after the highest numeric version)."""
    versions: list[str] = await api.recorder_call("workflow_versions", workflow_id)
    if not versions:
        raise NotFound(
            f"workflow {workflow_id!r} not found; create it with POST /api/v1/workflows",
            details={"id": workflow_id},
        )
    given = document.get("id", workflow_id)
    if given != workflow_id:
        raise InvalidRequest(
            f"the document's id {given!r} differs from the workflow in the path {workflow_id!r}",
            details={"path": "/id"},
        )
    document = {**document, "id": workflow_id}
    if "version" not in document:
        document["version"] = next_version(versions)
    saved = await _save(api, document)
    audit(request, "workflow.version", f"{workflow_id}@{saved.workflow.version}")
    return saved


def next_version(versions: list[str]) -> str:
    numbers = [int(v) for v in versions if re.fullmatch(r"\d{1,18}", v)]
    candidate = max(numbers, default=0) + 1
    while str(candidate) in versions:
        candidate += 1
    return str(candidate)


@router.delete("/{workflow_id}", response_model=Deleted)
async def delete_workflow(
    request: Request,
    workflow_id: str,
    version: str | None = Query(default=None, max_length=255),
    api: RuntimeBackend = Depends(backend),
) -> Deleted:
    """Delete a workflow (every version, or one). Its executions stay in history."""
    deleted: int = await api.recorder_call("delete_workflow", workflow_id, version)
    await api.supervisor_call("forget_workflow", workflow_id)
    audit(request, "workflow.delete", workflow_id, version=version)
    return Deleted(deleted=deleted)


@router.get("/{workflow_id}/input-schema", response_model=dict[str, Any])
async def input_schema(
    workflow_id: str,
    version: str | None = Query(default=None, max_length=255),
    api: RuntimeBackend = Depends(backend),
) -> dict[str, Any]:
    """The JSON Schema run inputs are validated against (to generate a form from)."""
    plan = await _plan(api, workflow_id, version)
    return plan.input_schema


async def _plan(api: RuntimeBackend, workflow_id: str, version: str | None) -> ExecutionPlan:
    record = await _workflow(api, workflow_id, version)
    return compile_workflow(record.definition).raise_for_errors()


# --- saved input configurations ------------------------------------------------------------


def _saved_out(saved: SavedInputs) -> SavedInputsOut:
    return SavedInputsOut(
        id=saved.id,
        workflow_id=saved.workflow_id,
        name=saved.name,
        inputs=saved.inputs,
        created_at=iso(saved.created_at) or "",
    )


async def _checked(api: RuntimeBackend, workflow_id: str, body: SavedInputsIn) -> dict[str, Any]:
    plan = await _plan(api, workflow_id, None)
    return check_saved_inputs(dict(plan.inputs), body.inputs)


@router.get("/{workflow_id}/saved-inputs", response_model=SavedInputsList)
async def list_saved_inputs(
    workflow_id: str, api: RuntimeBackend = Depends(backend)
) -> SavedInputsList:
    found: list[SavedInputs] = await api.recorder_call("list_saved_inputs", workflow_id)
    return SavedInputsList(items=[_saved_out(s) for s in found])


@router.post("/{workflow_id}/saved-inputs", status_code=201, response_model=SavedInputsOut)
async def create_saved_inputs(
    request: Request,
    workflow_id: str,
    body: SavedInputsIn,
    api: RuntimeBackend = Depends(backend),
) -> SavedInputsOut:
    inputs = await _checked(api, workflow_id, body)
    saved = SavedInputs(id=uuid.uuid4().hex, workflow_id=workflow_id, name=body.name, inputs=inputs)
    stored: SavedInputs = await api.recorder_call("save_inputs", saved)
    audit(request, "saved_inputs.create", saved.id, workflow_id=workflow_id)
    return _saved_out(stored)


async def _saved(api: RuntimeBackend, workflow_id: str, saved_id: str) -> SavedInputs:
    saved: SavedInputs = await api.recorder_call("get_saved_inputs", saved_id)
    if saved.workflow_id != workflow_id:
        raise NotFound(f"saved inputs {saved_id!r} not found for workflow {workflow_id!r}")
    return saved


@router.get("/{workflow_id}/saved-inputs/{saved_id}", response_model=SavedInputsOut)
async def get_saved_inputs(
    workflow_id: str, saved_id: str, api: RuntimeBackend = Depends(backend)
) -> SavedInputsOut:
    return _saved_out(await _saved(api, workflow_id, saved_id))


@router.put("/{workflow_id}/saved-inputs/{saved_id}", response_model=SavedInputsOut)
async def update_saved_inputs(
    request: Request,
    workflow_id: str,
    saved_id: str,
    body: SavedInputsIn,
    api: RuntimeBackend = Depends(backend),
) -> SavedInputsOut:
    existing = await _saved(api, workflow_id, saved_id)
    inputs = await _checked(api, workflow_id, body)
    updated = existing.model_copy(update={"name": body.name, "inputs": inputs})
    stored: SavedInputs = await api.recorder_call("save_inputs", updated)
    audit(request, "saved_inputs.update", saved_id, workflow_id=workflow_id)
    return _saved_out(stored)


@router.delete("/{workflow_id}/saved-inputs/{saved_id}", status_code=204)
async def delete_saved_inputs(
    request: Request, workflow_id: str, saved_id: str, api: RuntimeBackend = Depends(backend)
) -> None:
    await _saved(api, workflow_id, saved_id)
    await api.recorder_call("delete_saved_inputs", saved_id)
    audit(request, "saved_inputs.delete", saved_id, workflow_id=workflow_id)
