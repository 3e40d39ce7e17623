"""The ``sql`` node against the real databases of this machine: PostgreSQL (127.0.0.1:5432,
database ``test``), MariaDB (127.0.0.1:3306, root, database ``test``) and SQLite files in the
files root. Most checks call the node in this process, as a node actor runs it; the last runs a
workflow on the session's runtime with the URL in a credential."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import hub
from hub import ExecutionStatus
from hub.compiler import compile_workflow
from hub.errors import StepFailed
from tests.conftest import run_node

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
MARIADB = "mysql://root@127.0.0.1:3306/test"
INJECTION = "x'); DROP TABLE {table}; --"


def sql(**parameters: Any) -> Any:
    return run_node("sql", **parameters)


@pytest.fixture
def files_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUB_FILES_ROOT", str(tmp_path / "files"))
    return tmp_path / "files"


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def url(request: pytest.FixtureRequest, files_root: Path) -> str:
    return {"postgresql": POSTGRES, "mariadb": MARIADB, "sqlite": "sqlite:///db/app.db"}[
        request.param
    ]


@pytest.fixture
def table(url: str) -> Any:
    name = f"t_{uuid.uuid4().hex[:10]}"
    run_node(
        "sql",
        url=url,
        query=f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name VARCHAR(200))",
        mode="execute",
    )
    yield name
    sql(url=url, query=f"DROP TABLE IF EXISTS {name}", mode="execute")


def test_rows_one_scalar_and_execute(url: str, table: str) -> None:
    inserted = run_node(
        "sql",
        url=url,
        statements=[
            {"query": f"INSERT INTO {table} (id, name) VALUES (:id, :name)", "params": p}
            for p in (
                {"id": 1, "name": "Ada"},
                {"id": 2, "name": "Grace"},
                {"id": 3, "name": "Edsger"},
            )
        ],
    )
    assert inserted["rowcount"] == 3 and len(inserted["results"]) == 3
    rows = sql(url=url, query=f"SELECT id, name FROM {table} ORDER BY id")
    assert rows["columns"] == ["id", "name"] and rows["rowcount"] == 3
    assert rows["rows"][1] == {"id": 2, "name": "Grace"} and rows["truncated"] is False
    one = run_node(
        "sql",
        url=url,
        query=f"SELECT name FROM {table} WHERE id = :id",
        params={"id": 3},
        mode="one",
    )
    assert one["row"] == {"name": "Edsger"}
    count = sql(url=url, query=f"SELECT COUNT(*) AS n FROM {table}", mode="scalar")
    assert count["value"] == 3
    capped = sql(url=url, query=f"SELECT id FROM {table} ORDER BY id", max_rows=2)
    assert [r["id"] for r in capped["rows"]] == [1, 2] and capped["truncated"] is True
    updated = run_node(
        "sql", url=url, query=f"UPDATE {table} SET name = 'x' WHERE id > 1", mode="execute"
    )
    assert updated["rowcount"] == 2
    with pytest.raises(StepFailed, match="exactly one row; the query returned more than one"):
        sql(url=url, query=f"SELECT id FROM {table}", mode="one")
    with pytest.raises(StepFailed, match="returned no row"):
        sql(url=url, query=f"SELECT id FROM {table} WHERE id = 99", mode="one")


def test_an_injection_attempt_in_params_stays_a_literal_value(url: str, table: str) -> None:
    evil = INJECTION.format(table=table)
    run_node(
        "sql",
        url=url,
        query=f"INSERT INTO {table} (id, name) VALUES (:id, :name)",
        params={"id": 1, "name": evil},
        mode="execute",
    )
    found = run_node(
        "sql", url=url, query=f"SELECT name FROM {table} WHERE name = :name", params={"name": evil}
    )
    assert found["rows"] == [{"name": evil}]  # stored as text; the table is still there
    assert sql(url=url, query=f"SELECT COUNT(*) FROM {table}", mode="scalar")["value"] == 1


def test_statements_run_in_one_transaction(url: str, table: str) -> None:
    with pytest.raises(StepFailed) as caught:
        run_node(
            "sql",
            url=url,
            statements=[
                {"query": f"INSERT INTO {table} (id, name) VALUES (1, 'kept?')"},
                {"query": f"INSERT INTO {table} (id, name) VALUES (1, 'duplicate key')"},
            ],
        )
    assert caught.value.category == "node_error" and not caught.value.retryable
    assert sql(url=url, query=f"SELECT COUNT(*) FROM {table}", mode="scalar")["value"] == 0


def test_values_json_cannot_carry_are_converted(url: str, files_root: Path) -> None:
    query = {
        "postgresql": "SELECT 12.50::numeric AS price, 7::numeric AS whole, "
        "'0.1234567890123456789'::numeric(30,25) AS exact, TIMESTAMP '2026-01-02 03:04:05' AS at, "
        "DATE '2026-01-02' AS day, '\\x0102'::bytea AS raw, "
        "'6f1c1b7e-5b1a-4d36-9a51-0f3c2f4f4e11'::uuid AS id, INTERVAL '90 seconds' AS span",
        "mysql": "SELECT CAST(12.50 AS DECIMAL(10,2)) AS price, "
        "CAST(7 AS DECIMAL(10,0)) AS whole, "
        "CAST('0.1234567890123456789' AS DECIMAL(30,25)) AS exact, "
        "TIMESTAMP('2026-01-02 03:04:05') AS at, DATE('2026-01-02') AS day, X'0102' AS raw",
        "sqlite": "SELECT 12.5 AS price, 7 AS whole, X'0102' AS raw",
    }[url.split(":")[0]]
    row = sql(url=url, query=query, mode="one")["row"]
    assert row["price"] == 12.5 and row["whole"] == 7 and row["raw"] == "AQI="
    if not url.startswith("sqlite"):
        assert row["exact"] == "0.1234567890123456789000000"  # no float holds it: text
        assert row["at"] == "2026-01-02T03:04:05" and row["day"] == "2026-01-02"
    if url.startswith("postgresql"):
        assert row["id"] == "6f1c1b7e-5b1a-4d36-9a51-0f3c2f4f4e11" and row["span"] == 90.0


@pytest.mark.parametrize("url", [POSTGRES, MARIADB])  # SQLite has no server to stop it
def test_a_statement_past_its_timeout_is_stopped_by_the_server(url: str) -> None:
    slow = "SELECT pg_sleep(5)" if url.startswith("postgresql") else "SELECT SLEEP(5)"
    with pytest.raises(StepFailed) as caught:
        sql(url=url, query=slow, timeout_s=0.5)
    assert caught.value.category == "timeout" and caught.value.retryable, caught.value


def test_errors_name_what_is_wrong_and_never_the_password(files_root: Path) -> None:
    with pytest.raises(StepFailed) as caught:
        sql(url="postgresql://postgres:s3cret-pw@127.0.0.1:1/test", query="SELECT 1")
    assert caught.value.category == "connection" and caught.value.retryable
    assert "s3cret-pw" not in str(caught.value) and "127.0.0.1:1" in str(caught.value)
    with pytest.raises(StepFailed, match="not supported"):
        sql(url="oracle://x@h/db", query="SELECT 1")
    with pytest.raises(StepFailed, match="not a database URL"):
        sql(url="not a url", query="SELECT 1")
    with pytest.raises(StepFailed, match=r"no_such_table"):
        sql(url="sqlite://", query="SELECT * FROM no_such_table")
    with pytest.raises(StepFailed, match="'id'") as missing:
        sql(url="sqlite://", query="SELECT :id")
    assert missing.value.category == "validation"


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.db", "//tmp/x.db"])
def test_sqlite_files_live_in_the_files_root(files_root: Path, path: str) -> None:
    with pytest.raises(StepFailed, match="files root"):
        sql(url=f"sqlite:///{path}", query="SELECT 1")
    sql(url="sqlite:///inside.db", query="CREATE TABLE t (x INTEGER)", mode="execute")
    assert (files_root / "inside.db").is_file()


def test_an_expression_in_the_query_text_is_a_compile_error() -> None:
    def doc(parameters: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "sqlwf",
            "inputs": {"id": {"type": "string"}},
            "nodes": [{"id": "q", "type": "sql", "parameters": {"url": "sqlite://", **parameters}}],
        }

    bad = [
        {"query": "SELECT * FROM t WHERE id = {{ $input.id }}"},
        {"statements": [{"query": "DELETE FROM t WHERE id = '{{ $input.id }}'"}]},
        {"statements": "{{ $input.id }}"},
    ]
    for parameters in bad:
        [error] = compile_workflow(doc(parameters)).errors
        assert error.code == "expression_not_allowed", error
        assert "pass values in 'params'" in error.message and error.path.startswith(
            "/nodes/0/parameters/"
        )
    good = {"query": "SELECT * FROM t WHERE id = :id", "params": {"id": "{{ $input.id }}"}}
    assert compile_workflow(doc(good)).ok


@pytest.mark.ray
def test_a_workflow_reads_postgres_with_the_url_in_a_credential(
    runtime: hub.Client, api: Any
) -> None:
    name = f"warehouse_{uuid.uuid4().hex[:8]}"
    assert api.put(f"/credentials/{name}", json={"value": POSTGRES}).status_code == 204
    table = f"t_{uuid.uuid4().hex[:10]}"
    setup = f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)"
    sql(url=POSTGRES, query=setup, mode="execute")
    try:
        doc = {
            "id": f"sql-{uuid.uuid4().hex[:8]}",
            "inputs": {"name": {"type": "string", "required": True}},
            "nodes": [
                {
                    "id": "store",
                    "type": "sql",
                    "parameters": {
                        "url": f"{{{{ $credential.{name} }}}}",
                        "statements": [
                            {
                                "query": f"INSERT INTO {table} (id, name) VALUES (1, :name)",
                                "params": {"name": "{{ $input.name }}"},
                            }
                        ],
                    },
                },
                {
                    "id": "fetch",
                    "type": "sql",
                    "parameters": {
                        "url": f"{{{{ $credential.{name} }}}}",
                        "query": f"SELECT id, name FROM {table}",
                    },
                },
            ],
            "edges": [{"from": "store", "to": "fetch"}],
        }
        evil = INJECTION.format(table=table)
        final = runtime.run(doc, {"name": evil}, timeout_s=120)
        assert final.status == ExecutionStatus.COMPLETED, final.error
        assert final.outputs["fetch"]["rows"] == [{"id": 1, "name": evil}]
        assert final.outputs["store"]["rowcount"] == 1
    finally:
        sql(url=POSTGRES, query=f"DROP TABLE IF EXISTS {table}", mode="execute")
