"""MQTT JSON payloads: readings, events and acknowledgements up, commands down.

Register values, prices and limits are **decimal strings** (`"1234.56"`), never JSON numbers:
they stay exact from the meter to the ledger. Timestamps are ISO 8601 with a zone offset or
`Z`. The published JSON Schemas (`mqtt_*.schema.json`, see `load_schema`) describe the same
rules; the parsers here check them by hand because running a schema validator per message is
too slow for ingest. They also check what a schema cannot: calendar dates (`02-30`) and
NaN/Infinity literals in the JSON text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Any, NoReturn, TypeVar

from submeter.protocols.cjt188 import ValveState
from submeter.protocols.errors import InvalidValue, PayloadError
from submeter.protocols.mqtt_topics import IDENTIFIER_PATTERN

MAX_READINGS_PER_MESSAGE = 100
MAX_EVENTS_PER_MESSAGE = 100
MAX_DETAIL_ENTRIES = 16
MAX_TEXT_LENGTH = 256

TIMESTAMP_PATTERN = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
UNSIGNED_DECIMAL_PATTERN = re.compile(r"[0-9]{1,15}(\.[0-9]{1,6})?")
SIGNED_DECIMAL_PATTERN = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?")
ERROR_CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")

RATE_COUNT = 8

CUMULATIVE_REGISTERS = frozenset(
    {"energy_kwh", "reverse_energy_kwh", "water_m3"}
    | {f"energy_rate{rate}_kwh" for rate in range(1, RATE_COUNT + 1)}
)
"""Registers that only grow; their values are unsigned decimal strings."""
INSTANTANEOUS_REGISTERS = frozenset(
    {
        "voltage_a_v",
        "voltage_b_v",
        "voltage_c_v",
        "current_a_a",
        "current_b_a",
        "current_c_a",
        "power_kw",
        "power_factor",
        "remaining_money_cny",
    }
)
"""Values at one moment; they may be negative."""
REGISTER_NAMES = CUMULATIVE_REGISTERS | INSTANTANEOUS_REGISTERS

_REGISTER_PATTERNS = {
    **dict.fromkeys(CUMULATIVE_REGISTERS, UNSIGNED_DECIMAL_PATTERN),
    **dict.fromkeys(INSTANTANEOUS_REGISTERS, SIGNED_DECIMAL_PATTERN),
}
PRICE_RATES = frozenset(f"rate{rate}" for rate in range(1, RATE_COUNT + 1))


class EventType(StrEnum):
    RELAY_OPENED = "relay_opened"
    RELAY_CLOSED = "relay_closed"
    PROTECT_SET = "protect_set"
    PROTECT_CLEARED = "protect_cleared"
    VALVE_OPENED = "valve_opened"
    VALVE_CLOSED = "valve_closed"
    METER_OFFLINE = "meter_offline"
    METER_ONLINE = "meter_online"
    POWER_LOST = "power_lost"
    POWER_RESTORED = "power_restored"
    COVER_OPENED = "cover_opened"
    MAGNETIC_INTERFERENCE = "magnetic_interference"
    LOW_BATTERY = "low_battery"
    CLOCK_ERROR = "clock_error"
    GATEWAY_STARTED = "gateway_started"


class AckResult(StrEnum):
    OK = "ok"
    ERROR = "error"


class RelayState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class CommandAction(StrEnum):
    TRIP = "trip"
    CLOSE = "close"
    PROTECT = "protect"
    UNPROTECT = "unprotect"
    VALVE_OPEN = "valve_open"
    VALVE_CLOSE = "valve_close"
    READ = "read"
    SET_PRICE = "set_price"
    SET_POWER_LIMIT = "set_power_limit"


class CloseMode(StrEnum):
    DIRECT = "direct"
    """Close the relay at once (DL/T 645 1CH N1 = 1C)."""
    ALLOWED = "allowed"
    """Allow the tenant to close it with the button or card (N1 = 1B)."""


@dataclass(frozen=True, slots=True)
class MeterReading:
    meter_address: str
    timestamp: datetime
    registers: Mapping[str, Decimal | str]


@dataclass(frozen=True, slots=True)
class ReadingsMessage:
    gateway_id: str
    message_id: str
    readings: tuple[MeterReading, ...]


@dataclass(frozen=True, slots=True)
class MeterEvent:
    event_type: EventType
    timestamp: datetime
    meter_address: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventsMessage:
    gateway_id: str
    message_id: str
    events: tuple[MeterEvent, ...]


@dataclass(frozen=True, slots=True)
class CommandAck:
    """The gateway's answer to one command. `error_code` and `error_message` are set exactly
    when `result` is ERROR."""

    gateway_id: str
    command_id: str
    meter_address: str
    timestamp: datetime
    result: AckResult
    relay_state: RelayState | None = None
    valve_state: ValveState | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """One command down to a gateway. Only the parameters of `action` are set:
    `close_mode` for CLOSE, `registers` for READ (None = all), `prices` (CNY per kWh or m³,
    by rate1…rate8) for SET_PRICE, `power_limit_kw` (0 = no limit) for SET_POWER_LIMIT."""

    command_id: str
    meter_address: str
    action: CommandAction
    issued_at: datetime
    expires_at: datetime | None = None
    close_mode: CloseMode | None = None
    registers: tuple[str, ...] | None = None
    prices: Mapping[str, Decimal] | None = None
    power_limit_kw: Decimal | None = None


SCHEMA_FILES = {
    "readings": "mqtt_readings.schema.json",
    "events": "mqtt_events.schema.json",
    "acks": "mqtt_acks.schema.json",
    "commands": "mqtt_commands.schema.json",
}


def load_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema for `readings`, `events`, `acks` or `commands`."""
    text = resources.files("submeter.protocols").joinpath(SCHEMA_FILES[name]).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


# --- Parsing ------------------------------------------------------------------------------


def _fail(path: str, message: str) -> NoReturn:
    raise PayloadError(path, message)


def _reject_constant(name: str) -> NoReturn:
    _fail("", f"{name} is not allowed in JSON payloads")


def _load_json(payload: bytes | str) -> object:
    try:
        return json.loads(payload, parse_constant=_reject_constant)
    except PayloadError:
        raise
    except (ValueError, RecursionError) as exc:
        _fail("", f"not valid JSON: {exc}")


def _check_keys(
    document: object, path: str, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if type(document) is not dict:
        _fail(path, "must be a JSON object")
    keys = document.keys()
    if keys == required:
        return document
    missing = required - keys
    if missing:
        _fail(_join(path, sorted(missing)[0]), "is required")
    unknown = keys - required - optional
    if unknown:
        _fail(_join(path, sorted(unknown)[0]), "is not an allowed field")
    return document


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _identifier(value: object, path: str) -> str:
    if type(value) is not str:
        _fail(path, "must be a string")
    if IDENTIFIER_PATTERN.fullmatch(value) is None:
        _fail(path, "must be 1–64 characters of A–Z, a–z, 0–9, _ . : - (starting alphanumeric)")
    return value


def _timestamp(value: object, path: str) -> datetime:
    if type(value) is not str:
        _fail(path, "must be an ISO 8601 string")
    if TIMESTAMP_PATTERN.fullmatch(value) is None:
        if TIMESTAMP_PATTERN.fullmatch(value + "Z") is not None:
            _fail(path, "needs a time zone offset (+08:00) or Z")
        _fail(path, "must look like 2024-05-20T13:14:15+08:00")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        _fail(path, f"is not a real date and time: {exc}")


def _decimal(value: object, path: str, pattern: re.Pattern[str]) -> Decimal:
    if type(value) is not str:
        _fail(path, 'must be a decimal string such as "1234.56", not a JSON number')
    if pattern.fullmatch(value) is None:
        sign = "" if pattern is UNSIGNED_DECIMAL_PATTERN else "an optional minus, "
        _fail(path, f"must be {sign}up to 15 digits and up to 6 decimals (got {value!r})")
    return Decimal(value)


def _text(value: object, path: str) -> str:
    if type(value) is not str:
        _fail(path, "must be a string")
    if len(value) > MAX_TEXT_LENGTH:
        _fail(path, f"is longer than {MAX_TEXT_LENGTH} characters")
    return value


EnumT = TypeVar("EnumT", bound=StrEnum)


def _choice(value: object, path: str, choices: type[EnumT]) -> EnumT:
    if type(value) is str:
        try:
            return choices(value)
        except ValueError:
            pass
    _fail(path, f"must be one of {', '.join(choice.value for choice in choices)}")


def _array(value: object, path: str, max_items: int) -> list[Any]:
    if type(value) is not list:
        _fail(path, "must be a JSON array")
    if not 1 <= len(value) <= max_items:
        _fail(path, f"must hold 1 to {max_items} items, not {len(value)}")
    return value


_MESSAGE_KEYS = frozenset({"gateway_id", "message_id"})
_READINGS_KEYS = _MESSAGE_KEYS | {"readings"}
_READING_KEYS = frozenset({"meter_address", "timestamp", "registers"})


def parse_readings(payload: bytes | str, *, registers_as_text: bool = False) -> ReadingsMessage:
    """An `up/readings` payload → ReadingsMessage; raises PayloadError naming the bad field.

    With `registers_as_text` the register values stay the checked decimal strings of the
    payload (exact; ingest converts them once, straight to its stored integers)."""
    document = _check_keys(_load_json(payload), "", _READINGS_KEYS)
    items = _array(document["readings"], "readings", MAX_READINGS_PER_MESSAGE)
    timestamps: dict[str, datetime] = {}
    return ReadingsMessage(
        gateway_id=_identifier(document["gateway_id"], "gateway_id"),
        message_id=_identifier(document["message_id"], "message_id"),
        readings=tuple(
            _parse_reading(item, index, timestamps, registers_as_text)
            for index, item in enumerate(items)
        ),
    )


def _parse_reading(
    item: object, index: int, timestamps: dict[str, datetime], registers_as_text: bool
) -> MeterReading:
    """One reading. `timestamps` caches parsed times: a gateway often sends one time for all."""
    if type(item) is not dict or item.keys() != _READING_KEYS:
        item = _check_keys(item, f"readings[{index}]", _READING_KEYS)
    text = item["timestamp"]
    timestamp = timestamps.get(text) if type(text) is str else None
    if timestamp is None:
        timestamp = _timestamp(text, f"readings[{index}].timestamp")
        timestamps[text] = timestamp
    return MeterReading(
        _identifier(item["meter_address"], f"readings[{index}].meter_address"),
        timestamp,
        _parse_registers(item["registers"], index, registers_as_text),
    )


_VALUE_SEPARATOR = "\x1f"
_REGISTER_VALUES_PATTERN = re.compile(
    r"-?[0-9]{1,15}(?:\.[0-9]{1,6})?(?:\x1f-?[0-9]{1,15}(?:\.[0-9]{1,6})?)*"
)


def _parse_registers(
    registers: object, index: int, as_text: bool = False
) -> Mapping[str, Decimal | str]:
    """Fast path: check all values with one regex over the joined strings; anything unusual
    falls back to checking register by register, which names the bad one."""
    if type(registers) is dict and registers and registers.keys() <= REGISTER_NAMES:
        texts = registers.values()
        try:
            joined = _VALUE_SEPARATOR.join(texts)
        except TypeError:
            joined = ""
        if (
            joined.count(_VALUE_SEPARATOR) == len(registers) - 1
            and _REGISTER_VALUES_PATTERN.fullmatch(joined) is not None
            and ("-" not in joined or not _negative_cumulative(registers))
        ):
            return registers if as_text else dict(zip(registers, map(Decimal, texts), strict=True))
    values = _parse_registers_one_by_one(registers, f"readings[{index}].registers")
    return registers if as_text and type(registers) is dict else values


def _negative_cumulative(registers: dict[str, str]) -> bool:
    return any(registers[name][0] == "-" for name in registers.keys() & CUMULATIVE_REGISTERS)


def _parse_registers_one_by_one(registers: object, path: str) -> dict[str, Decimal]:
    if type(registers) is not dict or not registers:
        _fail(path, "must be a non-empty JSON object")
    values: dict[str, Decimal] = {}
    for name, text in registers.items():
        pattern = _REGISTER_PATTERNS.get(name)
        if pattern is None:
            _fail(f"{path}.{name}", "is not a known register")
        values[name] = _decimal(text, f"{path}.{name}", pattern)
    return values


_EVENTS_KEYS = _MESSAGE_KEYS | {"events"}
_EVENT_KEYS = frozenset({"type", "timestamp"})
_EVENT_OPTIONAL_KEYS = frozenset({"meter_address", "detail"})


def parse_events(payload: bytes | str) -> EventsMessage:
    document = _check_keys(_load_json(payload), "", _EVENTS_KEYS)
    items = _array(document["events"], "events", MAX_EVENTS_PER_MESSAGE)
    return EventsMessage(
        gateway_id=_identifier(document["gateway_id"], "gateway_id"),
        message_id=_identifier(document["message_id"], "message_id"),
        events=tuple(_parse_event(item, f"events[{index}]") for index, item in enumerate(items)),
    )


def _parse_event(item: object, path: str) -> MeterEvent:
    event = _check_keys(item, path, _EVENT_KEYS, _EVENT_OPTIONAL_KEYS)
    meter_address = None
    if "meter_address" in event:
        meter_address = _identifier(event["meter_address"], f"{path}.meter_address")
    detail: dict[str, str] = {}
    if "detail" in event:
        raw_detail = event["detail"]
        if type(raw_detail) is not dict:
            _fail(f"{path}.detail", "must be a JSON object of strings")
        if len(raw_detail) > MAX_DETAIL_ENTRIES:
            _fail(f"{path}.detail", f"holds more than {MAX_DETAIL_ENTRIES} entries")
        detail = {key: _text(value, f"{path}.detail.{key}") for key, value in raw_detail.items()}
    return MeterEvent(
        event_type=_choice(event["type"], f"{path}.type", EventType),
        timestamp=_timestamp(event["timestamp"], f"{path}.timestamp"),
        meter_address=meter_address,
        detail=detail,
    )


_ACK_KEYS = frozenset({"gateway_id", "command_id", "meter_address", "timestamp", "result"})
_ACK_OPTIONAL_KEYS = frozenset({"relay_state", "valve_state", "error"})
_ERROR_KEYS = frozenset({"code", "message"})


def parse_ack(payload: bytes | str) -> CommandAck:
    document = _check_keys(_load_json(payload), "", _ACK_KEYS, _ACK_OPTIONAL_KEYS)
    result = _choice(document["result"], "result", AckResult)
    error_code = error_message = None
    if result is AckResult.ERROR:
        if "error" not in document:
            _fail("error", "is required when result is error")
        error = _check_keys(document["error"], "error", _ERROR_KEYS)
        error_code = error["code"]
        if type(error_code) is not str or ERROR_CODE_PATTERN.fullmatch(error_code) is None:
            _fail("error.code", "must be a lower-case identifier such as meter_timeout")
        error_message = _text(error["message"], "error.message")
    elif "error" in document:
        _fail("error", "is only allowed when result is error")
    relay_state = valve_state = None
    if "relay_state" in document:
        relay_state = _choice(document["relay_state"], "relay_state", RelayState)
    if "valve_state" in document:
        valve_state = _choice(document["valve_state"], "valve_state", ValveState)
    return CommandAck(
        gateway_id=_identifier(document["gateway_id"], "gateway_id"),
        command_id=_identifier(document["command_id"], "command_id"),
        meter_address=_identifier(document["meter_address"], "meter_address"),
        timestamp=_timestamp(document["timestamp"], "timestamp"),
        result=result,
        relay_state=relay_state,
        valve_state=valve_state,
        error_code=error_code,
        error_message=error_message,
    )


_COMMAND_KEYS = frozenset({"command_id", "meter_address", "action", "issued_at"})
_COMMAND_OPTIONAL_KEYS = frozenset({"expires_at", "params"})
_PARAMS_BY_ACTION: dict[CommandAction, tuple[frozenset[str], frozenset[str]]] = {
    CommandAction.CLOSE: (frozenset(), frozenset({"mode"})),
    CommandAction.READ: (frozenset(), frozenset({"registers"})),
    CommandAction.SET_PRICE: (frozenset({"prices"}), frozenset()),
    CommandAction.SET_POWER_LIMIT: (frozenset({"power_limit_kw"}), frozenset()),
}
_NO_PARAMS: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def parse_command(payload: bytes | str) -> Command:
    document = _check_keys(_load_json(payload), "", _COMMAND_KEYS, _COMMAND_OPTIONAL_KEYS)
    action = _choice(document["action"], "action", CommandAction)
    required, optional = _PARAMS_BY_ACTION.get(action, _NO_PARAMS)
    params = _check_keys(document.get("params", {}), "params", required, optional)
    expires_at = None
    if "expires_at" in document:
        expires_at = _timestamp(document["expires_at"], "expires_at")
    close_mode = registers = prices = power_limit_kw = None
    if action is CommandAction.CLOSE:
        close_mode = _choice(params.get("mode", "direct"), "params.mode", CloseMode)
    elif action is CommandAction.READ and "registers" in params:
        registers = _register_list(params["registers"], "params.registers")
    elif action is CommandAction.SET_PRICE:
        prices = _prices(params["prices"], "params.prices")
    elif action is CommandAction.SET_POWER_LIMIT:
        power_limit_kw = _decimal(
            params["power_limit_kw"], "params.power_limit_kw", UNSIGNED_DECIMAL_PATTERN
        )
    return Command(
        command_id=_identifier(document["command_id"], "command_id"),
        meter_address=_identifier(document["meter_address"], "meter_address"),
        action=action,
        issued_at=_timestamp(document["issued_at"], "issued_at"),
        expires_at=expires_at,
        close_mode=close_mode,
        registers=registers,
        prices=prices,
        power_limit_kw=power_limit_kw,
    )


def _register_list(value: object, path: str) -> tuple[str, ...]:
    names = _array(value, path, len(REGISTER_NAMES))
    for index, name in enumerate(names):
        if type(name) is not str or name not in REGISTER_NAMES:
            _fail(f"{path}[{index}]", "is not a known register")
    if len(set(names)) != len(names):
        _fail(path, "lists a register twice")
    return tuple(names)


def _prices(value: object, path: str) -> dict[str, Decimal]:
    if type(value) is not dict or not value:
        _fail(path, "must be a non-empty JSON object of rate1…rate8 prices")
    prices: dict[str, Decimal] = {}
    for rate, price in value.items():
        if rate not in PRICE_RATES:
            _fail(_join(path, rate), "is not a rate (rate1…rate8)")
        prices[rate] = _decimal(price, _join(path, rate), UNSIGNED_DECIMAL_PATTERN)
    return prices


# --- Encoding -----------------------------------------------------------------------------


def _decimal_text(value: Decimal | str, pattern: re.Pattern[str], what: str) -> str:
    if isinstance(value, str):
        value = Decimal(value)
    if not value.is_finite():
        raise InvalidValue(f"{what}: {value} is not a finite number")
    text = format(value, "f")
    if text.startswith("-") and value == 0:
        text = text[1:]
    if pattern.fullmatch(text) is None:
        raise InvalidValue(f"{what}: {text} does not fit the payload's decimal format")
    return text


def _timestamp_text(value: datetime, what: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(f"{what}: {value.isoformat()} has no time zone")
    return value.isoformat()


def _register_pattern(name: str) -> re.Pattern[str]:
    pattern = _REGISTER_PATTERNS.get(name)
    if pattern is None:
        raise InvalidValue(f"{name} is not a known register")
    return pattern


def _dump(document: Mapping[str, object]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def readings_document(message: ReadingsMessage) -> dict[str, object]:
    return {
        "gateway_id": message.gateway_id,
        "message_id": message.message_id,
        "readings": [
            {
                "meter_address": reading.meter_address,
                "timestamp": _timestamp_text(reading.timestamp, "timestamp"),
                "registers": {
                    name: _decimal_text(value, _register_pattern(name), name)
                    for name, value in reading.registers.items()
                },
            }
            for reading in message.readings
        ],
    }


def encode_readings(message: ReadingsMessage) -> bytes:
    return _dump(readings_document(message))


def events_document(message: EventsMessage) -> dict[str, object]:
    events: list[dict[str, object]] = []
    for event in message.events:
        item: dict[str, object] = {
            "type": str(event.event_type),
            "timestamp": _timestamp_text(event.timestamp, "timestamp"),
        }
        if event.meter_address is not None:
            item["meter_address"] = event.meter_address
        if event.detail:
            item["detail"] = dict(event.detail)
        events.append(item)
    return {"gateway_id": message.gateway_id, "message_id": message.message_id, "events": events}


def encode_events(message: EventsMessage) -> bytes:
    return _dump(events_document(message))


def ack_document(ack: CommandAck) -> dict[str, object]:
    document: dict[str, object] = {
        "gateway_id": ack.gateway_id,
        "command_id": ack.command_id,
        "meter_address": ack.meter_address,
        "timestamp": _timestamp_text(ack.timestamp, "timestamp"),
        "result": str(ack.result),
    }
    if ack.relay_state is not None:
        document["relay_state"] = str(ack.relay_state)
    if ack.valve_state is not None:
        document["valve_state"] = str(ack.valve_state)
    if ack.result is AckResult.ERROR:
        if ack.error_code is None or ERROR_CODE_PATTERN.fullmatch(ack.error_code) is None:
            raise InvalidValue(f"an error ack needs an error code, not {ack.error_code!r}")
        document["error"] = {"code": ack.error_code, "message": ack.error_message or ""}
    return document


def encode_ack(ack: CommandAck) -> bytes:
    return _dump(ack_document(ack))


def command_document(command: Command) -> dict[str, object]:
    document: dict[str, object] = {
        "command_id": command.command_id,
        "meter_address": command.meter_address,
        "action": str(command.action),
        "issued_at": _timestamp_text(command.issued_at, "issued_at"),
    }
    if command.expires_at is not None:
        document["expires_at"] = _timestamp_text(command.expires_at, "expires_at")
    params: dict[str, object] = {}
    if command.action is CommandAction.CLOSE:
        params["mode"] = str(command.close_mode or CloseMode.DIRECT)
    elif command.action is CommandAction.READ and command.registers is not None:
        params["registers"] = list(command.registers)
    elif command.action is CommandAction.SET_PRICE:
        params["prices"] = {
            rate: _decimal_text(price, UNSIGNED_DECIMAL_PATTERN, f"prices.{rate}")
            for rate, price in (command.prices or {}).items()
        }
    elif command.action is CommandAction.SET_POWER_LIMIT:
        if command.power_limit_kw is None:
            raise InvalidValue("set_power_limit needs power_limit_kw")
        params["power_limit_kw"] = _decimal_text(
            command.power_limit_kw, UNSIGNED_DECIMAL_PATTERN, "power_limit_kw"
        )
    if params:
        document["params"] = params
    return document


def encode_command(command: Command) -> bytes:
    return _dump(command_document(command))


PARSERS: Mapping[str, Callable[[bytes | str], object]] = {
    "readings": parse_readings,
    "events": parse_events,
    "acks": parse_ack,
    "commands": parse_command,
}
"""Parser per payload kind (the keys of SCHEMA_FILES)."""
