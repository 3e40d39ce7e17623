"""Fixtures of the unit tests. Modules that test the store on every backend define their own
``store`` (over ``db_url``); this one is the plain SQLite store in the test's directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'hub.db'}") as s:
        yield s
