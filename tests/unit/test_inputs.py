"""hub.inputs: input specs -> JSON Schema, run-input validation and redaction."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hub.errors import InputsInvalid
from hub.inputs import input_schema, redact_inputs, validate_inputs
from hub.model import InputSpec
from hub.redaction import REDACTED

SECRET = "hunter2-very-secret"


def specs_of(raw: dict[str, dict[str, Any]]) -> dict[str, InputSpec]:
    return {name: InputSpec.model_validate(spec) for name, spec in raw.items()}


SPECS = specs_of(
    {
        "n": {"type": "integer", "required": True, "minimum": 1, "maximum": 10},
        "color": {"type": "string", "enum": ["red", "blue"]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "ratio": {"type": "number", "default": 0.5},
        "verbose": {"type": "boolean", "default": False},
        "tags": {"type": "array"},
        "options": {"type": "object"},
        "token": {"type": "string", "secret": True, "pattern": "^tok_"},
        "pin": {"type": "integer", "secret": True, "minimum": 1000},
    }
)


def errors_of(inputs: Any, specs: dict[str, InputSpec] = SPECS) -> list[dict[str, str]]:
    with pytest.raises(InputsInvalid) as info:
        validate_inputs(specs, inputs)
    assert info.value.errors, "InputsInvalid without errors"
    return info.value.errors


# --- defaults -------------------------------------------------------------------------------------


def test_defaults_are_filled_including_falsy_ones() -> None:
    assert validate_inputs(SPECS, {"n": 3}) == {"n": 3, "ratio": 0.5, "verbose": False}


def test_given_values_win_over_defaults() -> None:
    result = validate_inputs(SPECS, {"n": 3, "ratio": 2, "verbose": True})
    assert result == {"n": 3, "ratio": 2, "verbose": True}


def test_the_caller_dict_is_not_modified() -> None:
    given = {"n": 3}
    validate_inputs(SPECS, given)
    assert given == {"n": 3}


def test_no_specs_and_no_inputs() -> None:
    assert validate_inputs({}, {}) == {}


# --- errors ---------------------------------------------------------------------------------------


def test_missing_required_input_names_the_field() -> None:
    errors = errors_of({})
    assert errors == [{"path": "n", "message": "is required"}]


def test_missing_required_message_names_the_field() -> None:
    with pytest.raises(InputsInvalid, match=r"\bn: is required"):
        validate_inputs(SPECS, {})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n", "5"),
        ("n", True),  # a boolean is not an integer
        ("n", 2.5),
        ("ratio", "half"),
        ("verbose", "yes"),
        ("tags", {"a": 1}),
        ("options", [1]),
        ("code", 3),
    ],
)
def test_wrong_type(field: str, value: Any) -> None:
    inputs = {"n": 3, field: value}
    errors = errors_of(inputs)
    assert [e["path"] for e in errors] == [field]
    assert "type" in errors[0]["message"]


@pytest.mark.parametrize(
    ("inputs", "path", "fragment"),
    [
        ({"n": 0}, "n", "minimum"),
        ({"n": 11}, "n", "maximum"),
        ({"n": 3, "color": "green"}, "color", "red"),
        ({"n": 3, "code": "abc"}, "code", "does not match"),
        ({"n": 3, "code": "ABCD"}, "code", "does not match"),
    ],
)
def test_constraints(inputs: dict[str, Any], path: str, fragment: str) -> None:
    errors = errors_of(inputs)
    assert [e["path"] for e in errors] == [path]
    assert fragment in errors[0]["message"]


@pytest.mark.parametrize(
    "inputs", [{"n": 1}, {"n": 10}, {"n": 5, "color": "blue", "code": "ABC", "tags": []}]
)
def test_values_at_the_limits_are_fine(inputs: dict[str, Any]) -> None:
    assert validate_inputs(SPECS, inputs)["n"] == inputs["n"]


def test_one_unknown_input_is_named_with_the_declared_ones() -> None:
    errors = errors_of({"n": 3, "colour": "red"})
    assert len(errors) == 1
    assert errors[0]["path"] == "colour"
    assert "'colour'" in errors[0]["message"]
    assert "color" in errors[0]["message"]  # the declared inputs are listed


def test_several_unknown_inputs_are_all_listed() -> None:
    errors = errors_of({"n": 3, "zz": 1, "yy": 2})
    assert len(errors) == 1
    assert "'yy'" in errors[0]["message"] and "'zz'" in errors[0]["message"]


def test_every_bad_field_is_reported() -> None:
    errors = errors_of({"n": 0, "color": "green", "code": "x"})
    assert sorted(e["path"] for e in errors) == ["code", "color", "n"]


def test_inputs_must_be_an_object() -> None:
    errors = errors_of(["n", 3])
    assert errors[0]["path"] == ""


# --- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs",
    [
        {"n": 3, "token": SECRET},  # pattern
        {"n": 3, "token": 12345678},  # type
        {"n": 3, "pin": 12},  # minimum
        {"n": 3, "pin": SECRET},  # type
    ],
)
def test_secret_values_never_appear_in_errors(inputs: dict[str, Any]) -> None:
    with pytest.raises(InputsInvalid) as info:
        validate_inputs(SPECS, inputs)
    secret_value = str(inputs.get("token", inputs.get("pin")))
    everything = str(info.value) + repr(info.value.errors) + repr(info.value.details)
    assert secret_value not in everything
    field = "token" if "token" in inputs else "pin"
    assert [e["path"] for e in info.value.errors] == [field]


def test_a_valid_secret_passes_through_in_clear_for_the_run() -> None:
    assert validate_inputs(SPECS, {"n": 3, "token": "tok_abc"})["token"] == "tok_abc"


def test_redact_inputs_masks_secrets_only() -> None:
    inputs = {"n": 3, "token": "tok_abc", "pin": 1234, "extra": "kept"}
    assert redact_inputs(SPECS, inputs) == {
        "n": 3,
        "token": REDACTED,
        "pin": REDACTED,
        "extra": "kept",
    }
    assert inputs["token"] == "tok_abc"  # a copy


# --- schema ---------------------------------------------------------------------------------------


def test_input_schema_shape() -> None:
    schema = input_schema(SPECS)
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["n"]
    props = schema["properties"]
    assert set(props) == set(SPECS)
    assert props["n"] == {"type": "integer", "minimum": 1, "maximum": 10}
    assert props["color"] == {"type": "string", "enum": ["red", "blue"]}
    assert props["code"]["pattern"] == "^[A-Z]{3}$"
    assert props["ratio"]["default"] == 0.5
    assert props["verbose"]["default"] is False
    assert props["token"]["writeOnly"] is True
    assert props["pin"]["writeOnly"] is True
    assert "writeOnly" not in props["n"]


def test_input_schema_required_is_sorted_and_descriptions_kept() -> None:
    specs = specs_of(
        {
            "zeta": {"required": True},
            "alpha": {"required": True, "description": "first"},
            "mid": {},
        }
    )
    schema = input_schema(specs)
    assert schema["required"] == ["alpha", "zeta"]
    assert schema["properties"]["alpha"] == {"type": "string", "description": "first"}
    assert schema["properties"]["mid"] == {"type": "string"}  # string is the default type


def test_empty_schema() -> None:
    assert input_schema({}) == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_a_backtracking_pattern_cannot_hold_the_caller() -> None:
    """Regression (issue 13, 4): a workflow's input pattern meets values from whoever starts a
    run; with `re`, (a|a)+$ against 'aaa…!' backtracked for hours inside the API."""
    specs = {"code": InputSpec(type="string", pattern="^(a|a)+$")}
    with pytest.raises(InputsInvalid) as raised:
        validate_inputs(specs, {"code": "a" * 40 + "!"})
    assert "took over" in raised.value.message and "simplify it" in raised.value.message
    assert validate_inputs(specs, {"code": "aaa"}) == {"code": "aaa"}
    with pytest.raises(InputsInvalid, match="does not match"):
        validate_inputs(specs, {"code": "b"})


def test_a_validator_is_made_once_per_schema_and_never_shared_between_schemas() -> None:
    from hub.inputs import _validator

    small = specs_of({"n": {"type": "integer", "maximum": 3}})
    large = specs_of({"n": {"type": "integer", "maximum": 300}})
    validate_inputs(small, {"n": 1})
    made = _validator.cache_info().misses
    assert validate_inputs(small, {"n": 2}) == {"n": 2}
    assert _validator.cache_info().misses == made  # the same validator again
    with pytest.raises(InputsInvalid, match="n: 100 is greater than the maximum of 3"):
        validate_inputs(small, {"n": 100})
    assert validate_inputs(large, {"n": 100}) == {"n": 100}  # its own rules, not small's
