"""Reading a tariff JSON document (see `tariff.schema.json` and docs/tariffs.md) into a `Tariff`.

The schema checks the shape; this module checks the meaning (prices, time tables, tiers,
calendars) and raises `TariffError` naming the offending field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from submeter.engine.bill import LineKind
from submeter.engine.decimal_input import Sign, read_decimal
from submeter.engine.errors import TariffError
from submeter.engine.money import PRICE_MAX_PLACES
from submeter.engine.power_factor import STANDARDS
from submeter.engine.schema import TARIFF_SCHEMA, check_document
from submeter.engine.tariff import (
    DEFAULT_EXCESS_THRESHOLD_RATIO,
    DEFAULT_FLOOR_RATIO,
    DEFAULT_PF_APPLIES_TO,
    DEFAULT_TIMEZONE,
    MAX_RATES,
    STANDARD_RATE_LABELS,
    ActualDemandCharge,
    BasicCharge,
    CapacityCharge,
    ContractDemandCharge,
    EnergyCharge,
    FlatEnergy,
    PowerFactorRule,
    Rate,
    ReactiveAggregation,
    Surcharge,
    Tariff,
    TariffVersion,
    TieredEnergy,
    TierIncrements,
    TierPeriod,
    TouEnergy,
    Utility,
)
from submeter.engine.tiers import Tier
from submeter.engine.tou import (
    DAY_TYPES,
    MINUTES_PER_DAY,
    DayProfile,
    DayType,
    Period,
    Season,
    SpecialDay,
    TouCalendar,
    build_day_profile,
)

Document = Mapping[str, Any]
MAX_SPECIAL_DAY_RANGE_DAYS = 366


def parse_tariff(document: object) -> Tariff:
    """Check a tariff document and build the typed, immutable `Tariff` it describes."""
    check_document(document, TARIFF_SCHEMA, TariffError)
    doc = cast(Document, document)
    zone = read_zone(doc.get("timezone", DEFAULT_TIMEZONE))
    utility = cast(Utility, doc["utility"])
    versions = tuple(
        read_version(version, f"versions[{index}]", zone, utility)
        for index, version in enumerate(doc["versions"])
    )
    for index in range(1, len(versions)):
        if versions[index].valid_from <= versions[index - 1].valid_from:
            raise TariffError(
                "versions_out_of_order",
                "versions must be listed by valid_from, each later than the one before",
                f"versions[{index}].valid_from",
            )
    return Tariff(
        id=doc["id"],
        name=doc.get("name", doc["id"]),
        utility=utility,
        timezone=zone,
        versions=versions,
    )


def read_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TariffError(
            "unknown_timezone", f"{name!r} is not a known time zone", "timezone"
        ) from None


def read_price(value: object, field: str, sign: Sign = "positive") -> Decimal:
    return read_decimal(value, field, TariffError, sign=sign, max_places=PRICE_MAX_PLACES)


def read_valid_from(text: str, field: str, zone: ZoneInfo) -> datetime:
    """An aware ISO 8601 date-time, or a date meaning local midnight in the tariff's zone."""
    try:
        if len(text) == len("2024-07-01"):
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone)
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise TariffError(
            "invalid_datetime", f"{text!r} is not an ISO 8601 date or date-time", field
        ) from None
    if instant.tzinfo is None:
        raise TariffError(
            "naive_datetime",
            f"{text!r} has no UTC offset: write e.g. 2024-07-01T00:00:00+08:00, or a date",
            field,
        )
    return instant


def read_version(doc: Document, field: str, zone: ZoneInfo, utility: Utility) -> TariffVersion:
    for electricity_only in ("basic_charge", "power_factor"):
        if utility != "electricity" and electricity_only in doc:
            raise TariffError(
                "electricity_only",
                f"{electricity_only} applies to electricity tariffs only",
                f"{field}.{electricity_only}",
            )
    basic = doc.get("basic_charge")
    power_factor = doc.get("power_factor")
    return TariffVersion(
        valid_from=read_valid_from(doc["valid_from"], f"{field}.valid_from", zone),
        energy=read_energy(doc["energy"], f"{field}.energy"),
        surcharges=read_surcharges(doc.get("surcharges", []), f"{field}.surcharges"),
        basic_charge=None if basic is None else read_basic_charge(basic, f"{field}.basic_charge"),
        power_factor=(
            None
            if power_factor is None
            else read_power_factor(power_factor, f"{field}.power_factor")
        ),
        note=doc.get("note", ""),
    )


def read_energy(doc: Document, field: str) -> EnergyCharge:
    kind = doc["kind"]
    if kind == "flat":
        return FlatEnergy(price=read_price(doc["price"], f"{field}.price"))
    if kind == "tiered":
        return TieredEnergy(
            period=cast(TierPeriod, doc["period"]),
            tiers=read_tiers(doc["tiers"], f"{field}.tiers", "price", "positive"),
        )
    return read_tou_energy(doc, field)


def read_tiers(
    items: Sequence[Document], field: str, price_key: str, sign: Sign
) -> tuple[Tier, ...]:
    """Tiers by increasing `up_to`; every tier but the last has one, the last has none."""
    tiers: list[Tier] = []
    for index, item in enumerate(items):
        item_field = f"{field}[{index}]"
        is_last = index == len(items) - 1
        price = read_price(item[price_key], f"{item_field}.{price_key}", sign)
        if "up_to" not in item:
            if not is_last:
                raise TariffError(
                    "tier_bound_missing", "every tier but the last needs up_to", item_field
                )
            tiers.append(Tier(up_to=None, price=price))
            continue
        if is_last:
            raise TariffError(
                "last_tier_bounded",
                "the last tier must have no up_to: it covers all usage above the one before",
                f"{item_field}.up_to",
            )
        up_to = read_decimal(item["up_to"], f"{item_field}.up_to", TariffError, sign="positive")
        previous = tiers[-1].up_to if tiers else None
        if previous is not None and up_to <= previous:
            raise TariffError(
                "tiers_out_of_order",
                f"up_to {up_to} must be above the previous tier's {previous}",
                f"{item_field}.up_to",
            )
        tiers.append(Tier(up_to=up_to, price=price))
    return tuple(tiers)


def read_tou_energy(doc: Document, field: str) -> TouEnergy:
    rates_doc: Document = doc["rates"]
    if len(rates_doc) > MAX_RATES:
        raise TariffError(
            "too_many_rates",
            f"{len(rates_doc)} rates: a time-of-use tariff has at most {MAX_RATES}",
            f"{field}.rates",
        )
    rates = tuple(
        read_rate(code, rates_doc[code], f"{field}.rates.{code}")
        for code in sorted(rates_doc, key=rate_order)
    )
    profiles = {
        name: read_day_profile(name, periods, f"{field}.day_profiles.{name}", rates_doc)
        for name, periods in doc["day_profiles"].items()
    }
    if "seasons" in doc:
        season_by_month = read_seasons(doc["seasons"], f"{field}.seasons", profiles)
    elif len(profiles) == 1:
        (only_profile,) = profiles
        all_year = Season(
            "all year", frozenset(range(1, 13)), dict.fromkeys(DAY_TYPES, only_profile)
        )
        season_by_month = dict.fromkeys(range(1, 13), all_year)
    else:
        raise TariffError(
            "seasons_required",
            "with more than one day profile, seasons must say which profile applies when",
            f"{field}.seasons",
        )
    calendar = TouCalendar(
        profiles=MappingProxyType(profiles),
        season_by_month=MappingProxyType(season_by_month),
        special_days=MappingProxyType(
            read_special_days(doc.get("special_days", []), f"{field}.special_days", profiles)
        ),
    )
    increments = doc.get("tier_increments")
    tier_increments = None
    if increments is not None:
        tier_increments = TierIncrements(
            period=cast(TierPeriod, increments["period"]),
            tiers=read_tiers(
                increments["tiers"], f"{field}.tier_increments.tiers", "increment", "non_negative"
            ),
        )
    return TouEnergy(rates=rates, calendar=calendar, tier_increments=tier_increments)


def rate_order(code: str) -> tuple[int, str]:
    """Bill lines come in a fixed order, whatever the key order of the stored document (a
    PostgreSQL jsonb column does not keep it): 尖 峰 平 谷 深谷, then other rates by name."""
    standard = list(STANDARD_RATE_LABELS)
    return (standard.index(code), "") if code in standard else (len(standard), code)


def read_rate(code: str, doc: Document, field: str) -> Rate:
    label_zh, label_en = STANDARD_RATE_LABELS.get(code, (code, code))
    return Rate(
        code=code,
        price=read_price(doc["price"], f"{field}.price"),
        label_zh=doc.get("label_zh", label_zh),
        label_en=doc.get("label_en", label_en),
    )


def read_minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def read_day_profile(
    name: str, items: Sequence[Document], field: str, rates: Document
) -> DayProfile:
    periods: list[Period] = []
    for index, item in enumerate(items):
        if item["rate"] not in rates:
            raise TariffError(
                "unknown_rate",
                f"rate {item['rate']!r} is not one of the tariff's rates ({', '.join(rates)})",
                f"{field}[{index}].rate",
            )
        start = read_minute(item["from"])
        if start == MINUTES_PER_DAY:
            raise TariffError(
                "invalid_format", "a period cannot start at 24:00", f"{field}[{index}].from"
            )
        periods.append(Period(start, read_minute(item["to"]), item["rate"]))
    return build_day_profile(name, tuple(periods), field)


def read_seasons(
    items: Sequence[Document], field: str, profiles: Mapping[str, DayProfile]
) -> dict[int, Season]:
    season_by_month: dict[int, Season] = {}
    for index, item in enumerate(items):
        item_field = f"{field}[{index}]"
        profile_by_day_type: dict[DayType, str] = {}
        names: Document = item["profiles"]
        for day_type in DAY_TYPES:
            name = names.get(day_type)
            if name is None:
                # weekend defaults to the workday profile, holiday to the weekend one
                name = profile_by_day_type["weekend" if day_type == "holiday" else "workday"]
            elif name not in profiles:
                raise TariffError(
                    "unknown_profile",
                    f"{name!r} is not one of the day profiles ({', '.join(profiles)})",
                    f"{item_field}.profiles.{day_type}",
                )
            profile_by_day_type[day_type] = name
        season = Season(
            item["name"], frozenset(item["months"]), MappingProxyType(profile_by_day_type)
        )
        for month in item["months"]:
            if month in season_by_month:
                raise TariffError(
                    "season_months_overlap",
                    f"month {month} is already in season {season_by_month[month].name!r}",
                    f"{item_field}.months",
                )
            season_by_month[month] = season
    missing = [month for month in range(1, 13) if month not in season_by_month]
    if missing:
        raise TariffError(
            "season_months_missing",
            f"no season covers month(s) {', '.join(map(str, missing))}",
            field,
        )
    return season_by_month


def read_date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise TariffError("invalid_date", f"{text!r} is not a valid date", field) from None


def read_special_days(
    items: Sequence[Document], field: str, profiles: Mapping[str, DayProfile]
) -> dict[date, SpecialDay]:
    by_date: dict[date, SpecialDay] = {}
    for index, item in enumerate(items):
        item_field = f"{field}[{index}]"
        first = read_date(item["date"], f"{item_field}.date")
        last = read_date(item["until"], f"{item_field}.until") if "until" in item else first
        if last < first or (last - first).days >= MAX_SPECIAL_DAY_RANGE_DAYS:
            raise TariffError(
                "invalid_date_range",
                f"until must be on or after date, and within {MAX_SPECIAL_DAY_RANGE_DAYS} days",
                f"{item_field}.until",
            )
        if ("day_type" in item) == ("profile" in item):
            raise TariffError(
                "day_type_or_profile", "give exactly one of day_type and profile", item_field
            )
        profile = item.get("profile")
        if profile is not None and profile not in profiles:
            raise TariffError(
                "unknown_profile",
                f"{profile!r} is not one of the day profiles ({', '.join(profiles)})",
                f"{item_field}.profile",
            )
        special = SpecialDay(first, last, cast(DayType | None, item.get("day_type")), profile)
        day = first
        while day <= last:
            if day in by_date:
                raise TariffError(
                    "special_days_overlap", f"{day} is already a special day", item_field
                )
            by_date[day] = special
            day += timedelta(days=1)
    return by_date


def read_surcharges(items: Sequence[Document], field: str) -> tuple[Surcharge, ...]:
    surcharges: list[Surcharge] = []
    for index, item in enumerate(items):
        item_field = f"{field}[{index}]"
        if any(s.code == item["code"] for s in surcharges):
            raise TariffError(
                "duplicate_code",
                f"surcharge code {item['code']!r} is used twice",
                f"{item_field}.code",
            )
        surcharges.append(
            Surcharge(
                code=item["code"],
                label_zh=item["label_zh"],
                label_en=item.get("label_en", item["code"]),
                price=read_price(item["price"], f"{item_field}.price"),
            )
        )
    return tuple(surcharges)


def read_ratio(value: object, field: str, minimum: Decimal, maximum: Decimal | None) -> Decimal:
    ratio = read_decimal(value, field, TariffError)
    if ratio < minimum or (maximum is not None and ratio > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise TariffError("out_of_range", f"{ratio} must be at least {minimum}{upper}", field)
    return ratio


def read_basic_charge(doc: Document, field: str) -> BasicCharge:
    method = doc["method"]
    if method == "capacity":
        return CapacityCharge(
            read_price(doc["price_per_kva_month"], f"{field}.price_per_kva_month")
        )
    price = read_price(doc["price_per_kw_month"], f"{field}.price_per_kw_month")
    floor = doc.get("floor_ratio")
    floor_ratio = (
        None if floor is None else read_ratio(floor, f"{field}.floor_ratio", Decimal(0), Decimal(1))
    )
    if method == "actual_demand":
        return ActualDemandCharge(price, floor_ratio)
    threshold = doc.get("excess_threshold_ratio")
    return ContractDemandCharge(
        price,
        floor_ratio=DEFAULT_FLOOR_RATIO if floor_ratio is None else floor_ratio,
        excess_threshold_ratio=(
            DEFAULT_EXCESS_THRESHOLD_RATIO
            if threshold is None
            else read_ratio(threshold, f"{field}.excess_threshold_ratio", Decimal(1), None)
        ),
    )


def read_power_factor(doc: Document, field: str) -> PowerFactorRule:
    standard = read_decimal(doc["standard"], f"{field}.standard", TariffError, sign="positive")
    if standard > 1:
        raise TariffError(
            "power_factor_above_one",
            f"{standard}: a power factor cannot exceed 1",
            f"{field}.standard",
        )
    if standard not in STANDARDS:
        raise TariffError(
            "unknown_power_factor_standard",
            f"{standard} is not one of the standards 0.90, 0.85 and 0.80",
            f"{field}.standard",
        )
    applies_to = doc.get("applies_to")
    return PowerFactorRule(
        standard=standard,
        reactive=cast(ReactiveAggregation, doc.get("reactive", "forward")),
        applies_to=(
            DEFAULT_PF_APPLIES_TO
            if applies_to is None
            else frozenset(LineKind(kind) for kind in applies_to)
        ),
    )
