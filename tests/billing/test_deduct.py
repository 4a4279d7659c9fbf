from decimal import Decimal

from submeter.billing.models import BillingCursor, ReviewFlag, UsageCharge
from submeter.billing.services import deduct, deduct_meters, restart_series
from submeter.ledger.models import Transaction
from tests.billing.conftest import balance, local, tou_document
from tests.factories import flat_tariff_document, make_meter, make_tariff


def test_first_reading_opens_the_cursor_and_bills_nothing(meter, read, bill, customer):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100.000")

    outcome = bill()

    cursor = BillingCursor.objects.get(meter=meter)
    assert outcome.intervals == 0
    assert cursor.reading_at == local(2025, 7, 1, 0, 0)
    assert cursor.registers == {"energy_kwh": "100.000"}
    assert not UsageCharge.objects.exists()
    assert balance(customer) is None


def test_flat_tariff_charges_the_register_difference(meter, read, bill, customer):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100.000")
    read(local(2025, 7, 1, 0, 15), energy_kwh="110.500")

    outcome = bill()

    assert outcome.intervals == 1
    assert outcome.quantity == Decimal("10.5")
    assert outcome.posted == Decimal("10.50")
    assert balance(customer) == Decimal("-10.50")
    charge = UsageCharge.objects.get()
    assert charge.interval_start == local(2025, 7, 1, 0, 0)
    assert charge.interval_end == local(2025, 7, 1, 0, 15)
    assert (charge.register_from, charge.register_to) == (Decimal("100"), Decimal("110.5"))
    assert charge.lines == [
        {
            "code": "energy.single_rate",
            "rule": "single price, consumption from the meter's register",
            "quantity": "10.500",
            "unit": "kWh",
            "unit_price": "1.00",
            "amount_exact": "10.50000",
        }
    ]
    assert charge.transaction.idempotency_key == f"{meter.pk}:{charge.interval_end.isoformat()}"
    assert BillingCursor.objects.get(meter=meter).reading_at == local(2025, 7, 1, 0, 15)


def test_ct_ratio_multiplies_the_register_difference(org, customer, read):
    meter = make_meter(org, customer=customer, tariff=make_tariff(org), ct_ratio=Decimal("40"))
    read(local(2025, 7, 1, 0, 0), meter, energy_kwh="1.000")
    read(local(2025, 7, 1, 0, 15), meter, energy_kwh="1.250")

    outcome = deduct(meter.pk)

    assert outcome.quantity == Decimal("10")
    assert balance(customer) == Decimal("-10.00")


def test_one_ledger_charge_per_run_keyed_by_the_last_interval_end(meter, read, bill, customer):
    for minute, value in ((0, "0"), (15, "1"), (30, "2"), (45, "3")):
        read(local(2025, 7, 1, 0, minute), energy_kwh=value)

    outcome = bill()

    assert outcome.intervals == 3
    posting = Transaction.objects.get(kind="charge")
    assert posting.amount == Decimal("3.00")
    assert posting.idempotency_key == f"{meter.pk}:2025-06-30T16:45:00+00:00"
    assert set(UsageCharge.objects.values_list("transaction", flat=True)) == {posting.pk}


def test_deducting_twice_bills_once(meter, read, bill, customer):
    read(local(2025, 7, 1, 0, 0), energy_kwh="0")
    read(local(2025, 7, 1, 0, 15), energy_kwh="2")
    bill()

    again = bill()

    assert again.intervals == 0
    assert balance(customer) == Decimal("-2.00")
    assert Transaction.objects.filter(kind="charge").count() == 1


def test_late_out_of_order_readings_bill_every_kwh_once(meter, read, bill, customer):
    read(local(2025, 7, 1, 0, 0), energy_kwh="0")
    bill()
    read(local(2025, 7, 1, 0, 30), energy_kwh="3")
    bill()
    read(local(2025, 7, 1, 0, 15), energy_kwh="1")  # late: already billed within 0:00–0:30
    read(local(2025, 7, 1, 0, 45), energy_kwh="7")
    bill()
    bill()

    assert balance(customer) == Decimal("-7.00")
    assert sum(UsageCharge.objects.values_list("quantity", flat=True)) == Decimal("7")


def test_sub_fen_carry_makes_the_postings_add_up_to_the_month(org, customer, read):
    meter = make_meter(
        org, customer=customer, tariff=make_tariff(org, flat_tariff_document("0.3333"))
    )
    read(local(2025, 7, 1, 0, 0), meter, energy_kwh="0")
    posted = []
    for index in range(1, 4):
        read(local(2025, 7, 1, 0, 15 * index), meter, energy_kwh=str(index))
        posted.append(deduct(meter.pk).posted)

    assert posted == [Decimal("0.33"), Decimal("0.34"), Decimal("0.33")]
    assert balance(customer) == Decimal("-1.00")
    carry = BillingCursor.objects.get(meter=meter).carry
    assert carry == {"2025-07": {"energy.single_rate": ["0.9999000", "1.00"]}}


def test_amount_below_half_a_fen_posts_nothing_yet(org, customer, read):
    meter = make_meter(org, customer=customer, tariff=make_tariff(org, flat_tariff_document("0.5")))
    read(local(2025, 7, 1, 0, 0), meter, energy_kwh="0")
    read(local(2025, 7, 1, 0, 15), meter, energy_kwh="0.009")

    outcome = deduct(meter.pk)

    assert outcome.intervals == 1
    assert outcome.posted == Decimal("0.00")
    assert not Transaction.objects.exists()
    assert UsageCharge.objects.get().transaction is None


def test_meter_without_customer_or_tariff_is_left_for_later(org, customer, read):
    meter = make_meter(org, tariff=make_tariff(org))
    read(local(2025, 7, 1, 0, 0), meter, energy_kwh="0")
    read(local(2025, 7, 1, 0, 15), meter, energy_kwh="5")

    assert deduct(meter.pk).intervals == 0
    assert not BillingCursor.objects.exists()

    meter.customer = customer
    meter.save()
    assert deduct(meter.pk).intervals == 1
    assert balance(customer) == Decimal("-5.00")


def test_tou_per_rate_registers_are_priced_per_rate(org, customer, read):
    meter = make_meter(org, customer=customer, tariff=make_tariff(org, tou_document()))
    start = {
        "energy_kwh": "10",
        "energy_rate1_kwh": "1",
        "energy_rate2_kwh": "2",
        "energy_rate3_kwh": "3",
        "energy_rate4_kwh": "4",
    }
    read(local(2025, 7, 1, 0, 0), meter, **start)
    read(
        local(2025, 7, 1, 0, 15),
        meter,
        energy_kwh="20",
        energy_rate1_kwh="2",
        energy_rate2_kwh="4",
        energy_rate3_kwh="6",
        energy_rate4_kwh="8",
    )

    deduct(meter.pk)

    charge = UsageCharge.objects.get()
    assert charge.quantity_by_rate == {
        "sharp": "1.000",
        "peak": "2.000",
        "flat": "3.000",
        "valley": "4.000",
    }
    assert [(line["code"], Decimal(line["amount_exact"])) for line in charge.lines] == [
        ("energy.sharp", Decimal("1.2")),
        ("energy.peak", Decimal("2.0")),
        ("energy.flat", Decimal("1.8")),
        ("energy.valley", Decimal("1.2")),
    ]
    assert balance(customer) == Decimal("-6.20")
    assert not charge.estimated


def test_tou_interval_split_across_a_period_boundary(org, customer, read):
    meter = make_meter(org, customer=customer, tariff=make_tariff(org, tou_document()))
    read(local(2025, 7, 1, 7, 45), meter, energy_kwh="0")
    read(local(2025, 7, 1, 8, 0), meter, energy_kwh="1")
    read(local(2025, 7, 1, 8, 15), meter, energy_kwh="2")

    deduct(meter.pk)

    codes = [c.lines[0]["code"] for c in UsageCharge.objects.order_by("interval_start")]
    assert codes == ["energy.valley", "energy.peak"]
    assert balance(customer) == Decimal("-1.30")


def tiered_document() -> dict:
    document = flat_tariff_document()
    document["versions"][0]["energy"] = {
        "kind": "tiered",
        "period": "monthly",
        "tiers": [{"up_to": "10", "price": "0.5"}, {"price": "1.0"}],
    }
    return document


def test_tiers_accumulate_over_the_month_and_restart_with_the_next(org, customer, read):
    meter = make_meter(org, customer=customer, tariff=make_tariff(org, tiered_document()))
    read(local(2025, 7, 31, 23, 15), meter, energy_kwh="0")
    read(local(2025, 7, 31, 23, 30), meter, energy_kwh="8")
    deduct(meter.pk)
    read(local(2025, 7, 31, 23, 45), meter, energy_kwh="13")
    read(local(2025, 8, 1, 0, 0), meter, energy_kwh="15")
    read(local(2025, 8, 1, 0, 15), meter, energy_kwh="18")

    deduct(meter.pk)

    charges = list(UsageCharge.objects.order_by("interval_start"))
    assert [c.posted_amount for c in charges] == [
        Decimal("4.00"),  # 8 kWh in tier 1
        Decimal("4.00"),  # 2 in tier 1 + 3 in tier 2
        Decimal("2.00"),  # 23:45–00:00 starts in July: 2 more in tier 2
        Decimal("1.50"),  # August starts over in tier 1
    ]
    assert [line["code"] for line in charges[1].lines] == ["energy.tier1", "energy.tier2"]
    assert [c.month.month for c in charges] == [7, 7, 7, 8]


def test_a_gap_without_interval_data_is_spread_evenly_and_marked_estimated(meter, read, bill):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100")
    read(local(2025, 7, 1, 2, 0), energy_kwh="110.001")

    outcome = bill()

    charges = list(UsageCharge.objects.order_by("interval_start"))
    assert outcome.estimated
    assert len(charges) == 8
    assert all(c.estimated for c in charges)
    assert [c.quantity for c in charges] == [Decimal("1.251")] + [Decimal("1.25")] * 7
    assert charges[0].interval_start == local(2025, 7, 1, 0, 0)
    assert charges[-1].interval_end == local(2025, 7, 1, 2, 0)
    assert charges[-1].register_to == Decimal("110.001")
    assert sum(c.posted_amount for c in charges) == Decimal("10.00")


def test_a_gap_of_two_intervals_is_billed_as_read(meter, read, bill):
    read(local(2025, 7, 1, 0, 0), energy_kwh="0")
    read(local(2025, 7, 1, 0, 30), energy_kwh="2")

    outcome = bill()

    assert outcome.intervals == 1
    assert not outcome.estimated


def test_a_register_going_backwards_is_flagged_never_billed_negative(meter, read, bill, customer):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100")
    read(local(2025, 7, 1, 0, 15), energy_kwh="101")
    read(local(2025, 7, 1, 0, 30), energy_kwh="5")
    read(local(2025, 7, 1, 0, 45), energy_kwh="6")

    outcome = bill()
    bill()

    assert outcome.flagged
    assert balance(customer) == Decimal("-1.00")
    assert all(c.posted_amount >= 0 for c in UsageCharge.objects.all())
    flag = ReviewFlag.objects.get()
    assert (flag.register, flag.billed_value, flag.read_value) == (
        "energy_kwh",
        Decimal("101"),
        Decimal("5"),
    )
    assert BillingCursor.objects.get(meter=meter).reading_at == local(2025, 7, 1, 0, 15)


def test_restarting_the_series_bills_on_from_the_flagged_reading(
    meter, read, bill, customer, admin_user
):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100")
    read(local(2025, 7, 1, 0, 15), energy_kwh="5")
    read(local(2025, 7, 1, 0, 30), energy_kwh="7")
    bill()

    restart_series(admin_user, ReviewFlag.objects.get())
    bill()

    assert balance(customer) == Decimal("-2.00")
    assert ReviewFlag.objects.get().state == "resolved"


def test_deduct_meters_bills_each_meter(org, customer, read):
    tariff = make_tariff(org)
    meters = [make_meter(org, customer=customer, tariff=tariff) for _ in range(3)]
    for meter in meters:
        read(local(2025, 7, 1, 0, 0), meter, energy_kwh="0")
        read(local(2025, 7, 1, 0, 15), meter, energy_kwh="1")

    outcomes = deduct_meters([m.pk for m in meters])

    assert [o.intervals for o in outcomes] == [1, 1, 1]
    assert balance(customer) == Decimal("-3.00")


def test_water_is_billed_from_the_water_register(org, customer, read):
    tariff = make_tariff(org, flat_tariff_document("3.5", utility="water"))
    meter = make_meter(org, customer=customer, tariff=tariff, kind="water")
    read(local(2025, 7, 1, 0, 0), meter, water_m3="10")
    read(local(2025, 7, 1, 1, 0), meter, water_m3="12")
    meter.reading_interval_minutes = 60
    meter.save()

    deduct(meter.pk)

    assert balance(customer) == Decimal("-7.00")
    assert Transaction.objects.get().utility == "water"
