"""Every state change of gateways and meters."""

from __future__ import annotations

from django.db import transaction

from submeter.metering.meter_import import ImportReport, read_rows, validate_rows
from submeter.metering.models import Meter
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
