"""Every state change of billing: deduction, settlement, meter replacement, register reviews.

`deduct` is the heart of the prepaid loop (docs/billing.md): in one transaction it locks the
meter's cursor, rates each register difference after it with the tariff version in force,
records one `UsageCharge` per interval, posts the whole-fen sum to the ledger (sub-fen carry per
month and bill line) and moves the cursor on. Running it again, or with readings that arrive
late, out of order or twice, bills every kWh exactly once.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from submeter.billing.models import BillingCursor, ReviewFlag, ReviewState, UsageCharge
from submeter.customers.models import Customer, Settlement
from submeter.engine import FenRounder, Interval, LineKind, Tariff, Usage, parse_tariff, rate
from submeter.engine.money import EXACT, ZERO_FEN
from submeter.engine.rating import tier_periods
from submeter.engine.tariff import TouEnergy
from submeter.errors import Conflict, ServiceError
from submeter.ledger import services as ledger
from submeter.ledger.models import Transaction
from submeter.metering.models import Meter, MeterKind, MeterState, Reading
from submeter.metering.services import enter_manual_reading
from submeter.tariffs.models import Tariff as TariffRecord
from submeter.tenancy.audit import record
from submeter.tenancy.services import save_record

TOTAL_REGISTER = {
    MeterKind.ELECTRICITY: "energy_kwh",
    MeterKind.WATER: "water_m3",
    MeterKind.GAS: "water_m3",
}
RATE_REGISTERS = {
    "energy_rate1_kwh": "sharp",
    "energy_rate2_kwh": "peak",
    "energy_rate3_kwh": "flat",
    "energy_rate4_kwh": "valley",
}
REAL_TIME_LINES = frozenset({LineKind.CONSUMPTION, LineKind.SURCHARGE})
ESTIMATE_AFTER_INTERVALS = 2
"""A gap longer than this many reading intervals has no interval data: it is estimated."""
THOUSANDTH = Decimal("0.001")


@dataclass
class DeductOutcome:
    meter_id: int
    customer_id: int | None
    intervals: int = 0
    quantity: Decimal = Decimal(0)
    posted: Decimal = ZERO_FEN
    estimated: bool = False
    transaction_id: int | None = None
    flagged: bool = False


# -- tariffs -------------------------------------------------------------------------------------

_parsed: dict[int, tuple[datetime.datetime, Tariff]] = {}


def engine_tariff(record_: TariffRecord) -> Tariff:
    """The engine's tariff for a stored one, parsed once per edit."""
    cached = _parsed.get(record_.pk)
    if cached is not None and cached[0] == record_.updated_at:
        return cached[1]
    tariff = parse_tariff(record_.document)
    _parsed[record_.pk] = (record_.updated_at, tariff)
    return tariff


# -- one interval --------------------------------------------------------------------------------


@dataclass
class Piece:
    """One interval to bill: its bounds and register differences (already × CT ratio)."""

    start: datetime.datetime
    end: datetime.datetime
    register_from: Decimal
    register_to: Decimal
    quantity: Decimal
    by_rate: dict[str, Decimal] | None
    estimated: bool


def rate_codes(tariff: Tariff, instant: datetime.datetime) -> frozenset[str] | None:
    energy = tariff.version_at(instant).energy
    if isinstance(energy, TouEnergy):
        return frozenset(rate.code for rate in energy.rates)
    return None


def register_rates(
    before: Mapping[str, Decimal], after: Mapping[str, Decimal], codes: frozenset[str] | None
) -> dict[str, Decimal] | None:
    """Per-rate differences when the meter has rate registers the TOU tariff can price."""
    if codes is None:
        return None
    present = [name for name in RATE_REGISTERS if name in before and name in after]
    if not present:
        return None
    deltas = {RATE_REGISTERS[name]: after[name] - before[name] for name in present}
    if any(value and code not in codes for code, value in deltas.items()):
        return None
    return {code: value for code, value in deltas.items() if code in codes}


def pieces_between(
    start: datetime.datetime,
    end: datetime.datetime,
    before: Mapping[str, Decimal],
    after: Mapping[str, Decimal],
    *,
    total: str,
    ct_ratio: Decimal,
    step: datetime.timedelta,
    codes: frozenset[str] | None,
) -> list[Piece]:
    by_rate = register_rates(before, after, codes)
    register_from, register_to = before[total], after[total]
    if by_rate is not None:
        scaled = {code: value * ct_ratio for code, value in by_rate.items()}
        quantity = sum(scaled.values(), Decimal(0))
        return [Piece(start, end, register_from, register_to, quantity, scaled, False)]
    if end - start <= step * ESTIMATE_AFTER_INTERVALS:
        quantity = (register_to - register_from) * ct_ratio
        return [Piece(start, end, register_from, register_to, quantity, None, False)]
    # No interval data over the gap: spread the difference evenly, in thousandths, over the
    # missing intervals (the first ones take the remainder), and mark it estimated.
    count = -(-(end - start) // step)
    units = int((register_to - register_from) / THOUSANDTH)
    share, remainder = divmod(units, count)
    pieces = []
    at, register = start, register_from
    for index in range(count):
        piece_end = end if index == count - 1 else start + step * (index + 1)
        advance = (share + (1 if index < remainder else 0)) * THOUSANDTH
        pieces.append(
            Piece(at, piece_end, register, register + advance, advance * ct_ratio, None, True)
        )
        at, register = piece_end, register + advance
    return pieces


def take_free(piece: Piece, free: Decimal) -> tuple[Decimal, dict[str, Decimal] | None]:
    """Take up to `free` units off the piece (rates in order: sharp, peak, flat, valley)."""
    if piece.by_rate is None:
        return piece.quantity - free, None
    billed = {}
    for code, value in piece.by_rate.items():
        taken = min(value, free)
        billed[code] = value - taken
        free -= taken
    return sum(billed.values(), Decimal(0)), billed


# -- deduction -----------------------------------------------------------------------------------


def decimals(registers: Mapping[str, object]) -> dict[str, Decimal]:
    return {name: Decimal(str(value)) for name, value in registers.items() if value is not None}


def as_strings(registers: Mapping[str, Decimal]) -> dict[str, str]:
    return {name: str(value) for name, value in registers.items()}


def register_fields(meter: Meter) -> tuple[str, ...]:
    total = TOTAL_REGISTER[meter.kind]
    return (total, *RATE_REGISTERS) if meter.kind == MeterKind.ELECTRICITY else (total,)


def month_of(instant: datetime.datetime, zone) -> datetime.date:
    local = instant.astimezone(zone)
    return datetime.date(local.year, local.month, 1)


def month_key(month: datetime.date) -> str:
    return f"{month:%Y-%m}"


def lineage(cursor: BillingCursor) -> list[int]:
    """This meter and the meters it replaced, newest first."""
    ids = [cursor.meter_id]
    previous = cursor.previous_meter_id
    while previous is not None and previous not in ids:
        ids.append(previous)
        previous = (
            BillingCursor.objects.filter(meter_id=previous)
            .values_list("previous_meter_id", flat=True)
            .first()
        )
    return ids


def open_cursor(meter: Meter, fields: tuple[str, ...]) -> BillingCursor | None:
    """The meter's cursor, locked; opened at its first reading (which is never billed)."""
    cursor = BillingCursor.objects.select_for_update().filter(meter_id=meter.pk).first()
    if cursor is not None:
        return cursor
    first = (
        Reading.objects.filter(meter_id=meter.pk, **{f"{fields[0]}__isnull": False})
        .order_by("timestamp")
        .values("timestamp", *fields)
        .first()
    )
    if first is None:
        return None
    try:
        with transaction.atomic():
            BillingCursor.objects.create(
                organisation_id=meter.organisation_id,
                meter=meter,
                reading_at=first["timestamp"],
                series_started_at=first["timestamp"],
                registers=as_strings(decimals({k: first[k] for k in fields})),
            )
    except IntegrityError:
        pass  # opened concurrently
    return BillingCursor.objects.select_for_update().get(meter_id=meter.pk)


class Deduction:
    """One run of `deduct` over one meter, inside its transaction."""

    def __init__(self, meter: Meter, cursor: BillingCursor, tariff: Tariff, now) -> None:
        self.meter = meter
        self.cursor = cursor
        self.tariff = tariff
        self.now = now
        self.customer: Customer = meter.customer
        self.utility = MeterKind(meter.kind).value
        self.month_end = self.customer.settlement == Settlement.MONTH_END
        self.allowance = (
            self.customer.free_kwh_per_month
            if meter.kind == MeterKind.ELECTRICITY
            else self.customer.free_m3_per_month
        )
        self.rounders: dict[str, dict[str, FenRounder]] = {
            month: {
                code: FenRounder(Decimal(exact), Decimal(posted))
                for code, (exact, posted) in lines.items()
            }
            for month, lines in (cursor.carry or {}).items()
        }
        self.free_used: dict[datetime.date, Decimal] = {}
        self.tier_used: dict[tuple[str, int, int], Decimal] = {}
        self.meter_ids: list[int] | None = None
        self.charges: list[UsageCharge] = []

    def free_left(self, month: datetime.date) -> Decimal:
        if not self.allowance:
            return Decimal(0)
        if not self.free_used:
            # The allowance is shared by the customer's meters: one deduction at a time takes it.
            Customer.objects.select_for_update().filter(pk=self.customer.pk).exists()
        if month not in self.free_used:
            used = UsageCharge.objects.filter(
                customer_id=self.customer.pk, utility=self.utility, month=month
            ).aggregate(total=Sum("free_quantity"))["total"]
            self.free_used[month] = Decimal(used or 0)
        return max(self.allowance - self.free_used[month], Decimal(0))

    def tier_key(self, instant: datetime.datetime) -> tuple[str, int, int] | None:
        period = tier_periods(self.tariff.version_at(instant))
        if period is None:
            return None
        local = instant.astimezone(self.tariff.timezone)
        return (period, local.year, local.month if period == "monthly" else 0)

    def tier_before(self, key: tuple[str, int, int]) -> Decimal:
        if key not in self.tier_used:
            if self.meter_ids is None:
                self.meter_ids = lineage(self.cursor)
            period, year, month = key
            months = (
                {"month": datetime.date(year, month, 1)}
                if period == "monthly"
                else {"month__year": year}
            )
            totals = UsageCharge.objects.filter(meter_id__in=self.meter_ids, **months).aggregate(
                quantity=Sum("quantity"), free=Sum("free_quantity")
            )
            self.tier_used[key] = Decimal(totals["quantity"] or 0) - Decimal(totals["free"] or 0)
        return self.tier_used[key]

    def bill(self, piece: Piece) -> None:
        month = month_of(piece.start, self.tariff.timezone)
        free = min(self.free_left(month), piece.quantity) if piece.quantity > 0 else Decimal(0)
        billed, billed_by_rate = take_free(piece, free)
        if free:
            self.free_used[month] += free
        version = self.tariff.version_at(piece.start)
        lines = []
        if billed > 0:
            key = self.tier_key(piece.start)
            before = self.tier_before(key) if key is not None else Decimal(0)
            if billed_by_rate is not None:
                usage = Usage(
                    period_start=piece.start,
                    consumption_by_rate=billed_by_rate,
                    tier_usage_before=before,
                    charges=REAL_TIME_LINES,
                )
            elif isinstance(version.energy, TouEnergy):
                usage = Usage(
                    intervals=(Interval(piece.start, billed),),
                    tier_usage_before=before,
                    charges=REAL_TIME_LINES,
                )
            else:
                usage = Usage(
                    period_start=piece.start,
                    consumption=billed,
                    tier_usage_before=before,
                    charges=REAL_TIME_LINES,
                )
            lines = list(rate(self.tariff, usage).lines)
            if key is not None:
                self.tier_used[key] = before + billed
        rounders = self.rounders.setdefault(month_key(month), {})
        exact = Decimal(0)
        posted = ZERO_FEN
        for line in lines:
            exact = EXACT.add(exact, line.amount_exact)
            posted += rounders.setdefault(line.code, FenRounder()).post(line.amount_exact)
        self.charges.append(
            UsageCharge(
                organisation_id=self.meter.organisation_id,
                meter_id=self.meter.pk,
                customer_id=self.customer.pk,
                utility=self.utility,
                month=month,
                interval_start=piece.start,
                interval_end=piece.end,
                register_from=piece.register_from,
                register_to=piece.register_to,
                quantity=piece.quantity,
                quantity_by_rate=as_strings(piece.by_rate) if piece.by_rate else None,
                free_quantity=free,
                estimated=piece.estimated,
                tariff_id=self.meter.tariff_id,
                tariff_version=version.valid_from,
                lines=[
                    {
                        "code": line.code,
                        "rule": line.rule,
                        "quantity": str(line.quantity),
                        "unit": line.unit,
                        "unit_price": str(line.unit_price),
                        "amount_exact": str(line.amount_exact),
                    }
                    for line in lines
                ],
                amount_exact=exact,
                posted_amount=posted,
                month_end=self.month_end,
                created_at=self.now,
            )
        )

    def carry_state(self, keep_from: datetime.date) -> dict:
        return {
            month: {code: [str(r.exact_total), str(r.posted_total)] for code, r in lines.items()}
            for month, lines in self.rounders.items()
            if month >= month_key(keep_from)
        }


def deduct(meter_id: int, *, now: datetime.datetime | None = None) -> DeductOutcome:
    """Bill a meter's readings after its cursor; see the module docstring. Idempotent."""
    with transaction.atomic():
        return _deduct(meter_id, now=now or timezone.now())


def _deduct(
    meter_id: int, *, now: datetime.datetime, until: datetime.datetime | None = None
) -> DeductOutcome:
    meter = Meter.objects.select_related("customer", "tariff").get(pk=meter_id)
    outcome = DeductOutcome(meter_id=meter.pk, customer_id=meter.customer_id)
    if meter.customer_id is None or meter.tariff_id is None:
        return outcome
    fields = register_fields(meter)
    total = fields[0]
    cursor = open_cursor(meter, fields)
    if cursor is None:
        return outcome
    readings = Reading.objects.filter(
        meter_id=meter.pk, timestamp__gt=cursor.reading_at, **{f"{total}__isnull": False}
    )
    limit = min((t for t in (until, cursor.closed_at) if t is not None), default=None)
    if limit is not None:
        readings = readings.filter(timestamp__lte=limit)
    rows = list(readings.order_by("timestamp").values_list("timestamp", *fields))
    if not rows:
        return outcome
    tariff = engine_tariff(meter.tariff)
    run = Deduction(meter, cursor, tariff, now)
    step = datetime.timedelta(minutes=meter.reading_interval_minutes or 15)
    ct_ratio = Decimal(meter.ct_ratio) if meter.kind == MeterKind.ELECTRICITY else Decimal(1)
    if ct_ratio == ct_ratio.to_integral_value():
        ct_ratio = ct_ratio.quantize(
            Decimal(1)
        )  # 40.00 → 40: quantities keep the register's places
    at, before = cursor.reading_at, decimals(cursor.registers)
    for timestamp, *values in rows:
        after = {
            name: value for name, value in zip(fields, values, strict=True) if value is not None
        }
        backwards = [
            name for name, value in after.items() if name in before and value < before[name]
        ]
        if backwards:
            flag_backwards(meter, timestamp, backwards[0], before, after)
            outcome.flagged = True
            break
        for piece in pieces_between(
            at,
            timestamp,
            before,
            after,
            total=total,
            ct_ratio=ct_ratio,
            step=step,
            codes=rate_codes(tariff, at) if meter.kind == MeterKind.ELECTRICITY else None,
        ):
            run.bill(piece)
        at, before = timestamp, {**before, **after}
    if not run.charges:
        return outcome
    posted = sum((charge.posted_amount for charge in run.charges), ZERO_FEN)
    last = run.charges[-1]
    posting = None
    if posted > 0 and not run.month_end:
        posting = ledger.charge(
            None,
            meter.customer,
            posted,
            run.utility,
            idempotency_key=f"{meter.pk}:{last.interval_end.isoformat()}",
            reason=_("Meter %(meter)s, %(start)s to %(end)s")
            % {
                "meter": meter.address,
                "start": run.charges[0].interval_start.isoformat(),
                "end": last.interval_end.isoformat(),
            },
        )
        for charge in run.charges:
            charge.transaction = posting
    UsageCharge.objects.bulk_create(run.charges)
    cursor.reading_at = at
    cursor.registers = as_strings(before)
    cursor.carry = run.carry_state(last.month)
    cursor.save(update_fields=["reading_at", "registers", "carry", "updated_at"])
    outcome.intervals = len(run.charges)
    outcome.quantity = sum((charge.quantity for charge in run.charges), Decimal(0))
    outcome.posted = posted if posting is not None else ZERO_FEN
    outcome.estimated = any(charge.estimated for charge in run.charges)
    outcome.transaction_id = posting.pk if posting is not None else None
    return outcome


def flag_backwards(meter, timestamp, register, before, after) -> None:
    ReviewFlag.objects.get_or_create(
        meter=meter,
        reading_at=timestamp,
        defaults={
            "organisation_id": meter.organisation_id,
            "register": register,
            "billed_value": before[register],
            "read_value": after[register],
        },
    )


def deduct_meters(
    meter_ids: Iterable[int], *, now: datetime.datetime | None = None
) -> list[DeductOutcome]:
    """`deduct` each meter in its own transaction (call it after the ingest commit)."""
    return [deduct(meter_id, now=now) for meter_id in sorted(set(meter_ids))]


# -- settlement ----------------------------------------------------------------------------------


@transaction.atomic
def set_settlement(actor, customer: Customer, mode: str) -> Customer:
    """Switch a customer between real-time deduction and month-end settlement."""
    if mode not in Settlement.values:
        message = _("Choose real-time or month-end settlement.")
        raise ServiceError("invalid", message, {"settlement": [message]})
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.settlement != mode:
        before = customer.settlement
        customer.settlement = mode
        customer.save(update_fields=["settlement"])
        record(
            actor,
            "billing.settlement",
            customer,
            before={"settlement": before},
            after={"settlement": mode},
        )
    return customer


def month_is_over(year: int, month: int, now: datetime.datetime) -> bool:
    """Whether the month has ended in the site's time zone (settings.TIME_ZONE)."""
    zone = timezone.get_default_timezone()
    next_month = datetime.date(year + month // 12, month % 12 + 1, 1)
    return now >= datetime.datetime.combine(next_month, datetime.time(), zone)


@transaction.atomic
def settle_month(
    actor, customer: Customer, year: int, month: int, *, now: datetime.datetime | None = None
) -> list[Transaction]:
    """Post a month-end customer's unposted charges of a month: one ledger charge per utility,
    keyed `settle:<customer>:<YYYY-MM>:<utility>` (charges that arrive later get `…:2`, …).
    Running it again posts nothing."""
    if not 1 <= month <= 12:
        message = _("Give the month as YYYY-MM.")
        raise ServiceError("invalid", message, {"month": [message]})
    if not month_is_over(year, month, now or timezone.now()):
        message = _("The month is not over yet.")
        raise Conflict("month_not_over", message, {"month": [message]})
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    first_day = datetime.date(year, month, 1)
    unposted = UsageCharge.objects.filter(
        customer=customer, month=first_day, month_end=True, transaction=None
    )
    posted: list[Transaction] = []
    for utility, amount in (
        unposted.values_list("utility").annotate(total=Sum("posted_amount")).order_by("utility")
    ):
        charges = unposted.filter(utility=utility)
        if not amount:
            continue
        base = f"settle:{customer.pk}:{first_day:%Y-%m}:{utility}"
        used = set(
            Transaction.objects.filter(
                organisation_id=customer.organisation_id, idempotency_key__startswith=base
            ).values_list("idempotency_key", flat=True)
        )
        key, number = base, 1
        while key in used:
            number += 1
            key = f"{base}:{number}"
        posting = ledger.charge(
            actor,
            customer,
            amount,
            utility,
            idempotency_key=key,
            reason=_("Month-end settlement %(month)s") % {"month": f"{first_day:%Y-%m}"},
        )
        charges.update(transaction=posting)
        posted.append(posting)
    if posted:
        record(
            actor,
            "billing.settle_month",
            customer,
            after={"month": f"{first_day:%Y-%m}", "transactions": [t.pk for t in posted]},
        )
    return posted


# -- meter replacement (B3) ----------------------------------------------------------------------


@transaction.atomic
def replace_meter(
    actor,
    old_meter: Meter,
    *,
    at: datetime.datetime,
    final_registers: dict,
    new_address: str,
    start_registers: dict,
    ct_ratio: Decimal | None = None,
    serial: str = "",
) -> Meter:
    """Close the old meter's register series at its final reading and open the new meter's at
    its start reading (never billed); the sub-fen carry moves over, the balance is the wallet's."""
    old = Meter.objects.select_for_update().get(pk=old_meter.pk)
    if old.state == MeterState.REPLACED:
        raise Conflict("already_replaced", _("This meter has already been replaced."))
    enter_manual_reading(actor, old, at, final_registers)
    _deduct(old.pk, now=timezone.now(), until=at)
    cursor = BillingCursor.objects.select_for_update().filter(meter_id=old.pk).first()
    if cursor is None:
        fields = register_fields(old)
        cursor = BillingCursor.objects.create(
            organisation_id=old.organisation_id,
            meter=old,
            reading_at=at,
            series_started_at=at,
            registers=as_strings(
                decimals({k: v for k, v in final_registers.items() if k in fields})
            ),
        )
    cursor.closed_at = at
    cursor.save(update_fields=["closed_at", "updated_at"])
    old.state = MeterState.REPLACED
    save_record(actor, old)
    new = Meter(
        organisation_id=old.organisation_id,
        kind=old.kind,
        phases=old.phases,
        address=new_address,
        serial=serial,
        model=old.model,
        ct_ratio=ct_ratio if ct_ratio is not None else old.ct_ratio,
        rated_power_kw=old.rated_power_kw,
        gateway_id=old.gateway_id,
        room_id=old.room_id,
        customer_id=old.customer_id,
        tariff_id=old.tariff_id,
        reading_interval_minutes=old.reading_interval_minutes,
    )
    save_record(actor, new)
    enter_manual_reading(actor, new, at, start_registers)
    start = Reading.objects.filter(meter=new, timestamp=at).values(*register_fields(new)).get()
    BillingCursor.objects.create(
        organisation_id=new.organisation_id,
        meter=new,
        reading_at=at,
        series_started_at=at,
        registers=as_strings(decimals(start)),
        carry=cursor.carry,
        previous_meter=old,
    )
    record(
        actor,
        "billing.replace_meter",
        new,
        after={
            "replaces": old.pk,
            "at": at.isoformat(),
            "final": {k: str(v) for k, v in final_registers.items()},
            "start": {k: str(v) for k, v in start_registers.items()},
        },
    )
    return new


# -- register reviews ----------------------------------------------------------------------------


@transaction.atomic
def restart_series(actor, flag: ReviewFlag) -> ReviewFlag:
    """Resolve a register that went backwards (reset, rollover) by starting a new register
    series at that reading: nothing between the last billed reading and it is billed."""
    flag = ReviewFlag.objects.select_for_update().get(pk=flag.pk)
    if flag.state != ReviewState.OPEN:
        raise Conflict("already_resolved", _("This review has already been resolved."))
    cursor = BillingCursor.objects.select_for_update().get(meter_id=flag.meter_id)
    meter = Meter.objects.get(pk=flag.meter_id)
    if cursor.reading_at < flag.reading_at:
        reading = (
            Reading.objects.filter(meter_id=flag.meter_id, timestamp=flag.reading_at)
            .values(*register_fields(meter))
            .get()
        )
        cursor.reading_at = flag.reading_at
        cursor.series_started_at = flag.reading_at
        cursor.registers = as_strings({**decimals(cursor.registers), **decimals(reading)})
        cursor.save(update_fields=["reading_at", "series_started_at", "registers", "updated_at"])
    flag.state = ReviewState.RESOLVED
    flag.resolved_by = actor if getattr(actor, "pk", None) else None
    flag.resolved_at = timezone.now()
    flag.save(update_fields=["state", "resolved_by", "resolved_at"])
    record(
        actor,
        "billing.restart_series",
        flag,
        after={"meter": flag.meter_id, "at": flag.reading_at.isoformat()},
    )
    return flag
