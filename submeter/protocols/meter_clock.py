"""Meter clocks: meters keep local wall time with a two-digit year and no zone.

Encoders take aware datetimes and convert them to the meter's zone; decoders return aware
datetimes in that zone. A field that is all zeros or not a calendar date decodes to None: a
meter that has never recorded the event, or a clock that was never set.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from submeter.protocols.bcd import bcd_to_int, int_to_bcd
from submeter.protocols.errors import InvalidValue

CHINA_TIME_ZONE = ZoneInfo("Asia/Shanghai")
CENTURY = 2000


def to_meter_wall_time(at: datetime, meter_tz: tzinfo) -> datetime:
    """Convert an aware datetime to the meter's wall-clock time."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidValue(f"{at.isoformat()} has no time zone; meters need an aware time")
    local = at.astimezone(meter_tz)
    if not CENTURY <= local.year < CENTURY + 100:
        raise InvalidValue(f"year {local.year} does not fit a two-digit meter year")
    return local


def meter_time_or_none(
    year: int, month: int, day: int, hour: int, minute: int, second: int, meter_tz: tzinfo
) -> datetime | None:
    """Build an aware datetime from meter clock fields, or None if they are not a time."""
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=meter_tz)
    except ValueError:
        return None


def bcd_fields(data: bytes) -> list[int] | None:
    """Each byte as a two-digit BCD number, or None if any byte is not BCD."""
    try:
        return [bcd_to_int(bytes([byte])) for byte in data]
    except InvalidValue:
        return None


def fields_to_bcd(fields: list[int]) -> bytes:
    return b"".join(int_to_bcd(field, 1) for field in fields)
