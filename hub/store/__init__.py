"""The SQL store (SQLite or PostgreSQL) behind Runtime Hub.

``Store`` reads and writes executions, steps, events, logs, workflows and settings, searches
and summarises the history (:mod:`hub.history`), and keeps saved inputs, the audit log and
credentials (ciphertext only);
``migrate`` brings a database to the newest schema (Alembic ``upgrade head``);
``database_url_from_env`` says where the store lives (``HUB_DATABASE_URL`` or ``HUB_HOME``).
"""

from hub.store._migrate import migrate
from hub.store._store import Store
from hub.store._url import database_url_from_env

__all__ = ["Store", "database_url_from_env", "migrate"]
