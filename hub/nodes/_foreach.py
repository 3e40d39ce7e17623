"""The ``foreach`` node: run one node, or one sub-workflow, per item of a list.

Its parameters say what to do per item; ``node.parameters`` and ``inputs`` are *deferred*: the
runner renders them once per item with ``$item`` and ``$index`` in scope (hub.loops runs the
items). docs/dsl.md, "Loops".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import ErrorCategory, StepFailed
from hub.nodes._context import NodeContext
from hub.nodes._registry import node_type

FOREACH_TYPE = "foreach"
ITEM_ROOTS = frozenset({"item", "index"})
NODE_PARAMETERS = "/node/parameters"
WORKFLOW_INPUTS = "/inputs"
MAX_ITEMS = 10_000
MAX_CONCURRENCY = 64
NOT_PER_ITEM = frozenset({"condition", "switch", "merge", FOREACH_TYPE})
"""Types that choose or join branches (their ports mean nothing per item), and foreach itself
(a loop of loops is a foreach over a sub-workflow that has one)."""


class ItemNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0)


class ForeachParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Any] = Field(max_length=MAX_ITEMS)
    node: ItemNode | None = None
    workflow_id: str | None = Field(default=None, min_length=1, max_length=64)
    version: str | None = Field(default=None, min_length=1)
    inputs: dict[str, Any] | None = None
    concurrency: int = Field(default=4, ge=1, le=MAX_CONCURRENCY)
    on_item_error: Literal["fail", "continue"] = "fail"

    @model_validator(mode="after")
    def _one_action(self) -> ForeachParams:
        if (self.node is None) == (self.workflow_id is None):
            raise ValueError(
                "give either 'node' ({type, parameters}: a node per item) or 'workflow_id' "
                "(a sub-workflow per item), not both and not neither"
            )
        if self.node is not None and (self.inputs is not None or self.version is not None):
            raise ValueError("'inputs' and 'version' go with 'workflow_id', not with 'node'")
        return self


def item_action(
    params: ForeachParams, item: Any, rendered: dict[str, Any]
) -> tuple[str, dict[str, Any], float | None]:
    """What one item runs: (node type, its parameters, its timeout_s), given the deferred
    parameters rendered for that item."""
    if params.node is not None:
        return params.node.type, rendered.get(NODE_PARAMETERS, {}), params.node.timeout_s
    inputs = rendered.get(WORKFLOW_INPUTS, {"item": item})
    child = {"workflow_id": params.workflow_id, "inputs": inputs, "wait": True}
    if params.version is not None:
        child["version"] = params.version
    return "workflow", child, None


def item_type_name(raw: dict[str, Any]) -> str | None:
    """The per-item node type a foreach's raw parameters name (None: none, or not literal)."""
    if isinstance(raw.get("workflow_id"), str):
        return "workflow"
    node = raw.get("node")
    kind = node.get("type") if isinstance(node, dict) else None
    return kind if isinstance(kind, str) and "{{" not in kind else None


@node_type(
    FOREACH_TYPE,
    parameters=ForeachParams,
    inline=True,
    default_timeout_s=None,
    deferred=(NODE_PARAMETERS, WORKFLOW_INPUTS),
)
async def run_foreach(params: ForeachParams, ctx: NodeContext) -> Any:
    """Run a node or a sub-workflow once per item, at most ``concurrency`` at a time; output
    ``results`` and ``errors`` in item order."""
    raise StepFailed(
        "foreach runs only inside an execution (the runner runs its items)",
        category=ErrorCategory.VALIDATION,
    )
