"""The published JSON Schemas and the hand-written hot-path validation agree.

Known, documented differences are kept out of the examples: the parser also rejects impossible
calendar dates (30 February) and NaN/Infinity literals in the JSON text, which a schema cannot
see. The schemas' patterns are applied with ECMA-262 semantics (`$` is the end of the string),
as the JSON Schema specification says; Python's `re.search` would let a trailing newline through.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError, validators

from submeter.protocols import mqtt_payloads as payloads
from submeter.protocols.errors import PayloadError


def ecma_pattern(
    validator: Any, pattern: str, instance: object, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    anchored = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if re.search(anchored, instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


SpecValidator = validators.extend(Draft202012Validator, {"pattern": ecma_pattern})

PARSERS: dict[str, Callable[[str], object]] = {
    "readings": payloads.parse_readings,
    "events": payloads.parse_events,
    "acks": payloads.parse_ack,
    "commands": payloads.parse_command,
}

VALID: dict[str, list[dict[str, Any]]] = {
    "readings": [
        {
            "gateway_id": "gw-0001",
            "message_id": "3f1c2a9e-7a51-4f7e-9a0a-2c1e0b9e6d11",
            "readings": [
                {
                    "meter_address": "123456789012",
                    "timestamp": "2024-05-20T13:15:00+08:00",
                    "registers": {
                        "energy_kwh": "1234.56",
                        "energy_rate1_kwh": "100.00",
                        "energy_rate4_kwh": "0",
                        "voltage_a_v": "220.1",
                        "current_a_a": "5.123",
                        "power_kw": "-1.2345",
                        "power_factor": "0.985",
                    },
                },
                {
                    "meter_address": "00000012345678",
                    "timestamp": "2024-05-20T05:15:00.5Z",
                    "registers": {"water_m3": "1000.10"},
                },
            ],
        }
    ],
    "events": [
        {
            "gateway_id": "gw-0001",
            "message_id": "e-1",
            "events": [
                {"type": "gateway_started", "timestamp": "2024-05-20T13:00:00+08:00"},
                {
                    "type": "relay_opened",
                    "timestamp": "2024-05-20T13:01:00-03:30",
                    "meter_address": "123456789012",
                    "detail": {"cause": "button", "note": ""},
                },
            ],
        }
    ],
    "acks": [
        {
            "gateway_id": "gw-0001",
            "command_id": "cmd-7",
            "meter_address": "123456789012",
            "timestamp": "2024-05-20T13:15:02+08:00",
            "result": "ok",
            "relay_state": "open",
        },
        {
            "gateway_id": "gw-0001",
            "command_id": "cmd-8",
            "meter_address": "00000012345678",
            "timestamp": "2024-05-20T13:15:02+08:00",
            "result": "error",
            "valve_state": "abnormal",
            "error": {"code": "meter_timeout", "message": "no reply after 3 tries"},
        },
    ],
    "commands": [
        {
            "command_id": "cmd-1",
            "meter_address": "123456789012",
            "action": "trip",
            "issued_at": "2024-05-20T13:15:00+08:00",
            "expires_at": "2024-05-20T14:15:00+08:00",
        },
        {
            "command_id": "cmd-2",
            "meter_address": "123456789012",
            "action": "close",
            "issued_at": "2024-05-20T13:15:00+08:00",
            "params": {"mode": "allowed"},
        },
        {
            "command_id": "cmd-3",
            "meter_address": "123456789012",
            "action": "read",
            "issued_at": "2024-05-20T13:15:00+08:00",
            "params": {"registers": ["energy_kwh", "power_kw"]},
        },
        {
            "command_id": "cmd-4",
            "meter_address": "123456789012",
            "action": "set_price",
            "issued_at": "2024-05-20T13:15:00+08:00",
            "params": {"prices": {"rate1": "1.2", "rate3": "0.650000"}},
        },
        {
            "command_id": "cmd-5",
            "meter_address": "123456789012",
            "action": "set_power_limit",
            "issued_at": "2024-05-20T13:15:00+08:00",
            "params": {"power_limit_kw": "0"},
        },
        {
            "command_id": "cmd-6",
            "meter_address": "00000012345678",
            "action": "valve_close",
            "issued_at": "2024-05-20T13:15:00Z",
            "params": {},
        },
    ],
}


def changed(kind: str, index: int, path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    document = copy.deepcopy(VALID[kind][index])
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


DELETE = object()

INVALID: list[tuple[str, dict[str, Any]]] = [
    ("readings", changed("readings", 0, ("gateway_id",), DELETE)),
    ("readings", changed("readings", 0, ("readings",), [])),
    ("readings", changed("readings", 0, ("readings", 0, "registers", "energy_kwh"), 1234.56)),
    ("readings", changed("readings", 0, ("readings", 0, "registers", "energy_kwh"), "-1")),
    ("readings", changed("readings", 0, ("readings", 0, "registers", "energy_kwh"), "NaN")),
    ("readings", changed("readings", 0, ("readings", 0, "registers", "power_kw"), "1e3")),
    ("readings", changed("readings", 0, ("readings", 0, "registers", "power_kw"), "1.1234567")),
    ("readings", changed("readings", 0, ("readings", 0, "registers", "kwh"), "1")),
    ("readings", changed("readings", 0, ("readings", 0, "registers"), {})),
    ("readings", changed("readings", 0, ("readings", 0, "timestamp"), "2024-05-20T13:15:00")),
    ("readings", changed("readings", 0, ("readings", 0, "timestamp"), "2024-05-20 13:15:00Z")),
    ("readings", changed("readings", 0, ("readings", 0, "timestamp"), 1716182100)),
    ("readings", changed("readings", 0, ("readings", 0, "meter_address"), "")),
    ("readings", changed("readings", 0, ("readings", 0, "meter_address"), "a" * 65)),
    ("readings", changed("readings", 0, ("readings", 0, "extra"), "x")),
    (
        "readings",
        changed("readings", 0, ("readings",), [VALID["readings"][0]["readings"][0]] * 101),
    ),
    ("events", changed("events", 0, ("events", 0, "type"), "exploded")),
    ("events", changed("events", 0, ("events", 1, "detail"), {"cause": 5})),
    ("events", changed("events", 0, ("events", 1, "detail"), {str(n): "" for n in range(17)})),
    ("events", changed("events", 0, ("events", 1, "meter_address"), None)),
    ("acks", changed("acks", 0, ("result",), "maybe")),
    ("acks", changed("acks", 0, ("error",), {"code": "x", "message": "y"})),
    ("acks", changed("acks", 1, ("error",), DELETE)),
    ("acks", changed("acks", 1, ("error", "code"), "Timeout")),
    ("acks", changed("acks", 0, ("relay_state",), "half")),
    ("commands", changed("commands", 0, ("action",), "explode")),
    ("commands", changed("commands", 0, ("params",), {"mode": "direct"})),
    ("commands", changed("commands", 1, ("params", "mode"), "later")),
    ("commands", changed("commands", 2, ("params", "registers"), [])),
    ("commands", changed("commands", 2, ("params", "registers"), ["power_kw", "power_kw"])),
    ("commands", changed("commands", 3, ("params", "prices"), {"rate9": "1"})),
    ("commands", changed("commands", 3, ("params", "prices"), {"rate1": 1.2})),
    ("commands", changed("commands", 3, ("params",), DELETE)),
    ("commands", changed("commands", 4, ("params", "power_limit_kw"), "-1")),
    ("commands", changed("commands", 5, ("params",), "none")),
    ("commands", changed("commands", 5, ("issued_at",), DELETE)),
]


def hand_accepts(kind: str, document: object) -> bool:
    try:
        PARSERS[kind](json.dumps(document))
    except PayloadError:
        return False
    return True


SCHEMA_VALIDATORS = {kind: SpecValidator(payloads.load_schema(kind)) for kind in PARSERS}


def schema_accepts(kind: str, document: object) -> bool:
    return bool(SCHEMA_VALIDATORS[kind].is_valid(document))


@pytest.mark.parametrize("schema_name", sorted(payloads.SCHEMA_FILES))
def test_schema_file_is_a_valid_json_schema(schema_name: str) -> None:
    Draft202012Validator.check_schema(payloads.load_schema(schema_name))


@pytest.mark.parametrize(
    ("kind", "document"),
    [(kind, document) for kind, documents in VALID.items() for document in documents],
)
def test_valid_examples_pass_both_checks(kind: str, document: dict[str, Any]) -> None:
    assert hand_accepts(kind, document)
    assert schema_accepts(kind, document)


@pytest.mark.parametrize(("kind", "document"), INVALID)
def test_invalid_examples_fail_both_checks(kind: str, document: dict[str, Any]) -> None:
    assert not hand_accepts(kind, document)
    assert not schema_accepts(kind, document)


TRICKY_VALUES = st.sampled_from(
    [
        "1234.56",
        "0",
        "-1.5",
        "1e5",
        "NaN",
        "",
        " 1",
        "1\n",
        "2024-05-20T13:15:00+08:00",
        "2024-05-20T13:15:00",
        "ok",
        "error",
        "trip",
        "close",
        "open",
        "rate1",
        "energy_kwh",
        "gw-0001",
        "a/b",
    ]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | TRICKY_VALUES,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8) | TRICKY_VALUES, children, max_size=3)
    ),
    max_leaves=8,
)


def field_paths(value: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += field_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += field_paths(child, (*prefix, index))
    return paths


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[str, object]:
    kind = draw(st.sampled_from(sorted(VALID)))
    index = draw(st.integers(0, len(VALID[kind]) - 1))
    paths = field_paths(VALID[kind][index])
    path = draw(st.sampled_from(paths))
    value = draw(st.just(DELETE) | JSON_VALUES)
    document = changed(kind, index, path, value)
    if draw(st.booleans()):
        extra_key = draw(st.text(max_size=8) | TRICKY_VALUES)
        document.setdefault(extra_key, draw(JSON_VALUES))
    return kind, document


@settings(max_examples=400, deadline=None)
@given(mutated_documents())
def test_hand_validation_and_schema_agree_on_mutated_documents(
    case: tuple[str, object],
) -> None:
    kind, document = case
    assert hand_accepts(kind, document) == schema_accepts(kind, document)
