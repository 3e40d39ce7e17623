"""The ``webhook`` node: POST a JSON payload signed with HMAC-SHA256, as webhook senders do.

The receiver recomputes ``sha256=<hex of HMAC-SHA256(secret, raw body)>`` and compares it with
the ``X-Hub-Signature-256`` header. docs/dsl.md, "The webhook node".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.nodes._context import NodeContext
from hub.nodes._http import check_url, send
from hub.nodes._registry import PoolConfig, node_type

SIGNATURE_HEADER = "X-Hub-Signature-256"


class WebhookParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    payload: Any = None
    secret: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    expect_status: list[int] | None = None

    _check_url = field_validator("url")(check_url)


def body_of(payload: Any) -> bytes:
    """The exact bytes sent, and signed: compact JSON, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@node_type("webhook", parameters=WebhookParams, pool=PoolConfig(min_size=1, max_size=4))
async def run_webhook(params: WebhookParams, ctx: NodeContext) -> Any:
    """POST a JSON payload with an X-Hub-Signature-256 HMAC-SHA256 signature."""
    body = body_of(params.payload)
    headers = {
        **params.headers,
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(params.secret, body),
        "X-Hub-Delivery": ctx.idempotency_key,
        "X-Hub-Timestamp": str(int(time.time())),
        "Idempotency-Key": ctx.idempotency_key,
    }
    answer = await send(
        "POST",
        params.url,
        headers=headers,
        timeout_s=params.timeout_s,
        expect_status=params.expect_status,
        content=body,
    )
    return {**answer, "delivery": ctx.idempotency_key, "size": len(body)}
