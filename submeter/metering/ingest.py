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

This is the hot path of the product (a park's every reading passes here), so it works on plain
values: registers become integers at their stored precision once, meters are read with one
query per batch by primary key, and the previous reading's registers are kept between batches.
Every cache is checked against the database in each batch, so several workers (or an operator
editing a meter) can never make it trust a stale value.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from submeter.database import as_text, each_id, in_list
from submeter.metering.models import (
    Gateway,
    Meter,
    MeterIdentityVersion,
    OnlineState,
    QuarantinedReading,
    Reading,
)
from submeter.metering.registers import (
    CUMULATIVE_COUNT,
    CUMULATIVE_FIELDS,
    FIELD_PLACES,
    VALUE_FIELDS,
    Units,
    stored_units,
    unit_value,
    units_as_text,
)
from submeter.metering.signals import readings_stored

FUTURE_TOLERANCE = datetime.timedelta(minutes=5)
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
JUMP_MARGIN = Decimal("1.5")
JUMP_FLOOR_KWH = Decimal("0.05")
ENERGY = VALUE_FIELDS.index("energy_kwh")
ENERGY_SCALE = 10 ** FIELD_PLACES["energy_kwh"]
_NO_CUMULATIVE = [None] * CUMULATIVE_COUNT


class ReadingIn(NamedTuple):
    """One reading as it arrived: which meter (organisation + address), when, what registers.

    Register values are `Decimal`s, or decimal strings already checked by a protocol codec.
    """

    organisation_id: int | None
    meter_address: str
    timestamp: datetime.datetime
    registers: Mapping[str, Decimal | str]
    source: str
    gateway_serial: str = ""


class ReadingGroup(NamedTuple):
    """Readings that arrived together (one gateway's message, one poll, one push), with their
    registers already in stored units (`registers.stored_units`)."""

    organisation_id: int | None
    source: str
    gateway_serial: str
    readings: Sequence[tuple[str, datetime.datetime, Units | None]]  # (address, time, units)


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    advanced_meter_ids: set[int] = field(default_factory=set)
    latest_times: dict[int, datetime.datetime] = field(default_factory=dict)
    """Meters whose newest reading is now later than before: meter → that reading's time."""
    gateways_seen: set[tuple[int, str]] = field(default_factory=set)

    def add(self, other: IngestResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.advanced_meter_ids |= other.advanced_meter_ids
        self.gateways_seen |= other.gateways_seen
        latest = self.latest_times
        for meter_id, at in other.latest_times.items():
            if meter_id not in latest or at > latest[meter_id]:
                latest[meter_id] = at


# --- Reading the database with plain SQL (no model instances, no per-row converters) ---------


_aware_cache: dict[object, datetime.datetime | None] = {}


def _aware(value) -> datetime.datetime | None:
    """A datetime read from the database as text (`database.as_text`) as an aware datetime,
    converted once per distinct value."""
    found = _aware_cache.get(value)
    if found is None and value is not None:
        found = (
            value
            if isinstance(value, datetime.datetime)
            else datetime.datetime.fromisoformat(value)
        )
        if found.tzinfo is None:
            found = found.replace(tzinfo=datetime.UTC)
        if len(_aware_cache) > 10_000:
            _aware_cache.clear()
        _aware_cache[value] = found
    return found


_CUMULATIVE_COLUMNS = ", ".join(CUMULATIVE_FIELDS)


class KnownMeter(NamedTuple):
    """What validation needs of a meter (plain values: no model instances)."""

    pk: int
    organisation_id: int
    address: str
    ct_ratio: Decimal
    rated_power_kw: Decimal | None
    ct_float: float
    units_per_second: float  # the energy units the rated power allows per second, with margin


def _known_meter(pk, organisation_id, address, ct_ratio, rated_power_kw) -> KnownMeter:
    ct = ct_ratio if isinstance(ct_ratio, Decimal) else Decimal(str(ct_ratio))
    rated = (
        None
        if rated_power_kw is None
        else rated_power_kw
        if isinstance(rated_power_kw, Decimal)
        else Decimal(str(rated_power_kw))
    )
    per_second = float(rated * JUMP_MARGIN * ENERGY_SCALE / 3600) if rated else 0.0
    return KnownMeter(pk, organisation_id, address, ct, rated, float(ct), per_second)


class MeterDirectory:
    """Meters by (organisation, address), kept between batches while the meter identity version
    (a counter database triggers move whenever any meter's organisation, address, CT ratio or
    rated power changes, or a meter is deleted) stays the same. A miss is read by address."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[int | None, str], KnownMeter] = {}
        self._version: int | None = None

    def lookup(self, keys: set[tuple[int | None, str]]) -> dict[tuple[int | None, str], KnownMeter]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT version FROM {MeterIdentityVersion._meta.db_table} WHERE id = 1"
            )
            row = cursor.fetchone()
        version = None if row is None else row[0]
        if version is None or version != self._version:
            self._by_key.clear()  # (no version row, e.g. after a test flush: never trusted)
            self._version = version
        by_key = self._by_key
        missing: dict[int, list[str]] = defaultdict(list)
        for key in keys:
            if key not in by_key and key[0] is not None:
                missing[key[0]].append(key[1])
        for organisation_id, addresses in missing.items():
            condition, parameter = in_list("address", addresses)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id, organisation_id, address, ct_ratio, rated_power_kw "
                    f"FROM {Meter._meta.db_table} WHERE organisation_id = %s AND {condition}",
                    [organisation_id, parameter],
                )
                for row in cursor.fetchall():
                    by_key[(row[1], row[2])] = _known_meter(*row)
        return by_key

    def clear(self) -> None:
        self._by_key.clear()
        self._version = None


def _latest_times(meter_ids: Sequence[int]) -> dict[int, datetime.datetime | None]:
    """Each meter's latest stored reading time, from the readings themselves (one index probe
    per meter): the truth whoever wrote them, where the meter's `last_reading_at` may lag."""
    if not meter_ids:
        return {}
    source, parameter = each_id(meter_ids, "m")
    latest = as_text(f"(SELECT max(timestamp) FROM {Reading._meta.db_table} WHERE meter_id = m)")
    sql = f"SELECT m, {latest} FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [parameter])
        return {meter_id: _aware(at) for meter_id, at in cursor.fetchall()}


class LastRegisters:
    """The cumulative registers of each meter's latest reading, kept between batches.

    An entry is used only while its time is the meter's latest reading time in the database, so
    another worker's writes (or a rolled-back batch) are never trusted: the entry is read again
    from the meter's latest reading.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[datetime.datetime, list[int | None]]] = {}

    def rows(
        self, last_at: Mapping[int, datetime.datetime | None], meter_ids: Iterable[int]
    ) -> dict[int, tuple[datetime.datetime, list[int | None]]]:
        found = {}
        missing: dict[datetime.datetime, list[int]] = defaultdict(list)
        entries = self._entries
        for meter_id in meter_ids:
            at = last_at[meter_id]
            if at is None:
                continue
            entry = entries.get(meter_id)
            if entry is not None and entry[0] == at:
                found[meter_id] = entry
            else:
                missing[at].append(meter_id)
        table = Reading._meta.db_table
        with connection.cursor() as cursor:
            for at, meter_ids_at in missing.items():
                condition, parameter = in_list("meter_id", meter_ids_at)
                cursor.execute(
                    f"SELECT meter_id, {_CUMULATIVE_COLUMNS} FROM {table} "
                    f"WHERE {condition} AND timestamp = %s",
                    [parameter, connection.ops.adapt_datetimefield_value(at)],
                )
                for row in cursor.fetchall():
                    found[row[0]] = (at, list(row[1:]))
        return found

    def remember(self, rows: Mapping[int, tuple[datetime.datetime, list[int | None]]]) -> None:
        self._entries.update(rows)

    def clear(self) -> None:
        self._entries.clear()


meter_directory = MeterDirectory()
last_registers = LastRegisters()


def forget_caches() -> None:
    """Drop what ingest keeps between batches (tests reuse ids after a rollback)."""
    meter_directory.clear()
    last_registers.clear()
    _aware_cache.clear()


def _neighbours(meter_ids: Iterable[int], before: datetime.datetime, after: datetime.datetime):
    """For each meter, the stored reading just before `before` and just after `after`, as
    (time, cumulative units)."""
    previous, following = {}, {}
    table = Reading._meta.db_table
    columns = f"{as_text('timestamp')}, {_CUMULATIVE_COLUMNS}"
    with connection.cursor() as cursor:
        for meter_id in meter_ids:
            for comparison, order, bound, found in (
                ("<", "DESC", before, previous),
                (">", "ASC", after, following),
            ):
                cursor.execute(
                    f"SELECT {columns} FROM {table} WHERE meter_id = %s "
                    f"AND timestamp {comparison} %s ORDER BY timestamp {order} LIMIT 1",
                    [meter_id, connection.ops.adapt_datetimefield_value(bound)],
                )
                row = cursor.fetchone()
                if row:
                    found[meter_id] = (_aware(row[0]), list(row[1:]))
    return previous, following


def _existing(
    meter_ids: Sequence[int], first: datetime.datetime, last: datetime.datetime
) -> dict[int, list[tuple[datetime.datetime, list[int | None]]]]:
    """Stored readings of these meters between two times, by meter, in time order:
    (time, cumulative units)."""
    condition, parameter = in_list("meter_id", meter_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT meter_id, {as_text('timestamp')}, {_CUMULATIVE_COLUMNS} "
            f"FROM {Reading._meta.db_table} WHERE {condition} AND timestamp >= %s "
            "AND timestamp <= %s",
            [
                parameter,
                connection.ops.adapt_datetimefield_value(first),
                connection.ops.adapt_datetimefield_value(last),
            ],
        )
        found: dict[int, list[tuple[datetime.datetime, list[int | None]]]] = defaultdict(list)
        for row in cursor.fetchall():
            found[row[0]].append((_aware(row[1]), list(row[2:])))
    for readings in found.values():
        readings.sort(key=_time_of)
    return found


# --- Writing -----------------------------------------------------------------------------------

_READING_COLUMNS = ("meter_id", "organisation_id", "timestamp", "source", "received_at")
_INSERT_COLUMNS = ", ".join(_READING_COLUMNS + VALUE_FIELDS)


def _insert(rows: list[tuple], *, conflicts_possible: bool) -> int:
    """Insert reading rows; rows already present are skipped; returns how many were stored.
    SQLite runs one prepared statement over all rows in-process; PostgreSQL gets them by COPY,
    straight into the table when no row can already be there (the rare conflict with another
    worker falls back), else through a staging table and `INSERT … ON CONFLICT DO NOTHING`."""
    if not rows:
        return 0
    table = Reading._meta.db_table
    tail = " ON CONFLICT (meter_id, timestamp) DO NOTHING"
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            placeholders = ", ".join(["%s"] * len(_READING_COLUMNS + VALUE_FIELDS))
            cursor.executemany(
                f"INSERT INTO {table} ({_INSERT_COLUMNS}) VALUES ({placeholders}){tail}", rows
            )
            return cursor.rowcount
        if not conflicts_possible:
            try:
                with (
                    transaction.atomic(),
                    cursor.cursor.copy(f"COPY {table} ({_INSERT_COLUMNS}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                return len(rows)
            except IntegrityError:
                pass  # another worker stored some of them meanwhile: insert what is left
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS reading_batch AS "
            f"SELECT {_INSERT_COLUMNS} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY reading_batch ({_INSERT_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({_INSERT_COLUMNS}) SELECT {_INSERT_COLUMNS} "
            f"FROM reading_batch{tail}"
        )
        stored = cursor.rowcount
        cursor.execute("TRUNCATE reading_batch")
        return stored


class _Arrived(NamedTuple):
    group: ReadingGroup
    address: str
    timestamp: datetime.datetime
    units: Units | None


def _quarantine(
    reading: _Arrived, reason: str, detail: str = "", meter: KnownMeter | None = None
) -> QuarantinedReading:
    return QuarantinedReading(
        organisation_id=reading.group.organisation_id,
        meter_id=meter.pk if meter is not None else None,
        gateway_serial=reading.group.gateway_serial[:64],
        meter_address=reading.address[:64],
        timestamp=reading.timestamp,
        source=reading.group.source,
        reason=reason,
        detail=detail[:300],
        payload=units_as_text(reading.units),
    )


def ingest(
    batch: Sequence[ReadingIn], *, now: datetime.datetime | None = None, force: bool = False
) -> IngestResult:
    """Validate and store a batch of readings. Idempotent: the same batch again changes nothing.

    `force` (an operator releasing a quarantined reading) skips the plausibility checks but never
    the identity and duplicate checks.
    """
    return store(
        [
            ReadingGroup(
                reading.organisation_id,
                reading.source,
                reading.gateway_serial,
                [(reading.meter_address, reading.timestamp, stored_units(reading.registers))],
            )
            for reading in batch
        ],
        now=now,
        force=force,
    )


def store(
    groups: Sequence[ReadingGroup],
    *,
    now: datetime.datetime | None = None,
    force: bool = False,
    move_meters: bool = True,
) -> IngestResult:
    """`ingest` for readings already in stored units, grouped as they arrived (the MQTT worker
    decodes its messages to this in another process).

    With `move_meters=False` the meters' last reading time and online state, and the gateways'
    last contact, are left to the caller (`move_meters_forward` with the result): the MQTT
    worker does that once a second for all its batches, not once per batch."""
    now = now or timezone.now()
    result = IngestResult()
    if not any(group.readings for group in groups):
        return result
    latest_allowed = now + FUTURE_TOLERANCE
    with transaction.atomic():
        meters = meter_directory.lookup(
            {
                (group.organisation_id, address)
                for group in groups
                for address, _at, _units in group.readings
            }
        )
        quarantined: list[QuarantinedReading] = []
        by_meter: dict[int, list[tuple[datetime.datetime, Units, ReadingGroup]]] = {}
        for group in groups:
            organisation_id = group.organisation_id
            for address, at, units in group.readings:
                meter = meters.get((organisation_id, address))
                if meter is None:
                    quarantined.append(
                        _quarantine(
                            _Arrived(group, address, at, units),
                            "unknown_meter",
                            "no such meter in this organisation",
                        )
                    )
                elif at > latest_allowed:
                    quarantined.append(
                        _quarantine(
                            _Arrived(group, address, at, units),
                            "future_timestamp",
                            f"now is {now.isoformat()}",
                            meter,
                        )
                    )
                elif at < EARLIEST:
                    quarantined.append(
                        _quarantine(
                            _Arrived(group, address, at, units),
                            "implausible_timestamp",
                            "before 2000",
                            meter,
                        )
                    )
                elif units is None:
                    quarantined.append(
                        _quarantine(_Arrived(group, address, at, units), "no_registers", "", meter)
                    )
                else:
                    items = by_meter.get(meter.pk)
                    if items is None:
                        by_meter[meter.pk] = [(at, units, group)]
                    else:
                        items.append((at, units, group))

        by_id = {meter.pk: meter for meter in meters.values() if meter.pk in by_meter}
        last_at = _latest_times(list(by_meter))
        backfill = []
        for meter_id, items in by_meter.items():
            if len(items) > 1:
                items.sort(key=_time_of)
            last = last_at[meter_id]
            if last is not None and items[0][0] <= last:
                backfill.append(meter_id)
        previous: dict = {}
        following: dict = {}
        existing: dict[int, list] = {}
        if backfill:
            first = min(by_meter[m][0][0] for m in backfill)
            final = max(by_meter[m][-1][0] for m in backfill)
            previous, following = _neighbours(backfill, first, final)
            existing = _existing(backfill, first, final)
        backfilled = set(backfill)
        last_rows = last_registers.rows(last_at, (m for m in by_meter if m not in backfilled))

        adapt = connection.ops.adapt_datetimefield_value
        received_at = adapt(now)
        adapted: dict[datetime.datetime, object] = {}
        rows: list[tuple] = []
        latest: dict[int, tuple[datetime.datetime, list[int | None]]] = {}
        advanced = result.advanced_meter_ids
        for meter_id, items in by_meter.items():
            meter = by_id[meter_id]
            # Stored readings among this batch's times (back-fill only), in time order: each
            # new reading must fit between the stored ones around it.
            known = existing.get(meter_id, ())
            position = 0
            if meter_id in backfilled:
                before, after = previous.get(meter_id), following.get(meter_id)
            else:
                before, after = last_rows.get(meter_id), None
            stored_here: tuple[datetime.datetime, list[int | None]] | None = None
            for at, units, group in items:
                while position < len(known) and known[position][0] < at:
                    if before is None or known[position][0] > before[0]:
                        before = known[position]
                    position += 1
                if position < len(known) and known[position][0] == at:
                    stored = known[position][1]
                elif stored_here is not None and stored_here[0] == at:
                    stored = stored_here[1]
                else:
                    stored = None
                if stored is not None:
                    result.duplicates += 1
                    if any(
                        value is not None and stored[i] is not None and stored[i] != value
                        for i, value in enumerate(units[:CUMULATIVE_COUNT])
                    ):
                        quarantined.append(
                            _quarantine(
                                _Arrived(group, meter.address, at, units),
                                "conflicting_duplicate",
                                "another value is stored for this time",
                                meter,
                            )
                        )
                    continue
                if not force:
                    limit = known[position] if position < len(known) else after
                    problem = _implausible(meter, before, limit, at, units)
                    if problem:
                        quarantined.append(
                            _quarantine(
                                _Arrived(group, meter.address, at, units),
                                problem[0],
                                problem[1],
                                meter,
                            )
                        )
                        continue
                stamp = adapted.get(at)
                if stamp is None:
                    stamp = adapted[at] = adapt(at)
                rows.append(
                    (meter_id, meter.organisation_id, stamp, group.source, received_at, *units)
                )
                cumulative = units[:CUMULATIVE_COUNT]
                before = stored_here = (at, cumulative)
                if cumulative != _NO_CUMULATIVE:
                    advanced.add(meter_id)
            if stored_here is not None and (
                last_at[meter_id] is None or stored_here[0] > last_at[meter_id]
            ):
                latest[meter_id] = stored_here
        result.stored = _insert(rows, conflicts_possible=bool(backfill))
        result.duplicates += len(rows) - result.stored
        result.latest_times = {meter_id: at for meter_id, (at, _units) in latest.items()}
        result.gateways_seen = {
            (group.organisation_id, group.gateway_serial)
            for group in groups
            if group.gateway_serial and group.organisation_id is not None and group.readings
        }
        if move_meters:
            move_meters_forward(result, now)
        if quarantined:
            QuarantinedReading.objects.bulk_create(quarantined)
        result.quarantined = len(quarantined)
    last_registers.remember(latest)  # only once the transaction has committed
    if advanced:
        meter_ids = frozenset(advanced)
        transaction.on_commit(lambda: readings_stored.send(sender=Reading, meter_ids=meter_ids))
    return result


def _time_of(item: tuple) -> datetime.datetime:
    return item[0]


def _implausible(
    meter: KnownMeter,
    before: tuple[datetime.datetime, list[int | None]] | None,
    after: tuple[datetime.datetime, list[int | None]] | None,
    at: datetime.datetime,
    units: list[int | None],
) -> tuple[str, str] | None:
    if before is not None:
        previous = before[1]
        for index in range(CUMULATIVE_COUNT):
            value = units[index]
            if value is not None and previous[index] is not None and value < previous[index]:
                name = VALUE_FIELDS[index]
                return (
                    "register_backwards",
                    f"{name} {unit_value(value, index)} < {unit_value(previous[index], index)} "
                    f"at {before[0].isoformat()}",
                )
    if after is not None:
        following = after[1]
        for index in range(CUMULATIVE_COUNT):
            value = units[index]
            if value is not None and following[index] is not None and value > following[index]:
                name = VALUE_FIELDS[index]
                return (
                    "register_backwards",
                    f"{name} {unit_value(value, index)} > {unit_value(following[index], index)} "
                    f"at {after[0].isoformat()}",
                )
    if meter.rated_power_kw and before is not None:
        energy, previous_energy = units[ENERGY], before[1][ENERGY]
        if energy is not None and previous_energy is not None:
            delta = energy - previous_energy
            seconds = (at - before[0]).total_seconds()
            # A float screen first (exact enough far from the limit), the exact check near it.
            if delta * meter.ct_float >= (meter.units_per_second * seconds + 50) * 0.999999:
                return _impossible_jump(meter, delta, seconds)
    return None


def _impossible_jump(meter: KnownMeter, delta_units: int, seconds: float):
    assert meter.rated_power_kw is not None
    hours = Decimal(seconds) / 3600
    delta_kwh = unit_value(delta_units, ENERGY) * meter.ct_ratio
    allowed = meter.rated_power_kw * hours * JUMP_MARGIN + JUMP_FLOOR_KWH
    if delta_kwh > allowed:
        return (
            "impossible_jump",
            f"+{delta_kwh} kWh in {hours:.2f} h exceeds {allowed:.3f} kWh at {meter.rated_power_kw} kW",
        )
    return None


def move_meters_forward(result: IngestResult, now: datetime.datetime | None = None) -> None:
    """Advance the meters' `last_reading_at` to their newest stored reading (never backwards,
    whoever else writes) and mark them online; mark the gateways seen. One statement per
    distinct reading time, which is usually one per batch."""
    now = now or timezone.now()
    by_time: dict[datetime.datetime, list[int]] = defaultdict(list)
    for meter_id, at in result.latest_times.items():
        by_time[at].append(meter_id)
    table = Meter._meta.db_table
    online = OnlineState.ONLINE.value
    with connection.cursor() as cursor:
        for at, meter_ids in by_time.items():
            condition, parameter = in_list("id", meter_ids)
            stamp = connection.ops.adapt_datetimefield_value(at)
            cursor.execute(
                f"UPDATE {table} SET last_reading_at = %s, online_state = '{online}' "
                f"WHERE {condition} AND (last_reading_at IS NULL OR last_reading_at < %s)",
                [stamp, parameter, stamp],
            )
    gateways = defaultdict(set)
    for organisation_id, serial in result.gateways_seen:
        gateways[organisation_id].add(serial)
    for organisation_id, serials in gateways.items():
        Gateway.objects.filter(organisation_id=organisation_id, serial__in=serials).update(
            last_seen_at=now, online_state=OnlineState.ONLINE
        )
