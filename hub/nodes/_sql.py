"""The ``sql`` node: parameterised statements against PostgreSQL, MySQL/MariaDB or SQLite.

The query text is literal (the compiler refuses an expression in it: values go in ``params``
and are bound by the driver, so they can never change the statement). Engines are pooled per
URL in the node actor's process (hub.nodes._sql_engine, imported on the first call). Values JSON
cannot carry are converted by :func:`hub.nodes._sql_engine.json_value`.
docs/dsl.md, "The sql node".
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.nodes._context import NodeContext
from hub.nodes._registry import PoolConfig, node_type

# Parameters whose text must be literal (hub.compiler refuses expressions there).
LITERAL_PARAMETERS = ("/query", "/statements/*/query")


class Statement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class SqlParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    query: str | None = Field(default=None, min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    statements: list[Statement] | None = Field(default=None, min_length=1, max_length=1000)
    mode: Literal["rows", "one", "scalar", "execute"] = "rows"
    max_rows: int = Field(default=1000, ge=1, le=1_000_000)
    timeout_s: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_form(self) -> SqlParams:
        if (self.query is None) == (self.statements is None):
            raise ValueError("give either 'query' (with 'params') or 'statements', not both")
        if self.statements is not None and self.params:
            raise ValueError("with 'statements', each statement has its own 'params'")
        return self


@node_type(
    "sql",
    parameters=SqlParams,
    pool=PoolConfig(min_size=1, max_size=4),
    literal=LITERAL_PARAMETERS,
)
async def run_sql_node(params: SqlParams, ctx: NodeContext) -> Any:
    """Run a parameterised SQL statement (or several in one transaction)."""
    from hub.nodes._sql_engine import run_sql

    return await asyncio.to_thread(run_sql, params)
