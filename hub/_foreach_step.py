"""A foreach step inside a run: the runner's side of hub.loops (rendering an item's parameters,
calling its node, recording its row)."""

from __future__ import annotations

import dataclasses
from collections import ChainMap
from typing import TYPE_CHECKING, Any

from hub.errors import ExpressionError, StepFailed
from hub.loops import ItemAction, ItemLoop, item_id
from hub.nodes import NodeCall, NodeContext, attempt_timeout_s, to_step_failure
from hub.nodes import validate_parameters as validate_node_parameters
from hub.nodes._foreach import ForeachParams, item_action
from hub.plan import PlanNode
from hub.records import StepRecord, UpsertStep

if TYPE_CHECKING:
    from hub.runner import ExecutionRunner


class ForeachStep:
    """One attempt of one foreach node of ``runner``'s execution."""

    def __init__(self, runner: ExecutionRunner, node: PlanNode, attempt: int) -> None:
        assert node.item_type is not None, "the compiler resolves a foreach's item type"
        self.runner = runner
        self.node = node
        self.attempt = attempt
        self.deferred = runner.overrides.get(node.id, node.parameters).deferred
        self.params: ForeachParams | None = None

    async def run(self, params: dict[str, Any], same_attempt: bool) -> dict[str, Any]:
        typed = validate_node_parameters(self.node.node_type, params)
        assert isinstance(typed, ForeachParams)
        self.params = typed
        loop = ItemLoop(
            owner=self.node.id,
            items=typed.items,
            params=typed,
            retry=self.node.retry,
            host=self,
            rows=self.runner.item_rows.setdefault(self.node.id, {}),
            same_attempt=same_attempt,
            rng=self.runner.rng,
        )
        return await loop.run()

    # --- hub.loops.ItemHost -----------------------------------------------------------------

    def render_item(self, index: int, item: Any, attempt: int) -> ItemAction:
        assert self.params is not None
        runner = self.runner
        scope = ChainMap(
            {"item": item, "index": index, "execution": runner.execution_info(self.attempt)},
            runner.base_scope,
            runner.state.outputs,
        )
        try:
            rendered = {pointer: value.render(scope) for pointer, value in self.deferred.items()}
        except ExpressionError as exc:
            raise StepFailed(f"item {index}: {exc.message}", category=exc.category) from None
        node_type, parameters, timeout_s = item_action(self.params, item, rendered)
        return ItemAction(node_type, runner.with_defaults(node_type, parameters), timeout_s)

    async def call_item(self, index: int, action: ItemAction, attempt: int) -> Any:
        runner = self.runner
        item_type = self.node.item_type
        assert item_type is not None
        name = item_id(self.node.id, index)
        limit_s = attempt_timeout_s(item_type, action.timeout_s, action.parameters)
        try:
            if item_type.inline:
                typed = validate_node_parameters(item_type, action.parameters)
                ctx = NodeContext(
                    execution_id=runner.record.id,
                    workflow_id=runner.plan.workflow_id,
                    node_id=name,
                    attempt=attempt,
                    upstream=runner.state.upstream_outputs(self.node.id),
                    runtime=runner.children,
                )
                return await runner.call_inline(
                    item_type, typed, ctx, limit_s, log_as=self.node.id, item=index
                )
            call = NodeCall(
                execution_id=runner.record.id,
                workflow_id=runner.plan.workflow_id,
                node_id=name,
                node_type=item_type.name,
                attempt=attempt,
                parameters=action.parameters,
                enabled_families=runner.families,
            )
            placed = dataclasses.replace(self.node, node_type=item_type)
            try:
                result = await runner.dispatch(placed, call, limit_s)
            except StepFailed as failure:
                runner.logs(self.node.id, failure.logs, item=index)
                raise
            runner.logs(self.node.id, result.logs, item=index)
            return result.output
        except StepFailed:
            raise
        except Exception as exc:
            raise to_step_failure(exc) from None

    async def save_item(self, row: StepRecord, *, durable: bool) -> None:
        runner = self.runner
        if runner.redact:
            row = StepRecord.model_validate(runner.redact(row.model_dump()))
        runner.journal.emit(UpsertStep(execution_id=runner.record.id, step=row))
        if durable and runner.commit_each_step:
            await runner.journal.checkpoint()

    def item_event(self, kind: str, data: dict[str, Any]) -> None:
        self.runner.event(kind, self.node.id, data)
