"""DL/T 645 relay control, broadcast time and write data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from submeter.protocols import dlt645
from submeter.protocols.errors import FrameFormatError, InvalidValue
from submeter.protocols.meter_clock import CHINA_TIME_ZONE

METER = "123456789012"
AT = datetime(2024, 5, 20, 13, 14, 15, tzinfo=CHINA_TIME_ZONE)


def test_relay_deadline_is_converted_to_the_meter_time_zone() -> None:
    in_utc = dlt645.RelayCommand(METER, dlt645.RelayAction.TRIP, AT.astimezone(UTC))
    in_china = dlt645.RelayCommand(METER, dlt645.RelayAction.TRIP, AT)
    assert dlt645.encode_relay_command(in_utc) == dlt645.encode_relay_command(in_china)


def test_relay_deadline_without_zone_is_refused() -> None:
    naive = AT.replace(tzinfo=None)
    with pytest.raises(InvalidValue):
        dlt645.encode_relay_command(dlt645.RelayCommand(METER, dlt645.RelayAction.TRIP, naive))


def test_relay_credentials_are_configurable() -> None:
    credentials = dlt645.Credentials(
        password_level=dlt645.PLAINTEXT_PASSWORD_LEVEL, password="654321", operator_code="12345678"
    )
    command = dlt645.RelayCommand(METER, dlt645.RelayAction.PROTECT, AT, credentials)
    frame = dlt645.decode_frame(dlt645.encode_relay_command(command))
    assert frame.data[:8] == bytes.fromhex("03 21 43 65 78 56 34 12")
    assert dlt645.decode_relay_command(frame) == command


def test_password_that_is_not_six_hex_digits_is_refused() -> None:
    with pytest.raises(InvalidValue):
        dlt645.Credentials(password="12345")


def test_relay_command_with_unknown_action_is_refused() -> None:
    data = bytes.fromhex("02 00 00 00 00 00 00 00 99 00 59 59 23 31 12 30")
    frame = dlt645.Frame(METER, 0x1C, data)
    with pytest.raises(InvalidValue):
        dlt645.decode_relay_command(frame)


def test_relay_command_with_impossible_deadline_is_refused() -> None:
    data = bytes.fromhex("02 00 00 00 00 00 00 00 1A 00 00 00 00 31 02 30")
    with pytest.raises(InvalidValue):
        dlt645.decode_relay_command(dlt645.Frame(METER, 0x1C, data))


def test_relay_reply_to_another_function_is_refused() -> None:
    frame = dlt645.decode_frame(dlt645.encode_read_address_reply(METER))
    with pytest.raises(FrameFormatError):
        dlt645.decode_relay_reply(frame)


def test_broadcast_time_goes_to_the_broadcast_address() -> None:
    frame = dlt645.decode_frame(dlt645.encode_broadcast_time(AT))
    assert frame.address == dlt645.BROADCAST_ADDRESS


def test_broadcast_time_year_first_order() -> None:
    raw = dlt645.encode_broadcast_time(AT, byte_order=dlt645.TimeByteOrder.YEAR_FIRST)
    assert dlt645.decode_frame(raw).data == bytes.fromhex("24 05 20 13 14 15")


def test_broadcast_time_year_first_without_seconds_has_five_bytes() -> None:
    order = dlt645.TimeByteOrder.YEAR_FIRST_NO_SECONDS
    frame = dlt645.decode_frame(dlt645.encode_broadcast_time(AT, byte_order=order))
    assert frame.data == bytes.fromhex("24 05 20 13 14")
    assert dlt645.decode_broadcast_time(frame, byte_order=order) == AT.replace(second=0)


def test_broadcast_time_in_another_zone_is_converted() -> None:
    in_utc_plus_1 = AT.astimezone(timezone(timedelta(hours=1)))
    assert dlt645.encode_broadcast_time(in_utc_plus_1) == dlt645.encode_broadcast_time(AT)


def test_broadcast_time_with_wrong_length_for_the_order_is_refused() -> None:
    frame = dlt645.decode_frame(dlt645.encode_broadcast_time(AT))
    with pytest.raises(FrameFormatError):
        dlt645.decode_broadcast_time(frame, byte_order=dlt645.TimeByteOrder.YEAR_FIRST_NO_SECONDS)


def test_write_price_round_trips() -> None:
    request = dlt645.WriteRequest(METER, "04050101", Decimal("0.8500"))
    frame = dlt645.decode_frame(dlt645.encode_write_request(request))
    assert frame.data[:4] == bytes.fromhex("01 01 05 04")
    assert dlt645.decode_write_request(frame) == request


def test_write_ok_reply_returns_none() -> None:
    frame = dlt645.decode_frame(dlt645.encode_write_reply(METER))
    assert dlt645.decode_write_reply(frame) is None


def test_write_error_reply_raises_unauthorized() -> None:
    raw = dlt645.encode_error_reply(
        METER, dlt645.Function.WRITE_DATA, dlt645.Dlt645ErrorFlag.UNAUTHORIZED
    )
    with pytest.raises(dlt645.Dlt645ErrorReply) as caught:
        dlt645.decode_write_reply(dlt645.decode_frame(raw))
    assert caught.value.reasons == ("unauthorized",)
