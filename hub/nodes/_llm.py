"""The ``llm`` node: one chat completion from an OpenAI-compatible endpoint
(``POST {base_url}/chat/completions``), with the runtime's AI settings as defaults
(``RuntimeSettings.ai``, hub.ai, merged in by the runner: docs/dsl.md, "The llm node")."""

from __future__ import annotations

import asyncio
import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.errors import ErrorCategory, StepFailed
from hub.nodes._context import NodeContext
from hub.nodes._http import check_url, send
from hub.nodes._registry import PoolConfig, node_type

MAX_RETRY_AFTER_S = 60.0  # the longest a rate limit's Retry-After is honoured


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str


class LlmParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(min_length=1)
    api_key: str | None = None
    model: str | None = Field(default=None, min_length=1)
    prompt: str | None = None
    system: str | None = None
    messages: list[Message] | None = Field(default=None, min_length=1, max_length=1000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    request_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    max_retries: int = Field(default=2, ge=0, le=10)
    rate_limit_strategy: Literal["backoff", "fail"] = "backoff"
    extra: dict[str, Any] = Field(default_factory=dict)  # more request fields (top_p, stop, ...)

    _check_url = field_validator("base_url")(check_url)

    @model_validator(mode="after")
    def _one_conversation(self) -> LlmParams:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give either 'prompt' (with an optional 'system') or 'messages'")
        if self.messages is not None and self.system is not None:
            raise ValueError("with 'messages', put the system message in the list")
        return self


def request_body(params: LlmParams) -> dict[str, Any]:
    if params.model is None:
        raise StepFailed(
            "no model: set the node's 'model' or the runtime's ai.default_model "
            "(HUB_AI_DEFAULT_MODEL)",
            category=ErrorCategory.VALIDATION,
        )
    if params.messages is not None:
        messages = [m.model_dump() for m in params.messages]
    else:
        messages = [{"role": "system", "content": params.system}] if params.system else []
        messages.append({"role": "user", "content": params.prompt})
    body: dict[str, Any] = {**params.extra, "model": params.model, "messages": messages}
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.max_tokens is not None:
        body["max_tokens"] = params.max_tokens
    return body


def _answer_of(body: Any, url: str) -> dict[str, Any]:
    try:
        choice = body["choices"][0]
        text = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise StepFailed(
            f"{url} did not answer with a chat completion (no choices[0].message.content)",
            category=ErrorCategory.NODE_ERROR,
        ) from None
    return {
        "text": text if isinstance(text, str) else "",
        "finish_reason": choice.get("finish_reason"),
        "usage": body.get("usage") or {},
        "model": body.get("model"),
        "id": body.get("id"),
    }


def _api_message(failure: StepFailed) -> str:
    """The provider's own error message, when its answer has the usual shape."""
    answer = (failure.details or {}).get("response", {}).get("body")
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return str(answer["error"].get("message", ""))[:500]
    return ""


def _retry_after(failure: StepFailed) -> float | None:
    headers = (failure.details or {}).get("response", {}).get("headers", {})
    try:
        return min(float(headers.get("retry-after", "")), MAX_RETRY_AFTER_S)
    except ValueError:
        return None


@node_type("llm", parameters=LlmParams, pool=PoolConfig(min_size=1, max_size=4))
async def run_llm(params: LlmParams, ctx: NodeContext) -> Any:
    """Ask an OpenAI-compatible chat completions endpoint; output the text, usage and finish
    reason."""
    url = params.base_url.rstrip("/") + "/chat/completions"
    headers = {"Idempotency-Key": ctx.idempotency_key}
    if params.api_key:
        headers["Authorization"] = f"Bearer {params.api_key}"
    body = request_body(params)
    for tried in range(params.max_retries + 1):
        try:
            answer = await send(
                "POST", url, headers=headers, timeout_s=params.request_timeout_s, json_body=body
            )
            return _answer_of(answer["body"], url)
        except StepFailed as failure:
            limited = failure.category == ErrorCategory.HTTP_STATUS and "answered 429" in str(
                failure
            )
            retry_after = _retry_after(failure) if limited else None
            said = _api_message(failure)
            if said:
                failure = StepFailed(
                    f"{failure.message}: {said}",
                    category=failure.category,
                    retryable=failure.retryable,
                )
            if not failure.retryable or tried == params.max_retries:
                raise failure from None
            if limited and params.rate_limit_strategy == "fail":
                raise failure from None
            wait = (
                retry_after
                if retry_after is not None
                else min(2.0**tried * (0.5 + random.random() / 2), MAX_RETRY_AFTER_S)
            )
            ctx.log("warn", f"{failure.message}; trying again in {wait:.1f}s", tried=tried + 1)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
