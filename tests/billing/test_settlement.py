import datetime
from decimal import Decimal

import pytest

from submeter.billing.models import UsageCharge
from submeter.billing.services import deduct, set_settlement, settle_month
from submeter.errors import ServiceError
from submeter.ledger.models import Transaction
from submeter.tenancy.models import AuditEntry
from tests.billing.conftest import balance, local
from tests.factories import flat_tariff_document, make_meter, make_tariff

AFTER_JULY = local(2025, 8, 2, 0, 0)


@pytest.fixture
def month_end(customer, admin_user):
    return set_settlement(admin_user, customer, "month_end")


def test_switching_settlement_is_audited(customer, admin_user):
    set_settlement(admin_user, customer, "month_end")

    customer.refresh_from_db()
    assert customer.settlement == "month_end"
    entry = AuditEntry.objects.get(action="billing.settlement")
    assert entry.after == {"settlement": "month_end"}


def test_unknown_settlement_mode_is_refused(customer, admin_user):
    with pytest.raises(ServiceError) as error:
        set_settlement(admin_user, customer, "weekly")

    assert "settlement" in error.value.fields


def test_month_end_customer_is_charged_nothing_until_settled(month_end, meter, read, bill):
    read(local(2025, 7, 1, 0, 0), energy_kwh="0")
    read(local(2025, 7, 1, 0, 15), energy_kwh="4")

    outcome = bill()

    assert outcome.intervals == 1
    assert outcome.posted == Decimal("0.00")
    assert not Transaction.objects.exists()
    charge = UsageCharge.objects.get()
    assert charge.month_end and charge.posted_amount == Decimal("4.00")


def test_settling_a_month_posts_its_charges_once(month_end, meter, read, bill, admin_user):
    read(local(2025, 7, 1, 0, 0), energy_kwh="0")
    read(local(2025, 7, 15, 0, 0), energy_kwh="4")
    read(local(2025, 7, 31, 23, 45), energy_kwh="10")
    read(local(2025, 8, 1, 0, 0), energy_kwh="11")  # 23:45–00:00 starts in July
    read(local(2025, 8, 1, 0, 15), energy_kwh="12")
    bill()

    posted = settle_month(admin_user, month_end, 2025, 7, now=AFTER_JULY)
    again = settle_month(admin_user, month_end, 2025, 7, now=AFTER_JULY)

    assert [t.amount for t in posted] == [Decimal("11.00")]
    assert posted[0].idempotency_key == f"settle:{month_end.pk}:2025-07:electricity"
    assert again == []
    assert balance(month_end) == Decimal("-11.00")
    assert UsageCharge.objects.filter(transaction=None).count() == 1  # August's, not yet due


def test_charges_arriving_after_the_settlement_are_settled_under_a_new_key(
    month_end, meter, read, bill, admin_user
):
    read(local(2025, 7, 31, 23, 0), energy_kwh="0")
    read(local(2025, 7, 31, 23, 15), energy_kwh="1")
    bill()
    settle_month(admin_user, month_end, 2025, 7, now=AFTER_JULY)
    read(local(2025, 7, 31, 23, 30), energy_kwh="3")
    bill()

    later = settle_month(admin_user, month_end, 2025, 7, now=AFTER_JULY)

    assert [t.idempotency_key for t in later] == [f"settle:{month_end.pk}:2025-07:electricity:2"]
    assert balance(month_end) == Decimal("-3.00")


def test_a_month_not_over_cannot_be_settled(month_end, admin_user):
    with pytest.raises(ServiceError) as error:
        settle_month(admin_user, month_end, 2025, 7, now=local(2025, 7, 31, 23, 59))

    assert error.value.code == "month_not_over"


def test_free_allowance_is_taken_first_across_the_customers_meters(org, customer, read):
    customer.free_kwh_per_month = Decimal("5")
    customer.save()
    tariff = make_tariff(org)
    first, second = (make_meter(org, customer=customer, tariff=tariff) for _ in range(2))
    read(local(2025, 7, 1, 0, 0), first, energy_kwh="0")
    read(local(2025, 7, 1, 0, 15), first, energy_kwh="3")
    read(local(2025, 7, 1, 0, 0), second, energy_kwh="0")
    read(local(2025, 7, 1, 0, 15), second, energy_kwh="4")

    deduct(first.pk)
    deduct(second.pk)

    charges = {c.meter_id: c for c in UsageCharge.objects.all()}
    assert charges[first.pk].free_quantity == Decimal("3")
    assert charges[first.pk].posted_amount == Decimal("0.00")
    assert charges[second.pk].free_quantity == Decimal("2")
    assert charges[second.pk].posted_amount == Decimal("2.00")
    assert balance(customer) == Decimal("-2.00")


def test_free_allowance_renews_each_month(org, customer, read):
    customer.free_kwh_per_month = Decimal("1")
    customer.save()
    meter = make_meter(org, customer=customer, tariff=make_tariff(org, flat_tariff_document("2")))
    read(local(2025, 7, 31, 23, 45), meter, energy_kwh="0")
    read(local(2025, 8, 1, 0, 0), meter, energy_kwh="3")
    read(local(2025, 8, 1, 0, 15), meter, energy_kwh="6")

    deduct(meter.pk)

    assert [c.free_quantity for c in UsageCharge.objects.order_by("interval_start")] == [
        Decimal("1"),
        Decimal("1"),
    ]
    assert balance(customer) == Decimal("-8.00")


def test_settle_needs_a_real_month(month_end, admin_user):
    with pytest.raises(ServiceError):
        settle_month(admin_user, month_end, 2025, 13, now=datetime.datetime.now(datetime.UTC))
