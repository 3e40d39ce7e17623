"""Sub-workflow lineage: how a child execution is linked to the workflow node that started it
(docs/dsl.md, "Sub-workflows"). Pure decisions the supervisor applies."""

from __future__ import annotations

from typing import Any

from hub.errors import InvalidRequest
from hub.records import ExecutionRecord

ORIGIN_KIND = "subworkflow"


def link_child(record: ExecutionRecord, parent: dict[str, Any], max_depth: int) -> None:
    """Make ``record`` the child of ``parent`` ({"id", "node_id", "depth", "waits"}): its
    ``parent_id``, its depth and its origin; InvalidRequest beyond ``max_depth``."""
    depth = int(parent.get("depth", 1))
    if depth > max_depth:
        raise InvalidRequest(
            f"sub-workflow depth {depth} is more than max_workflow_depth={max_depth} "
            "(does a workflow call itself?); raise HUB_MAX_WORKFLOW_DEPTH if it is meant",
            details={"depth": depth, "max_workflow_depth": max_depth},
        )
    record.parent_id = str(parent["id"])
    record.settings["depth"] = depth
    record.settings["origin"] = {
        "kind": ORIGIN_KIND,
        "node_id": parent.get("node_id"),
        "waits": bool(parent.get("waits", True)),
    }


def slot_lender(record: ExecutionRecord) -> str | None:
    """The parent that waits for this execution, lending it its concurrency slot, or None."""
    origin = record.settings.get("origin")
    waits = (
        isinstance(origin, dict) and origin.get("kind") == ORIGIN_KIND and bool(origin.get("waits"))
    )
    return record.parent_id if waits else None
