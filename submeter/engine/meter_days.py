"""Bulk rating of many meter-days of equal intervals, vectorised with numpy.

The same result as `rate()` on each meter-day's intervals (consumption and surcharge lines),
computed with exact integer arithmetic: consumption is given in integer units of
10**-decimals kWh (or m³), prices (at most 6 decimals) become integer millionths, so every
product and sum is exact; amounts come out as `Decimal` when read.

Each meter-day is the local calendar day in the tariff's time zone, cut into equal slots
starting at local midnight (96 slots: quarter-hours). Each slot is billed by the tariff version
and the time-of-use rate in force at its start. Tiered tariffs need each meter's cumulative
usage and are not supported here: rate them with `rate()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from submeter.engine.bill import Bill, BillLine, LineKind
from submeter.engine.errors import UsageError
from submeter.engine.money import FEN, PRICE_MAX_PLACES
from submeter.engine.rating import ELECTRICITY, wording_for
from submeter.engine.tariff import FlatEnergy, Tariff, TariffVersion, TouEnergy
from submeter.engine.tou import MINUTES_PER_DAY

PRICE_SCALE = 10**PRICE_MAX_PLACES
INT64_MAX = 2**63 - 1
MAX_DECIMALS = 6

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class LineColumn:
    """One line a meter-day can have: consumption at one (version, rate), or a surcharge."""

    code: str
    kind: LineKind
    label_zh: str
    label_en: str
    unit: str
    unit_price: Decimal
    rule: str
    version_index: int
    version: TariffVersion
    order: tuple[int, int, int]
    """Sort key giving the line order of `rate()`: kind, version, position in the tariff."""


@dataclass(frozen=True, slots=True)
class MeterDayRating:
    """Lines and totals of each meter-day, in the order the meter-days were given."""

    tariff_id: str
    unit: str
    decimals: int
    columns: tuple[LineColumn, ...]
    quantity_units: IntArray
    """(meter-days, columns): quantity in units of 10**-decimals."""
    amount_exact_units: npt.NDArray[Any]
    """(meter-days, columns): exact amount in units of 10**-(decimals + 6) CNY."""
    amount_fen: npt.NDArray[Any]
    """(meter-days, columns): each line's amount rounded half-up to the fen."""
    total_fen: npt.NDArray[Any]
    row_group: npt.NDArray[np.intp]
    group_columns: tuple[tuple[int, ...], ...]
    """For each group of meter-days with the same slot pattern: its columns in line order."""

    def __len__(self) -> int:
        return int(self.total_fen.shape[0])

    def total(self, row: int) -> Decimal:
        return Decimal(int(self.total_fen[row])).scaleb(-2)

    def totals(self) -> list[Decimal]:
        """Every meter-day's total, whole fen."""
        return list(map(FEN.__mul__, self.total_fen.tolist()))

    def lines(self, row: int) -> tuple[BillLine, ...]:
        lines = []
        for column_index in self.group_columns[int(self.row_group[row])]:
            column = self.columns[column_index]
            lines.append(
                BillLine(
                    code=column.code,
                    kind=column.kind,
                    label_zh=column.label_zh,
                    label_en=column.label_en,
                    quantity=Decimal(int(self.quantity_units[row, column_index])).scaleb(
                        -self.decimals
                    ),
                    unit=column.unit,
                    unit_price=column.unit_price,
                    amount_exact=Decimal(int(self.amount_exact_units[row, column_index])).scaleb(
                        -(self.decimals + PRICE_MAX_PLACES)
                    ),
                    amount=Decimal(int(self.amount_fen[row, column_index])).scaleb(-2),
                    rule=column.rule,
                    tariff_version=column.version.valid_from,
                )
            )
        return tuple(lines)

    def bill(self, row: int) -> Bill:
        return Bill(self.tariff_id, self.unit, self.lines(row), power_factor=None)


class ColumnBook:
    """Collects the line columns met while reading the slots of each day."""

    def __init__(self, tariff: Tariff) -> None:
        self.tariff = tariff
        self.wording = wording_for(tariff)
        self.columns: list[LineColumn] = []
        self.index_by_key: dict[tuple[int, str], int] = {}
        self.whole_day_columns: dict[tuple[int, str, int], tuple[int, ...]] = {}
        """Slot columns of a day wholly under one version, by (version, profile, slot length)."""

    def consumption_column(self, version_index: int, rate_code: str | None) -> int:
        key = (version_index, rate_code or "")
        if key in self.index_by_key:
            return self.index_by_key[key]
        version = self.tariff.versions[version_index]
        energy = version.energy
        wording = self.wording
        zone = self.tariff.timezone.key
        if isinstance(energy, TouEnergy):
            assert rate_code is not None
            rate = energy.rate(rate_code)
            position = energy.rates.index(rate)
            column = LineColumn(
                code=f"{wording.code_prefix}.{rate.code}",
                kind=LineKind.CONSUMPTION,
                label_zh=f"{rate.label_zh}{wording.label_zh_suffix}",
                label_en=f"{wording.label_en}, {rate.label_en}",
                unit=wording.unit,
                unit_price=rate.price,
                rule=f"time-of-use rate {rate.code}, consumption of the intervals starting "
                f"in its periods ({zone})",
                version_index=version_index,
                version=version,
                order=(0, version_index, position),
            )
        else:
            assert isinstance(energy, FlatEnergy)
            column = LineColumn(
                code=f"{wording.code_prefix}.single_rate",
                kind=LineKind.CONSUMPTION,
                label_zh="电度电费" if wording is ELECTRICITY else "水费",
                label_en=wording.label_en,
                unit=wording.unit,
                unit_price=energy.price,
                rule="single price, consumption summed over the intervals",
                version_index=version_index,
                version=version,
                order=(0, version_index, 0),
            )
        return self.add(key, column)

    def surcharge_columns(self, version_index: int) -> tuple[int, ...]:
        version = self.tariff.versions[version_index]
        indexes = []
        for position, surcharge in enumerate(version.surcharges):
            key = (version_index, f"surcharge:{surcharge.code}")
            if key in self.index_by_key:
                indexes.append(self.index_by_key[key])
                continue
            unit = self.wording.unit
            column = LineColumn(
                code=f"surcharge.{surcharge.code}",
                kind=LineKind.SURCHARGE,
                label_zh=surcharge.label_zh,
                label_en=surcharge.label_en,
                unit=unit,
                unit_price=surcharge.price,
                rule=f"surcharge {surcharge.code} on every {unit} consumed",
                version_index=version_index,
                version=version,
                order=(1, version_index, position),
            )
            indexes.append(self.add(key, column))
        return tuple(indexes)

    def profile_name(self, version_index: int, day: date) -> str:
        """The day profile of `day` under a version ("" for a single-price version)."""
        energy = self.tariff.versions[version_index].energy
        return energy.calendar.profile_for(day).name if isinstance(energy, TouEnergy) else ""

    def slot_column(self, version_index: int, day: date, minute: int) -> int:
        version = self.tariff.versions[version_index]
        check_version_supported(version, f"versions[{version_index}]")
        energy = version.energy
        rate_code = None
        if isinstance(energy, TouEnergy):
            rate_code = energy.calendar.profile_for(day).rate_at_minute(minute)
        return self.consumption_column(version_index, rate_code)

    def add(self, key: tuple[int, str], column: LineColumn) -> int:
        self.columns.append(column)
        self.index_by_key[key] = len(self.columns) - 1
        return len(self.columns) - 1


def check_version_supported(version: TariffVersion, field: str) -> None:
    energy = version.energy
    if isinstance(energy, TouEnergy) and energy.tier_increments is None:
        return
    if isinstance(energy, FlatEnergy):
        return
    raise UsageError(
        "tiers_not_supported_in_bulk",
        "tiered prices need each meter's cumulative usage: rate them with rate()",
        field,
    )


def slot_columns(
    tariff: Tariff, book: ColumnBook, day: date, slot_minutes: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Column of each slot of `day`, and the surcharge columns of the versions met that day."""
    zone = tariff.timezone
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    if midnight.utcoffset() != next_midnight.utcoffset():
        raise UsageError(
            "uneven_day",
            f"{day} is not 24 hours long in {zone.key}: rate it with rate() on its intervals",
            "days",
        )
    slot_starts = range(0, MINUTES_PER_DAY, slot_minutes)
    first_version = tariff.version_index_at(midnight)
    last_version = tariff.version_index_at(next_midnight - timedelta(minutes=slot_minutes))
    if first_version == last_version:
        profile = book.profile_name(first_version, day)
        key = (first_version, profile, slot_minutes)
        columns = book.whole_day_columns.get(key)
        if columns is None:
            columns = tuple(book.slot_column(first_version, day, minute) for minute in slot_starts)
            book.whole_day_columns[key] = columns
        return columns, book.surcharge_columns(first_version)
    version_of_slot = [
        tariff.version_index_at(midnight + timedelta(minutes=minute)) for minute in slot_starts
    ]
    columns = tuple(
        book.slot_column(version_index, day, minute)
        for minute, version_index in zip(slot_starts, version_of_slot, strict=True)
    )
    surcharges = tuple(
        column
        for version in sorted(set(version_of_slot))
        for column in book.surcharge_columns(version)
    )
    return columns, surcharges


def rate_meter_days(
    tariff: Tariff,
    days: Sequence[date] | npt.NDArray[np.datetime64],
    consumption_units: npt.ArrayLike,
    *,
    decimals: int,
) -> MeterDayRating:
    """Rate meter-days: row i of `consumption_units` holds day `days[i]`'s slots.

    `consumption_units` is an integer array (meter-days × slots per day) of consumption in
    units of 10**-decimals kWh (or m³): with `decimals=2`, 123 means 1.23 kWh.
    """
    consumption = np.asarray(consumption_units)
    if consumption.ndim != 2 or not np.issubdtype(consumption.dtype, np.integer):
        raise UsageError(
            "invalid_consumption", "consumption must be a 2-D integer array", "consumption_units"
        )
    consumption = consumption.astype(np.int64, copy=False)
    row_count, slot_count = consumption.shape
    if slot_count == 0 or MINUTES_PER_DAY % slot_count:
        raise UsageError(
            "invalid_slots",
            f"{slot_count} slots do not divide a day into whole minutes",
            "consumption_units",
        )
    if not 0 <= decimals <= MAX_DECIMALS:
        raise UsageError("invalid_decimals", f"decimals must be 0 to {MAX_DECIMALS}", "decimals")
    day_array = np.asarray(days, dtype="datetime64[D]")
    if day_array.shape != (row_count,):
        raise UsageError("days_mismatch", "give one day per row of consumption", "days")
    if row_count and int(consumption.min()) < 0:
        raise UsageError(
            "negative_consumption", "interval consumption must not be negative", "consumption_units"
        )
    slot_minutes = MINUTES_PER_DAY // slot_count
    book = ColumnBook(tariff)
    unique_days, day_of_row = np.unique(day_array, return_inverse=True)
    pattern_group: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
    group_of_day = np.empty(len(unique_days), dtype=np.intp)
    for position, day in enumerate(unique_days.astype(object)):
        columns, surcharges = slot_columns(tariff, book, day, slot_minutes)
        key = (tuple(columns), tuple(surcharges))
        group_of_day[position] = pattern_group.setdefault(key, len(pattern_group))
    row_group = group_of_day[day_of_row.reshape(-1)]
    column_count = len(book.columns)
    quantity = np.zeros((row_count, column_count), dtype=np.int64)
    group_columns: list[tuple[int, ...]] = [()] * len(pattern_group)
    for (group_slot_columns, group_surcharges), group in pattern_group.items():
        one_hot = np.zeros((slot_count, column_count), dtype=np.int64)
        one_hot[np.arange(slot_count), list(group_slot_columns)] = 1
        for surcharge in group_surcharges:
            version_index = book.columns[surcharge].version_index
            for slot, column in enumerate(group_slot_columns):
                if book.columns[column].version_index == version_index:
                    one_hot[slot, surcharge] = 1
        if len(pattern_group) == 1:
            quantity = consumption @ one_hot
        else:
            rows = np.flatnonzero(row_group == group)
            quantity[rows] = consumption[rows] @ one_hot
        used = set(group_slot_columns) | set(group_surcharges)
        group_columns[group] = tuple(sorted(used, key=lambda index: book.columns[index].order))
    price_units = [int(column.unit_price * PRICE_SCALE) for column in book.columns]
    largest_quantity = int(quantity.max()) if quantity.size else 0
    fen_divisor = 10 ** (decimals + PRICE_MAX_PLACES - 2)
    if largest_quantity * max(price_units, default=0) + fen_divisor <= INT64_MAX:
        amount_units: npt.NDArray[Any] = quantity * np.asarray(price_units, dtype=np.int64)
    else:
        amount_units = quantity.astype(object) * np.asarray(price_units, dtype=object)
    amount_fen = (amount_units + fen_divisor // 2) // fen_divisor
    return MeterDayRating(
        tariff_id=tariff.id,
        unit=tariff.unit,
        decimals=decimals,
        columns=tuple(book.columns),
        quantity_units=quantity,
        amount_exact_units=amount_units,
        amount_fen=amount_fen,
        total_fen=amount_fen.sum(axis=1),
        row_group=row_group,
        group_columns=tuple(group_columns),
    )
