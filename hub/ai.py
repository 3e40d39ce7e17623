"""The runtime's AI settings (the seed's AiSettings): defaults for ``llm`` nodes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

LLM_TYPE = "llm"


class AiSettings(BaseModel):
    """The runtime's defaults for ``llm`` nodes (``ai`` in the settings; HUB_AI_DEFAULT_MODEL,
    HUB_AI_TEMPERATURE, ...); a node's own parameters win."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    request_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    max_retries: int = Field(default=2, ge=0, le=10)
    # "backoff": a 429 answer is retried after its Retry-After (at most 60 s) or an
    # exponential backoff, up to max_retries; "fail": it fails the attempt at once (retryable,
    # so the node's own retry policy decides).
    rate_limit_strategy: Literal["backoff", "fail"] = "backoff"

    def node_defaults(self) -> dict[str, Any]:
        """The parameters an llm node gets unless it sets them."""
        defaults = self.model_dump(exclude={"default_model"}, exclude_none=True)
        if self.default_model:
            defaults["model"] = self.default_model
        return defaults
