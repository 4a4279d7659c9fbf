"""Write data (14H): DI, password, operator code and the value; 94H or D4H in reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo

from submeter.protocols.dlt645.data_identifiers import (
    DataValue,
    data_item,
    decode_value,
    encode_value,
)
from submeter.protocols.dlt645.error_reply import expect_reply
from submeter.protocols.dlt645.frame import (
    Frame,
    Function,
    control_code,
    data_identifier_to_wire,
    encode_frame,
)
from submeter.protocols.dlt645.relay import Credentials
from submeter.protocols.errors import FrameFormatError
from submeter.protocols.meter_clock import CHINA_TIME_ZONE

_CREDENTIALS_LENGTH = 8


@dataclass(frozen=True, slots=True)
class WriteRequest:
    address: str
    data_identifier: str
    value: DataValue
    credentials: Credentials = field(default_factory=Credentials)


def encode_write_request(
    request: WriteRequest, *, meter_tz: tzinfo = CHINA_TIME_ZONE, preamble_length: int = 0
) -> bytes:
    item = data_item(request.data_identifier)
    data = (
        data_identifier_to_wire(item.data_identifier)
        + request.credentials.to_wire()
        + encode_value(item, request.value, meter_tz)
    )
    frame = Frame(address=request.address, control_code=Function.WRITE_DATA, data=data)
    return encode_frame(frame, preamble_length=preamble_length)


def decode_write_request(frame: Frame, *, meter_tz: tzinfo = CHINA_TIME_ZONE) -> WriteRequest:
    """A 14H request → WriteRequest (simulator side)."""
    if frame.from_meter or frame.function != Function.WRITE_DATA:
        raise FrameFormatError(f"not a write request: control code {frame.control_code:02X}")
    data_identifier = frame.data_identifier
    if data_identifier is None or len(frame.payload) < _CREDENTIALS_LENGTH:
        raise FrameFormatError(f"write request has only {len(frame.data)} data bytes")
    item = data_item(data_identifier)
    return WriteRequest(
        address=frame.address,
        data_identifier=data_identifier,
        value=decode_value(item, frame.payload[_CREDENTIALS_LENGTH:], meter_tz),
        credentials=Credentials.from_wire(frame.payload[:_CREDENTIALS_LENGTH]),
    )


def encode_write_reply(address: str, *, preamble_length: int = 0) -> bytes:
    frame = Frame(address=address, control_code=control_code(Function.WRITE_DATA, from_meter=True))
    return encode_frame(frame, preamble_length=preamble_length)


def decode_write_reply(frame: Frame) -> None:
    """Return if the meter accepted the write (94H); raise Dlt645ErrorReply on D4H."""
    expect_reply(frame, Function.WRITE_DATA)
