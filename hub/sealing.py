"""Secret inputs, sealed: kept encrypted with the execution so a run can resume, or be retried,
after the runtime restarts, without a secret ever being stored in clear.

The key is ``HUB_HOME/secret.key`` (created with mode 0600 by the first runtime that needs it),
read by the process that starts the runtime and handed to the supervisor. Fernet (AES-128-CBC
with HMAC-SHA256) from ``cryptography``. Lose the key and sealed inputs cannot be opened: the
runs that need them end ``interrupted`` and say why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from hub.errors import HubError
from hub.plan import ExecutionPlan
from hub.records import ExecutionRecord
from hub.redaction import REDACTED

KEY_FILE = "secret.key"
SETTING = "sealed_inputs"  # where an execution keeps them, in its settings


def load_or_create_key(home: Path) -> str:
    """The sealing key of ``home``; made (mode 0600) when there is none."""
    path = home / KEY_FILE
    if not path.exists():
        key = Fernet.generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key)
        finally:
            os.close(fd)
    return path.read_bytes().strip().decode()


def seal(values: dict[str, Any], key: str) -> str:
    return Fernet(key.encode()).encrypt(json.dumps(values).encode()).decode()


def unseal(token: str, key: str | None, what: str = "sealed inputs") -> dict[str, Any]:
    """Open ``token``; HubError saying ``what`` cannot be opened when the key is wrong."""
    if key is None:
        raise HubError(f"{what} cannot be opened: the runtime has no sealing key")
    try:
        data = Fernet(key.encode()).decrypt(token.encode())
    except (InvalidToken, ValueError):
        raise HubError(
            f"{what} cannot be opened with this runtime's key ({KEY_FILE} in HUB_HOME "
            "changed or was lost)"
        ) from None
    values: dict[str, Any] = json.loads(data)
    return values


def seal_inputs(plan: ExecutionPlan, inputs: dict[str, Any], key: str | None) -> str | None:
    """The secret inputs of a run, sealed, to keep with it (None when it has none)."""
    secrets = {k: v for k, v in inputs.items() if k in plan.inputs and plan.inputs[k].secret}
    if not secrets or key is None:
        return None
    return seal(secrets, key)


def open_inputs(record: ExecutionRecord, plan: ExecutionPlan, key: str | None) -> dict[str, Any]:
    """A stored execution's inputs with its sealed secrets opened; HubError when a secret the
    run had was not kept or cannot be opened."""
    missing = [
        k for k, spec in plan.inputs.items() if spec.secret and record.inputs.get(k) == REDACTED
    ]
    if not missing:
        return record.inputs
    token = record.settings.get(SETTING)
    if token is None:
        raise HubError(f"its secret input {', '.join(map(repr, missing))} was not kept")
    return {**record.inputs, **unseal(token, key)}
