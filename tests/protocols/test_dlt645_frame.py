"""DL/T 645 frame layout: address order, +33H, DI byte order, flags, structural errors."""

from __future__ import annotations

import pytest

from submeter.protocols import dlt645
from submeter.protocols.dlt645.frame import (
    address_to_wire,
    data_identifier_to_wire,
    scramble,
    unscramble,
)
from submeter.protocols.errors import FrameFormatError, InvalidValue, TruncatedFrame

G1 = bytes.fromhex("68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16")


def test_address_goes_on_the_wire_lowest_digits_first() -> None:
    assert address_to_wire("123456789012") == bytes.fromhex("12 90 78 56 34 12")


def test_forward_active_total_di_is_sent_di0_first() -> None:
    assert scramble(data_identifier_to_wire("00010000")) == bytes.fromhex("33 33 34 33")


def test_scramble_and_unscramble_wrap_around_modulo_256() -> None:
    assert scramble(b"\xcd\xff") == b"\x00\x32"
    assert unscramble(b"\x00\x32") == b"\xcd\xff"


def test_control_code_flags_are_decoded_from_the_control_byte() -> None:
    frame = dlt645.Frame(address="123456789012", control_code=0xF1)
    assert (frame.function, frame.from_meter, frame.abnormal, frame.follow_up) == (
        0x11,
        True,
        True,
        True,
    )


def test_control_code_builds_the_byte_from_function_and_flags() -> None:
    assert dlt645.control_code(0x11, from_meter=True, follow_up=True) == 0xB1


def test_frame_round_trips_through_encode_and_decode() -> None:
    frame = dlt645.Frame(address="000000000001", control_code=0x14, data=bytes(range(40)))
    assert dlt645.decode_frame(dlt645.encode_frame(frame, preamble_length=2)) == frame


def test_lower_case_address_is_accepted_for_the_wildcard() -> None:
    frame = dlt645.Frame(address="aaaaaaaaaaaa", control_code=0x13)
    assert dlt645.encode_frame(frame) == dlt645.encode_read_address_request()


def test_address_with_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidValue):
        dlt645.encode_read_request("12345", "00010000")


def test_data_identifier_with_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidValue):
        dlt645.encode_read_request("123456789012", "0001000")


def test_encode_does_not_change_the_frame() -> None:
    data = bytes([1, 2, 3, 4])
    frame = dlt645.Frame(address="123456789012", control_code=0x11, data=data)
    dlt645.encode_frame(frame)
    assert frame.data == bytes([1, 2, 3, 4])


def test_truncated_frame_raises_truncated_frame() -> None:
    with pytest.raises(TruncatedFrame):
        dlt645.decode_frame(G1[:-1])


def test_preamble_only_raises_truncated_frame() -> None:
    with pytest.raises(TruncatedFrame):
        dlt645.decode_frame(b"\xfe\xfe\xfe")


def test_missing_start_byte_raises_format_error() -> None:
    with pytest.raises(FrameFormatError):
        dlt645.decode_frame(b"\x00" + G1[1:])


def test_missing_second_start_byte_raises_format_error() -> None:
    with pytest.raises(FrameFormatError):
        dlt645.decode_frame(G1[:7] + b"\x00" + G1[8:])


def test_wrong_end_byte_raises_format_error() -> None:
    with pytest.raises(FrameFormatError):
        dlt645.decode_frame(G1[:-1] + b"\x17")


def test_trailing_bytes_raise_format_error() -> None:
    with pytest.raises(FrameFormatError):
        dlt645.decode_frame(G1 + b"\x00")


def test_non_bcd_address_raises_format_error() -> None:
    body = bytes.fromhex("68 1F 90 78 56 34 12 68 11 00")
    raw = body + bytes([sum(body) & 0xFF, 0x16])
    with pytest.raises(FrameFormatError):
        dlt645.decode_frame(raw)


def test_data_identifier_is_none_for_frames_without_one() -> None:
    frame = dlt645.decode_frame(bytes.fromhex("68 12 90 78 56 34 12 68 9C 00 22 16"))
    assert frame.data_identifier is None
    assert frame.payload == b""
