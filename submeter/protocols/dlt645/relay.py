"""Relay control 1CH (拉合闸 / 报警 / 保电), plaintext password levels only.

```
68 A0…A5 68 1C 10  PA P0 P1 P2  C0 C1 C2 C3  N1 N2  N3…N8(ssmmhhDDMMYY)  CS 16
```
Meters that need the encrypted level (96H/98H with an ESAM MAC) cannot be driven this way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import IntEnum

from submeter.protocols.dlt645.error_reply import (
    Dlt645ErrorFlag,
    encode_error_reply,
    expect_reply,
)
from submeter.protocols.dlt645.frame import Frame, Function, control_code, encode_frame
from submeter.protocols.errors import FrameFormatError, InvalidValue
from submeter.protocols.meter_clock import (
    CENTURY,
    CHINA_TIME_ZONE,
    bcd_fields,
    fields_to_bcd,
    meter_time_or_none,
    to_meter_wall_time,
)

RELAY_DATA_LENGTH = 16
PLAINTEXT_PASSWORD_LEVEL = 0x03
"""The level the standard's note gives for plaintext commands; some meters use 02H."""

_PASSWORD_PATTERN = re.compile(r"[0-9A-F]{6}")
_OPERATOR_PATTERN = re.compile(r"[0-9A-F]{8}")


class RelayAction(IntEnum):
    """N1, the command type."""

    TRIP = 0x1A
    CLOSE_ALLOWED = 0x1B
    """合闸允许: the tenant closes it with the button or card."""
    CLOSE_DIRECTLY = 0x1C
    ALARM = 0x2A
    ALARM_RELEASE = 0x2B
    PROTECT = 0x3A
    """保电: the meter refuses to trip while set."""
    PROTECT_RELEASE = 0x3B


@dataclass(frozen=True, slots=True)
class Credentials:
    """Password level PA, password (6 hex digits as printed, sent low byte first) and
    operator code (8 hex digits). Meter-specific: keep them per meter model."""

    password_level: int = 0x02
    password: str = "000000"
    operator_code: str = "00000000"

    def __post_init__(self) -> None:
        if not 0 <= self.password_level <= 0xFF:
            raise InvalidValue(f"password level {self.password_level} is not one byte")
        if not _PASSWORD_PATTERN.fullmatch(self.password):
            raise InvalidValue(f"password {self.password!r} is not 6 hex digits")
        if not _OPERATOR_PATTERN.fullmatch(self.operator_code):
            raise InvalidValue(f"operator code {self.operator_code!r} is not 8 hex digits")

    def to_wire(self) -> bytes:
        """PA P0 P1 P2 C0 C1 C2 C3 (before the +33H)."""
        return (
            bytes([self.password_level])
            + bytes.fromhex(self.password)[::-1]
            + bytes.fromhex(self.operator_code)[::-1]
        )

    @classmethod
    def from_wire(cls, wire: bytes) -> Credentials:
        return cls(
            password_level=wire[0],
            password=wire[1:4][::-1].hex().upper(),
            operator_code=wire[4:8][::-1].hex().upper(),
        )


@dataclass(frozen=True, slots=True)
class RelayCommand:
    """One 1CH command. `deadline` is when the meter stops accepting it (aware datetime)."""

    address: str
    action: RelayAction
    deadline: datetime
    credentials: Credentials = field(default_factory=Credentials)


def encode_relay_command(
    command: RelayCommand, *, meter_tz: tzinfo = CHINA_TIME_ZONE, preamble_length: int = 0
) -> bytes:
    local = to_meter_wall_time(command.deadline, meter_tz)
    deadline = fields_to_bcd(
        [
            local.second,
            local.minute,
            local.hour,
            local.day,
            local.month,
            local.year - CENTURY,
        ]
    )
    data = command.credentials.to_wire() + bytes([command.action, 0x00]) + deadline
    frame = Frame(address=command.address, control_code=Function.RELAY_CONTROL, data=data)
    return encode_frame(frame, preamble_length=preamble_length)


def decode_relay_command(frame: Frame, *, meter_tz: tzinfo = CHINA_TIME_ZONE) -> RelayCommand:
    """A 1CH request → RelayCommand (simulator side)."""
    if frame.from_meter or frame.function != Function.RELAY_CONTROL:
        raise FrameFormatError(f"not a relay command: control code {frame.control_code:02X}")
    if len(frame.data) != RELAY_DATA_LENGTH:
        raise FrameFormatError(
            f"relay command has {len(frame.data)} data bytes, expected {RELAY_DATA_LENGTH}"
        )
    try:
        action = RelayAction(frame.data[8])
    except ValueError:
        raise InvalidValue(f"unknown relay command type {frame.data[8]:02X}") from None
    fields = bcd_fields(frame.data[10:16])
    deadline = None
    if fields is not None:
        second, minute, hour, day, month, year = fields
        deadline = meter_time_or_none(CENTURY + year, month, day, hour, minute, second, meter_tz)
    if deadline is None:
        raise InvalidValue(f"relay deadline {frame.data[10:16].hex(' ').upper()} is not a time")
    return RelayCommand(
        address=frame.address,
        action=action,
        deadline=deadline,
        credentials=Credentials.from_wire(frame.data[:8]),
    )


def encode_relay_reply(
    address: str, errors: Dlt645ErrorFlag | None = None, *, preamble_length: int = 0
) -> bytes:
    """9CH with no data, or DCH with the ERR byte when `errors` is given."""
    if errors is not None:
        return encode_error_reply(
            address, Function.RELAY_CONTROL, errors, preamble_length=preamble_length
        )
    frame = Frame(
        address=address, control_code=control_code(Function.RELAY_CONTROL, from_meter=True)
    )
    return encode_frame(frame, preamble_length=preamble_length)


def decode_relay_reply(frame: Frame) -> None:
    """Return if the meter accepted the command (9CH); raise Dlt645ErrorReply on DCH."""
    expect_reply(frame, Function.RELAY_CONTROL)
