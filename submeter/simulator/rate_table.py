"""Which meter rate (1 尖 sharp, 2 峰 peak, 3 平 flat, 4 谷 valley) applies at each hour.

A meter's own time-of-use table decides which per-rate register a kWh goes to. The default is
the day profile of `docs/examples/sample-bill/tariff.json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

RATE_COUNT = 4
RATE_NUMBERS: Mapping[str, int] = {"sharp": 1, "peak": 2, "flat": 3, "valley": 4}
"""Rate names of a tariff file → the meter's rate number (national-grid convention)."""


@dataclass(frozen=True, slots=True)
class RateTable:
    hour_rates: tuple[int, ...]
    """24 rate numbers (1–4), one per local hour 00–23."""

    def __post_init__(self) -> None:
        if len(self.hour_rates) != 24:
            raise ValueError(f"a rate table has 24 hours, not {len(self.hour_rates)}")
        for rate in self.hour_rates:
            if not 1 <= rate <= RATE_COUNT:
                raise ValueError(f"rate {rate} is not 1–{RATE_COUNT}")

    def rate_at(self, hour: int) -> int:
        return self.hour_rates[hour]

    @classmethod
    def from_day_profile(cls, periods: Sequence[Mapping[str, str]]) -> RateTable:
        """Periods `{"from": "08:00", "to": "09:00", "rate": "peak"}` on whole hours that cover
        the day, as in a tariff file's `day_profiles`."""
        hours: list[int | None] = [None] * 24
        for period in periods:
            start, end = _hour(period["from"]), _hour(period["to"])
            rate = RATE_NUMBERS.get(period["rate"])
            if rate is None:
                raise ValueError(f"unknown rate {period['rate']!r} (sharp, peak, flat, valley)")
            if not 0 <= start < end <= 24:
                raise ValueError(f"period {period['from']}–{period['to']} is not within a day")
            for hour in range(start, end):
                hours[hour] = rate
        missing = [hour for hour, rate in enumerate(hours) if rate is None]
        if missing:
            raise ValueError(f"the day profile leaves hour {missing[0]:02d}:00 without a rate")
        return cls(tuple(rate for rate in hours if rate is not None))

    @classmethod
    def from_tariff_file(cls, path: str | Path, profile: str = "everyday") -> RateTable:
        """The day profile `profile` of the first version of a tariff file."""
        document = json.loads(Path(path).read_text("utf-8"))
        periods = document["versions"][0]["energy"]["day_profiles"][profile]
        return cls.from_day_profile(periods)


def _hour(text: str) -> int:
    hour, _, minute = text.partition(":")
    if minute not in ("", "00") or not hour.isdigit():
        raise ValueError(f"{text!r}: the simulator's rate table works on whole hours")
    return int(hour)


DEFAULT_RATE_TABLE = RateTable.from_day_profile(
    [
        {"from": "00:00", "to": "08:00", "rate": "valley"},
        {"from": "08:00", "to": "09:00", "rate": "peak"},
        {"from": "09:00", "to": "11:00", "rate": "sharp"},
        {"from": "11:00", "to": "13:00", "rate": "valley"},
        {"from": "13:00", "to": "15:00", "rate": "flat"},
        {"from": "15:00", "to": "17:00", "rate": "sharp"},
        {"from": "17:00", "to": "23:00", "rate": "peak"},
        {"from": "23:00", "to": "24:00", "rate": "flat"},
    ]
)
"""The bands of docs/examples/sample-bill/tariff.json (Zhejiang-style, illustrative)."""
