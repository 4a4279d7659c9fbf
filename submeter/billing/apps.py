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
    from django.db import connection

    from submeter.billing.queue import deductions
    from submeter.database import in_list
    from submeter.metering.models import Meter

    condition, parameter = in_list("id", meter_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Meter._meta.db_table} WHERE {condition} "
            "AND customer_id IS NOT NULL AND tariff_id IS NOT NULL",
            [parameter],
        )
        deductions.submit(row[0] for row in cursor.fetchall())
