"""`rate(tariff, usage) -> Bill`: every line rounded half-up to the fen, total = sum of lines.

Register usage (one total, or one register per time-of-use rate) is rated with the tariff
version in force at the period's start. Interval usage is split by the version and the
time-of-use period in force at each interval's start, in the tariff's time zone. The monthly
charges (basic charge, power factor) use the version in force at the period's start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from zoneinfo import ZoneInfo

from submeter.engine.bill import Bill, BillLine, LineKind, PowerFactorOutcome
from submeter.engine.errors import EngineError, UsageError
from submeter.engine.money import EXACT, round_fen
from submeter.engine.power_factor import (
    adjustment_percent,
    check_power_factor,
    monthly_power_factor,
)
from submeter.engine.tariff import (
    ActualDemandCharge,
    CapacityCharge,
    FlatEnergy,
    Tariff,
    TariffVersion,
    TieredEnergy,
    TierIncrements,
    TierPeriod,
    TouEnergy,
)
from submeter.engine.tiers import slice_into_tiers
from submeter.engine.tou import DayProfile
from submeter.engine.usage import Interval, Usage, quantity_key


@dataclass(frozen=True, slots=True)
class Wording:
    """How consumption lines of one utility are named."""

    code_prefix: str
    label_zh_suffix: str
    label_en: str
    unit: str


ELECTRICITY = Wording("energy", "电费", "Energy", "kWh")
WATER = Wording("water", "水费", "Water", "m3")


def wording_for(tariff: Tariff) -> Wording:
    return ELECTRICITY if tariff.utility == "electricity" else WATER


def make_line(
    code: str,
    kind: LineKind,
    labels: tuple[str, str],
    quantity: Decimal,
    unit: str,
    unit_price: Decimal,
    rule: str,
    version: TariffVersion,
) -> BillLine:
    amount_exact = EXACT.multiply(quantity, unit_price)
    return BillLine(
        code=code,
        kind=kind,
        label_zh=labels[0],
        label_en=labels[1],
        quantity=quantity,
        unit=unit,
        unit_price=unit_price,
        amount_exact=amount_exact,
        amount=round_fen(amount_exact),
        rule=rule,
        tariff_version=version.valid_from,
    )


def rate(tariff: Tariff, usage: Usage) -> Bill:
    """Rate `usage` against `tariff`; raise `UsageError` when the usage does not fit it."""
    with localcontext(EXACT):
        return rate_exactly(tariff, usage)


def rate_exactly(tariff: Tariff, usage: Usage) -> Bill:
    key = quantity_key(tariff)
    given = [
        value
        for value in (usage.consumption_by_rate, usage.consumption, usage.intervals)
        if value is not None
    ]
    if len(given) != 1:
        raise UsageError(
            "consumption_required",
            f"give exactly one of {key} (a total, or an object by rate) and intervals",
            key,
        )
    if usage.intervals is not None:
        period_start = (
            usage.intervals[0].start if usage.period_start is None else usage.period_start
        )
        lines, surcharge_lines = interval_lines(tariff, usage.intervals, usage)
    else:
        if usage.period_start is None:
            raise UsageError(
                "missing_field", "period is required to rate register usage", "period.start"
            )
        period_start = usage.period_start
        version = register_version(tariff, usage)
        lines = consumption_lines(
            tariff,
            version,
            usage.consumption_by_rate,
            usage.consumption,
            usage.tier_usage_before,
            "from the meter's register",
        )
        surcharge_lines = surcharges_for(tariff, version, total_quantity(lines))
    monthly = tariff.version_at(period_start)
    bill_lines: list[BillLine] = []
    if usage.wants(LineKind.CONSUMPTION):
        bill_lines += lines
    if usage.wants(LineKind.SURCHARGE):
        bill_lines += surcharge_lines
    if monthly.basic_charge is not None and usage.wants(LineKind.BASIC):
        bill_lines += basic_charge_lines(monthly, usage)
    outcome = None
    rule = monthly.power_factor
    if rule is not None and usage.wants(LineKind.POWER_FACTOR):
        active_kwh = total_quantity(lines)
        outcome = power_factor_outcome(monthly, usage, active_kwh, bill_lines)
        if outcome is not None:
            bill_lines.append(power_factor_line(monthly, outcome))
    return Bill(
        tariff_id=tariff.id, unit=tariff.unit, lines=tuple(bill_lines), power_factor=outcome
    )


def total_quantity(lines: Sequence[BillLine]) -> Decimal:
    """Units consumed on consumption lines; tier increments re-price units already counted."""
    return sum(
        (line.quantity for line in lines if not line.code.endswith("_increment")), Decimal(0)
    )


def register_version(tariff: Tariff, usage: Usage) -> TariffVersion:
    assert usage.period_start is not None
    index = tariff.version_index_at(usage.period_start)
    later = tariff.versions[index + 1 :]
    if later and usage.period_end is not None and later[0].valid_from < usage.period_end:
        raise UsageError(
            "version_change_in_period",
            f"a new tariff version starts {later[0].valid_from.isoformat()}, inside the period: "
            "rate the two parts separately, or give intervals",
            "period",
        )
    return tariff.versions[index]


def consumption_lines(
    tariff: Tariff,
    version: TariffVersion,
    by_rate: Mapping[str, Decimal] | None,
    total: Decimal | None,
    usage_before: Decimal,
    source: str,
) -> list[BillLine]:
    """Lines for one version's consumption, given per rate (TOU) or as a total."""
    wording = wording_for(tariff)
    key = quantity_key(tariff)
    energy = version.energy
    if isinstance(energy, TouEnergy):
        if by_rate is None:
            raise UsageError(
                "per_rate_consumption_required",
                "a time-of-use tariff needs consumption per rate (an object by rate) or intervals",
                key,
            )
        return tou_lines(wording, version, energy, by_rate, usage_before, source, key)
    if total is None:
        raise UsageError(
            "total_consumption_required",
            "this tariff has no time-of-use rates: give the consumption as one total",
            key,
        )
    if isinstance(energy, FlatEnergy):
        return [
            make_line(
                f"{wording.code_prefix}.single_rate",
                LineKind.CONSUMPTION,
                ("电度电费" if wording is ELECTRICITY else "水费", wording.label_en),
                total,
                wording.unit,
                energy.price,
                f"single price, consumption {source}",
                version,
            )
        ]
    return tier_lines(wording, version, energy, total, usage_before)


def tou_lines(
    wording: Wording,
    version: TariffVersion,
    energy: TouEnergy,
    by_rate: Mapping[str, Decimal],
    usage_before: Decimal,
    source: str,
    key: str,
) -> list[BillLine]:
    codes = {rate.code for rate in energy.rates}
    for code in by_rate:
        if code not in codes:
            raise UsageError(
                "unknown_rate",
                f"{code!r} is not one of the tariff's rates ({', '.join(sorted(codes))})",
                f"{key}.{code}",
            )
    lines = [
        make_line(
            f"{wording.code_prefix}.{rate.code}",
            LineKind.CONSUMPTION,
            (f"{rate.label_zh}{wording.label_zh_suffix}", f"{wording.label_en}, {rate.label_en}"),
            by_rate[rate.code],
            wording.unit,
            rate.price,
            f"time-of-use rate {rate.code}, consumption {source}",
            version,
        )
        for rate in energy.rates
        if rate.code in by_rate
    ]
    if energy.tier_increments is not None:
        total = sum(by_rate.values(), Decimal(0))
        lines += increment_lines(wording, version, energy.tier_increments, total, usage_before)
    return lines


def tier_rule(period: TierPeriod, number: int, usage_from: Decimal, usage_to: Decimal) -> str:
    return (
        f"tier {number} of the {period} tiers: cumulative usage in the {period[:-2]} "
        f"from {usage_from} to {usage_to}"
    )


def tier_lines(
    wording: Wording, version: TariffVersion, energy: TieredEnergy, total: Decimal, before: Decimal
) -> list[BillLine]:
    return [
        make_line(
            f"{wording.code_prefix}.tier{piece.number}",
            LineKind.CONSUMPTION,
            (
                f"第{piece.number}阶梯{wording.label_zh_suffix}",
                f"{wording.label_en}, tier {piece.number}",
            ),
            piece.quantity,
            wording.unit,
            piece.tier.price,
            tier_rule(energy.period, piece.number, piece.usage_from, piece.usage_to),
            version,
        )
        for piece in slice_into_tiers(energy.tiers, before, total)
    ]


def increment_lines(
    wording: Wording,
    version: TariffVersion,
    increments: TierIncrements,
    total: Decimal,
    before: Decimal,
) -> list[BillLine]:
    return [
        make_line(
            f"{wording.code_prefix}.tier{piece.number}_increment",
            LineKind.CONSUMPTION,
            (f"第{piece.number}阶梯加价", f"Tier {piece.number} increment"),
            piece.quantity,
            wording.unit,
            piece.tier.price,
            "increment on top of the time-of-use price, "
            + tier_rule(increments.period, piece.number, piece.usage_from, piece.usage_to),
            version,
        )
        for piece in slice_into_tiers(increments.tiers, before, total)
        if piece.tier.price > 0
    ]


def surcharges_for(tariff: Tariff, version: TariffVersion, quantity: Decimal) -> list[BillLine]:
    unit = wording_for(tariff).unit
    return [
        make_line(
            f"surcharge.{surcharge.code}",
            LineKind.SURCHARGE,
            (surcharge.label_zh, surcharge.label_en),
            quantity,
            unit,
            surcharge.price,
            f"surcharge {surcharge.code} on every {unit} consumed",
            version,
        )
        for surcharge in version.surcharges
    ]


def tier_periods(version: TariffVersion) -> TierPeriod | None:
    energy = version.energy
    if isinstance(energy, TieredEnergy):
        return energy.period
    if isinstance(energy, TouEnergy) and energy.tier_increments is not None:
        return energy.tier_increments.period
    return None


def tier_period_key(local_day: date, period: TierPeriod) -> tuple[int, int]:
    return (local_day.year, local_day.month if period == "monthly" else 0)


def interval_lines(
    tariff: Tariff, intervals: Sequence[Interval], usage: Usage
) -> tuple[list[BillLine], list[BillLine]]:
    """Consumption and surcharge lines of an interval series, version by version."""
    zone = tariff.timezone
    starts = [interval.start for interval in intervals]
    for index in range(1, len(starts)):
        if starts[index] <= starts[index - 1]:
            raise UsageError(
                "intervals_out_of_order",
                "intervals must be in time order, without repeats",
                f"intervals[{index}].start",
            )
    groups: dict[int, list[Interval]] = {}
    for interval in intervals:
        groups.setdefault(tariff.version_index_at(interval.start), []).append(interval)
    lines: list[BillLine] = []
    surcharges: list[BillLine] = []
    usage_before = usage.tier_usage_before
    for version_index, members in groups.items():
        version = tariff.versions[version_index]
        period = tier_periods(version)
        if period is not None:
            check_single_tier_period(intervals, period, tariff)
        total = sum((interval.consumption for interval in members), Decimal(0))
        by_rate = None
        if isinstance(version.energy, TouEnergy):
            by_rate = consumption_by_rate(version.energy, members, zone)
        lines += consumption_lines(
            tariff,
            version,
            by_rate,
            None if by_rate is not None else total,
            usage_before,
            f"of the intervals starting in its periods ({zone.key})"
            if by_rate is not None
            else "summed over the intervals",
        )
        surcharges += surcharges_for(tariff, version, total)
        usage_before += total
    return lines, surcharges


def check_single_tier_period(
    intervals: Sequence[Interval], period: TierPeriod, tariff: Tariff
) -> None:
    first = tier_period_key(intervals[0].start.astimezone(tariff.timezone).date(), period)
    for index, interval in enumerate(intervals):
        if tier_period_key(interval.start.astimezone(tariff.timezone).date(), period) != first:
            raise UsageError(
                "crosses_tier_period",
                f"tiers are {period}: rate each {period[:-2]} separately, "
                "with tier_usage_before for the usage before it",
                f"intervals[{index}].start",
            )


def consumption_by_rate(
    energy: TouEnergy, intervals: Sequence[Interval], zone: ZoneInfo
) -> dict[str, Decimal]:
    """Sum interval consumption by the rate in force at each interval's start."""
    totals = {rate.code: Decimal(0) for rate in energy.rates}
    seen: set[str] = set()
    profiles: dict[date, DayProfile] = {}
    for interval in intervals:
        local = interval.start.astimezone(zone)
        day = local.date()
        profile = profiles.get(day)
        if profile is None:
            profile = profiles[day] = energy.calendar.profile_for(day)
        code = profile.rate_at_minute(local.hour * 60 + local.minute)
        totals[code] += interval.consumption
        seen.add(code)
    return {code: totals[code] for code in totals if code in seen}


def basic_charge_lines(version: TariffVersion, usage: Usage) -> list[BillLine]:
    charge = version.basic_charge
    labels = ("基本电费（容量）", "Basic charge, capacity")
    if isinstance(charge, CapacityCharge):
        capacity = required(usage.capacity_kva, "capacity_kva", "the capacity basic charge")
        return [
            make_line(
                "basic.capacity",
                LineKind.BASIC,
                labels,
                capacity,
                "kVA",
                charge.price_per_kva_month,
                "basic charge by transformer capacity: kVA × monthly price per kVA",
                version,
            )
        ]
    assert charge is not None
    actual = required(usage.max_demand_kw, "max_demand_kw", "the demand basic charge")
    demand_labels = ("基本电费（需量）", "Basic charge, maximum demand")
    if isinstance(charge, ActualDemandCharge):
        billed = actual
        rule = f"basic charge by actual maximum demand {actual} kW"
        if charge.floor_ratio is not None:
            capacity = required(usage.capacity_kva, "capacity_kva", "the demand floor")
            floor = charge.floor_ratio * capacity
            if floor > actual:
                billed = floor
                rule += f", raised to the floor {charge.floor_ratio} × {capacity} kVA = {floor} kW"
        return [
            make_line(
                "basic.demand",
                LineKind.BASIC,
                demand_labels,
                billed,
                "kW",
                charge.price_per_kw_month,
                rule,
                version,
            )
        ]
    contract = required(usage.contract_demand_kw, "contract_demand_kw", "the demand basic charge")
    capacity = required(usage.capacity_kva, "capacity_kva", "the 40 % floor of contracted demand")
    floor = charge.floor_ratio * capacity
    floor_note = ""
    if contract < floor:
        floor_note = (
            f" (contract {contract} kW is below {charge.floor_ratio} × {capacity} kVA: "
            f"set to {floor} kW)"
        )
        contract = floor
    threshold = charge.excess_threshold_ratio * contract
    if actual <= threshold:
        return [
            make_line(
                "basic.demand",
                LineKind.BASIC,
                demand_labels,
                contract,
                "kW",
                charge.price_per_kw_month,
                f"basic charge by contracted demand {contract} kW{floor_note}; actual "
                f"{actual} kW is within {charge.excess_threshold_ratio} × contract",
                version,
            )
        ]
    return [
        make_line(
            "basic.demand",
            LineKind.BASIC,
            demand_labels,
            actual,
            "kW",
            charge.price_per_kw_month,
            f"actual maximum demand {actual} kW is above {charge.excess_threshold_ratio} × "
            f"contracted {contract} kW{floor_note}: billed on actual demand",
            version,
        ),
        make_line(
            "basic.demand_excess",
            LineKind.BASIC,
            ("基本电费（超合同需量部分加倍）", "Basic charge, demand above the contract limit"),
            actual - threshold,
            "kW",
            charge.price_per_kw_month,
            f"the part above {charge.excess_threshold_ratio} × {contract} = {threshold} kW "
            "is charged a second time",
            version,
        ),
    ]


def required(value: Decimal | None, field: str, needed_by: str) -> Decimal:
    if value is None:
        raise UsageError("missing_field", f"{field} is required by {needed_by}", field)
    return value


def power_factor_outcome(
    version: TariffVersion, usage: Usage, active_kwh: Decimal, lines: Sequence[BillLine]
) -> PowerFactorOutcome | None:
    """The monthly PF and its adjustment; None when there is no energy at all to judge."""
    rule = version.power_factor
    assert rule is not None
    reactive_kvarh: Decimal | None = None
    if usage.power_factor is not None:
        try:
            check_power_factor(usage.power_factor)
        except EngineError as error:
            raise UsageError(error.code, error.message, "power_factor") from error
        pf = usage.power_factor
        active: Decimal | None = None
    else:
        reactive_kvarh = required(
            usage.reactive_kvarh, "reactive_kvarh", "the power-factor adjustment (or power_factor)"
        )
        if rule.reactive == "forward_plus_reverse":
            reverse = required(
                usage.reactive_reverse_kvarh,
                "reactive_reverse_kvarh",
                "the power-factor rule forward_plus_reverse",
            )
            reactive_kvarh = reactive_kvarh + abs(reverse)
        if active_kwh == 0 and reactive_kvarh == 0:
            return None
        pf = monthly_power_factor(active_kwh, reactive_kvarh)
        active = active_kwh
    base = sum((line.amount for line in lines if line.kind in rule.applies_to), Decimal("0.00"))
    return PowerFactorOutcome(
        standard=rule.standard,
        active_kwh=active,
        reactive_kvarh=reactive_kvarh,
        power_factor=pf,
        adjustment_percent=adjustment_percent(rule.standard, pf),
        base=base,
    )


def power_factor_line(version: TariffVersion, outcome: PowerFactorOutcome) -> BillLine:
    rule = version.power_factor
    assert rule is not None
    kinds = " + ".join(kind.value for kind in LineKind if kind in rule.applies_to)
    source = (
        f"P {outcome.active_kwh} kWh, Q {outcome.reactive_kvarh} kvarh"
        if outcome.active_kwh is not None
        else "given"
    )
    return make_line(
        "power_factor",
        LineKind.POWER_FACTOR,
        ("力调电费", "Power-factor adjustment"),
        outcome.base,
        "CNY",
        outcome.adjustment_percent / 100,
        f"monthly power factor {outcome.power_factor} ({source}) against standard "
        f"{outcome.standard}: {outcome.adjustment_percent} % of {kinds} "
        "((83)水电财字第215号)",
        version,
    )
