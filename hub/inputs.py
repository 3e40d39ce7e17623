"""Workflow inputs: field specs become a JSON Schema; runs are validated against it."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import regex
from jsonschema import Draft202012Validator, ValidationError, validators

from hub.errors import InputsInvalid, InvalidRequest
from hub.model import InputSpec
from hub.redaction import REDACTED


def input_schema(specs: dict[str, InputSpec]) -> dict[str, Any]:
    """The JSON Schema that forms are generated from and runs are validated against."""
    properties: dict[str, Any] = {}
    for name, spec in specs.items():
        prop: dict[str, Any] = {"type": spec.type.value}
        for key in ("description", "enum", "minimum", "maximum", "pattern", "default"):
            value = getattr(spec, key)
            if value is not None:
                prop[key] = value
        if spec.secret:
            prop["writeOnly"] = True
            prop["format"] = "password"
        properties[name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(n for n, s in specs.items() if s.required),
        "additionalProperties": False,
    }


def check_saved_inputs(specs: dict[str, InputSpec], inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs fit to be saved for later runs: never a secret (they are not stored), each given
    one valid, required ones may be left to the run."""
    secret = sorted(k for k in inputs if k in specs and specs[k].secret)
    if secret:
        raise InvalidRequest(
            f"secret inputs are never stored: {', '.join(secret)}; pass them when you start "
            "the run",
            details={"errors": [{"path": f"/inputs/{k}", "message": "secret"} for k in secret]},
        )
    optional = {k: s.model_copy(update={"required": False}) for k, s in specs.items()}
    validate_inputs(optional, inputs)
    return inputs


PATTERN_TIMEOUT_S = 0.5
"""The longest an input's ``pattern`` may take to match one value: a workflow's pattern meets
values from whoever starts a run, and a backtracking one ((a+)+$) must not hold the caller."""


def _bounded_pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = regex.search(pattern, instance, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        yield ValidationError(
            f"the pattern {pattern!r} took over {PATTERN_TIMEOUT_S:g}s to check this value "
            "(a pattern that backtracks this much cannot be checked; simplify it)"
        )
        return
    except regex.error as exc:
        yield ValidationError(f"the pattern {pattern!r} is not a valid regular expression: {exc}")
        return
    if found is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


InputValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _bounded_pattern}
)


@functools.lru_cache(maxsize=256)
def _validator(schema: str) -> Any:
    """A validator for a schema (as sorted JSON): made once per workflow's inputs, not once per
    run (making one costs more than validating most runs' inputs with it)."""
    return InputValidator(json.loads(schema))


def validate_inputs(specs: dict[str, InputSpec], inputs: Any) -> dict[str, Any]:
    """Fill defaults and validate; raises InputsInvalid naming every bad field."""
    if not isinstance(inputs, dict):
        raise InputsInvalid(
            f"inputs must be a JSON object, got {type(inputs).__name__}",
            errors=[{"path": "", "message": "must be an object"}],
        )
    if not specs and not inputs:
        return {}  # nothing declared, nothing given: what the schema would say, at no cost
    filled = {
        name: spec.default
        for name, spec in specs.items()
        if spec.default is not None and name not in inputs
    }
    filled.update(inputs)
    schema = input_schema(specs)
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except (TypeError, ValueError):  # a value JSON cannot hold: validated without the cache
        validator = InputValidator(schema)
    errors = []
    for err in sorted(validator.iter_errors(filled), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in err.absolute_path)
        message = err.message
        if err.validator == "additionalProperties":
            extra = sorted(set(filled) - set(specs))
            path = extra[0] if len(extra) == 1 else path
            known = ", ".join(sorted(specs)) or "none"
            message = f"unknown input(s) {', '.join(map(repr, extra))}; declared inputs: {known}"
        elif err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else ""
            path = f"{path}/{missing}".strip("/")
            message = "is required"
        elif any(specs.get(str(p), InputSpec()).secret for p in err.absolute_path):
            message = f"invalid value ({err.validator} check failed)"  # never echo a secret
        errors.append({"path": path, "message": message})
    if errors:
        detail = "; ".join(f"{e['path'] or 'inputs'}: {e['message']}" for e in errors)
        raise InputsInvalid(f"invalid inputs: {detail}", errors=errors)
    return filled


def secret_values(specs: dict[str, InputSpec], inputs: dict[str, Any]) -> list[Any]:
    """The values of secret inputs, to redact from anything stored or shown (hub.redaction)."""
    return [inputs[k] for k, s in specs.items() if s.secret and inputs.get(k) not in (None, "")]


def redact_inputs(specs: dict[str, InputSpec], inputs: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to store or show: secret inputs replaced by ``***``."""
    return {k: REDACTED if k in specs and specs[k].secret else v for k, v in inputs.items()}
