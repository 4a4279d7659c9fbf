"""MQTT payloads: parsing to typed objects, clear errors, and encoding back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from submeter.protocols import mqtt_payloads as payloads
from submeter.protocols.cjt188 import ValveState
from submeter.protocols.errors import InvalidValue, PayloadError

CHINA = timezone(timedelta(hours=8))


def readings_document(**reading_changes: Any) -> dict[str, Any]:
    reading: dict[str, Any] = {
        "meter_address": "123456789012",
        "timestamp": "2024-05-20T13:15:00+08:00",
        "registers": {"energy_kwh": "1234.56", "energy_rate1_kwh": "100.00", "power_kw": "-1.2345"},
    }
    reading.update(reading_changes)
    return {"gateway_id": "gw-0001", "message_id": "gw-0001-42", "readings": [reading]}


def parse_readings(document: object) -> payloads.ReadingsMessage:
    return payloads.parse_readings(json.dumps(document))


def error_path(parse: Any, document: object) -> str:
    with pytest.raises(PayloadError) as caught:
        parse(json.dumps(document))
    return caught.value.path


def test_readings_parse_to_typed_values() -> None:
    message = parse_readings(readings_document())
    reading = message.readings[0]
    assert (message.gateway_id, message.message_id) == ("gw-0001", "gw-0001-42")
    assert reading.meter_address == "123456789012"
    assert reading.timestamp == datetime(2024, 5, 20, 13, 15, tzinfo=CHINA)
    assert reading.registers == {
        "energy_kwh": Decimal("1234.56"),
        "energy_rate1_kwh": Decimal("100.00"),
        "power_kw": Decimal("-1.2345"),
    }


def test_register_values_keep_their_decimal_places() -> None:
    reading = parse_readings(readings_document()).readings[0]
    assert str(reading.registers["energy_rate1_kwh"]) == "100.00"


def test_timestamp_in_utc_with_z_is_accepted() -> None:
    reading = parse_readings(readings_document(timestamp="2024-05-20T05:15:00Z")).readings[0]
    assert reading.timestamp == datetime(2024, 5, 20, 5, 15, tzinfo=UTC)


def test_readings_round_trip_through_encode() -> None:
    message = parse_readings(readings_document())
    assert payloads.parse_readings(payloads.encode_readings(message)) == message


def test_readings_of_one_hundred_meters_are_accepted() -> None:
    document = readings_document()
    document["readings"] = document["readings"] * 100
    assert len(parse_readings(document).readings) == 100


def test_more_than_one_hundred_readings_are_refused() -> None:
    document = readings_document()
    document["readings"] = document["readings"] * 101
    assert error_path(payloads.parse_readings, document) == "readings"


def test_register_value_as_json_number_is_refused() -> None:
    document = readings_document(registers={"energy_kwh": 1234.56})
    with pytest.raises(PayloadError) as caught:
        parse_readings(document)
    assert caught.value.path == "readings[0].registers.energy_kwh"
    assert "decimal string" in str(caught.value)


def test_negative_cumulative_register_is_refused() -> None:
    document = readings_document(registers={"energy_kwh": "-1.00"})
    assert error_path(payloads.parse_readings, document) == "readings[0].registers.energy_kwh"


def test_negative_instantaneous_register_is_accepted() -> None:
    document = readings_document(registers={"power_kw": "-5", "current_a_a": "-0.5"})
    assert parse_readings(document).readings[0].registers["current_a_a"] == Decimal("-0.5")


@pytest.mark.parametrize("text", ["NaN", "Infinity", "1e5", " 1.5", "1_000", "+1", "1.", ".5"])
def test_register_strings_that_are_not_plain_decimals_are_refused(text: str) -> None:
    document = readings_document(registers={"energy_kwh": text})
    assert error_path(payloads.parse_readings, document) == "readings[0].registers.energy_kwh"


def test_nan_literal_in_the_json_text_is_refused() -> None:
    text = json.dumps(readings_document()).replace('"1234.56"', "NaN")
    with pytest.raises(PayloadError):
        payloads.parse_readings(text)


def test_unknown_register_is_refused() -> None:
    document = readings_document(registers={"energy_kwh": "1.00", "enrgy_kwh": "2.00"})
    assert error_path(payloads.parse_readings, document) == "readings[0].registers.enrgy_kwh"


def test_empty_registers_are_refused() -> None:
    document = readings_document(registers={})
    assert error_path(payloads.parse_readings, document) == "readings[0].registers"


def test_timestamp_without_zone_is_refused() -> None:
    document = readings_document(timestamp="2024-05-20T13:15:00")
    with pytest.raises(PayloadError) as caught:
        parse_readings(document)
    assert caught.value.path == "readings[0].timestamp"
    assert "time zone" in str(caught.value)


def test_impossible_date_is_refused() -> None:
    document = readings_document(timestamp="2024-02-30T13:15:00+08:00")
    assert error_path(payloads.parse_readings, document) == "readings[0].timestamp"


def test_missing_field_is_named() -> None:
    document = readings_document()
    del document["readings"][0]["meter_address"]
    with pytest.raises(PayloadError) as caught:
        parse_readings(document)
    assert str(caught.value) == "readings[0].meter_address: is required"


def test_extra_field_is_refused() -> None:
    document = readings_document()
    document["firmware"] = "1.0"
    assert error_path(payloads.parse_readings, document) == "firmware"


def test_meter_address_with_slash_is_refused() -> None:
    document = readings_document(meter_address="a/b")
    assert error_path(payloads.parse_readings, document) == "readings[0].meter_address"


def test_payload_that_is_not_json_is_refused() -> None:
    with pytest.raises(PayloadError):
        payloads.parse_readings(b"\xff{not json")


def test_json_array_payload_is_refused() -> None:
    with pytest.raises(PayloadError):
        payloads.parse_readings("[]")


def test_encoding_a_naive_timestamp_is_refused() -> None:
    message = parse_readings(readings_document())
    reading = payloads.MeterReading("m1", datetime(2024, 5, 20), {"energy_kwh": Decimal(1)})  # noqa: DTZ001
    with pytest.raises(InvalidValue):
        payloads.encode_readings(payloads.ReadingsMessage("gw", message.message_id, (reading,)))


def test_encoding_nan_register_is_refused() -> None:
    reading = payloads.MeterReading(
        "m1", datetime(2024, 5, 20, tzinfo=UTC), {"power_kw": Decimal("NaN")}
    )
    with pytest.raises(InvalidValue):
        payloads.encode_readings(payloads.ReadingsMessage("gw", "m", (reading,)))


def test_encoding_writes_exponent_free_decimals() -> None:
    reading = payloads.MeterReading(
        "m1", datetime(2024, 5, 20, tzinfo=UTC), {"energy_kwh": Decimal("1E+2")}
    )
    encoded = payloads.encode_readings(payloads.ReadingsMessage("gw", "m", (reading,)))
    assert b'"energy_kwh":"100"' in encoded


def test_events_parse_with_and_without_meter() -> None:
    document = {
        "gateway_id": "gw-0001",
        "message_id": "e-1",
        "events": [
            {"type": "gateway_started", "timestamp": "2024-05-20T13:00:00+08:00"},
            {
                "type": "relay_opened",
                "timestamp": "2024-05-20T13:01:00+08:00",
                "meter_address": "123456789012",
                "detail": {"cause": "button"},
            },
        ],
    }
    message = payloads.parse_events(json.dumps(document))
    assert message.events[0].meter_address is None
    assert message.events[1].event_type is payloads.EventType.RELAY_OPENED
    assert message.events[1].detail == {"cause": "button"}
    assert payloads.parse_events(payloads.encode_events(message)) == message


def test_unknown_event_type_is_refused() -> None:
    document = {
        "gateway_id": "gw",
        "message_id": "e",
        "events": [{"type": "exploded", "timestamp": "2024-05-20T13:00:00Z"}],
    }
    assert error_path(payloads.parse_events, document) == "events[0].type"


def ack_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "gateway_id": "gw-0001",
        "command_id": "cmd-7",
        "meter_address": "123456789012",
        "timestamp": "2024-05-20T13:15:02+08:00",
        "result": "ok",
        "relay_state": "open",
    }
    document.update(changes)
    return document


def test_ok_ack_carries_the_relay_state() -> None:
    ack = payloads.parse_ack(json.dumps(ack_document()))
    assert (ack.command_id, ack.result, ack.relay_state) == (
        "cmd-7",
        payloads.AckResult.OK,
        payloads.RelayState.OPEN,
    )
    assert payloads.parse_ack(payloads.encode_ack(ack)) == ack


def test_error_ack_needs_an_error_object() -> None:
    assert error_path(payloads.parse_ack, ack_document(result="error")) == "error"


def test_error_ack_carries_code_and_message() -> None:
    document = ack_document(result="error", error={"code": "meter_timeout", "message": "no reply"})
    ack = payloads.parse_ack(json.dumps(document))
    assert (ack.error_code, ack.error_message) == ("meter_timeout", "no reply")
    assert payloads.parse_ack(payloads.encode_ack(ack)) == ack


def test_ok_ack_with_error_object_is_refused() -> None:
    document = ack_document(error={"code": "x", "message": ""})
    assert error_path(payloads.parse_ack, document) == "error"


def test_valve_state_in_ack_is_parsed() -> None:
    ack = payloads.parse_ack(json.dumps(ack_document(valve_state="closed")))
    assert ack.valve_state is ValveState.CLOSED


def command_document(action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "command_id": "cmd-7",
        "meter_address": "123456789012",
        "action": action,
        "issued_at": "2024-05-20T13:15:00+08:00",
    }
    if params is not None:
        document["params"] = params
    return document


def test_trip_command_needs_no_params() -> None:
    command = payloads.parse_command(json.dumps(command_document("trip")))
    assert command.action is payloads.CommandAction.TRIP
    assert payloads.parse_command(payloads.encode_command(command)) == command


def test_trip_command_with_params_is_refused() -> None:
    document = command_document("trip", {"mode": "direct"})
    assert error_path(payloads.parse_command, document) == "params.mode"


def test_close_command_defaults_to_direct_close() -> None:
    command = payloads.parse_command(json.dumps(command_document("close")))
    assert command.close_mode is payloads.CloseMode.DIRECT


def test_close_command_can_only_allow_closing() -> None:
    command = payloads.parse_command(json.dumps(command_document("close", {"mode": "allowed"})))
    assert command.close_mode is payloads.CloseMode.ALLOWED
    assert payloads.parse_command(payloads.encode_command(command)) == command


def test_set_price_command_parses_prices_per_rate() -> None:
    document = command_document("set_price", {"prices": {"rate1": "1.2000", "rate4": "0.3500"}})
    command = payloads.parse_command(json.dumps(document))
    assert command.prices == {"rate1": Decimal("1.2000"), "rate4": Decimal("0.3500")}
    assert payloads.parse_command(payloads.encode_command(command)) == command


def test_set_price_without_prices_is_refused() -> None:
    assert error_path(payloads.parse_command, command_document("set_price")) == "params.prices"


def test_set_power_limit_parses_kilowatts() -> None:
    document = command_document("set_power_limit", {"power_limit_kw": "5.5"})
    command = payloads.parse_command(json.dumps(document))
    assert command.power_limit_kw == Decimal("5.5")
    assert payloads.parse_command(payloads.encode_command(command)) == command


def test_read_command_may_list_registers() -> None:
    document = command_document("read", {"registers": ["energy_kwh", "water_m3"]})
    command = payloads.parse_command(json.dumps(document))
    assert command.registers == ("energy_kwh", "water_m3")


def test_read_command_with_unknown_register_is_refused() -> None:
    document = command_document("read", {"registers": ["energy_kwh", ["nested"]]})
    assert error_path(payloads.parse_command, document) == "params.registers[1]"


def test_command_expiry_is_parsed() -> None:
    document = command_document("valve_close")
    document["expires_at"] = "2024-05-20T14:15:00+08:00"
    command = payloads.parse_command(json.dumps(document))
    assert command.expires_at == datetime(2024, 5, 20, 14, 15, tzinfo=CHINA)


def test_every_schema_file_loads() -> None:
    for name in payloads.SCHEMA_FILES:
        assert payloads.load_schema(name)["$schema"].endswith("2020-12/schema")
