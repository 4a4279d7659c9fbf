"""Every state change of gateways and meters."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from submeter.errors import ServiceError
from submeter.metering.ingest import ReadingIn, ingest
from submeter.metering.meter_import import ImportReport, read_rows, validate_rows
from submeter.metering.models import (
    Gateway,
    Meter,
    OnlineState,
    QuarantinedReading,
    QuarantineState,
    ReadingSource,
)
from submeter.tenancy.audit import record


@transaction.atomic
def import_meters(actor, organisation, content: bytes) -> ImportReport:
    """Import meters from a filled-in template: all rows or none.

    Raises ImportFileError when the file is not a template; returns a report whose `errors`
    list every bad cell (and then nothing was written).
    """
    report = validate_rows(organisation, read_rows(content))
    if report.errors:
        return report
    created = Meter.objects.bulk_create(report.meters)
    if len(created) and created[0].pk is None:  # backends that do not return ids
        addresses = [meter.address for meter in created]
        created = list(Meter.objects.filter(organisation=organisation, address__in=addresses))
    record(
        actor,
        "meter.import",
        None,
        organisation_id=organisation.pk,
        object_type="metering.meter",
        object_repr=f"{len(created)} meters",
        after={"count": len(created), "addresses": [meter.address for meter in created]},
    )
    report.meters = list(created)
    return report


def refresh_online_state(now=None, *, missed_intervals: int = 3) -> tuple[int, int]:
    """C4: meters silent for `missed_intervals` reading intervals go offline (gateways after the
    same time at the default interval). A meter comes back online with its next reading.
    Returns (meters, gateways) marked offline."""

    now = now or timezone.now()
    meters = 0
    intervals = (
        Meter.objects.filter(online_state=OnlineState.ONLINE)
        .values_list("reading_interval_minutes", flat=True)
        .distinct()
    )
    for interval in intervals:
        cutoff = now - datetime.timedelta(minutes=interval * missed_intervals)
        meters += Meter.objects.filter(
            online_state=OnlineState.ONLINE,
            reading_interval_minutes=interval,
            last_reading_at__lt=cutoff,
        ).update(online_state=OnlineState.OFFLINE)
    gateways = Gateway.objects.filter(
        online_state=OnlineState.ONLINE,
        last_seen_at__lt=now - datetime.timedelta(minutes=15 * missed_intervals),
    ).update(online_state=OnlineState.OFFLINE)
    return meters, gateways


@transaction.atomic
def release_quarantined(actor, item):
    """An operator accepts a quarantined reading: it is stored (plausibility checks skipped)."""

    item = QuarantinedReading.objects.select_for_update().get(pk=item.pk)
    if item.state != QuarantineState.PENDING:
        raise ServiceError(
            "already_reviewed", _("This reading has already been reviewed."), status=409
        )
    if item.meter_id is None or item.timestamp is None or not item.payload:
        raise ServiceError(
            "not_releasable", _("Only a reading of a known meter can be released."), status=409
        )

    result = ingest(
        [
            ReadingIn(
                organisation_id=item.organisation_id,
                meter_address=item.meter_address,
                timestamp=item.timestamp,
                registers={name: Decimal(value) for name, value in item.payload.items()},
                source=item.source,
                gateway_serial=item.gateway_serial,
            )
        ],
        force=True,
    )
    before = {"state": item.state}
    QuarantinedReading.objects.filter(pk=item.pk).update(
        state=QuarantineState.RELEASED, reviewed_by=actor, reviewed_at=timezone.now()
    )
    record(
        actor,
        "quarantine.release",
        item,
        before=before,
        after={"state": "released", "stored": result.stored},
    )
    return result


@transaction.atomic
def discard_quarantined(actor, item) -> None:

    updated = QuarantinedReading.objects.filter(pk=item.pk, state=QuarantineState.PENDING).update(
        state=QuarantineState.DISCARDED, reviewed_by=actor, reviewed_at=timezone.now()
    )
    if updated:
        record(
            actor,
            "quarantine.discard",
            item,
            before={"state": "pending"},
            after={"state": "discarded"},
        )


@transaction.atomic
def enter_manual_reading(actor, meter, timestamp, registers):
    """C5: a reading typed in by an operator (e.g. the utility's meter above a transformer)."""

    result = ingest(
        [
            ReadingIn(
                organisation_id=meter.organisation_id,
                meter_address=meter.address,
                timestamp=timestamp,
                registers=registers,
                source=ReadingSource.MANUAL,
            )
        ]
    )
    if result.stored != 1:
        latest = QuarantinedReading.objects.filter(meter=meter).order_by("-id").first()
        reason = latest.detail if result.quarantined and latest else "duplicate"
        raise ServiceError("reading_refused", str(reason), {"registers": [str(reason)]})
    record(
        actor,
        "reading.manual",
        meter,
        after={"timestamp": timestamp.isoformat(), **{k: str(v) for k, v in registers.items()}},
    )
    return result
