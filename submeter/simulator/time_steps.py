"""The fixed grid of simulation steps.

Meters integrate consumption in steps of `step_s` seconds (default 60) aligned to the epoch, so
advancing to 10:00 and then to 11:00 gives exactly what advancing to 11:00 at once gives: a
seeded run is deterministic however the wall clock slices it. Within a step the load is
constant (the value at the step's start). What every meter needs to know about a step (local
hour, weekday, meter rate, demand block end) is computed once per step for all meters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from submeter.simulator.profiles import Profile, load_share
from submeter.simulator.rate_table import RateTable

DEFAULT_STEP_S = 60
DEMAND_PERIOD = timedelta(minutes=15)
DEMAND_PERIOD_HOURS = DEMAND_PERIOD.total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class Step:
    start: datetime
    end: datetime
    hours: float
    """Duration of the step in hours."""
    hour_of_day: float
    """Local time at the start, in hours since midnight (for the consumption profile)."""
    weekday: int
    """0 = Monday, at the start (local)."""
    rate: int
    """Meter rate 1–4 in force at the start."""
    month: tuple[int, int]
    """(year, month), local, at the start: maximum demand restarts with each month."""
    ends_demand_period: bool
    """The step ends a 15-minute demand period (on a local quarter hour)."""
    load_shares: dict[Profile, float]
    """Each profile's share of rated power during the step (computed once for all meters)."""


def floor_to_grid(at: datetime, step_s: int) -> datetime:
    """The grid point at or before `at`."""
    timestamp = at.timestamp()
    return datetime.fromtimestamp(timestamp - timestamp % step_s, at.tzinfo)


def iter_steps(
    start: datetime, end: datetime, step_s: int, tz: tzinfo, rate_table: RateTable
) -> Iterator[Step]:
    """The steps from grid point `start` up to grid point `end` (both on the grid)."""
    hours = step_s / 3600
    step_start = start.astimezone(tz)
    end = end.astimezone(tz)
    delta = timedelta(seconds=step_s)
    while step_start < end:
        step_end = step_start + delta
        local_end = step_end.astimezone(tz)
        hour_of_day = step_start.hour + step_start.minute / 60 + step_start.second / 3600
        weekday = step_start.weekday()
        yield Step(
            start=step_start,
            end=step_end,
            hours=hours,
            hour_of_day=hour_of_day,
            weekday=weekday,
            rate=rate_table.rate_at(step_start.hour),
            month=(step_start.year, step_start.month),
            ends_demand_period=local_end.minute % 15 == 0 and local_end.second == 0,
            load_shares={profile: load_share(profile, hour_of_day, weekday) for profile in Profile},
        )
        step_start = local_end
