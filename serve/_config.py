"""What an API replica needs to know: how to find the runtime and how to check tokens."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hub.runtime import NAMESPACE, RECORDER_NAME, SUPERVISOR_NAME

API_PREFIX = "/api/v1"
APP_NAME = "hub-api"
# The largest id the store can hold (SQL BIGINT): ids and cursors in queries stay below it.
MAX_ID = 2**63 - 1


class ApiConfig(BaseModel):
    """Passed to every replica (``ApiIngress.bind(config)``, or ``serve run`` args)."""

    model_config = ConfigDict(extra="forbid")

    token_sha256: str = Field(min_length=64, max_length=64)
    namespace: str = NAMESPACE
    supervisor_name: str = SUPERVISOR_NAME
    recorder_name: str = RECORDER_NAME
    # An idle live stream sends a comment this often, so proxies and clients keep it open.
    heartbeat_s: float = Field(default=15.0, gt=0, le=300)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
