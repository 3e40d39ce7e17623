"""The node-type catalogue (hub.nodes.catalogue): every type the runtime knows, built-in and
plugins, whether its family is enabled, and its parameters' JSON Schema (what an editor needs
to offer a form for a node)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from hub.errors import NotFound
from hub.nodes import NodeTypeInfo
from serve._backend import RuntimeBackend
from serve._deps import backend

router = APIRouter(prefix="/node-types", tags=["node types"])


class NodeTypeList(BaseModel):
    items: list[NodeTypeInfo]


@router.get("", response_model=NodeTypeList)
async def list_node_types(api: RuntimeBackend = Depends(backend)) -> NodeTypeList:
    """Every node type, by name: where it runs, its family and whether it is enabled, its pool,
    its default timeout, the parameters that must be literal, and its parameters' JSON Schema."""
    return NodeTypeList(items=await api.supervisor_call("node_types"))


@router.get("/{name}", response_model=NodeTypeInfo)
async def get_node_type(
    name: str = Path(..., min_length=1, max_length=200),
    api: RuntimeBackend = Depends(backend),
) -> NodeTypeInfo:
    """One node type (404 with the closest name for an unknown one)."""
    items: list[NodeTypeInfo] = await api.supervisor_call("node_types")
    for info in items:
        if info.name == name:
            return info
    import difflib

    close = difflib.get_close_matches(name, [i.name for i in items], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise NotFound(f"no node type {name!r}{hint}; GET /api/v1/node-types lists them")
