"""The published JSON Schemas of tariff and usage documents, and their errors in engine terms."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from submeter.engine.errors import EngineError

TARIFF_SCHEMA = "tariff.schema.json"
USAGE_SCHEMA = "usage.schema.json"

TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


def load_schema(name: str) -> dict[str, Any]:
    """The schema document `name` (`tariff.schema.json` or `usage.schema.json`)."""
    text = files("submeter.engine").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def schema_validator(name: str) -> Any:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def field_path(parts: Iterable[str | int]) -> str:
    """`["versions", 0, "energy"]` -> `versions[0].energy`."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def check_document(document: object, schema_name: str, error: type[EngineError]) -> None:
    """Raise `error` for the most relevant way `document` breaks the schema, if any."""
    best = jsonschema.exceptions.best_match(schema_validator(schema_name).iter_errors(document))
    if best is not None:
        raise engine_error(best, error)


def describe_types(expected: str | list[str]) -> str:
    names = [expected] if isinstance(expected, str) else expected
    return " or ".join(TYPE_WORDS.get(name, name) for name in names)


def engine_error(failure: Any, error: type[EngineError]) -> EngineError:
    """Translate one jsonschema `ValidationError` into an engine error with a field path."""
    path = list(failure.absolute_path)
    field = field_path(path)
    instance = failure.instance
    schema = failure.schema
    kind = failure.validator
    if kind == "required":
        missing = next(name for name in failure.validator_value if name not in instance)
        return error("missing_field", f"{missing} is required", field_path([*path, missing]))
    if kind == "additionalProperties":
        known = schema.get("properties", {})
        extra = next(name for name in instance if name not in known)
        return error("unknown_field", f"unknown field {extra!r}", field_path([*path, extra]))
    if kind == "type":
        expected = failure.validator_value
        wants_string = expected == "string" or (isinstance(expected, list) and "string" in expected)
        is_number = isinstance(instance, int | float) and not isinstance(instance, bool)
        if wants_string and is_number:
            return error(
                "number_not_string",
                f'decimal values are strings such as "{instance}", not JSON numbers',
                field,
            )
        return error("invalid_type", f"must be {describe_types(expected)}", field)
    if kind == "enum":
        choices = ", ".join(str(choice) for choice in failure.validator_value)
        return error("invalid_choice", f"{instance!r} is not one of: {choices}", field)
    if kind == "const":
        return error("invalid_choice", f"must be {failure.validator_value!r}", field)
    if kind == "pattern":
        what = schema.get("description", f"in the form {failure.validator_value}")
        return error(
            schema.get("x-error-code", "invalid_format"), f"{instance!r} is not {what}", field
        )
    if kind in ("minItems", "minProperties"):
        return error("empty", "must not be empty", field)
    if kind in ("minimum", "maximum"):
        return error("out_of_range", failure.message, field)
    if kind == "uniqueItems":
        return error("duplicate_items", "must not repeat an item", field)
    return error("invalid", failure.message, field)
