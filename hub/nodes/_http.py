"""The ``http`` node: one pooled async client per node-actor process."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import ErrorCategory, StepFailed
from hub.nodes._context import NodeContext
from hub.nodes._registry import PoolConfig, node_type

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    # One client (one connection pool) per event loop: a node actor has exactly one loop.
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        client = _clients[loop] = httpx.AsyncClient(limits=limits)
    return client


def check_url(url: str) -> str:
    """ValueError unless ``url`` is an http(s) URL (for parameter models)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https:// (got {url!r})")
    return url


class HttpParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Any] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    expect_status: list[int] | None = None
    follow_redirects: bool = True

    @model_validator(mode="after")
    def _one_body(self) -> HttpParams:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either 'json' or 'body', not both")
        check_url(self.url)
        return self


def _status_ok(status: int, expected: list[int] | None) -> bool:
    return status in expected if expected is not None else 200 <= status < 300


def _parse_body(response: httpx.Response) -> Any:
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text


async def send(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    timeout_s: float,
    expect_status: list[int] | None = None,
    query: dict[str, Any] | None = None,
    json_body: Any = None,
    content: str | bytes | None = None,
    follow_redirects: bool = True,
) -> dict[str, Any]:
    """One request on the process's pooled client: ``{"status_code", "headers", "body"}``, or
    StepFailed with the category of what went wrong (``timeout``, ``connection``,
    ``http_status``: retryable for 5xx and 429)."""
    params = {k: v if isinstance(v, str) else str(v) for k, v in (query or {}).items()}
    try:
        # httpx's timeout bounds each phase (connect, each read); timeout_s bounds the whole
        # request, so a server that trickles its answer cannot hold the step past it.
        async with asyncio.timeout(timeout_s):
            response = await _client().request(
                method,
                url,
                headers=headers,
                params=params or None,  # an empty dict would erase a query in the url
                json=json_body,
                content=content,
                timeout=timeout_s,
                follow_redirects=follow_redirects,
            )
    except (httpx.TimeoutException, TimeoutError):
        raise StepFailed(
            f"{method} {url} timed out after {timeout_s:g}s",
            category=ErrorCategory.TIMEOUT,
            retryable=True,
        ) from None
    except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise StepFailed(
            f"{method} {url} failed: {exc or type(exc).__name__}",
            category=ErrorCategory.CONNECTION,
            retryable=True,
        ) from None
    except httpx.HTTPError as exc:
        raise StepFailed(
            f"{method} {url} failed: {exc}", category=ErrorCategory.NODE_ERROR
        ) from None
    output = {
        "status_code": response.status_code,
        "headers": dict(response.headers),
        "body": _parse_body(response),
    }
    if not _status_ok(response.status_code, expect_status):
        raise StepFailed(
            f"{method} {url} answered {response.status_code}",
            category=ErrorCategory.HTTP_STATUS,
            retryable=response.status_code >= 500 or response.status_code == 429,
            details={"response": output},
        )
    return output


@node_type("http", parameters=HttpParams, pool=PoolConfig(min_size=1, max_size=4))
async def run_http(params: HttpParams, ctx: NodeContext) -> Any:
    """Send an HTTP request; parse a JSON response body."""
    return await send(
        params.method,
        params.url,
        headers={"Idempotency-Key": ctx.idempotency_key, **params.headers},
        timeout_s=params.timeout_s,
        expect_status=params.expect_status,
        query=params.query,
        json_body=params.json_body,
        content=params.body,
        follow_redirects=params.follow_redirects,
    )
