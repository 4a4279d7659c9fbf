"""Decoders and stream framers on arbitrary input raise only the protocols' own errors, and
encoders round-trip whatever they accept."""

from __future__ import annotations

import contextlib
import itertools
import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from submeter.protocols import cjt188, dlt645, modbus_maps
from submeter.protocols import mqtt_payloads as payloads
from submeter.protocols.errors import PayloadError, ProtocolError

ADDRESSES_645 = st.text(alphabet="0123456789", min_size=12, max_size=12)
ADDRESSES_188 = st.text(alphabet="0123456789", min_size=14, max_size=14)
GARBAGE_WITHOUT_START_BYTE = st.binary(max_size=40).map(lambda data: data.replace(b"\x68", b""))


def dlt645_frames() -> st.SearchStrategy[dlt645.Frame]:
    return st.builds(
        dlt645.Frame,
        address=ADDRESSES_645,
        control_code=st.integers(0, 255),
        data=st.binary(max_size=64),
    )


def cjt188_frames() -> st.SearchStrategy[cjt188.Frame]:
    return st.builds(
        cjt188.Frame,
        meter_type=st.integers(0, 255),
        address=ADDRESSES_188,
        control_code=st.integers(0, 255),
        data=st.binary(max_size=64),
    )


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(edges)]


def decode_everything_645(frame: dlt645.Frame) -> None:
    for decode in (
        dlt645.decode_read_reply,
        dlt645.decode_read_request,
        dlt645.decode_relay_command,
        dlt645.decode_relay_reply,
        dlt645.decode_broadcast_time,
        dlt645.decode_read_address_reply,
        dlt645.decode_write_request,
        dlt645.decode_write_reply,
    ):
        with contextlib.suppress(ProtocolError):
            decode(frame)


def decode_everything_188(frame: cjt188.Frame) -> None:
    for decode in (
        cjt188.decode_read_reply,
        cjt188.decode_read_request,
        cjt188.decode_read_address_reply,
        cjt188.decode_valve_command,
        cjt188.decode_valve_reply,
    ):
        with contextlib.suppress(ProtocolError):
            decode(frame)


@given(st.binary(max_size=300))
def test_dlt645_decode_frame_raises_only_protocol_errors(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_everything_645(dlt645.decode_frame(raw))


@given(dlt645_frames())
def test_dlt645_message_decoders_raise_only_protocol_errors(frame: dlt645.Frame) -> None:
    decode_everything_645(frame)


@given(
    st.sampled_from(sorted(dlt645.DATA_ITEMS)),
    st.integers(0, 255),
    st.binary(max_size=24),
)
def test_dlt645_replies_for_every_known_identifier_raise_only_protocol_errors(
    data_identifier: str, control: int, payload: bytes
) -> None:
    wire_identifier = bytes.fromhex(data_identifier)[::-1]
    frame = dlt645.Frame("123456789012", 0x91 | control & 0x20, wire_identifier + payload)
    decode_everything_645(frame)


@given(dlt645_frames(), st.integers(0, 4))
def test_dlt645_frames_round_trip(frame: dlt645.Frame, preamble: int) -> None:
    assert dlt645.decode_frame(dlt645.encode_frame(frame, preamble_length=preamble)) == frame


@given(
    st.sampled_from(sorted(dlt645.DATA_ITEMS)),
    st.integers(-(10**16), 10**16),
)
def test_dlt645_numeric_values_round_trip_or_are_refused(data_identifier: str, raw: int) -> None:
    item = dlt645.data_item(data_identifier)
    if item.value_format is not dlt645.ValueFormat.NUMBER:
        return
    value = Decimal(raw).scaleb(-item.decimals)
    try:
        encoded = dlt645.encode_read_reply("123456789012", data_identifier, value)
    except ProtocolError:
        return
    assert dlt645.decode_read_reply(dlt645.decode_frame(encoded)).value == value


@settings(max_examples=200)
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_dlt645_stream_framer_accepts_any_bytes_in_any_chunks(data: bytes, cuts: list[int]) -> None:
    framer = dlt645.Dlt645StreamFramer()
    for chunk in chunked(data, cuts):
        for frame in framer.feed(chunk):
            assert isinstance(frame, dlt645.Frame)
    assert len(framer.pending) <= len(data)


@settings(max_examples=200)
@given(
    st.lists(st.tuples(GARBAGE_WITHOUT_START_BYTE, dlt645_frames()), min_size=1, max_size=4),
    st.lists(st.integers(0, 1000), max_size=8),
)
def test_dlt645_stream_framer_finds_every_frame_between_garbage(
    pieces: list[tuple[bytes, dlt645.Frame]], cuts: list[int]
) -> None:
    stream = b"".join(garbage + dlt645.encode_frame(frame) for garbage, frame in pieces)
    framer = dlt645.Dlt645StreamFramer()
    found = [frame for chunk in chunked(stream, cuts) for frame in framer.feed(chunk)]
    assert found == [frame for _, frame in pieces]


@given(st.binary(max_size=300))
def test_cjt188_decode_frame_raises_only_protocol_errors(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_everything_188(cjt188.decode_frame(raw))


@given(cjt188_frames())
def test_cjt188_message_decoders_raise_only_protocol_errors(frame: cjt188.Frame) -> None:
    decode_everything_188(frame)


@given(
    st.sampled_from(["901F", "1F90", "A017", "17A0", "810A"]),
    st.sampled_from([0x81, 0x83, 0x84, 0xC1, 0x01, 0x04]),
    st.binary(max_size=24),
)
def test_cjt188_replies_with_known_identifiers_raise_only_protocol_errors(
    data_identifier: str, control: int, payload: bytes
) -> None:
    frame = cjt188.Frame(0x10, "00000012345678", control, bytes.fromhex(data_identifier) + payload)
    decode_everything_188(frame)


@given(cjt188_frames(), st.integers(0, 4))
def test_cjt188_frames_round_trip(frame: cjt188.Frame, preamble: int) -> None:
    assert cjt188.decode_frame(cjt188.encode_frame(frame, preamble_length=preamble)) == frame


@settings(max_examples=200)
@given(
    st.lists(st.tuples(GARBAGE_WITHOUT_START_BYTE, cjt188_frames()), min_size=1, max_size=4),
    st.lists(st.integers(0, 1000), max_size=8),
)
def test_cjt188_stream_framer_finds_every_frame_between_garbage(
    pieces: list[tuple[bytes, cjt188.Frame]], cuts: list[int]
) -> None:
    stream = b"".join(garbage + cjt188.encode_frame(frame) for garbage, frame in pieces)
    framer = cjt188.Cjt188StreamFramer()
    found = [frame for chunk in chunked(stream, cuts) for frame in framer.feed(chunk)]
    assert found == [frame for _, frame in pieces]


@given(
    st.sampled_from([*modbus_maps.DTSD1352_MAP.registers, *modbus_maps.ADF400L_MAP.registers]),
    st.sampled_from(list(modbus_maps.DataType)),
    st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=2),
)
def test_modbus_words_decode_and_round_trip(
    register: modbus_maps.Register, data_type: modbus_maps.DataType, words: list[int]
) -> None:
    retyped = modbus_maps.Register(
        register.name,
        register.name_zh,
        register.address,
        data_type,
        register.scale,
        register.unit,
        register.kind,
    )
    try:
        value = modbus_maps.decode_register(retyped, words[: retyped.count])
    except ProtocolError:
        return
    again = modbus_maps.encode_register(retyped, value)
    assert modbus_maps.decode_register(retyped, again) == value


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_mqtt_parsers_raise_only_payload_errors_on_any_text(payload: bytes | str) -> None:
    for parse in payloads.PARSERS.values():
        with contextlib.suppress(PayloadError):
            parse(payload)


JSON_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["gateway_id", "message_id", "readings", "registers", "events", "x"])
            | st.text(max_size=6),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(JSON_DOCUMENTS)
def test_mqtt_parsers_raise_only_payload_errors_on_any_json(document: object) -> None:
    text = json.dumps(document)
    for parse in payloads.PARSERS.values():
        with contextlib.suppress(PayloadError):
            parse(text)
