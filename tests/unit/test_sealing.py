"""Sealed secret inputs: encrypted with a key kept in HUB_HOME, never stored in clear."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hub.errors import HubError
from hub.sealing import KEY_FILE, load_or_create_key, seal, unseal


def test_the_key_is_made_once_readable_only_by_its_owner(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    assert load_or_create_key(tmp_path) == key
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_sealed_values_open_with_the_key_only(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    token = seal({"token": "s3cret", "n": 2}, key)
    assert "s3cret" not in token
    assert unseal(token, key) == {"token": "s3cret", "n": 2}
    (tmp_path / "other").mkdir()
    other = load_or_create_key(tmp_path / "other")
    with pytest.raises(HubError, match="cannot be opened with this runtime's key"):
        unseal(token, other)
    with pytest.raises(HubError, match="no sealing key"):
        unseal(token, None)
