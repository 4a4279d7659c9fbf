from decimal import Decimal

import pytest

from submeter.billing.models import BillingCursor, UsageCharge
from submeter.billing.services import deduct, replace_meter
from submeter.errors import ServiceError
from submeter.metering.models import Meter
from tests.billing.conftest import balance, local
from tests.factories import flat_tariff_document, make_meter, make_tariff

AT = local(2025, 7, 1, 1, 0)


def replace(admin_user, old, **fields):
    return replace_meter(
        admin_user,
        old,
        at=AT,
        final_registers={"energy_kwh": Decimal("105")},
        new_address="NEW-0001",
        start_registers={"energy_kwh": Decimal("2000")},
        **fields,
    )


def test_replacement_bills_the_old_meter_up_to_its_final_reading(meter, read, admin_user, customer):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100")

    new = replace(admin_user, meter)

    meter.refresh_from_db()
    assert meter.state == "replaced"
    assert balance(customer) == Decimal("-5.00")
    assert (new.customer_id, new.tariff_id, new.room_id) == (
        meter.customer_id,
        meter.tariff_id,
        meter.room_id,
    )
    assert BillingCursor.objects.get(meter=meter).closed_at == AT


def test_the_new_meters_start_reading_is_never_billed(meter, read, admin_user, customer):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100")
    new = replace(admin_user, meter)

    read(local(2025, 7, 1, 1, 15), new, energy_kwh="2003")
    deduct(new.pk)

    assert balance(customer) == Decimal("-8.00")
    assert UsageCharge.objects.get(meter=new).register_from == Decimal("2000")


def test_late_readings_of_the_old_meter_are_never_billed(meter, read, admin_user, customer):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100")
    replace(admin_user, meter)

    read(local(2025, 7, 1, 1, 15), energy_kwh="109")
    outcome = deduct(meter.pk)

    assert outcome.intervals == 0
    assert balance(customer) == Decimal("-5.00")


def test_the_sub_fen_carry_moves_to_the_new_meter(org, customer, read, admin_user):
    old = make_meter(
        org, customer=customer, tariff=make_tariff(org, flat_tariff_document("0.3333"))
    )
    read(local(2025, 7, 1, 0, 0), old, energy_kwh="104")
    deduct(old.pk)

    new = replace(admin_user, old)  # 1 kWh: 0.3333 → posts 0.33
    read(local(2025, 7, 1, 1, 15), new, energy_kwh="2002")  # 2 kWh: 0.9999 in all → 1.00
    deduct(new.pk)

    assert balance(customer) == Decimal("-1.00")
    assert BillingCursor.objects.get(meter=new).previous_meter_id == old.pk


def test_a_replaced_meter_cannot_be_replaced_again(meter, read, admin_user):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100")
    replace(admin_user, meter)

    with pytest.raises(ServiceError) as error:
        replace(admin_user, Meter.objects.get(pk=meter.pk))

    assert error.value.code == "already_replaced"


def test_replacement_keeps_a_new_ct_ratio(meter, read, admin_user):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100")

    new = replace(admin_user, meter, ct_ratio=Decimal("50"), serial="SN-9")

    assert (new.ct_ratio, new.serial, new.address) == (Decimal("50"), "SN-9", "NEW-0001")
