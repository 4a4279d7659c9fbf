import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

log = logging.getLogger(__name__)


class BillingConfig(AppConfig):
    name = "submeter.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from submeter.metering.signals import readings_stored

        readings_stored.connect(deduct_after_readings, dispatch_uid="billing.deduct")


def deduct_after_readings(sender, *, meter_ids, **kwargs) -> None:
    """New readings committed: deduct for the meters that can be billed (a customer and a
    tariff). A failure is logged; the meter's cursor makes the next run bill it all."""
    from submeter.billing.services import deduct
    from submeter.metering.models import Meter

    billable = Meter.objects.filter(
        pk__in=meter_ids, customer__isnull=False, tariff__isnull=False
    ).values_list("pk", flat=True)
    for meter_id in sorted(billable):
        try:
            deduct(meter_id)
        except Exception:
            log.exception("deduction after ingest failed for meter %s", meter_id)
