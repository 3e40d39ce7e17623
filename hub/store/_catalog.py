"""What the store keeps beside execution history: saved inputs, the audit log, credentials
(ciphertext only: the store never sees a secret); and deleting workflow versions."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select

from hub.errors import InvalidRequest, NotFound
from hub.history import CredentialInfo, SavedInputs
from hub.records import AuditEntry, utcnow
from hub.store import _retention, _rows
from hub.store import _schema as t
from hub.store._writes import upsert

MAX_AUDIT_LIMIT = 1000


def delete_workflow(conn: Connection, workflow_id: str, version: str | None) -> int:
    """Delete one version of a workflow, or all of them; returns how many went."""
    w = t.workflows
    stmt = delete(w).where(w.c.id == workflow_id)
    if version is not None:
        stmt = stmt.where(w.c.version == version)
    count = int(conn.execute(stmt).rowcount)
    if count:
        return count
    known = sorted(conn.execute(select(w.c.version).where(w.c.id == workflow_id)).scalars())
    if not known:
        raise NotFound(f"workflow {workflow_id!r} not found", details={"id": workflow_id})
    raise NotFound(
        f"workflow {workflow_id!r} has no version {version!r} (known versions: {', '.join(known)})",
        details={"id": workflow_id, "version": version, "known_versions": known},
    )


def _saved(row: Any) -> SavedInputs:
    return SavedInputs(
        id=row.id,
        workflow_id=row.workflow_id,
        name=row.name,
        inputs=row.inputs or {},
        created_at=row.created_at,
    )


class Catalog:
    """The store's saved inputs, audit log and credentials (``Store`` has these methods)."""

    def _tx(self, what: str, *, write: bool = False) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # Store's: one transaction, errors become StoreError

    # --- saved inputs ---------------------------------------------------------------------------

    def save_inputs(self, saved: SavedInputs) -> SavedInputs:
        """Store a named set of run inputs, replacing the one with the same id."""
        with self._tx(f"saving inputs {saved.id}", write=True) as conn:
            upsert(conn, t.saved_inputs, [saved.model_dump()], ["id"])
        return saved

    def list_saved_inputs(self, workflow_id: str) -> list[SavedInputs]:
        """The saved inputs of a workflow, by name."""
        si = t.saved_inputs
        query = select(si).where(si.c.workflow_id == workflow_id).order_by(si.c.name, si.c.id)
        with self._tx(f"listing saved inputs of workflow {workflow_id}") as conn:
            return [_saved(row) for row in conn.execute(query)]

    def get_saved_inputs(self, saved_id: str) -> SavedInputs:
        si = t.saved_inputs
        with self._tx(f"reading saved inputs {saved_id}") as conn:
            row = conn.execute(select(si).where(si.c.id == saved_id)).first()
        if row is None:
            raise NotFound(f"saved inputs {saved_id!r} not found", details={"id": saved_id})
        return _saved(row)

    def delete_saved_inputs(self, saved_id: str) -> None:
        si = t.saved_inputs
        with self._tx(f"deleting saved inputs {saved_id}", write=True) as conn:
            deleted = conn.execute(delete(si).where(si.c.id == saved_id)).rowcount
        if not deleted:
            raise NotFound(f"saved inputs {saved_id!r} not found", details={"id": saved_id})

    # --- audit log ------------------------------------------------------------------------------

    def audit_entries(
        self,
        *,
        limit: int = 100,
        before_id: int | None = None,
        action: str | None = None,
        target: str | None = None,
    ) -> list[AuditEntry]:
        """Audit entries newest first; ``before_id`` (the last id seen) pages back in time.

        Entries are written like any other store write (``AppendAudit``), by the Recorder.
        """
        if not 1 <= limit <= MAX_AUDIT_LIMIT:
            raise InvalidRequest(
                f"limit must be between 1 and {MAX_AUDIT_LIMIT}, got {limit}",
                details={"limit": limit},
            )
        a = t.audit_log
        query = select(a)
        if before_id is not None and before_id <= t.INT_COLUMN_MAX:  # past it: every id is
            query = query.where(a.c.id < before_id)
        if action is not None:
            query = query.where(a.c.action == action)
        if target is not None:
            query = query.where(a.c.target == target)
        with self._tx("reading the audit log") as conn:
            rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit)).mappings().all()
        return [_rows.audit_record(row) for row in rows]

    def prune_audit(
        self,
        *,
        max_age_s: float | None = None,
        max_executions: int | None = None,
        batch_size: int = _retention.DEFAULT_BATCH_SIZE,
        now: datetime | None = None,
    ) -> int:
        """Apply the history's retention limits to the audit log: delete entries written more
        than ``max_age_s`` before ``now``, and/or all but the newest
        ``AUDIT_ENTRIES_PER_EXECUTION * max_executions`` (hub.store._retention); either limit
        deletes what it names. Works in batches of ``batch_size`` entries, one short write
        transaction each; without either limit nothing is deleted. Returns how many went.
        """
        if max_age_s is not None and max_age_s < 0:
            raise ValueError(f"max_age_s must not be negative, got {max_age_s}")
        if max_executions is not None and max_executions < 0:
            raise ValueError(f"max_executions must not be negative, got {max_executions}")
        cutoff = None if max_age_s is None else (now or utcnow()) - timedelta(seconds=max_age_s)
        return _retention.prune_audit(
            lambda: self._tx("pruning the audit log", write=True),
            cutoff=cutoff,
            keep=_retention.audit_limits(max_executions),
            batch_size=batch_size,
        )

    # --- credentials ----------------------------------------------------------------------------

    def set_credential(self, name: str, ciphertext: bytes) -> None:
        """Store an encrypted credential (never the plaintext); replacing one keeps its
        ``created_at``."""
        if not name:
            raise InvalidRequest("a credential needs a name")
        now = utcnow()
        row = {"name": name, "ciphertext": ciphertext, "created_at": now, "updated_at": now}
        with self._tx(f"saving credential {name}", write=True) as conn:
            upsert(conn, t.credentials, [row], ["name"], replace=["ciphertext", "updated_at"])

    def credential_names(self) -> list[CredentialInfo]:
        """The stored credentials' names and timestamps, by name; never their values."""
        c = t.credentials
        query = select(c.c.name, c.c.created_at, c.c.updated_at).order_by(c.c.name)
        with self._tx("listing credentials") as conn:
            rows = conn.execute(query).all()
        return [
            CredentialInfo(name=row.name, created_at=row.created_at, updated_at=row.updated_at)
            for row in rows
        ]

    def get_credential(self, name: str) -> bytes:
        """A credential's ciphertext."""
        c = t.credentials
        with self._tx(f"reading credential {name}") as conn:
            value = conn.execute(select(c.c.ciphertext).where(c.c.name == name)).scalar()
        if value is None:
            raise NotFound(f"credential {name!r} not found", details={"name": name})
        return bytes(value)

    def credentials(self, names: list[str]) -> dict[str, bytes]:
        """The ciphertexts of the credentials ``names`` that are stored (missing ones left out)."""
        c = t.credentials
        with self._tx("reading credentials") as conn:
            rows = conn.execute(select(c.c.name, c.c.ciphertext).where(c.c.name.in_(names)))
            return {str(name): bytes(value) for name, value in rows}

    def delete_credential(self, name: str) -> None:
        c = t.credentials
        with self._tx(f"deleting credential {name}", write=True) as conn:
            deleted = conn.execute(delete(c).where(c.c.name == name)).rowcount
        if not deleted:
            raise NotFound(f"credential {name!r} not found", details={"name": name})
