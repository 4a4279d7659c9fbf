"""Every state change of gateways and meters."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from submeter.errors import ServiceError
from submeter.metering.ingest import VALUE_FIELDS, ReadingIn, ingest
from submeter.metering.meter_import import ImportReport, read_rows, validate_rows
from submeter.metering.models import (
    Gateway,
    GatewayProtocol,
    Meter,
    OnlineState,
    QuarantinedReading,
    QuarantineState,
    Reading,
    ReadingSource,
)
from submeter.metering.polling import GatewayTarget, PollKind, PollTarget, poll_gateways
from submeter.mqtt.client import connect, disconnect
from submeter.protocols.mqtt_payloads import Command, CommandAction, encode_command
from submeter.protocols.mqtt_topics import TopicKind, build_topic
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


READ_NOW_TIMEOUT_S = 8.0


def read_now(actor, meter, *, timeout_s: float = READ_NOW_TIMEOUT_S) -> dict[str, str]:
    """C1 read-now: ask the meter through its gateway and wait for the answer (stored as a
    reading like any other). Polled gateways are read directly; MQTT gateways get a `read`
    command and the reading comes back through ingest. Returns the registers read."""

    gateway = meter.gateway
    if gateway is None:
        raise ServiceError("no_gateway", _("This meter is not behind a gateway."), status=409)
    asked_at = timezone.now()
    if gateway.protocol in (GatewayProtocol.MODBUS_TCP, GatewayProtocol.DLT645_TCP):
        host, _sep, port = gateway.address.rpartition(":")
        if not host or not port.isdigit():
            raise ServiceError("no_address", _("The gateway has no host:port address."), status=409)
        target = GatewayTarget(
            gateway.serial,
            gateway.protocol,
            host,
            int(port),
            (PollTarget(meter.address, (meter.model or "dtsd1352").lower()),),
        )
        report = asyncio.run(poll_gateways([target], PollKind.BILLING))
        if not report.readings:
            raise ServiceError(
                "no_answer",
                _("The meter did not answer: %(why)s") % {"why": "; ".join(report.failures)},
                status=504,
            )
        reading = report.readings[0]
        ingest(
            [
                ReadingIn(
                    meter.organisation_id,
                    meter.address,
                    reading.timestamp,
                    reading.registers,
                    ReadingSource.MODBUS
                    if gateway.protocol == GatewayProtocol.MODBUS_TCP
                    else ReadingSource.DLT645,
                    gateway.serial,
                )
            ]
        )
        values = {name: str(value) for name, value in reading.registers.items()}
    else:
        if not settings.MQTT_URL:
            raise ServiceError(
                "no_broker", _("No MQTT broker is configured (MQTT_URL)."), status=503
            )
        command = Command(
            command_id=f"read-{uuid.uuid4().hex[:16]}",
            meter_address=meter.address,
            action=CommandAction.READ,
            issued_at=asked_at,
            expires_at=asked_at + datetime.timedelta(seconds=timeout_s),
        )
        client = connect(settings.MQTT_URL, client_id=f"submeter-read-{uuid.uuid4().hex[:8]}")
        try:
            topic = build_topic(meter.organisation.code, gateway.serial, TopicKind.COMMANDS)
            client.publish(topic, encode_command(command), qos=1).wait_for_publish(timeout_s)
        finally:
            disconnect(client)
        deadline = time.monotonic() + timeout_s
        while True:
            answer = (
                Reading.objects.filter(meter=meter, received_at__gte=asked_at)
                .order_by("-timestamp")
                .values(*VALUE_FIELDS)
                .first()
            )
            if answer is not None:
                values = {name: str(value) for name, value in answer.items() if value is not None}
                break
            if time.monotonic() > deadline:
                raise ServiceError(
                    "no_answer",
                    _("The meter did not answer within %(seconds)d s.") % {"seconds": timeout_s},
                    status=504,
                )
            time.sleep(0.2)
    record(actor, "meter.read_now", meter, after=values)
    return values
