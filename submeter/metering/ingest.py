"""Ingest: every path (MQTT, pollers, HTTP push, manual entry) ends in `ingest(batch)`.

Validation (VEE) before storage:
- an unknown meter, a timestamp in the future or before 2000 → quarantine;
- a cumulative register lower than the meter's previous reading or higher than its next one
  (readings may arrive late, out of order or back-filled after an outage) → quarantine;
- an advance larger than the rated power allows over the interval (× CT ratio, +50 %) →
  quarantine;
- a reading already stored for (meter, timestamp) → counted as a duplicate, changes nothing
  (with different values it is also quarantined for review).
Accepted readings are inserted in one statement per batch (`ON CONFLICT DO NOTHING`), and the
meters' latest values and online state move forward, all in one transaction.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from django.db import connection, transaction
from django.utils import timezone

from submeter.metering.models import (
    CUMULATIVE_FIELDS,
    FIELD_PLACES,
    INSTANTANEOUS_FIELDS,
    Gateway,
    Meter,
    OnlineState,
    QuarantinedReading,
    Reading,
)
from submeter.metering.signals import readings_stored

FUTURE_TOLERANCE = datetime.timedelta(minutes=5)
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
JUMP_MARGIN = Decimal("1.5")
JUMP_FLOOR_KWH = Decimal("0.05")
VALUE_FIELDS = CUMULATIVE_FIELDS + INSTANTANEOUS_FIELDS


@dataclass(frozen=True)
class ReadingIn:
    """One reading as it arrived: which meter (organisation + address), when, what registers."""

    organisation_id: int | None
    meter_address: str
    timestamp: datetime.datetime
    registers: Mapping[str, Decimal]
    source: str
    gateway_serial: str = ""


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    advanced_meter_ids: set[int] = field(default_factory=set)

    def add(self, other: IngestResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.advanced_meter_ids |= other.advanced_meter_ids


_PRECISION = {
    name: (
        Decimal(1).scaleb(-places),
        ROUND_FLOOR if name in CUMULATIVE_FIELDS else ROUND_HALF_EVEN,
    )
    for name, places in FIELD_PLACES.items()
}
_SCALE = {name: 10**places for name, places in FIELD_PLACES.items()}


def _normalised(registers: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Registers at the stored precision: cumulative ones floored (they stay monotonic),
    instantaneous ones rounded. Unknown register names are ignored."""
    values = {}
    for name, value in registers.items():
        precision = _PRECISION.get(name)
        if precision is not None:
            values[name] = value.quantize(precision[0], rounding=precision[1])
    return values


@dataclass(slots=True)
class KnownMeter:
    """What validation needs of a meter (read as plain values: no model instances)."""

    pk: int
    organisation_id: int
    address: str
    ct_ratio: Decimal
    rated_power_kw: Decimal | None
    last_reading_at: datetime.datetime | None


def _quarantine(
    reading: ReadingIn, reason: str, detail: str = "", meter: KnownMeter | None = None
) -> QuarantinedReading:
    return QuarantinedReading(
        organisation_id=reading.organisation_id,
        meter_id=meter.pk if meter is not None else None,
        gateway_serial=reading.gateway_serial[:64],
        meter_address=reading.meter_address[:64],
        timestamp=reading.timestamp,
        source=reading.source,
        reason=reason,
        detail=detail[:300],
        payload={name: str(value) for name, value in reading.registers.items()},
    )


def _neighbours(meter_ids: Iterable[int], before: datetime.datetime, after: datetime.datetime):
    """For each meter, the stored reading just before `before` and just after `after`."""
    previous, following = {}, {}
    columns = ("timestamp", *CUMULATIVE_FIELDS)
    for meter_id in meter_ids:
        row = (
            Reading.objects.filter(meter_id=meter_id, timestamp__lt=before)
            .order_by("-timestamp")
            .values(*columns)
            .first()
        )
        if row:
            previous[meter_id] = row
        row = (
            Reading.objects.filter(meter_id=meter_id, timestamp__gt=after)
            .order_by("timestamp")
            .values(*columns)
            .first()
        )
        if row:
            following[meter_id] = row
    return previous, following


def _insert(rows: list[tuple]) -> int:
    """Insert reading rows; rows already present are skipped. SQLite runs one prepared
    statement over all rows in-process; PostgreSQL gets them by COPY."""
    if not rows:
        return 0
    columns = ("meter_id", "organisation_id", "timestamp", "source", "received_at", *VALUE_FIELDS)
    row_placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    head = f"INSERT INTO {Reading._meta.db_table} ({', '.join(columns)}) VALUES "
    tail = " ON CONFLICT (meter_id, timestamp) DO NOTHING"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY into a session-local staging table, then one INSERT … SELECT.
            names = ", ".join(columns)
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS reading_batch AS "
                f"SELECT {names} FROM {Reading._meta.db_table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY reading_batch ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(head.replace(" VALUES ", f" SELECT {names} FROM reading_batch") + tail)
            cursor.execute("TRUNCATE reading_batch")
        else:
            cursor.executemany(head + row_placeholders + tail, rows)
    return len(rows)


def ingest(
    batch: Sequence[ReadingIn], *, now: datetime.datetime | None = None, force: bool = False
) -> IngestResult:
    """Validate and store a batch of readings. Idempotent: the same batch again changes nothing.

    `force` (an operator releasing a quarantined reading) skips the plausibility checks but never
    the identity and duplicate checks.
    """
    now = now or timezone.now()
    result = IngestResult()
    if not batch:
        return result
    with transaction.atomic():
        meters = _meters_for(batch)
        quarantined: list[QuarantinedReading] = []
        by_meter: dict[int, list[tuple[ReadingIn, dict[str, Decimal]]]] = defaultdict(list)
        for reading in batch:
            meter = meters.get((reading.organisation_id, reading.meter_address))
            if meter is None:
                quarantined.append(
                    _quarantine(reading, "unknown_meter", "no such meter in this organisation")
                )
            elif reading.timestamp > now + FUTURE_TOLERANCE:
                quarantined.append(
                    _quarantine(reading, "future_timestamp", f"now is {now.isoformat()}", meter)
                )
            elif reading.timestamp < EARLIEST:
                quarantined.append(
                    _quarantine(reading, "implausible_timestamp", "before 2000", meter)
                )
            else:
                values = _normalised(reading.registers)
                if not values:
                    quarantined.append(_quarantine(reading, "no_registers", "", meter))
                else:
                    by_meter[meter.pk].append((reading, values))

        existing = _existing(by_meter)
        by_id = meters_by_id(meters)
        ordered = {
            meter_id: sorted(items, key=lambda item: item[0].timestamp)
            for meter_id, items in by_meter.items()
        }
        backfill = [
            meter_id
            for meter_id, items in ordered.items()
            if by_id[meter_id].last_reading_at is not None
            and items[0][0].timestamp <= by_id[meter_id].last_reading_at
        ]
        previous, following = ({}, {})
        if backfill:
            first = min(ordered[m][0][0].timestamp for m in backfill)
            last = max(ordered[m][-1][0].timestamp for m in backfill)
            previous, following = _neighbours(backfill, first, last)

        last_rows = last_registers.rows([by_id[m] for m in ordered if m not in backfill])
        received_at = connection.ops.adapt_datetimefield_value(now)
        adapted: dict[datetime.datetime, object] = {}
        rows: list[tuple] = []
        updates: dict[int, tuple[datetime.datetime, dict[str, Decimal]]] = {}
        for meter_id, items in ordered.items():
            meter = by_id[meter_id]
            before = previous.get(meter_id) if meter_id in backfill else last_rows.get(meter_id)
            after = following.get(meter_id)
            for reading, values in items:
                stored = existing.get((meter_id, reading.timestamp))
                if stored is not None:
                    result.duplicates += 1
                    if any(
                        stored.get(name) is not None and stored[name] != value
                        for name, value in values.items()
                        if name in CUMULATIVE_FIELDS
                    ):
                        quarantined.append(
                            _quarantine(
                                reading,
                                "conflicting_duplicate",
                                "another value is stored for this time",
                                meter,
                            )
                        )
                    continue
                problem = (
                    None if force else _implausible(meter, before, after, reading.timestamp, values)
                )
                if problem:
                    quarantined.append(_quarantine(reading, problem[0], problem[1], meter))
                    continue
                rows.append(
                    (
                        meter_id,
                        meter.organisation_id,
                        adapted.get(reading.timestamp)
                        or adapted.setdefault(
                            reading.timestamp,
                            connection.ops.adapt_datetimefield_value(reading.timestamp),
                        ),
                        reading.source,
                        received_at,
                        *(
                            int(values[name] * _SCALE[name]) if name in values else None
                            for name in VALUE_FIELDS
                        ),
                    )
                )
                existing[(meter_id, reading.timestamp)] = values
                before = {"timestamp": reading.timestamp, **values}
                if any(name in values for name in CUMULATIVE_FIELDS):
                    result.advanced_meter_ids.add(meter_id)
                latest = updates.get(meter_id)
                if latest is None or reading.timestamp > latest[0]:
                    updates[meter_id] = (reading.timestamp, values)
        result.stored = _insert(rows)
        latest_rows = _move_meters_forward(by_id, updates, batch, now)
        if quarantined:
            QuarantinedReading.objects.bulk_create(quarantined)
        result.quarantined = len(quarantined)
    last_registers.remember(latest_rows)  # only once the transaction has committed
    if result.advanced_meter_ids:
        meter_ids = frozenset(result.advanced_meter_ids)
        transaction.on_commit(lambda: readings_stored.send(sender=Reading, meter_ids=meter_ids))
    return result


_METER_FIELDS = (
    "pk",
    "organisation_id",
    "address",
    "ct_ratio",
    "rated_power_kw",
    "last_reading_at",
)


def _meters_for(batch: Sequence[ReadingIn]) -> dict[tuple[int | None, str], KnownMeter]:
    keys = {(reading.organisation_id, reading.meter_address) for reading in batch}
    organisations = {org for org, _address in keys if org is not None}
    addresses = {address for _org, address in keys}
    rows = Meter.objects.filter(
        organisation_id__in=organisations, address__in=addresses
    ).values_list(*_METER_FIELDS)
    meters = (KnownMeter(*row) for row in rows)
    return {(meter.organisation_id, meter.address): meter for meter in meters}


def meters_by_id(meters: Mapping[tuple[int | None, str], KnownMeter]) -> dict[int, KnownMeter]:
    return {meter.pk: meter for meter in meters.values()}


def _existing(by_meter: Mapping[int, list]) -> dict[tuple[int, datetime.datetime], dict]:
    if not by_meter:
        return {}
    stamps = [reading.timestamp for items in by_meter.values() for reading, _values in items]
    rows = Reading.objects.filter(
        meter_id__in=list(by_meter), timestamp__gte=min(stamps), timestamp__lte=max(stamps)
    ).values("meter_id", "timestamp", *CUMULATIVE_FIELDS)
    return {(row.pop("meter_id"), row.pop("timestamp")): row for row in rows}


class LastRegisters:
    """The cumulative registers of each meter's latest reading, kept between batches.

    An entry is used only while its time equals the meter's `last_reading_at` in the database,
    so another worker's writes (or a rolled-back batch) are never trusted: the entry is read
    again from the meter's latest reading.
    """

    def __init__(self) -> None:
        self._entries: dict[int, dict] = {}

    def rows(self, meters: Sequence[KnownMeter]) -> dict[int, dict]:
        found: dict[int, dict] = {}
        missing: dict[datetime.datetime, list[int]] = defaultdict(list)
        for meter in meters:
            if meter.last_reading_at is None:
                continue
            entry = self._entries.get(meter.pk)
            if entry is not None and entry["timestamp"] == meter.last_reading_at:
                found[meter.pk] = entry
            else:
                missing[meter.last_reading_at].append(meter.pk)
        for timestamp, meter_ids in missing.items():
            for row in Reading.objects.filter(meter_id__in=meter_ids, timestamp=timestamp).values(
                "meter_id", "timestamp", *CUMULATIVE_FIELDS
            ):
                found[row.pop("meter_id")] = row
        return found

    def remember(self, rows: Mapping[int, dict]) -> None:
        self._entries.update(rows)

    def clear(self) -> None:
        self._entries.clear()


last_registers = LastRegisters()


def _implausible(
    meter: KnownMeter,
    before: dict | None,
    after: dict | None,
    at: datetime.datetime,
    values: Mapping[str, Decimal],
):
    for name in CUMULATIVE_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        if before is not None and before.get(name) is not None and value < before[name]:
            return (
                "register_backwards",
                f"{name} {value} < {before[name]} at {before['timestamp'].isoformat()}",
            )
        if after is not None and after.get(name) is not None and value > after[name]:
            return (
                "register_backwards",
                f"{name} {value} > {after[name]} at {after['timestamp'].isoformat()}",
            )
    if (
        meter.rated_power_kw
        and before is not None
        and values.get("energy_kwh") is not None
        and before.get("energy_kwh") is not None
    ):
        hours = Decimal((at - before["timestamp"]).total_seconds()) / 3600
        delta_kwh = (values["energy_kwh"] - before["energy_kwh"]) * meter.ct_ratio
        allowed = meter.rated_power_kw * hours * JUMP_MARGIN + JUMP_FLOOR_KWH
        if delta_kwh > allowed:
            return (
                "impossible_jump",
                f"+{delta_kwh} kWh in {hours:.2f} h exceeds {allowed:.3f} kWh at {meter.rated_power_kw} kW",
            )
    return None


def _move_meters_forward(
    meters: Mapping[int, KnownMeter], updates, batch: Sequence[ReadingIn], now: datetime.datetime
) -> dict[int, dict]:
    """Advance each meter's `last_reading_at` (and mark it online); return the new latest
    cumulative registers by meter."""
    rows = []
    latest: dict[int, dict] = {}
    adapted: dict[datetime.datetime, object] = {}
    for meter_id, (at, values) in updates.items():
        meter = meters[meter_id]
        if meter.last_reading_at is None or at > meter.last_reading_at:
            if at not in adapted:
                adapted[at] = connection.ops.adapt_datetimefield_value(at)
            rows.append((adapted[at], meter_id))
            latest[meter_id] = {
                "timestamp": at,
                **{name: values.get(name) for name in CUMULATIVE_FIELDS},
            }
    if rows:
        # Plain statements: a bulk_update builds a CASE per row and is far slower.
        table = Meter._meta.db_table
        online = OnlineState.ONLINE.value
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS meter_latest (at timestamptz, id bigint)"
                )
                with cursor.cursor.copy("COPY meter_latest (at, id) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(
                    f"UPDATE {table} AS meter SET last_reading_at = latest.at, "
                    f"online_state = '{online}' FROM meter_latest AS latest "
                    "WHERE meter.id = latest.id"
                )
                cursor.execute("TRUNCATE meter_latest")
            else:
                cursor.executemany(
                    f"UPDATE {table} SET last_reading_at = %s, online_state = '{online}' WHERE id = %s",
                    rows,
                )
    gateways = defaultdict(set)
    for reading in batch:
        if reading.gateway_serial and reading.organisation_id is not None:
            gateways[reading.organisation_id].add(reading.gateway_serial)
    for organisation_id, serials in gateways.items():
        Gateway.objects.filter(organisation_id=organisation_id, serial__in=serials).update(
            last_seen_at=now, online_state=OnlineState.ONLINE
        )
    return latest
