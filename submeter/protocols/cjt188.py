"""CJ/T 188-2004 for water (and gas, heat) meters.

```
[FE…]  68  T  A0…A6  C  L  DI(2) SER  DATA  CS  16
```
Unlike DL/T 645 the data is not +33H scrambled. The 2-byte DI is sent high byte first by some
vendors (`90 1F`) and low byte first by others (`1F 90`): decoders accept both, encoders take a
`DataIdentifierOrder` per vendor. The bits of the status word ST also differ per vendor:
`StatusLayout` says where the valve and battery bits are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from enum import IntEnum, StrEnum

from submeter.protocols.bcd import bcd_to_decimal, decimal_to_bcd
from submeter.protocols.errors import (
    ChecksumError,
    FrameFormatError,
    InvalidValue,
    MeterErrorReply,
    TruncatedFrame,
)
from submeter.protocols.meter_clock import (
    CHINA_TIME_ZONE,
    bcd_fields,
    fields_to_bcd,
    meter_time_or_none,
    to_meter_wall_time,
)
from submeter.protocols.stream_framer import StreamFramer

PREAMBLE_BYTE = 0xFE
START_BYTE = 0x68
END_BYTE = 0x16
HEADER_LENGTH = 11
"""68, T, seven address bytes, C, L."""
MAX_DATA_LENGTH = 255

WILDCARD_ADDRESS = "AAAAAAAAAAAAAA"
WILDCARD_METER_TYPE = 0xAA

DIRECTION_BIT = 0x80
ABNORMAL_BIT = 0x40
FUNCTION_MASK = 0x3F

_ADDRESS_PATTERN = re.compile(r"[0-9A]{14}")
_DATA_IDENTIFIER_PATTERN = re.compile(r"[0-9A-F]{4}")


class MeterType(IntEnum):
    COLD_WATER = 0x10
    HOT_WATER = 0x11
    DRINKING_WATER = 0x12
    RECLAIMED_WATER = 0x13
    HEAT = 0x20
    COOLING = 0x21
    GAS = 0x30
    ELECTRICITY = 0x40


class Function(IntEnum):
    """Bits D5–D0 of the control byte."""

    READ_DATA = 0x01
    READ_ADDRESS = 0x03
    WRITE_DATA = 0x04
    READ_KEY_VERSION = 0x09
    WRITE_ADDRESS = 0x15
    WRITE_SYNC_DATA = 0x16


class DataIdentifier(StrEnum):
    METERING_DATA = "901F"
    READ_ADDRESS = "810A"
    VALVE_CONTROL = "A017"
    WRITE_TIME = "A015"
    WRITE_ADDRESS = "A018"
    WRITE_SYNC_DATA = "A016"


KNOWN_DATA_IDENTIFIERS = frozenset(
    {str(item) for item in DataIdentifier}
    | {f"D12{n:X}" for n in range(12)}
    | {"8102", "8103", "8104", "8105", "8106", "8108"}
    | {"A010", "A011", "A012", "A013", "A014", "A019"}
)
"""DIs used to tell the byte order of a received DI (none of them reads as another reversed)."""


class DataIdentifierOrder(StrEnum):
    HIGH_FIRST = "high_first"
    """`90 1F` (KingDa, the standard's tables)."""
    LOW_FIRST = "low_first"
    """`1F 90` (some meters, xijunzhou's DI0/DI1)."""


UNIT_CODES: dict[int, str] = {
    0x01: "J",
    0x02: "Wh",
    0x05: "kWh",
    0x08: "MWh",
    0x0A: "MWh×100",
    0x0B: "kJ",
    0x0E: "MJ",
    0x11: "GJ",
    0x13: "GJ×100",
    0x14: "W",
    0x17: "kW",
    0x1A: "MW",
    0x29: "L",
    0x2C: "m3",
    0x32: "L/h",
    0x35: "m3/h",
}
UNIT_CODE_M3 = 0x2C
UNIT_CODE_LITRE = 0x29
_LITRES_PER_M3 = Decimal(1000)


class ValveState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ABNORMAL = "abnormal"
    UNKNOWN = "unknown"
    """Code 10, which the standard does not define."""


_VALVE_STATES = (ValveState.OPEN, ValveState.CLOSED, ValveState.UNKNOWN, ValveState.ABNORMAL)


class ValveAction(IntEnum):
    OPEN = 0x55
    CLOSE = 0x99
    EXERCISE = 0xAA
    """活动阀门: move the valve to keep it from seizing."""
    HALF_OPEN = 0x77
    """Vendor extension."""


@dataclass(frozen=True, slots=True)
class StatusLayout:
    """Where the 2-bit valve state and the battery bit sit in the ST word (ST0 = low byte)."""

    valve_shift: int
    battery_bit: int


STANDARD_STATUS_LAYOUT = StatusLayout(valve_shift=0, battery_bit=2)
"""ST0 D0–D1 valve, D2 battery; ST1 vendor-defined."""
KINGDA_STATUS_LAYOUT = StatusLayout(valve_shift=8, battery_bit=10)


@dataclass(frozen=True, slots=True)
class MeterStatus:
    """The ST word (ST0 | ST1 << 8) and what the layout says it means."""

    raw: int
    valve: ValveState
    battery_low: bool


def decode_status(wire: bytes, layout: StatusLayout = STANDARD_STATUS_LAYOUT) -> MeterStatus:
    if len(wire) != 2:
        raise FrameFormatError(f"status ST is {len(wire)} bytes, expected 2")
    raw = int.from_bytes(wire, "little")
    return MeterStatus(
        raw=raw,
        valve=_VALVE_STATES[(raw >> layout.valve_shift) & 0x03],
        battery_low=bool(raw >> layout.battery_bit & 1),
    )


def build_status(
    valve: ValveState, battery_low: bool, layout: StatusLayout = STANDARD_STATUS_LAYOUT
) -> MeterStatus:
    """A status word with only the valve and battery bits set (simulator side)."""
    raw = _VALVE_STATES.index(valve) << layout.valve_shift | int(battery_low) << layout.battery_bit
    return MeterStatus(raw=raw, valve=valve, battery_low=battery_low)


@dataclass(frozen=True, slots=True)
class MeteredQuantity:
    """A 4-byte BCD value (2 decimals) and its unit code."""

    value: Decimal
    unit_code: int

    @property
    def unit(self) -> str:
        return UNIT_CODES.get(self.unit_code, f"unit {self.unit_code:02X}")

    def to_m3(self) -> Decimal:
        """The volume in m³; raises InvalidValue if the unit is not a volume."""
        if self.unit_code == UNIT_CODE_M3:
            return self.value
        if self.unit_code == UNIT_CODE_LITRE:
            return self.value / _LITRES_PER_M3
        raise InvalidValue(f"{self.unit} is not a volume unit")


@dataclass(frozen=True, slots=True)
class Frame:
    """One CJ/T 188 frame. `address` is the 14-character meter number (A = wildcard)."""

    meter_type: int
    address: str
    control_code: int
    data: bytes = b""

    @property
    def function(self) -> int:
        return self.control_code & FUNCTION_MASK

    @property
    def from_meter(self) -> bool:
        return bool(self.control_code & DIRECTION_BIT)

    @property
    def abnormal(self) -> bool:
        return bool(self.control_code & ABNORMAL_BIT)

    @property
    def data_identifier(self) -> str | None:
        """The DI as 4 hex digits (high byte first), whichever order it came in."""
        if self.abnormal or len(self.data) < 3:
            return None
        return _read_data_identifier(self.data[:2])[0]

    @property
    def data_identifier_order(self) -> DataIdentifierOrder | None:
        if self.abnormal or len(self.data) < 3:
            return None
        return _read_data_identifier(self.data[:2])[1]

    @property
    def serial(self) -> int | None:
        """SER, the sequence byte after the DI (the first byte of an error reply)."""
        if self.abnormal:
            return self.data[0] if self.data else None
        return self.data[2] if len(self.data) >= 3 else None

    @property
    def payload(self) -> bytes:
        """The data after DI and SER."""
        return self.data[3:] if not self.abnormal else self.data[1:]


@dataclass(frozen=True, slots=True)
class WaterReading:
    """A decoded 901F reply."""

    meter_type: int
    address: str
    serial: int
    current: MeteredQuantity
    settlement: MeteredQuantity
    meter_time: datetime | None
    status: MeterStatus


class Cjt188ErrorReply(MeterErrorReply):
    """An abnormal reply (C1H, C4H…): data SER ST. `status_word` is ST when present."""

    def __init__(self, frame: Frame) -> None:
        status_word = int.from_bytes(frame.data[1:3], "little") if len(frame.data) >= 3 else None
        super().__init__(frame.address, frame.control_code, None, ())
        self.status_word = status_word


def _read_data_identifier(wire: bytes) -> tuple[str, DataIdentifierOrder]:
    high_first = wire.hex().upper()
    if high_first in KNOWN_DATA_IDENTIFIERS:
        return high_first, DataIdentifierOrder.HIGH_FIRST
    low_first = wire[::-1].hex().upper()
    if low_first in KNOWN_DATA_IDENTIFIERS:
        return low_first, DataIdentifierOrder.LOW_FIRST
    return high_first, DataIdentifierOrder.HIGH_FIRST


def _data_identifier_to_wire(data_identifier: str, order: DataIdentifierOrder) -> bytes:
    normalized = data_identifier.upper()
    if not _DATA_IDENTIFIER_PATTERN.fullmatch(normalized):
        raise InvalidValue(f"data identifier {data_identifier!r} is not 4 hex digits")
    wire = bytes.fromhex(normalized)
    return wire if order is DataIdentifierOrder.HIGH_FIRST else wire[::-1]


def normalize_address(address: str) -> str:
    normalized = address.upper()
    if not _ADDRESS_PATTERN.fullmatch(normalized):
        raise InvalidValue(f"address {address!r} is not 14 digits (A for a wildcard nibble)")
    return normalized


def _address_from_wire(wire: bytes) -> str:
    text = wire[::-1].hex().upper()
    if not _ADDRESS_PATTERN.fullmatch(text):
        raise FrameFormatError(f"address bytes {wire.hex(' ').upper()} are not BCD")
    return text


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def control_code(function: int, *, from_meter: bool = False, abnormal: bool = False) -> int:
    if not 0 <= function <= FUNCTION_MASK:
        raise InvalidValue(f"function {function:#x} does not fit in bits D5–D0")
    return function | (DIRECTION_BIT if from_meter else 0) | (ABNORMAL_BIT if abnormal else 0)


def encode_frame(frame: Frame, *, preamble_length: int = 0) -> bytes:
    if not 0 <= frame.meter_type <= 0xFF or not 0 <= frame.control_code <= 0xFF:
        raise InvalidValue("meter type and control code must be one byte each")
    if len(frame.data) > MAX_DATA_LENGTH:
        raise InvalidValue(f"data is {len(frame.data)} bytes, at most {MAX_DATA_LENGTH} fit")
    if preamble_length < 0:
        raise InvalidValue("preamble length cannot be negative")
    body = (
        bytes([START_BYTE, frame.meter_type])
        + bytes.fromhex(normalize_address(frame.address))[::-1]
        + bytes([frame.control_code, len(frame.data)])
        + frame.data
    )
    return bytes([PREAMBLE_BYTE]) * preamble_length + body + bytes([checksum(body), END_BYTE])


def frame_length_at(buffer: bytes | bytearray, start: int) -> int | None:
    """Total frame length for a 68H at `start`; None if more bytes are needed, 0 if not a frame."""
    if buffer[start] != START_BYTE:
        return 0
    if len(buffer) - start < HEADER_LENGTH:
        return None
    return HEADER_LENGTH + buffer[start + HEADER_LENGTH - 1] + 2


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
    length = frame_length_at(body, 0)
    if length == 0:
        raise FrameFormatError(f"frame starts with {body[0]:02X}, expected 68")
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
        meter_type=body[1],
        address=_address_from_wire(body[2:9]),
        control_code=body[9],
        data=body[HEADER_LENGTH:-2],
    )


class Cjt188StreamFramer(StreamFramer[Frame]):
    """Feed bytes from a TCP or serial stream, get decoded CJ/T 188 frames."""

    def __init__(self) -> None:
        super().__init__(START_BYTE, frame_length_at, decode_frame)


def _request(
    address: str,
    meter_type: int,
    function: int,
    data_identifier: str,
    serial: int,
    order: DataIdentifierOrder,
    body: bytes = b"",
    *,
    from_meter: bool = False,
) -> Frame:
    if not 0 <= serial <= 0xFF:
        raise InvalidValue(f"serial {serial} is not one byte")
    return Frame(
        meter_type=meter_type,
        address=address,
        control_code=control_code(function, from_meter=from_meter),
        data=_data_identifier_to_wire(data_identifier, order) + bytes([serial]) + body,
    )


def _expect(frame: Frame, function: int, from_meter: bool, data_identifier: str) -> None:
    if frame.from_meter != from_meter or frame.function != function:
        raise FrameFormatError(
            f"expected control code {control_code(function, from_meter=from_meter):02X}, "
            f"got {frame.control_code:02X}"
        )
    if from_meter and frame.abnormal:
        raise Cjt188ErrorReply(frame)
    if frame.data_identifier != data_identifier:
        raise FrameFormatError(f"expected DI {data_identifier}, got {frame.data_identifier}")


def encode_read_request(
    address: str,
    *,
    meter_type: int = MeterType.COLD_WATER,
    data_identifier: str = DataIdentifier.METERING_DATA,
    serial: int = 0,
    data_identifier_order: DataIdentifierOrder = DataIdentifierOrder.HIGH_FIRST,
    preamble_length: int = 0,
) -> bytes:
    """01H read; by default 901F, the current metering data."""
    frame = _request(
        address, meter_type, Function.READ_DATA, data_identifier, serial, data_identifier_order
    )
    return encode_frame(frame, preamble_length=preamble_length)


def decode_read_request(frame: Frame) -> str:
    """The DI a master asks for (simulator side)."""
    if frame.from_meter or frame.function != Function.READ_DATA:
        raise FrameFormatError(f"not a read request: control code {frame.control_code:02X}")
    data_identifier = frame.data_identifier
    if data_identifier is None:
        raise FrameFormatError(f"read request has {len(frame.data)} data bytes, no DI and SER")
    return data_identifier


_WATER_READING_LENGTH = 19
"""Current 4+1, settlement 4+1, time 7, ST 2 (after DI and SER)."""


def decode_read_reply(
    frame: Frame,
    *,
    status_layout: StatusLayout = STANDARD_STATUS_LAYOUT,
    meter_tz: tzinfo = CHINA_TIME_ZONE,
) -> WaterReading:
    """An 81H reply to 901F → WaterReading; a C1H reply raises Cjt188ErrorReply."""
    _expect(frame, Function.READ_DATA, True, DataIdentifier.METERING_DATA)
    payload = frame.payload
    if len(payload) != _WATER_READING_LENGTH:
        raise FrameFormatError(
            f"901F reply has {len(payload)} bytes after DI and SER, expected "
            f"{_WATER_READING_LENGTH}"
        )
    return WaterReading(
        meter_type=frame.meter_type,
        address=frame.address,
        serial=frame.data[2],
        current=MeteredQuantity(bcd_to_decimal(payload[0:4], 2, False), payload[4]),
        settlement=MeteredQuantity(bcd_to_decimal(payload[5:9], 2, False), payload[9]),
        meter_time=_decode_time(payload[10:17], meter_tz),
        status=decode_status(payload[17:19], status_layout),
    )


def encode_read_reply(
    reading: WaterReading,
    *,
    data_identifier_order: DataIdentifierOrder = DataIdentifierOrder.HIGH_FIRST,
    meter_tz: tzinfo = CHINA_TIME_ZONE,
    preamble_length: int = 0,
) -> bytes:
    """The 81H reply carrying `reading` (simulator side)."""
    body = (
        _encode_quantity(reading.current)
        + _encode_quantity(reading.settlement)
        + _encode_time(reading.meter_time, meter_tz)
        + _encode_status(reading.status)
    )
    frame = _request(
        reading.address,
        reading.meter_type,
        Function.READ_DATA,
        DataIdentifier.METERING_DATA,
        reading.serial,
        data_identifier_order,
        body,
        from_meter=True,
    )
    return encode_frame(frame, preamble_length=preamble_length)


def encode_read_address_request(
    *,
    serial: int = 0,
    data_identifier_order: DataIdentifierOrder = DataIdentifierOrder.HIGH_FIRST,
    preamble_length: int = 0,
) -> bytes:
    """03H 810A to the wildcard type and address: the meter on the bus answers."""
    frame = _request(
        WILDCARD_ADDRESS,
        WILDCARD_METER_TYPE,
        Function.READ_ADDRESS,
        DataIdentifier.READ_ADDRESS,
        serial,
        data_identifier_order,
    )
    return encode_frame(frame, preamble_length=preamble_length)


def encode_read_address_reply(
    address: str,
    *,
    meter_type: int = MeterType.COLD_WATER,
    serial: int = 0,
    data_identifier_order: DataIdentifierOrder = DataIdentifierOrder.HIGH_FIRST,
    preamble_length: int = 0,
) -> bytes:
    frame = _request(
        address,
        meter_type,
        Function.READ_ADDRESS,
        DataIdentifier.READ_ADDRESS,
        serial,
        data_identifier_order,
        from_meter=True,
    )
    return encode_frame(frame, preamble_length=preamble_length)


def decode_read_address_reply(frame: Frame) -> str:
    """The address of the meter that answered 83H (its type is `frame.meter_type`)."""
    _expect(frame, Function.READ_ADDRESS, True, DataIdentifier.READ_ADDRESS)
    return frame.address


def encode_valve_command(
    address: str,
    action: ValveAction,
    *,
    meter_type: int = MeterType.COLD_WATER,
    serial: int = 0,
    data_identifier_order: DataIdentifierOrder = DataIdentifierOrder.HIGH_FIRST,
    preamble_length: int = 0,
) -> bytes:
    """04H A017 with V = 55H open, 99H close, AAH exercise, 77H half open."""
    frame = _request(
        address,
        meter_type,
        Function.WRITE_DATA,
        DataIdentifier.VALVE_CONTROL,
        serial,
        data_identifier_order,
        bytes([action]),
    )
    return encode_frame(frame, preamble_length=preamble_length)


def decode_valve_command(frame: Frame) -> ValveAction:
    """The valve action a master asks for (simulator side)."""
    _expect(frame, Function.WRITE_DATA, False, DataIdentifier.VALVE_CONTROL)
    if len(frame.payload) != 1:
        raise FrameFormatError(f"valve command has {len(frame.payload)} bytes after SER, not 1")
    try:
        return ValveAction(frame.payload[0])
    except ValueError:
        raise InvalidValue(f"unknown valve action {frame.payload[0]:02X}") from None


def encode_valve_reply(
    address: str,
    status: MeterStatus,
    *,
    meter_type: int = MeterType.COLD_WATER,
    serial: int = 0,
    data_identifier_order: DataIdentifierOrder = DataIdentifierOrder.HIGH_FIRST,
    preamble_length: int = 0,
) -> bytes:
    frame = _request(
        address,
        meter_type,
        Function.WRITE_DATA,
        DataIdentifier.VALVE_CONTROL,
        serial,
        data_identifier_order,
        _encode_status(status),
        from_meter=True,
    )
    return encode_frame(frame, preamble_length=preamble_length)


def decode_valve_reply(
    frame: Frame, *, status_layout: StatusLayout = STANDARD_STATUS_LAYOUT
) -> MeterStatus:
    """The status after an 84H valve reply; a C4H reply raises Cjt188ErrorReply."""
    _expect(frame, Function.WRITE_DATA, True, DataIdentifier.VALVE_CONTROL)
    return decode_status(frame.payload, status_layout)


def encode_error_reply(
    address: str,
    function: int,
    status: MeterStatus,
    *,
    meter_type: int = MeterType.COLD_WATER,
    serial: int = 0,
    preamble_length: int = 0,
) -> bytes:
    """An abnormal reply, data SER ST (simulator side)."""
    frame = Frame(
        meter_type=meter_type,
        address=address,
        control_code=control_code(function, from_meter=True, abnormal=True),
        data=bytes([serial]) + _encode_status(status),
    )
    return encode_frame(frame, preamble_length=preamble_length)


def _encode_quantity(quantity: MeteredQuantity) -> bytes:
    if not 0 <= quantity.unit_code <= 0xFF:
        raise InvalidValue(f"unit code {quantity.unit_code} is not one byte")
    return decimal_to_bcd(quantity.value, 4, 2, False) + bytes([quantity.unit_code])


def _encode_status(status: MeterStatus) -> bytes:
    if not 0 <= status.raw <= 0xFFFF:
        raise InvalidValue(f"status word {status.raw:#x} is not 16 bits")
    return status.raw.to_bytes(2, "little")


def _decode_time(wire: bytes, meter_tz: tzinfo) -> datetime | None:
    """ss mm hh DD MM YY_L YY_H → aware datetime, None if not a time (e.g. all zeros)."""
    fields = bcd_fields(wire)
    if fields is None:
        return None
    second, minute, hour, day, month, year_low, year_high = fields
    return meter_time_or_none(
        year_high * 100 + year_low, month, day, hour, minute, second, meter_tz
    )


def _encode_time(at: datetime | None, meter_tz: tzinfo) -> bytes:
    if at is None:
        return bytes(7)
    local = to_meter_wall_time(at, meter_tz)
    year_high, year_low = divmod(local.year, 100)
    return fields_to_bcd(
        [local.second, local.minute, local.hour, local.day, local.month, year_low, year_high]
    )
