"""Read data (11H) and read address (13H): requests, replies, and their decoders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from submeter.protocols.dlt645.data_identifiers import DataItem, DataValue, data_item, decode_value
from submeter.protocols.dlt645.data_identifiers import encode_value as encode_item_value
from submeter.protocols.dlt645.error_reply import expect_reply
from submeter.protocols.dlt645.frame import (
    WILDCARD_ADDRESS,
    Frame,
    Function,
    address_from_wire,
    address_to_wire,
    control_code,
    data_identifier_from_wire,
    data_identifier_to_wire,
    encode_frame,
)
from submeter.protocols.errors import FrameFormatError
from submeter.protocols.meter_clock import CHINA_TIME_ZONE


@dataclass(frozen=True, slots=True)
class ReadReply:
    """A decoded 91H reply: which meter, which item, and its value."""

    address: str
    data_identifier: str
    item: DataItem
    value: DataValue
    follow_up: bool = False


def read_request_frame(address: str, data_identifier: str) -> Frame:
    return Frame(
        address=address,
        control_code=Function.READ_DATA,
        data=data_identifier_to_wire(data_identifier),
    )


def encode_read_request(address: str, data_identifier: str, *, preamble_length: int = 0) -> bytes:
    """`68 A… 68 11 04 DI+33 CS 16`: ask one meter for one data identifier."""
    return encode_frame(
        read_request_frame(address, data_identifier), preamble_length=preamble_length
    )


def decode_read_request(frame: Frame) -> str:
    """The data identifier a master asks for (simulator side)."""
    if frame.from_meter or frame.function != Function.READ_DATA or len(frame.data) < 4:
        raise FrameFormatError(f"not a read request: control code {frame.control_code:02X}")
    return data_identifier_from_wire(frame.data[:4])


def encode_read_reply(
    address: str,
    data_identifier: str,
    value: DataValue,
    *,
    meter_tz: tzinfo = CHINA_TIME_ZONE,
    follow_up: bool = False,
    preamble_length: int = 0,
) -> bytes:
    """A 91H reply carrying `value` encoded per the registry (simulator side)."""
    item = data_item(data_identifier)
    payload = encode_item_value(item, value, meter_tz)
    frame = Frame(
        address=address,
        control_code=control_code(Function.READ_DATA, from_meter=True, follow_up=follow_up),
        data=data_identifier_to_wire(item.data_identifier) + payload,
    )
    return encode_frame(frame, preamble_length=preamble_length)


def decode_read_reply(frame: Frame, *, meter_tz: tzinfo = CHINA_TIME_ZONE) -> ReadReply:
    """A 91H/B1H reply → ReadReply. A D1H reply raises Dlt645ErrorReply."""
    expect_reply(frame, Function.READ_DATA)
    data_identifier = frame.data_identifier
    if data_identifier is None:
        raise FrameFormatError(f"read reply has {len(frame.data)} data bytes, no data identifier")
    item = data_item(data_identifier)
    return ReadReply(
        address=frame.address,
        data_identifier=data_identifier,
        item=item,
        value=decode_value(item, frame.payload, meter_tz),
        follow_up=frame.follow_up,
    )


def encode_read_address_request(*, preamble_length: int = 0) -> bytes:
    """13H to the wildcard address AA…AA: the one meter on the bus answers with its number."""
    frame = Frame(address=WILDCARD_ADDRESS, control_code=Function.READ_ADDRESS)
    return encode_frame(frame, preamble_length=preamble_length)


def encode_read_address_reply(address: str, *, preamble_length: int = 0) -> bytes:
    frame = Frame(
        address=address,
        control_code=control_code(Function.READ_ADDRESS, from_meter=True),
        data=address_to_wire(address),
    )
    return encode_frame(frame, preamble_length=preamble_length)


def decode_read_address_reply(frame: Frame) -> str:
    """The meter number carried by a 93H reply."""
    expect_reply(frame, Function.READ_ADDRESS)
    if len(frame.data) != 6:
        raise FrameFormatError(f"read-address reply has {len(frame.data)} data bytes, not 6")
    return address_from_wire(frame.data)
