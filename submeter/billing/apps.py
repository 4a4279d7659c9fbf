from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "submeter.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from submeter.metering.signals import readings_stored

        readings_stored.connect(deduct_after_readings, dispatch_uid="billing.deduct")


def deduct_after_readings(sender, *, meter_ids, **kwargs) -> None:
    """New readings committed: queue the meters that can be billed (a customer and a tariff)
    for deduction on the billing thread."""
    from submeter.billing.queue import deductions
    from submeter.metering.models import Meter

    billable = Meter.objects.filter(
        pk__in=meter_ids, customer__isnull=False, tariff__isnull=False
    ).values_list("pk", flat=True)
    deductions.submit(billable)
