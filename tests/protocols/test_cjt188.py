"""CJ/T 188-2004: every vector of DOMAIN §6.2, both DI orders, status layouts, round trips."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from submeter.protocols import cjt188
from submeter.protocols.errors import (
    ChecksumError,
    FrameFormatError,
    InvalidValue,
    MeterErrorReply,
    TruncatedFrame,
)
from submeter.protocols.meter_clock import CHINA_TIME_ZONE

METER = "00000012345678"
SMALL_METER = "00000000000012"
READ_REPLY = bytes.fromhex(
    "68 10 12 00 00 00 00 00 00 81 16 90 1F 00 10 00 10 00 2C 10 00 10 00 2C "
    "00 00 00 00 00 00 00 00 FF 67 16"
)


def wire(text: str) -> bytes:
    return bytes.fromhex(text)


def test_read_address_wildcard_request_after_preamble() -> None:
    raw = wire("FE FE FE 68 AA AA AA AA AA AA AA AA 03 03 81 0A 00 49 16")
    assert cjt188.encode_read_address_request(preamble_length=3) == raw
    frame = cjt188.decode_frame(raw)
    assert (frame.meter_type, frame.address, frame.data_identifier) == (
        0xAA,
        cjt188.WILDCARD_ADDRESS,
        "810A",
    )


def test_read_address_reply_names_a_cold_water_meter() -> None:
    raw = wire("68 10 12 00 00 00 00 00 00 83 03 81 0A 00 9B 16")
    frame = cjt188.decode_frame(raw)
    assert cjt188.decode_read_address_reply(frame) == SMALL_METER
    assert frame.meter_type == cjt188.MeterType.COLD_WATER
    assert cjt188.encode_read_address_reply(SMALL_METER) == raw


def test_read_metering_data_request() -> None:
    raw = wire("68 10 12 00 00 00 00 00 00 01 03 90 1F 00 3D 16")
    assert cjt188.encode_read_request(SMALL_METER) == raw
    assert cjt188.decode_read_request(cjt188.decode_frame(raw)) == "901F"


def test_read_reply_decodes_current_flow_1000_10_m3() -> None:
    reading = cjt188.decode_read_reply(cjt188.decode_frame(READ_REPLY))
    assert reading.current.value == Decimal("1000.10")
    assert reading.current.unit == "m3"
    assert reading.current.to_m3() == Decimal("1000.10")
    assert reading.settlement.value == Decimal("1000.10")


def test_read_reply_with_zero_time_has_no_meter_time() -> None:
    reading = cjt188.decode_read_reply(cjt188.decode_frame(READ_REPLY))
    assert reading.meter_time is None


def test_read_reply_status_00_ff_is_valve_open_battery_normal_in_standard_layout() -> None:
    reading = cjt188.decode_read_reply(cjt188.decode_frame(READ_REPLY))
    assert reading.status == cjt188.MeterStatus(
        raw=0xFF00, valve=cjt188.ValveState.OPEN, battery_low=False
    )


def test_read_reply_status_00_ff_in_kingda_layout_reads_the_second_byte() -> None:
    frame = cjt188.decode_frame(READ_REPLY)
    reading = cjt188.decode_read_reply(frame, status_layout=cjt188.KINGDA_STATUS_LAYOUT)
    assert (reading.status.valve, reading.status.battery_low) == (
        cjt188.ValveState.ABNORMAL,
        True,
    )


def test_read_reply_re_encodes_byte_for_byte() -> None:
    reading = cjt188.decode_read_reply(cjt188.decode_frame(READ_REPLY))
    assert cjt188.encode_read_reply(reading) == READ_REPLY


@pytest.mark.parametrize(
    ("raw", "order"),
    [
        ("68 10 78 56 34 12 00 00 00 01 03 1F 90 00 3F 16", cjt188.DataIdentifierOrder.LOW_FIRST),
        ("68 10 78 56 34 12 00 00 00 01 03 90 1F 00 3F 16", cjt188.DataIdentifierOrder.HIGH_FIRST),
    ],
)
def test_read_request_parses_and_builds_both_di_orders(
    raw: str, order: cjt188.DataIdentifierOrder
) -> None:
    frame = cjt188.decode_frame(wire(raw))
    assert (frame.address, frame.data_identifier, frame.data_identifier_order) == (
        METER,
        "901F",
        order,
    )
    assert cjt188.encode_read_request(METER, data_identifier_order=order) == wire(raw)


def test_close_valve_command() -> None:
    raw = wire("68 10 78 56 34 12 00 00 00 04 04 A0 17 01 99 E5 16")
    assert cjt188.encode_valve_command(METER, cjt188.ValveAction.CLOSE, serial=1) == raw
    assert cjt188.decode_valve_command(cjt188.decode_frame(raw)) is cjt188.ValveAction.CLOSE


def test_open_valve_command() -> None:
    raw = wire("68 10 78 56 34 12 00 00 00 04 04 A0 17 01 55 A1 16")
    assert cjt188.encode_valve_command(METER, cjt188.ValveAction.OPEN, serial=1) == raw
    assert cjt188.decode_valve_command(cjt188.decode_frame(raw)) is cjt188.ValveAction.OPEN


def test_valve_reply_reports_the_new_state() -> None:
    status = cjt188.build_status(cjt188.ValveState.CLOSED, battery_low=False)
    raw = cjt188.encode_valve_reply(METER, status, serial=1)
    assert cjt188.decode_valve_reply(cjt188.decode_frame(raw)) == status


def test_valve_reply_in_low_first_order_is_understood() -> None:
    status = cjt188.build_status(cjt188.ValveState.OPEN, battery_low=True)
    raw = cjt188.encode_valve_reply(
        METER, status, data_identifier_order=cjt188.DataIdentifierOrder.LOW_FIRST
    )
    assert cjt188.decode_frame(raw).data[:2] == wire("17 A0")
    assert cjt188.decode_valve_reply(cjt188.decode_frame(raw)) == status


def test_error_reply_raises_meter_error_reply_with_status() -> None:
    status = cjt188.build_status(cjt188.ValveState.ABNORMAL, battery_low=False)
    raw = cjt188.encode_error_reply(METER, cjt188.Function.WRITE_DATA, status)
    with pytest.raises(MeterErrorReply) as caught:
        cjt188.decode_valve_reply(cjt188.decode_frame(raw))
    assert isinstance(caught.value, cjt188.Cjt188ErrorReply)
    assert caught.value.status_word == status.raw


def test_reading_with_time_and_litres_round_trips() -> None:
    reading = cjt188.WaterReading(
        meter_type=cjt188.MeterType.HOT_WATER,
        address=METER,
        serial=7,
        current=cjt188.MeteredQuantity(Decimal("123456.78"), cjt188.UNIT_CODE_LITRE),
        settlement=cjt188.MeteredQuantity(Decimal("100.00"), cjt188.UNIT_CODE_M3),
        meter_time=datetime(2024, 5, 20, 13, 14, 15, tzinfo=CHINA_TIME_ZONE),
        status=cjt188.build_status(cjt188.ValveState.CLOSED, battery_low=True),
    )
    raw = cjt188.encode_read_reply(reading)
    assert cjt188.decode_read_reply(cjt188.decode_frame(raw)) == reading


def test_litres_convert_to_cubic_metres() -> None:
    quantity = cjt188.MeteredQuantity(Decimal("1500.00"), cjt188.UNIT_CODE_LITRE)
    assert quantity.to_m3() == Decimal("1.5")


def test_energy_unit_is_not_a_volume() -> None:
    with pytest.raises(InvalidValue):
        cjt188.MeteredQuantity(Decimal("1.00"), 0x05).to_m3()


def test_meter_time_is_written_with_four_digit_year() -> None:
    reading = cjt188.decode_read_reply(cjt188.decode_frame(READ_REPLY))
    at = datetime(2024, 5, 20, 13, 14, 15, tzinfo=CHINA_TIME_ZONE)
    raw = cjt188.encode_read_reply(
        cjt188.WaterReading(
            reading.meter_type,
            reading.address,
            reading.serial,
            reading.current,
            reading.settlement,
            at,
            reading.status,
        )
    )
    assert wire("15 14 13 20 05 24 20") in raw


def test_bad_checksum_raises_checksum_error() -> None:
    with pytest.raises(ChecksumError):
        cjt188.decode_frame(READ_REPLY[:-2] + b"\x00\x16")


def test_truncated_frame_raises_truncated_frame() -> None:
    with pytest.raises(TruncatedFrame):
        cjt188.decode_frame(READ_REPLY[:20])


def test_read_reply_with_wrong_length_raises_format_error() -> None:
    frame = cjt188.Frame(0x10, METER, 0x81, wire("90 1F 00 10 00"))
    with pytest.raises(FrameFormatError):
        cjt188.decode_read_reply(frame)


def test_address_with_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidValue):
        cjt188.encode_read_request("12345678")
