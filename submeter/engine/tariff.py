"""A tariff: typed, immutable, with versions that each take effect at `valid_from`.

Build one from its JSON document with `submeter.engine.tariff_document.parse_tariff`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from submeter.engine.bill import LineKind
from submeter.engine.errors import UsageError
from submeter.engine.tiers import Tier
from submeter.engine.tou import TouCalendar

Utility = Literal["electricity", "water"]
TierPeriod = Literal["monthly", "yearly"]
ReactiveAggregation = Literal["forward", "forward_plus_reverse"]

UNIT_BY_UTILITY: dict[Utility, str] = {"electricity": "kWh", "water": "m3"}
MAX_RATES = 8
STANDARD_RATE_LABELS = {
    "sharp": ("尖", "sharp peak"),
    "peak": ("峰", "peak"),
    "flat": ("平", "flat"),
    "valley": ("谷", "valley"),
    "deep_valley": ("深谷", "deep valley"),
}
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_FLOOR_RATIO = Decimal("0.40")
"""Contracted demand is at least 40 % of transformer kVA + HV motor kW (1583号, 2016)."""
DEFAULT_EXCESS_THRESHOLD_RATIO = Decimal("1.05")
"""Demand above 105 % of the contract is charged twice."""
DEFAULT_PF_APPLIES_TO = frozenset({LineKind.CONSUMPTION, LineKind.BASIC})


@dataclass(frozen=True, slots=True)
class Rate:
    """A named time-of-use rate (尖, 峰, 平, 谷, 深谷, ...) and its price per unit."""

    code: str
    price: Decimal
    label_zh: str
    label_en: str


@dataclass(frozen=True, slots=True)
class FlatEnergy:
    """One price for every unit (单一电价)."""

    price: Decimal


@dataclass(frozen=True, slots=True)
class TieredEnergy:
    """Prices by cumulative usage within the month or the year (阶梯)."""

    period: TierPeriod
    tiers: tuple[Tier, ...]


@dataclass(frozen=True, slots=True)
class TierIncrements:
    """Per-unit increments added on top of time-of-use prices by cumulative usage."""

    period: TierPeriod
    tiers: tuple[Tier, ...]


@dataclass(frozen=True, slots=True)
class TouEnergy:
    """Time-of-use prices (分时电价): up to 8 rates chosen by a calendar."""

    rates: tuple[Rate, ...]
    calendar: TouCalendar
    tier_increments: TierIncrements | None = None

    def rate(self, code: str) -> Rate:
        for rate in self.rates:
            if rate.code == code:
                return rate
        raise KeyError(code)


EnergyCharge = FlatEnergy | TieredEnergy | TouEnergy


@dataclass(frozen=True, slots=True)
class Surcharge:
    """An amount per unit consumed collected with the bill, e.g. 政府性基金 or 污水处理费."""

    code: str
    label_zh: str
    label_en: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class CapacityCharge:
    """Basic charge by transformer capacity: kVA × price per kVA and month."""

    price_per_kva_month: Decimal


@dataclass(frozen=True, slots=True)
class ContractDemandCharge:
    """Basic charge by contracted maximum demand, with the 105 % rule and the 40 % floor."""

    price_per_kw_month: Decimal
    floor_ratio: Decimal = DEFAULT_FLOOR_RATIO
    excess_threshold_ratio: Decimal = DEFAULT_EXCESS_THRESHOLD_RATIO


@dataclass(frozen=True, slots=True)
class ActualDemandCharge:
    """Basic charge by the month's actual maximum demand; a floor only if the province has one."""

    price_per_kw_month: Decimal
    floor_ratio: Decimal | None = None


BasicCharge = CapacityCharge | ContractDemandCharge | ActualDemandCharge


@dataclass(frozen=True, slots=True)
class PowerFactorRule:
    standard: Decimal
    reactive: ReactiveAggregation = "forward"
    applies_to: frozenset[LineKind] = DEFAULT_PF_APPLIES_TO


@dataclass(frozen=True, slots=True)
class TariffVersion:
    valid_from: datetime
    energy: EnergyCharge
    surcharges: tuple[Surcharge, ...] = ()
    basic_charge: BasicCharge | None = None
    power_factor: PowerFactorRule | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Tariff:
    id: str
    name: str
    utility: Utility
    timezone: ZoneInfo
    versions: tuple[TariffVersion, ...]
    """Sorted by `valid_from`, strictly increasing."""

    @property
    def unit(self) -> str:
        return UNIT_BY_UTILITY[self.utility]

    def version_index_at(self, instant: datetime) -> int:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise UsageError("naive_datetime", f"{instant} has no time zone")
        index = bisect_right([v.valid_from for v in self.versions], instant) - 1
        if index < 0:
            raise UsageError(
                "no_version_in_force",
                f"tariff {self.id} has no version in force at {instant.isoformat()} "
                f"(the first starts {self.versions[0].valid_from.isoformat()})",
            )
        return index

    def version_at(self, instant: datetime) -> TariffVersion:
        """The version in force at `instant` (an aware datetime)."""
        return self.versions[self.version_index_at(instant)]


def version_in_force(tariff: Tariff, instant: datetime) -> TariffVersion:
    """The version of `tariff` in force at `instant`: the last one with valid_from <= instant."""
    return tariff.version_at(instant)
