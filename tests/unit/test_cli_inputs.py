"""Command-line inputs (hub.views.parse_inputs) and ``hub validate`` / usage errors of hub.cli.

Nothing here starts a runtime: ``hub.connect`` is replaced by a function that fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import hub
from hub.cli import main
from hub.views import UsageError, parse_inputs

VALID = {
    "id": "greet",
    "inputs": {"n": {"type": "integer", "required": True, "minimum": 1}},
    "nodes": [{"id": "a", "type": "log", "parameters": {"message": "n={{ $input.n }}"}}],
}
INVALID = {
    "id": "Bad Id",
    "nodes": [
        {"id": "a", "type": "htp", "parameters": {}},
        {"id": "b", "type": "log", "parameters": {"message": "x", "lvl": "info"}},
    ],
    "edges": [{"from": "a", "to": "b", "when": "error"}],
}


@pytest.fixture(autouse=True)
def no_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a unit test tried to connect to a runtime")

    monkeypatch.setattr(hub, "connect", refuse)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # short relative names keep the human output on one line
    (tmp_path / "good.json").write_text(json.dumps(VALID))
    (tmp_path / "bad.json").write_text(json.dumps(INVALID))
    (tmp_path / "broken.json").write_text('{"id": "x", "nodes": [')
    return {"good": "good.json", "bad": "bad.json", "broken": "broken.json"}


# --- parse_inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("n=5", 5),
        ("x=2.5", 2.5),
        ("s=hello", "hello"),
        ('s="5"', "5"),  # quoted JSON stays a string
        ("b=true", True),
        ("z=null", None),
        ('o={"a":1}', {"a": 1}),
        ("l=[1,2]", [1, 2]),
        ("e=", ""),
        ("zip=01234", "01234"),  # not JSON: kept as text, leading zero intact
        ("q=a=b", "a=b"),  # split at the first '='
        ("w=hello world", "hello world"),
    ],
)
def test_each_input_value_is_json_when_it_parses(pair: str, expected: Any) -> None:
    key = pair.split("=", 1)[0]
    assert parse_inputs([pair], None) == {key: expected}


def test_inputs_json_is_merged_and_i_overrides() -> None:
    result = parse_inputs(["n=5", "extra=x"], '{"n": 1, "name": "Ada"}')
    assert result == {"n": 5, "name": "Ada", "extra": "x"}


def test_later_i_wins() -> None:
    assert parse_inputs(["n=1", "n=2"], None) == {"n": 2}


def test_nothing_given() -> None:
    assert parse_inputs([], None) == {}
    assert parse_inputs([], "") == {}


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", '"text"', "3"])
def test_bad_inputs_json_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="--inputs"):
        parse_inputs([], bad)


@pytest.mark.parametrize("pair", ["novalue", "=5"])
def test_malformed_pair_is_a_usage_error(pair: str) -> None:
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_inputs([pair], None)


# --- hub validate ---------------------------------------------------------------------------------


def test_validate_a_valid_file(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", files["good"]]) == 0
    out = capsys.readouterr().out
    assert "valid" in out
    assert "invalid" not in out


def test_validate_an_invalid_file(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", files["bad"]]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "invalid" in out
    assert "/nodes/0/type" in out
    assert "did you mean 'http'?" in out


def test_validate_json_of_a_valid_file(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", files["good"], "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"ok": True, "diagnostics": []}


def test_validate_json_of_an_invalid_file(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", files["bad"], "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"ok", "diagnostics"}
    assert data["ok"] is False
    diagnostics = data["diagnostics"]
    assert diagnostics
    for d in diagnostics:
        assert set(d) == {"severity", "code", "message", "path", "suggestion"}
        assert d["severity"] in ("error", "warning")
    by_code = {d["code"]: d for d in diagnostics}
    assert by_code["unknown_node_type"]["path"] == "/nodes/0/type"
    assert by_code["unknown_node_type"]["suggestion"] == "http"
    assert by_code["bad_parameters"]["suggestion"] == "level"
    assert by_code["invalid_document"]["path"] == "/id"
    assert by_code["bad_port"]["severity"] == "warning"


def test_validate_json_with_only_warnings_is_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = {
        "id": "warn",
        "nodes": [
            {"id": "a", "type": "log", "parameters": {"message": "m"}},
            {"id": "b", "type": "log", "parameters": {"message": "m"}},
        ],
        "edges": [{"from": "a", "to": "b", "when": "error"}],
    }
    path = tmp_path / "warn.json"
    path.write_text(json.dumps(doc))
    assert main(["validate", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert {d["severity"] for d in data["diagnostics"]} == {"warning"}


def test_validate_human_output_shows_codes_and_bracketed_text(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", files["bad"]]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "unknown_node_type" in out
    assert "[a-z0-9][a-z0-9_-]{0,63}" in out


def test_validate_a_file_that_is_not_json(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Not JSON is one more way to be an invalid workflow: diagnostics, exit 1.
    assert main(["validate", files["broken"]]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "broken.json:/: error [invalid_json] not valid JSON:" in out
    assert "(line 1, column 23)" in out
    assert "broken.json is invalid" in out


def test_validate_json_of_a_file_that_is_not_json(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", files["broken"], "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "ok": False,
        "diagnostics": [
            {
                "severity": "error",
                "code": "invalid_json",
                "message": "not valid JSON: Expecting value (line 1, column 23)",
                "path": "",
                "suggestion": None,
            }
        ],
    }
    assert captured.err == ""


def test_validate_a_missing_file(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "missing.json"]) == 2  # a file it cannot read is bad usage
    assert "cannot read workflow file missing.json" in capsys.readouterr().err


def test_validate_json_of_a_missing_file(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "missing.json", "--json"]) == 2
    captured = capsys.readouterr()
    [diagnostic] = json.loads(captured.out)["diagnostics"]
    assert diagnostic["code"] == "unreadable_file"
    assert "missing.json: No such file or directory" in diagnostic["message"]
    assert captured.err.startswith("hub: error: cannot read workflow file missing.json")


# --- usage errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["frobnicate"], [], ["validate"], ["run"], ["ls", "--limit", "many"], ["validate", "--nope"]],
)
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "hub: error:" in capsys.readouterr().err


def test_run_with_bad_inputs_json_exits_2_before_any_runtime(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", files["good"], "--inputs", "{oops"]) == 2
    assert "--inputs is not valid JSON" in capsys.readouterr().err


def test_run_with_invalid_inputs_exits_2_naming_the_field(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", files["good"], "-i", "n=zero"]) == 2
    err = capsys.readouterr().err
    assert "n:" in err
    assert main(["run", files["good"]]) == 2
    assert "n: is required" in capsys.readouterr().err


def test_run_of_an_invalid_workflow_exits_2(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", files["bad"], "-i", "n=1"]) == 2
    err = capsys.readouterr().err
    assert "workflow is invalid" in err
