"""Time-of-use calendar: daily period tables, seasons by month, weekends and special days.

A day profile is a 24-hour wheel: each minute of the local day belongs to exactly one rate. A
period may run through midnight (22:00-02:00 covers 22:00-24:00 and 00:00-02:00 of the same
profile). Which profile a calendar date uses depends on its season (month) and its day type
(workday, weekend, holiday); a special day can change the day type or name a profile directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from submeter.engine.errors import TariffError

DayType = Literal["workday", "weekend", "holiday"]
DAY_TYPES: tuple[DayType, ...] = ("workday", "weekend", "holiday")
MINUTES_PER_DAY = 24 * 60
SATURDAY = 5


def minute_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class Period:
    """From `start_minute` (0-1439) to `end_minute` (1-1440, exclusive) of the local day.

    `end_minute <= start_minute` means the period runs through midnight.
    """

    start_minute: int
    end_minute: int
    rate: str

    def minutes(self) -> list[int]:
        if self.end_minute > self.start_minute:
            return list(range(self.start_minute, self.end_minute))
        return list(range(self.start_minute, MINUTES_PER_DAY)) + list(range(self.end_minute))


@dataclass(frozen=True, slots=True)
class DayProfile:
    name: str
    periods: tuple[Period, ...]
    rate_by_minute: tuple[str, ...]
    """The rate of each minute of the day, 1440 entries."""

    def rate_at_minute(self, minute_of_day: int) -> str:
        return self.rate_by_minute[minute_of_day]


def build_day_profile(name: str, periods: tuple[Period, ...], field: str) -> DayProfile:
    """Check that `periods` cover the 24 hours exactly once and index them by minute."""
    rate_by_minute: list[str | None] = [None] * MINUTES_PER_DAY
    for index, period in enumerate(periods):
        if period.start_minute == period.end_minute % MINUTES_PER_DAY and not (
            period.start_minute == 0 and period.end_minute == MINUTES_PER_DAY
        ):
            raise TariffError(
                "empty_period",
                "a period must not start and end at the same time "
                "(use 00:00-24:00 for the whole day)",
                f"{field}[{index}]",
            )
        for minute in period.minutes():
            if rate_by_minute[minute] is not None:
                raise TariffError(
                    "period_overlap",
                    f"period overlaps another one at {minute_text(minute)}",
                    f"{field}[{index}]",
                )
            rate_by_minute[minute] = period.rate
    if None in rate_by_minute:
        gap_start = rate_by_minute.index(None)
        gap_end = gap_start
        while gap_end < MINUTES_PER_DAY and rate_by_minute[gap_end] is None:
            gap_end += 1
        raise TariffError(
            "period_gap",
            f"no period covers {minute_text(gap_start)}-{minute_text(gap_end)}: "
            "the periods of a day profile must cover 24 hours",
            field,
        )
    return DayProfile(name, periods, tuple(r for r in rate_by_minute if r is not None))


@dataclass(frozen=True, slots=True)
class Season:
    name: str
    months: frozenset[int]
    profile_by_day_type: Mapping[DayType, str]


@dataclass(frozen=True, slots=True)
class SpecialDay:
    """A date (or inclusive range of dates) that takes another day type or a named profile."""

    first: date
    last: date
    day_type: DayType | None
    profile: str | None


@dataclass(frozen=True, slots=True)
class TouCalendar:
    profiles: Mapping[str, DayProfile]
    season_by_month: Mapping[int, Season]
    special_days: Mapping[date, SpecialDay]
    """Each date covered by a special-day entry, mapped to that entry."""

    def day_type(self, day: date) -> DayType:
        special = self.special_days.get(day)
        if special is not None and special.day_type is not None:
            return special.day_type
        return "weekend" if day.weekday() >= SATURDAY else "workday"

    def profile_for(self, day: date) -> DayProfile:
        special = self.special_days.get(day)
        if special is not None and special.profile is not None:
            return self.profiles[special.profile]
        season = self.season_by_month[day.month]
        return self.profiles[season.profile_by_day_type[self.day_type(day)]]

    def rate_at(self, local_time: datetime) -> str:
        """The rate in force at `local_time`, already in the tariff's time zone."""
        profile = self.profile_for(local_time.date())
        return profile.rate_at_minute(local_time.hour * 60 + local_time.minute)
