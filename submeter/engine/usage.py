"""What is rated: consumption over a period, as registers or intervals, plus monthly inputs.

Build one directly, or from its JSON document with `parse_usage` (see `usage.schema.json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, cast

from submeter.engine.bill import LineKind
from submeter.engine.decimal_input import read_decimal
from submeter.engine.errors import UsageError
from submeter.engine.schema import USAGE_SCHEMA, check_document
from submeter.engine.tariff import Tariff

Document = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Interval:
    """Consumption (kWh or m³) from `start` until the next interval starts."""

    start: datetime
    consumption: Decimal


@dataclass(frozen=True, slots=True)
class Usage:
    """Give exactly one of `consumption_by_rate`, `consumption` and `intervals`.

    `period_start` chooses the tariff version for register usage and for the monthly charges
    (basic charge, power factor); for interval usage it defaults to the first interval's start.
    """

    period_start: datetime | None = None
    period_end: datetime | None = None
    consumption_by_rate: Mapping[str, Decimal] | None = None
    """Per-rate registers of a multi-rate meter, e.g. {"sharp": Decimal("1985.1"), ...}."""
    consumption: Decimal | None = None
    """One register: the period's total kWh or m³."""
    intervals: tuple[Interval, ...] | None = None
    tier_usage_before: Decimal = Decimal(0)
    """Usage earlier in the same tier period (month or year), before this one."""
    reactive_kvarh: Decimal | None = None
    """Reactive energy Q of the period (forward, or the only reactive register)."""
    reactive_reverse_kvarh: Decimal | None = None
    power_factor: Decimal | None = None
    """A monthly power factor given as is (rounded to 0.01), instead of P and Q."""
    capacity_kva: Decimal | None = None
    contract_demand_kw: Decimal | None = None
    max_demand_kw: Decimal | None = None
    charges: frozenset[LineKind] | None = None
    """Which kinds of lines to produce; None: every kind the tariff defines."""

    def wants(self, kind: LineKind) -> bool:
        return self.charges is None or kind in self.charges


def quantity_key(tariff: Tariff) -> str:
    """The usage document's key for consumption: energy_kwh or volume_m3."""
    return "energy_kwh" if tariff.utility == "electricity" else "volume_m3"


def read_instant(text: str, field: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            "invalid_datetime", f"{text!r} is not an ISO 8601 date-time", field
        ) from None
    if instant.tzinfo is None:
        raise UsageError(
            "naive_datetime", f"{text!r} has no UTC offset, e.g. 2024-07-01T00:00:00+08:00", field
        )
    return instant


def read_quantity(value: object, field: str) -> Decimal:
    return read_decimal(value, field, UsageError, sign="non_negative")


def parse_usage(document: object, tariff: Tariff) -> Usage:
    """Check a usage document and build the `Usage` it describes for `tariff`."""
    check_document(document, USAGE_SCHEMA, UsageError)
    doc = cast(Document, document)
    key = quantity_key(tariff)
    other_key = "volume_m3" if key == "energy_kwh" else "energy_kwh"
    if other_key in doc:
        raise UsageError(
            "wrong_quantity", f"a {tariff.utility} tariff takes {key}, not {other_key}", other_key
        )
    period_start = period_end = None
    if "period" in doc:
        period_start = read_instant(doc["period"]["start"], "period.start")
        period_end = read_instant(doc["period"]["end"], "period.end")
        if period_end <= period_start:
            raise UsageError(
                "period_end_before_start", "period.end must be after period.start", "period.end"
            )
    consumption_by_rate = None
    consumption = None
    registers = doc.get(key)
    if isinstance(registers, dict):
        consumption_by_rate = MappingProxyType(
            {rate: read_quantity(value, f"{key}.{rate}") for rate, value in registers.items()}
        )
    elif registers is not None:
        consumption = read_quantity(registers, key)
    intervals = None
    if "intervals" in doc:
        intervals = tuple(
            read_interval(item, f"intervals[{index}]", key)
            for index, item in enumerate(doc["intervals"])
        )
    charges = doc.get("charges")
    return Usage(
        period_start=period_start,
        period_end=period_end,
        consumption_by_rate=consumption_by_rate,
        consumption=consumption,
        intervals=intervals,
        tier_usage_before=read_quantity(doc.get("tier_usage_before", "0"), "tier_usage_before"),
        reactive_kvarh=optional_quantity(doc, "reactive_kvarh"),
        reactive_reverse_kvarh=optional_quantity(doc, "reactive_reverse_kvarh"),
        power_factor=optional_quantity(doc, "power_factor"),
        capacity_kva=optional_quantity(doc, "capacity_kva"),
        contract_demand_kw=optional_quantity(doc, "contract_demand_kw"),
        max_demand_kw=optional_quantity(doc, "max_demand_kw"),
        charges=None if charges is None else frozenset(LineKind(kind) for kind in charges),
    )


def optional_quantity(doc: Document, key: str) -> Decimal | None:
    return read_quantity(doc[key], key) if key in doc else None


def read_interval(item: Document, field: str, key: str) -> Interval:
    if key not in item:
        raise UsageError("missing_field", f"{key} is required", f"{field}.{key}")
    return Interval(
        start=read_instant(item["start"], f"{field}.start"),
        consumption=read_quantity(item[key], f"{field}.{key}"),
    )
