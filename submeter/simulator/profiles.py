"""Consumption profiles: the share of a meter's rated power (or rated flow, for water) drawn at
each local hour, on weekdays and at weekends. Between whole hours the share is interpolated
linearly; the meter multiplies it by its rated power and by seeded noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Profile(StrEnum):
    OFFICE = "office"
    SHOP = "shop"
    DORMITORY = "dormitory"
    RESTAURANT = "restaurant"
    WATER = "water"


@dataclass(frozen=True, slots=True)
class ProfileShape:
    weekday: tuple[float, ...]
    """24 shares of rated power, at 00:00, 01:00 … 23:00, Monday to Friday."""
    weekend: tuple[float, ...]
    power_factor: float
    """Typical power factor of the load (unused for water)."""

    def __post_init__(self) -> None:
        for shares in (self.weekday, self.weekend):
            if len(shares) != 24 or min(shares) < 0:
                raise ValueError("a profile has 24 non-negative shares per day type")


# fmt: off
PROFILE_SHAPES: Mapping[Profile, ProfileShape] = MappingProxyType({
    Profile.OFFICE: ProfileShape(
        weekday=(0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.08, 0.15, 0.50, 0.80, 0.85, 0.82,
                 0.60, 0.75, 0.82, 0.85, 0.80, 0.70, 0.40, 0.20, 0.12, 0.08, 0.06, 0.05),
        weekend=(0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.06, 0.08, 0.12, 0.15, 0.15,
                 0.12, 0.12, 0.15, 0.15, 0.12, 0.10, 0.08, 0.06, 0.06, 0.05, 0.05, 0.05),
        power_factor=0.92,
    ),
    Profile.SHOP: ProfileShape(
        weekday=(0.08, 0.08, 0.08, 0.08, 0.08, 0.08, 0.08, 0.10, 0.20, 0.55, 0.65, 0.70,
                 0.72, 0.70, 0.68, 0.68, 0.70, 0.75, 0.85, 0.90, 0.88, 0.70, 0.25, 0.10),
        weekend=(0.08, 0.08, 0.08, 0.08, 0.08, 0.08, 0.08, 0.10, 0.25, 0.65, 0.80, 0.85,
                 0.88, 0.88, 0.85, 0.85, 0.88, 0.90, 0.95, 0.95, 0.90, 0.75, 0.30, 0.10),
        power_factor=0.95,
    ),
    Profile.DORMITORY: ProfileShape(
        weekday=(0.20, 0.15, 0.12, 0.12, 0.12, 0.15, 0.30, 0.45, 0.35, 0.15, 0.12, 0.12,
                 0.18, 0.15, 0.12, 0.12, 0.15, 0.25, 0.45, 0.65, 0.75, 0.75, 0.60, 0.35),
        weekend=(0.25, 0.18, 0.15, 0.12, 0.12, 0.12, 0.15, 0.25, 0.40, 0.45, 0.40, 0.38,
                 0.40, 0.38, 0.35, 0.35, 0.38, 0.45, 0.55, 0.70, 0.78, 0.78, 0.65, 0.40),
        power_factor=0.97,
    ),
    Profile.RESTAURANT: ProfileShape(
        weekday=(0.12, 0.10, 0.10, 0.10, 0.10, 0.10, 0.12, 0.18, 0.25, 0.40, 0.70, 0.90,
                 0.92, 0.60, 0.35, 0.35, 0.50, 0.85, 0.95, 0.92, 0.70, 0.40, 0.20, 0.15),
        weekend=(0.15, 0.12, 0.10, 0.10, 0.10, 0.10, 0.12, 0.20, 0.30, 0.45, 0.75, 0.95,
                 0.98, 0.70, 0.45, 0.40, 0.55, 0.90, 1.00, 0.98, 0.78, 0.50, 0.25, 0.18),
        power_factor=0.88,
    ),
    Profile.WATER: ProfileShape(
        weekday=(0.02, 0.01, 0.01, 0.01, 0.01, 0.03, 0.20, 0.55, 0.40, 0.20, 0.15, 0.25,
                 0.35, 0.20, 0.12, 0.12, 0.15, 0.30, 0.55, 0.60, 0.45, 0.30, 0.15, 0.05),
        weekend=(0.03, 0.02, 0.01, 0.01, 0.01, 0.02, 0.08, 0.25, 0.45, 0.40, 0.30, 0.30,
                 0.40, 0.25, 0.18, 0.18, 0.20, 0.35, 0.55, 0.60, 0.50, 0.35, 0.20, 0.08),
        power_factor=1.0,
    ),
})
# fmt: on


def load_share(profile: Profile, hour_of_day: float, weekday: int) -> float:
    """Share of rated power at local time `hour_of_day` (0 ≤ h < 24) on `weekday`
    (0 = Monday), interpolated between the hourly points; never negative."""
    shape = PROFILE_SHAPES[profile]
    shares = shape.weekend if weekday >= 5 else shape.weekday
    hour = int(hour_of_day) % 24
    fraction = hour_of_day - int(hour_of_day)
    following = shares[(hour + 1) % 24]
    return shares[hour] + (following - shares[hour]) * fraction
