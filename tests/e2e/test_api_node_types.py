"""GET /api/v1/node-types on the session's runtime: the catalogue an editor builds forms from."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_api import error_of

pytestmark = pytest.mark.ray


def test_the_catalogue_lists_every_type_with_its_schema_and_gate(api: Any) -> None:
    items = api.get("/node-types").json()["items"]
    types = {t["name"]: t for t in items}
    assert [t["name"] for t in items] == sorted(types)
    assert {"sql", "file.write", "email", "webhook", "datetime", "shell", "code"} <= set(types)
    # The session runtime opens code and shell nodes (HUB_ENABLE_CODE/SHELL_NODES=1).
    assert types["shell"]["enabled"] is True and types["code"]["isolated"] is True
    assert types["sql"]["runs_in"] == "node-pool" and types["sql"]["pool"]["max_size"] == 4
    assert types["sql"]["literal_parameters"] == ["/query", "/statements/*/query"]
    assert types["datetime"]["runs_in"] == "execution-actor"
    schema = types["file.write"]["parameters_schema"]
    assert schema["properties"]["mode"]["enum"] == ["overwrite", "append", "create"]
    one = api.get("/node-types/webhook").json()
    assert one == types["webhook"]
    missing = error_of(api.get("/node-types/webhok"), 404)
    assert "did you mean 'webhook'?" in missing["message"]
