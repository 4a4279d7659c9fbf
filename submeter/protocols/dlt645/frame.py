"""DL/T 645-2007 frames: layout, control byte, address, +33H data, checksum.

```
[FE…]  68  A0…A5  68  C  L  DATA(L bytes, each +33H)  CS  16
```
`Frame.data` holds the data field *after* removing the +33H, so it reads as the standard's
tables do (DI0 first, values low byte first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from submeter.protocols.errors import (
    ChecksumError,
    FrameFormatError,
    InvalidValue,
    TruncatedFrame,
)
from submeter.protocols.stream_framer import StreamFramer

PREAMBLE_BYTE = 0xFE
START_BYTE = 0x68
END_BYTE = 0x16
DATA_OFFSET = 0x33
HEADER_LENGTH = 10
"""68, six address bytes, 68, C, L."""
MAX_DATA_LENGTH = 255

BROADCAST_ADDRESS = "999999999999"
WILDCARD_ADDRESS = "AAAAAAAAAAAA"

DIRECTION_BIT = 0x80
ABNORMAL_BIT = 0x40
FOLLOW_UP_BIT = 0x20
FUNCTION_MASK = 0x1F

_ADDRESS_PATTERN = re.compile(r"[0-9A]{12}")
_DATA_IDENTIFIER_PATTERN = re.compile(r"[0-9A-F]{8}")


class Function(IntEnum):
    """Bits D4–D0 of the control byte."""

    BROADCAST_TIME = 0x08
    READ_DATA = 0x11
    READ_FOLLOW_UP = 0x12
    READ_ADDRESS = 0x13
    WRITE_DATA = 0x14
    WRITE_ADDRESS = 0x15
    FREEZE = 0x16
    CHANGE_BAUD_RATE = 0x17
    CHANGE_PASSWORD = 0x18
    CLEAR_DEMAND = 0x19
    CLEAR_METER = 0x1A
    CLEAR_EVENTS = 0x1B
    RELAY_CONTROL = 0x1C


FUNCTIONS_WITH_DATA_IDENTIFIER = frozenset(
    {Function.READ_DATA, Function.READ_FOLLOW_UP, Function.WRITE_DATA}
)


def control_code(
    function: int, *, from_meter: bool = False, abnormal: bool = False, follow_up: bool = False
) -> int:
    """Build the control byte C from its function and flags."""
    if not 0 <= function <= FUNCTION_MASK:
        raise InvalidValue(f"function {function:#x} does not fit in bits D4–D0")
    return (
        function
        | (DIRECTION_BIT if from_meter else 0)
        | (ABNORMAL_BIT if abnormal else 0)
        | (FOLLOW_UP_BIT if follow_up else 0)
    )


@dataclass(frozen=True, slots=True)
class Frame:
    """One DL/T 645 frame. `address` is the 12-character meter number as printed on the
    nameplate (digits, or `A` for a wildcard nibble); `data` is already de-scrambled."""

    address: str
    control_code: int
    data: bytes = b""

    @property
    def function(self) -> int:
        return self.control_code & FUNCTION_MASK

    @property
    def from_meter(self) -> bool:
        """Direction bit D7: True for a reply (meter → master)."""
        return bool(self.control_code & DIRECTION_BIT)

    @property
    def abnormal(self) -> bool:
        """Bit D6: the meter reports an error."""
        return bool(self.control_code & ABNORMAL_BIT)

    @property
    def follow_up(self) -> bool:
        """Bit D5: more data follows in a 12H exchange."""
        return bool(self.control_code & FOLLOW_UP_BIT)

    @property
    def data_identifier(self) -> str | None:
        """DI3..DI0 as 8 hex digits for read/write frames, else None."""
        if (
            self.function in FUNCTIONS_WITH_DATA_IDENTIFIER
            and not self.abnormal
            and len(self.data) >= 4
        ):
            return data_identifier_from_wire(self.data[:4])
        return None

    @property
    def payload(self) -> bytes:
        """The data after the data identifier (or all of it when there is none)."""
        return self.data[4:] if self.data_identifier is not None else self.data


def normalize_address(address: str) -> str:
    """Check a 12-character meter address and return it in upper case."""
    normalized = address.upper()
    if not _ADDRESS_PATTERN.fullmatch(normalized):
        raise InvalidValue(f"address {address!r} is not 12 digits (A for a wildcard nibble)")
    return normalized


def address_to_wire(address: str) -> bytes:
    """`123456789012` → `12 90 78 56 34 12` (lowest two digits first)."""
    return bytes.fromhex(normalize_address(address))[::-1]


def address_from_wire(wire: bytes) -> str:
    text = wire[::-1].hex().upper()
    if not _ADDRESS_PATTERN.fullmatch(text):
        raise FrameFormatError(f"address bytes {wire.hex(' ').upper()} are not BCD")
    return text


def normalize_data_identifier(data_identifier: str) -> str:
    normalized = data_identifier.upper()
    if not _DATA_IDENTIFIER_PATTERN.fullmatch(normalized):
        raise InvalidValue(f"data identifier {data_identifier!r} is not 8 hex digits")
    return normalized


def data_identifier_to_wire(data_identifier: str) -> bytes:
    """`00010000` → `00 00 01 00` (DI0 first), before the +33H."""
    return bytes.fromhex(normalize_data_identifier(data_identifier))[::-1]


def data_identifier_from_wire(wire: bytes) -> str:
    return wire[::-1].hex().upper()


def scramble(data: bytes) -> bytes:
    """Add 33H to every byte (transmit side)."""
    return bytes((byte + DATA_OFFSET) & 0xFF for byte in data)


def unscramble(data: bytes) -> bytes:
    """Subtract 33H from every byte (receive side)."""
    return bytes((byte - DATA_OFFSET) & 0xFF for byte in data)


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def encode_frame(frame: Frame, *, preamble_length: int = 0) -> bytes:
    """Frame → wire bytes, with `preamble_length` FE wake-up bytes in front."""
    if not 0 <= frame.control_code <= 0xFF:
        raise InvalidValue(f"control code {frame.control_code} is not one byte")
    if len(frame.data) > MAX_DATA_LENGTH:
        raise InvalidValue(f"data is {len(frame.data)} bytes, at most {MAX_DATA_LENGTH} fit")
    if preamble_length < 0:
        raise InvalidValue("preamble length cannot be negative")
    body = (
        bytes([START_BYTE])
        + address_to_wire(frame.address)
        + bytes([START_BYTE, frame.control_code, len(frame.data)])
        + scramble(frame.data)
    )
    return bytes([PREAMBLE_BYTE]) * preamble_length + body + bytes([checksum(body), END_BYTE])


def frame_length_at(buffer: bytes | bytearray, start: int) -> int | None:
    """Total length of the frame whose 68H is at `start`, without any preamble.

    None when more bytes are needed to tell; 0 when these bytes cannot begin a frame.
    """
    available = len(buffer) - start
    if available < HEADER_LENGTH:
        if available > 7 and buffer[start + 7] != START_BYTE:
            return 0
        return None
    if buffer[start] != START_BYTE or buffer[start + 7] != START_BYTE:
        return 0
    return HEADER_LENGTH + buffer[start + 9] + 2


def decode_frame(raw: bytes) -> Frame:
    """Wire bytes (optionally with FE wake-up bytes) → Frame.

    Raises TruncatedFrame, FrameFormatError or ChecksumError; never anything else.
    """
    start = 0
    while start < len(raw) and raw[start] == PREAMBLE_BYTE:
        start += 1
    body = raw[start:]
    if not body:
        raise TruncatedFrame("no frame after the preamble")
    if body[0] != START_BYTE:
        raise FrameFormatError(f"frame starts with {body[0]:02X}, expected 68")
    length = frame_length_at(body, 0)
    if length == 0:
        raise FrameFormatError("second start byte 68 missing after the address")
    if length is None or len(body) < length:
        raise TruncatedFrame(f"frame has {len(body)} bytes, needs {length or HEADER_LENGTH}+")
    if len(body) > length:
        raise FrameFormatError(f"{len(body) - length} bytes after the end of the frame")
    if body[-1] != END_BYTE:
        raise FrameFormatError(f"frame ends with {body[-1]:02X}, expected 16")
    expected = checksum(body[:-2])
    if body[-2] != expected:
        raise ChecksumError(expected=expected, actual=body[-2])
    return Frame(
        address=address_from_wire(body[1:7]),
        control_code=body[8],
        data=unscramble(body[HEADER_LENGTH:-2]),
    )


class Dlt645StreamFramer(StreamFramer[Frame]):
    """Feed bytes from a TCP or serial stream, get decoded DL/T 645 frames."""

    def __init__(self) -> None:
        super().__init__(START_BYTE, frame_length_at, decode_frame)
