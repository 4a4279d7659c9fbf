"""`submeter frame`: decode and build DL/T 645 and CJ/T 188 frames from the command line.

    submeter frame decode --protocol dlt645 "68 12 90 78 56 34 12 68 91 08 33 33 34 33 89 67 45 33 54 16"
    submeter frame encode --protocol dlt645 read --address 123456789012 --di 00010000
    submeter frame encode --protocol cjt188 valve --address 00000012345678 --action close

`decode` prints JSON. A frame that cannot be decoded, or an error reply from the meter, exits
with 1 and carries an `error` object.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from submeter.protocols import cjt188, dlt645
from submeter.protocols.errors import ChecksumError, MeterErrorReply, ProtocolError

PROTOCOLS = ("dlt645", "cjt188")
DEFAULT_METER_TIME_ZONE = "Asia/Shanghai"
DEFAULT_RELAY_VALIDITY = timedelta(days=1)

RELAY_ACTIONS = {
    "trip": dlt645.RelayAction.TRIP,
    "close-allowed": dlt645.RelayAction.CLOSE_ALLOWED,
    "close-directly": dlt645.RelayAction.CLOSE_DIRECTLY,
    "alarm": dlt645.RelayAction.ALARM,
    "alarm-release": dlt645.RelayAction.ALARM_RELEASE,
    "protect": dlt645.RelayAction.PROTECT,
    "protect-release": dlt645.RelayAction.PROTECT_RELEASE,
}
VALVE_ACTIONS = {
    "open": cjt188.ValveAction.OPEN,
    "close": cjt188.ValveAction.CLOSE,
    "exercise": cjt188.ValveAction.EXERCISE,
    "half-open": cjt188.ValveAction.HALF_OPEN,
}
STATUS_LAYOUTS = {
    "standard": cjt188.STANDARD_STATUS_LAYOUT,
    "kingda": cjt188.KINGDA_STATUS_LAYOUT,
}


class UsageError(Exception):
    """A bad command-line value; reported as a JSON error with exit code 2."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    frame_parser = subparsers.add_parser(
        "frame",
        help="decode or build meter protocol frames (DL/T 645-2007, CJ/T 188-2004)",
        description="Decode or build meter protocol frames (DL/T 645-2007, CJ/T 188-2004).",
    )
    actions = frame_parser.add_subparsers(dest="frame_command", metavar="ACTION")
    frame_parser.set_defaults(handler=lambda args: _print_help(frame_parser))
    _add_decode(actions)
    _add_encode(actions)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _add_decode(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser(
        "decode",
        help="decode a hex frame and print it as JSON",
        description="Decode a frame given in hex (spaces optional) and print it as JSON. "
        "Exit code 1 with an `error` object if it cannot be decoded or is a meter error reply.",
    )
    parser.add_argument("--protocol", choices=PROTOCOLS, required=True)
    parser.add_argument("hex", nargs="+", help="frame bytes in hex, e.g. '68 11 11 …' or 6811…")
    parser.add_argument(
        "--meter-tz",
        default=DEFAULT_METER_TIME_ZONE,
        help=f"time zone of the meter's clock (default {DEFAULT_METER_TIME_ZONE})",
    )
    parser.add_argument(
        "--time-order",
        choices=[str(order) for order in dlt645.TimeByteOrder],
        default=str(dlt645.TimeByteOrder.SECONDS_FIRST),
        help="dlt645: byte order of a broadcast time frame (default: the standard's)",
    )
    parser.add_argument(
        "--status-layout",
        choices=sorted(STATUS_LAYOUTS),
        default="standard",
        help="cjt188: where the valve and battery bits are in ST",
    )
    parser.set_defaults(handler=run_decode)


def _add_encode(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser(
        "encode",
        help="build a frame and print it in hex",
        description="Build a request frame and print it in hex. "
        "dlt645: read, read-address, relay, time. cjt188: read, read-address, valve.",
    )
    parser.add_argument("--protocol", choices=PROTOCOLS, required=True)
    parser.add_argument(
        "--preamble", type=int, default=0, metavar="N", help="number of FE wake-up bytes"
    )
    parser.add_argument("--meter-tz", default=DEFAULT_METER_TIME_ZONE, help="meter clock zone")
    parser.set_defaults(handler=lambda args: _print_help(parser))
    kinds = parser.add_subparsers(dest="frame_kind", metavar="FRAME")

    read = kinds.add_parser(
        "read",
        help="read data (dlt645 11H; cjt188 01H)",
        description="Read one data identifier from one meter.",
    )
    read.add_argument("--address", required=True, help="12 digits (dlt645) or 14 (cjt188)")
    read.add_argument(
        "--di", help="data identifier: 8 hex digits for dlt645 (required), 4 for cjt188 (901F)"
    )
    _add_cjt188_options(read)
    read.set_defaults(handler=run_encode, build=_build_read)

    read_address = kinds.add_parser(
        "read-address",
        help="ask the single meter on the bus for its address",
        description="Read the address of the one meter on the bus (wildcard AA…AA).",
    )
    _add_cjt188_options(read_address)
    read_address.set_defaults(handler=run_encode, build=_build_read_address)

    relay = kinds.add_parser(
        "relay",
        help="dlt645 1CH relay control (trip, close, alarm, protect)",
        description="DL/T 645 relay control 1CH in plaintext.",
    )
    relay.add_argument("--address", required=True, help="12-digit meter number")
    relay.add_argument("--action", required=True, choices=sorted(RELAY_ACTIONS))
    relay.add_argument(
        "--deadline",
        help="ISO 8601 time with zone until which the meter accepts the command "
        "(default: now + 1 day)",
    )
    relay.add_argument("--password-level", default="02", help="PA in hex (default 02)")
    relay.add_argument("--password", default="000000", help="6 hex digits (default 000000)")
    relay.add_argument("--operator", default="00000000", help="operator code, 8 hex digits")
    relay.set_defaults(handler=run_encode, build=_build_relay)

    time_parser = kinds.add_parser(
        "time",
        help="dlt645 08H broadcast time",
        description="DL/T 645 broadcast time synchronisation to 999999999999.",
    )
    time_parser.add_argument("--at", help="ISO 8601 time with zone (default: now)")
    time_parser.add_argument(
        "--byte-order",
        choices=[str(order) for order in dlt645.TimeByteOrder],
        default=str(dlt645.TimeByteOrder.SECONDS_FIRST),
        help="field order on the wire (default: the standard's ssmmhhDDMMYY)",
    )
    time_parser.set_defaults(handler=run_encode, build=_build_time)

    valve = kinds.add_parser(
        "valve",
        help="cjt188 valve control (A017)",
        description="CJ/T 188 valve control: 04H, DI A017.",
    )
    valve.add_argument("--address", required=True, help="14-digit meter address")
    valve.add_argument("--action", required=True, choices=sorted(VALVE_ACTIONS))
    _add_cjt188_options(valve)
    valve.set_defaults(handler=run_encode, build=_build_valve)


def _add_cjt188_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--meter-type", default="10", help="cjt188: meter type T in hex (default 10, cold water)"
    )
    parser.add_argument("--serial", type=int, default=0, help="cjt188: sequence byte SER")
    parser.add_argument(
        "--di-order",
        choices=[str(order) for order in cjt188.DataIdentifierOrder],
        default=str(cjt188.DataIdentifierOrder.HIGH_FIRST),
        help="cjt188: DI byte order on the wire (default high_first: 90 1F)",
    )


# --- Encode -------------------------------------------------------------------------------


def run_encode(args: argparse.Namespace) -> int:
    build: Callable[[argparse.Namespace, tzinfo], bytes] = args.build
    try:
        frame = build(args, _time_zone(args.meter_tz))
    except UsageError as exc:
        _print_json({"error": {"code": "usage_error", "message": str(exc)}})
        return 2
    except ProtocolError as exc:
        _print_json({"error": {"code": exc.code, "message": str(exc)}})
        return 2
    print(frame.hex(" ").upper())
    return 0


def _build_read(args: argparse.Namespace, meter_tz: tzinfo) -> bytes:
    if args.protocol == "dlt645":
        if not args.di:
            raise UsageError("--di is required for dlt645 (8 hex digits, e.g. 00010000)")
        return dlt645.encode_read_request(args.address, args.di, preamble_length=args.preamble)
    return cjt188.encode_read_request(
        args.address,
        meter_type=_hex_byte(args.meter_type, "--meter-type"),
        data_identifier=args.di or cjt188.DataIdentifier.METERING_DATA,
        serial=args.serial,
        data_identifier_order=cjt188.DataIdentifierOrder(args.di_order),
        preamble_length=args.preamble,
    )


def _build_read_address(args: argparse.Namespace, meter_tz: tzinfo) -> bytes:
    if args.protocol == "dlt645":
        return dlt645.encode_read_address_request(preamble_length=args.preamble)
    return cjt188.encode_read_address_request(
        serial=args.serial,
        data_identifier_order=cjt188.DataIdentifierOrder(args.di_order),
        preamble_length=args.preamble,
    )


def _build_relay(args: argparse.Namespace, meter_tz: tzinfo) -> bytes:
    _require_protocol(args, "dlt645", "relay")
    deadline = (
        _aware_time(args.deadline, "--deadline")
        if args.deadline
        else datetime.now(meter_tz) + DEFAULT_RELAY_VALIDITY
    )
    command = dlt645.RelayCommand(
        address=args.address,
        action=RELAY_ACTIONS[args.action],
        deadline=deadline.replace(microsecond=0),
        credentials=dlt645.Credentials(
            password_level=_hex_byte(args.password_level, "--password-level"),
            password=args.password.upper(),
            operator_code=args.operator.upper(),
        ),
    )
    return dlt645.encode_relay_command(command, meter_tz=meter_tz, preamble_length=args.preamble)


def _build_time(args: argparse.Namespace, meter_tz: tzinfo) -> bytes:
    _require_protocol(args, "dlt645", "time")
    at = _aware_time(args.at, "--at") if args.at else datetime.now(meter_tz)
    return dlt645.encode_broadcast_time(
        at,
        byte_order=dlt645.TimeByteOrder(args.byte_order),
        meter_tz=meter_tz,
        preamble_length=args.preamble,
    )


def _build_valve(args: argparse.Namespace, meter_tz: tzinfo) -> bytes:
    _require_protocol(args, "cjt188", "valve")
    return cjt188.encode_valve_command(
        args.address,
        VALVE_ACTIONS[args.action],
        meter_type=_hex_byte(args.meter_type, "--meter-type"),
        serial=args.serial,
        data_identifier_order=cjt188.DataIdentifierOrder(args.di_order),
        preamble_length=args.preamble,
    )


def _require_protocol(args: argparse.Namespace, protocol: str, kind: str) -> None:
    if args.protocol != protocol:
        raise UsageError(f"'{kind}' frames exist only for --protocol {protocol}")


def _hex_byte(text: str, option: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not hex") from None
    if not 0 <= value <= 0xFF:
        raise UsageError(f"{option} {text!r} is not one byte")
    return value


def _aware_time(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise UsageError(f"{option} {text!r} needs a zone, e.g. +08:00")
    return value


def _time_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r}") from None


# --- Decode -------------------------------------------------------------------------------


def run_decode(args: argparse.Namespace) -> int:
    try:
        meter_tz = _time_zone(args.meter_tz)
    except UsageError as exc:
        _print_json({"error": {"code": "usage_error", "message": str(exc)}})
        return 2
    text = "".join("".join(args.hex).split())
    if text[:2].lower() == "0x":
        text = text[2:]
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        _print_json({"error": {"code": "invalid_hex", "message": f"{text!r} is not hex"}})
        return 1
    decode = _decode_dlt645 if args.protocol == "dlt645" else _decode_cjt188
    document: dict[str, Any] = {"protocol": args.protocol}
    try:
        decode(raw, args, meter_tz, document)
    except ProtocolError as exc:
        document["error"] = _error_object(exc)
        _print_json(document)
        return 1
    _print_json(document)
    return 0


def _error_object(exc: ProtocolError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, ChecksumError):
        error["expected"] = f"{exc.expected:02X}"
        error["actual"] = f"{exc.actual:02X}"
    if isinstance(exc, MeterErrorReply):
        error["error_byte"] = None if exc.error_byte is None else f"{exc.error_byte:02X}"
        error["reasons"] = list(exc.reasons)
    return error


def _function_name(function: int, names: type[dlt645.Function] | type[cjt188.Function]) -> str:
    try:
        return names(function).name.lower()
    except ValueError:
        return f"unknown_{function:02x}"


def _decode_dlt645(
    raw: bytes, args: argparse.Namespace, meter_tz: tzinfo, document: dict[str, Any]
) -> None:
    frame = dlt645.decode_frame(raw)
    document.update(
        address=frame.address,
        control_code=f"{frame.control_code:02X}",
        function=_function_name(frame.function, dlt645.Function),
        from_meter=frame.from_meter,
        abnormal=frame.abnormal,
        follow_up=frame.follow_up,
        data=frame.data.hex(" ").upper(),
    )
    dlt645.raise_for_error_reply(frame)
    function = frame.function
    if function == dlt645.Function.READ_DATA and frame.data_identifier is not None:
        _describe_data_identifier(frame.data_identifier, document)
        if frame.from_meter and document["item"] is not None:
            reply = dlt645.decode_read_reply(frame, meter_tz=meter_tz)
            document["value"] = _json_value(reply.value)
    elif function == dlt645.Function.READ_ADDRESS and frame.from_meter:
        document["meter_address"] = dlt645.decode_read_address_reply(frame)
    elif function == dlt645.Function.RELAY_CONTROL and not frame.from_meter:
        command = dlt645.decode_relay_command(frame, meter_tz=meter_tz)
        document["relay"] = {
            "action": command.action.name.lower().replace("_", "-"),
            "deadline": command.deadline.isoformat(),
            "password_level": f"{command.credentials.password_level:02X}",
            "password": command.credentials.password,
            "operator_code": command.credentials.operator_code,
        }
    elif function == dlt645.Function.RELAY_CONTROL:
        document["relay"] = {"result": "ok"}
    elif function == dlt645.Function.BROADCAST_TIME:
        order = dlt645.TimeByteOrder(args.time_order)
        at = dlt645.decode_broadcast_time(frame, byte_order=order, meter_tz=meter_tz)
        document["time"] = at.isoformat()
        document["time_order"] = str(order)


def _describe_data_identifier(data_identifier: str, document: dict[str, Any]) -> None:
    document["data_identifier"] = data_identifier
    item = dlt645.DATA_ITEMS.get(data_identifier)
    if item is None:
        document["item"] = None
        return
    document["item"] = {
        "name_zh": item.name_zh,
        "name_en": item.name_en,
        "unit": item.unit,
        "kind": str(item.kind),
        "decimals": item.decimals,
        "signed": item.signed,
    }


def _json_value(value: dlt645.DataValue) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [str(part) for part in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dlt645.MaximumDemand):
        return {
            "demand_kw": str(value.demand_kw),
            "occurred_at": value.occurred_at.isoformat() if value.occurred_at else None,
        }
    if isinstance(value, dlt645.StatusWord3):
        return {
            "raw": f"{value.raw:04X}",
            "relay": "open" if value.relay_open else "closed",
            "relay_command": "open" if value.relay_command_open else "closed",
            "pre_trip_alarm": value.pre_trip_alarm,
            "prepaid_type": str(value.prepaid_type),
            "protected": value.protected,
        }
    return value


def _decode_cjt188(
    raw: bytes, args: argparse.Namespace, meter_tz: tzinfo, document: dict[str, Any]
) -> None:
    frame = cjt188.decode_frame(raw)
    try:
        type_name = cjt188.MeterType(frame.meter_type).name.lower()
    except ValueError:
        type_name = "wildcard" if frame.meter_type == cjt188.WILDCARD_METER_TYPE else "unknown"
    document.update(
        meter_type=f"{frame.meter_type:02X}",
        meter_type_name=type_name,
        address=frame.address,
        control_code=f"{frame.control_code:02X}",
        function=_function_name(frame.function, cjt188.Function),
        from_meter=frame.from_meter,
        abnormal=frame.abnormal,
        data=frame.data.hex(" ").upper(),
        data_identifier=frame.data_identifier,
        data_identifier_order=frame.data_identifier_order,
        serial=frame.serial,
    )
    if frame.abnormal:
        raise cjt188.Cjt188ErrorReply(frame)
    layout = STATUS_LAYOUTS[args.status_layout]
    data_identifier = frame.data_identifier
    if not frame.from_meter:
        if data_identifier == cjt188.DataIdentifier.VALVE_CONTROL:
            document["valve_action"] = cjt188.decode_valve_command(frame).name.lower()
        return
    if data_identifier == cjt188.DataIdentifier.METERING_DATA:
        reading = cjt188.decode_read_reply(frame, status_layout=layout, meter_tz=meter_tz)
        document["reading"] = {
            "current": _quantity(reading.current),
            "settlement": _quantity(reading.settlement),
            "meter_time": reading.meter_time.isoformat() if reading.meter_time else None,
            "status": _status(reading.status),
        }
    elif data_identifier == cjt188.DataIdentifier.READ_ADDRESS:
        document["meter_address"] = cjt188.decode_read_address_reply(frame)
    elif data_identifier == cjt188.DataIdentifier.VALVE_CONTROL:
        document["status"] = _status(cjt188.decode_valve_reply(frame, status_layout=layout))


def _quantity(quantity: cjt188.MeteredQuantity) -> dict[str, Any]:
    return {"value": str(quantity.value), "unit": quantity.unit}


def _status(status: cjt188.MeterStatus) -> dict[str, Any]:
    return {
        "raw": f"{status.raw:04X}",
        "valve": str(status.valve),
        "battery_low": status.battery_low,
    }


def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2))
