"""Every DL/T 645 vector of DOMAIN §5.5, decoded exactly and, where we build it, re-encoded
byte for byte."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from submeter.protocols import dlt645
from submeter.protocols.errors import ChecksumError
from submeter.protocols.meter_clock import CHINA_TIME_ZONE

METER = "123456789012"
DEADLINE = datetime(2030, 12, 31, 23, 59, 59, tzinfo=CHINA_TIME_ZONE)


def wire(text: str) -> bytes:
    return bytes.fromhex(text)


def relay_vector(n1: str, checksum: str) -> str:
    return (
        f"68 12 90 78 56 34 12 68 1C 10 35 33 33 33 33 33 33 33 {n1} 33 "
        f"8C 8C 56 64 45 63 {checksum} 16"
    )


def test_p1_read_address_request_with_preamble() -> None:
    raw = wire("FE FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16")
    frame = dlt645.decode_frame(raw)
    assert frame == dlt645.Frame(address="AAAAAAAAAAAA", control_code=0x13, data=b"")
    assert dlt645.encode_read_address_request(preamble_length=4) == raw


def test_p2_read_combined_total_request() -> None:
    raw = wire("68 11 11 11 11 11 11 68 11 04 33 33 33 33 17 16")
    frame = dlt645.decode_frame(raw)
    assert (frame.address, frame.function, frame.data_identifier) == (
        "111111111111",
        dlt645.Function.READ_DATA,
        "00000000",
    )
    assert dlt645.encode_read_request("111111111111", "00000000") == raw


def test_p3_reply_combined_total_is_6_35_kwh() -> None:
    raw = wire("68 11 11 11 11 11 11 68 91 08 33 33 33 33 68 39 33 33 A2 16")
    reply = dlt645.decode_read_reply(dlt645.decode_frame(raw))
    assert reply.data_identifier == "00000000"
    assert reply.value == Decimal("6.35")
    assert str(reply.value) == "6.35"
    assert reply.item.unit == "kWh"
    assert dlt645.encode_read_reply("111111111111", "00000000", Decimal("6.35")) == raw


def test_p6_relay_ok_reply_with_preamble() -> None:
    raw = wire("FE FE FE FE 68 66 00 00 02 30 22 68 9C 00 26 16")
    frame = dlt645.decode_frame(raw)
    assert frame.address == "223002000066"
    assert dlt645.decode_relay_reply(frame) is None
    assert dlt645.encode_relay_reply("223002000066", preamble_length=4) == raw


def test_p9_read_request_and_zero_reply() -> None:
    request = wire("68 03 20 12 22 20 65 68 11 04 33 33 33 33 8D 16")
    reply = wire("68 03 20 12 22 20 65 68 91 08 33 33 33 33 33 33 33 33 DD 16")
    assert dlt645.encode_read_request("652022122003", "00000000") == request
    value = dlt645.decode_read_reply(dlt645.decode_frame(reply)).value
    assert value == Decimal("0.00")
    assert str(value) == "0.00"


def test_n1_bad_checksum_raises_checksum_error() -> None:
    with pytest.raises(ChecksumError) as caught:
        dlt645.decode_frame(wire("68 34 12 00 00 00 00 68 11 04 33 33 33 33 B2 16"))
    assert (caught.value.expected, caught.value.actual) == (0xF7, 0xB2)


def test_g1_read_forward_active_total_request() -> None:
    assert dlt645.encode_read_request(METER, "00010000") == wire(
        "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16"
    )


def test_g2_reply_forward_active_total_is_1234_56_kwh() -> None:
    raw = wire("68 12 90 78 56 34 12 68 91 08 33 33 34 33 89 67 45 33 54 16")
    reply = dlt645.decode_read_reply(dlt645.decode_frame(raw))
    assert (reply.address, reply.data_identifier, reply.value) == (
        METER,
        "00010000",
        Decimal("1234.56"),
    )
    assert dlt645.encode_read_reply(METER, "00010000", Decimal("1234.56")) == raw


def test_g3_read_combined_active_total_request() -> None:
    assert dlt645.encode_read_request(METER, "00000000") == wire(
        "68 12 90 78 56 34 12 68 11 04 33 33 33 33 67 16"
    )


def test_g4_read_forward_active_block_request() -> None:
    assert dlt645.encode_read_request(METER, "0001FF00") == wire(
        "68 12 90 78 56 34 12 68 11 04 33 32 34 33 67 16"
    )


def test_g5_reply_phase_a_voltage_is_220_1_v() -> None:
    raw = wire("68 12 90 78 56 34 12 68 91 06 33 34 34 35 34 55 76 16")
    reply = dlt645.decode_read_reply(dlt645.decode_frame(raw))
    assert (reply.data_identifier, reply.value, reply.item.unit) == (
        "02010100",
        Decimal("220.1"),
        "V",
    )
    assert dlt645.encode_read_reply(METER, "02010100", Decimal("220.1")) == raw


def test_g6_reply_phase_a_current_is_5_123_a() -> None:
    raw = wire("68 12 90 78 56 34 12 68 91 07 33 34 35 35 56 84 33 FC 16")
    reply = dlt645.decode_read_reply(dlt645.decode_frame(raw))
    assert (reply.data_identifier, reply.value, reply.item.unit) == (
        "02020100",
        Decimal("5.123"),
        "A",
    )
    assert dlt645.encode_read_reply(METER, "02020100", Decimal("5.123")) == raw


def test_g7_reply_total_active_power_is_negative_by_sign_bit() -> None:
    raw = wire("68 12 90 78 56 34 12 68 91 07 33 33 36 35 78 56 B4 71 16")
    reply = dlt645.decode_read_reply(dlt645.decode_frame(raw))
    assert (reply.data_identifier, reply.value, reply.item.unit) == (
        "02030000",
        Decimal("-1.2345"),
        "kW",
    )
    assert dlt645.encode_read_reply(METER, "02030000", Decimal("-1.2345")) == raw


def test_g8_read_remaining_money_request() -> None:
    assert dlt645.encode_read_request(METER, "00900200") == wire(
        "68 12 90 78 56 34 12 68 11 04 33 35 C3 33 F9 16"
    )


def test_g9_reply_remaining_money_is_88_88_yuan() -> None:
    raw = wire("68 12 90 78 56 34 12 68 91 08 33 35 C3 33 BB BB 33 33 59 16")
    reply = dlt645.decode_read_reply(dlt645.decode_frame(raw))
    assert (reply.data_identifier, reply.value, reply.item.unit) == (
        "00900200",
        Decimal("88.88"),
        "CNY",
    )
    assert dlt645.encode_read_reply(METER, "00900200", Decimal("88.88")) == raw


def test_g10_read_status_word_3_request() -> None:
    assert dlt645.encode_read_request(METER, "04000503") == wire(
        "68 12 90 78 56 34 12 68 11 04 36 38 33 37 73 16"
    )


def test_g11_status_word_3_reports_relay_open_and_protected() -> None:
    raw = wire("68 12 90 78 56 34 12 68 91 06 36 38 33 37 83 43 BB 16")
    status = dlt645.decode_read_reply(dlt645.decode_frame(raw)).value
    assert isinstance(status, dlt645.StatusWord3)
    assert status.raw == 0x1050
    assert status.relay_open
    assert status.relay_command_open
    assert status.protected
    assert not status.pre_trip_alarm
    assert status.prepaid_type is dlt645.PrepaidType.NONE
    assert dlt645.encode_read_reply(METER, "04000503", dlt645.StatusWord3(0x1050)) == raw


def test_g12_read_error_reply_raises_no_requested_data() -> None:
    raw = wire("68 12 90 78 56 34 12 68 D1 01 35 8D 16")
    with pytest.raises(dlt645.Dlt645ErrorReply) as caught:
        dlt645.decode_read_reply(dlt645.decode_frame(raw))
    assert caught.value.error_byte == 0x02
    assert caught.value.flags == dlt645.Dlt645ErrorFlag.NO_REQUESTED_DATA
    assert caught.value.reasons == ("no_requested_data",)
    assert (
        dlt645.encode_error_reply(
            METER, dlt645.Function.READ_DATA, dlt645.Dlt645ErrorFlag.NO_REQUESTED_DATA
        )
        == raw
    )


def test_g13_read_address_reply() -> None:
    raw = wire("68 12 90 78 56 34 12 68 93 06 45 C3 AB 89 67 45 07 16")
    assert dlt645.decode_read_address_reply(dlt645.decode_frame(raw)) == METER
    assert dlt645.encode_read_address_reply(METER) == raw


def test_g14_broadcast_time_in_seconds_first_order() -> None:
    raw = wire("68 99 99 99 99 99 99 68 08 06 48 47 46 53 38 57 2B 16")
    at = datetime(2024, 5, 20, 13, 14, 15, tzinfo=CHINA_TIME_ZONE)
    assert dlt645.encode_broadcast_time(at) == raw
    assert dlt645.decode_broadcast_time(dlt645.decode_frame(raw)) == at


@pytest.mark.parametrize(
    ("action", "n1", "checksum"),
    [
        (dlt645.RelayAction.TRIP, "4D", "46"),
        (dlt645.RelayAction.CLOSE_ALLOWED, "4E", "47"),
        (dlt645.RelayAction.CLOSE_DIRECTLY, "4F", "48"),
        (dlt645.RelayAction.PROTECT, "6D", "66"),
        (dlt645.RelayAction.PROTECT_RELEASE, "6E", "67"),
        (dlt645.RelayAction.ALARM, "5D", "56"),
        (dlt645.RelayAction.ALARM_RELEASE, "5E", "57"),
    ],
)
def test_g15_to_g19_relay_commands_match_vectors(
    action: dlt645.RelayAction, n1: str, checksum: str
) -> None:
    command = dlt645.RelayCommand(address=METER, action=action, deadline=DEADLINE)
    raw = wire(relay_vector(n1, checksum))
    assert dlt645.encode_relay_command(command) == raw
    assert dlt645.decode_relay_command(dlt645.decode_frame(raw)) == command


def test_g20_relay_trip_with_password_123456_and_preamble() -> None:
    raw = wire(
        "FE FE FE FE 68 12 90 78 56 34 12 68 1C 10 35 89 67 45 33 33 33 33 4D 33 "
        "8C 8C 56 64 45 63 E2 16"
    )
    command = dlt645.RelayCommand(
        address=METER,
        action=dlt645.RelayAction.TRIP,
        deadline=DEADLINE,
        credentials=dlt645.Credentials(password_level=0x02, password="123456"),
    )
    assert dlt645.encode_relay_command(command, preamble_length=4) == raw
    assert dlt645.decode_relay_command(dlt645.decode_frame(raw)) == command


def test_g21_relay_ok_reply() -> None:
    raw = wire("68 12 90 78 56 34 12 68 9C 00 22 16")
    assert dlt645.decode_relay_reply(dlt645.decode_frame(raw)) is None
    assert dlt645.encode_relay_reply(METER) == raw


def test_g21_relay_error_reply_raises_unauthorized() -> None:
    raw = wire("68 12 90 78 56 34 12 68 DC 01 37 9A 16")
    with pytest.raises(dlt645.Dlt645ErrorReply) as caught:
        dlt645.decode_relay_reply(dlt645.decode_frame(raw))
    assert caught.value.flags == dlt645.Dlt645ErrorFlag.UNAUTHORIZED
    assert dlt645.encode_relay_reply(METER, dlt645.Dlt645ErrorFlag.UNAUTHORIZED) == raw
