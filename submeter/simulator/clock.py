"""Simulated time.

`SimClock` runs `speed` times faster than the wall clock from `start` (speed 720: a 30-day
month in an hour). `ManualClock` only moves when told to, for tests. Both give aware datetimes
in the clock's time zone (Asia/Shanghai unless told otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from submeter.protocols.meter_clock import CHINA_TIME_ZONE


class Clock(Protocol):
    start: datetime

    @property
    def tz(self) -> tzinfo: ...

    def now(self) -> datetime: ...


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone")


def default_start(tz: tzinfo = CHINA_TIME_ZONE) -> datetime:
    """Now, rounded down to the minute, in `tz`."""
    return datetime.now(tz).replace(second=0, microsecond=0)


class SimClock:
    """`now()` = `start` + wall time elapsed since the clock was created × `speed`."""

    def __init__(
        self,
        start: datetime | None = None,
        speed: float = 1.0,
        *,
        tz: tzinfo = CHINA_TIME_ZONE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        start = default_start(tz) if start is None else start
        _require_aware(start)
        self._tz = tz
        self.start = start.astimezone(tz)
        self.speed = speed
        self._monotonic = monotonic
        self._wall_start = monotonic()

    @property
    def tz(self) -> tzinfo:
        return self._tz

    def now(self) -> datetime:
        elapsed_s = (self._monotonic() - self._wall_start) * self.speed
        return self.start + timedelta(seconds=elapsed_s)

    def simulated(self, wall_seconds: float) -> timedelta:
        """How much simulated time passes in `wall_seconds` of real time."""
        return timedelta(seconds=wall_seconds * self.speed)


class ManualClock:
    """A clock that stands still until `advance` or `set` moves it (never backwards)."""

    def __init__(self, start: datetime, *, tz: tzinfo = CHINA_TIME_ZONE) -> None:
        _require_aware(start)
        self._tz = tz
        self.start = start.astimezone(tz)
        self._now = self.start

    @property
    def tz(self) -> tzinfo:
        return self._tz

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a clock does not go backwards")
        self._now += delta
        return self._now

    def set(self, at: datetime) -> datetime:
        _require_aware(at)
        return self.advance(at - self._now)
