"""Broadcast time synchronisation (08H to 99…99; meters do not reply).

The standard sends six bytes ssmmhhDDMMYY (seconds first). Implementations disagree, so the
byte order is a per-model setting: `TimeByteOrder`.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from enum import StrEnum

from submeter.protocols.dlt645.frame import (
    BROADCAST_ADDRESS,
    Frame,
    Function,
    encode_frame,
)
from submeter.protocols.errors import FrameFormatError, InvalidValue
from submeter.protocols.meter_clock import (
    CENTURY,
    CHINA_TIME_ZONE,
    bcd_fields,
    fields_to_bcd,
    meter_time_or_none,
    to_meter_wall_time,
)


class TimeByteOrder(StrEnum):
    SECONDS_FIRST = "ssmmhhDDMMYY"
    """The standard's order (DLT645.dll docs and the 2007 text)."""
    YEAR_FIRST = "YYMMDDhhmmss"
    """PyPI dlt645 3.2.0."""
    YEAR_FIRST_NO_SECONDS = "YYMMDDhhmm"
    """esphome-component-dlt645 (five bytes)."""


def _field_order(byte_order: TimeByteOrder) -> list[str]:
    text = str(byte_order)
    return [text[i : i + 2] for i in range(0, len(text), 2)]


def encode_broadcast_time(
    at: datetime,
    *,
    byte_order: TimeByteOrder = TimeByteOrder.SECONDS_FIRST,
    meter_tz: tzinfo = CHINA_TIME_ZONE,
    preamble_length: int = 0,
) -> bytes:
    """Set every meter's clock to `at` (an aware datetime, converted to `meter_tz`)."""
    local = to_meter_wall_time(at, meter_tz)
    values = {
        "ss": local.second,
        "mm": local.minute,
        "hh": local.hour,
        "DD": local.day,
        "MM": local.month,
        "YY": local.year - CENTURY,
    }
    data = fields_to_bcd([values[name] for name in _field_order(byte_order)])
    frame = Frame(address=BROADCAST_ADDRESS, control_code=Function.BROADCAST_TIME, data=data)
    return encode_frame(frame, preamble_length=preamble_length)


def decode_broadcast_time(
    frame: Frame,
    *,
    byte_order: TimeByteOrder = TimeByteOrder.SECONDS_FIRST,
    meter_tz: tzinfo = CHINA_TIME_ZONE,
) -> datetime:
    """The time carried by an 08H frame (simulator side)."""
    order = _field_order(byte_order)
    if frame.from_meter or frame.function != Function.BROADCAST_TIME:
        raise FrameFormatError(f"not a broadcast time frame: control {frame.control_code:02X}")
    if len(frame.data) != len(order):
        raise FrameFormatError(
            f"broadcast time has {len(frame.data)} bytes, {byte_order} needs {len(order)}"
        )
    fields = bcd_fields(frame.data)
    at = None
    if fields is not None:
        values = dict(zip(order, fields, strict=True))
        at = meter_time_or_none(
            CENTURY + values["YY"],
            values["MM"],
            values["DD"],
            values["hh"],
            values["mm"],
            values.get("ss", 0),
            meter_tz,
        )
    if at is None:
        raise InvalidValue(f"broadcast time {frame.data.hex(' ').upper()} is not a valid time")
    return at
