"""Σ of the real-time postings over a month = the month's bill rated in one go, to the fen
(DESIGN §3.1), however the readings are batched into deduction runs."""

import datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from submeter.billing.models import UsageCharge
from submeter.billing.services import REAL_TIME_LINES, deduct, engine_tariff
from submeter.engine import Interval, Usage, rate
from tests.billing.conftest import balance, local, tou_document
from tests.factories import (
    flat_tariff_document,
    make_customer,
    make_meter,
    make_organisation,
    make_reading,
    make_tariff,
)


def odd_tou() -> dict:
    document = tou_document()
    rates = document["versions"][0]["energy"]["rates"]
    for code, price in zip(rates, ("1.0606", "0.8876", "0.705", "0.4038"), strict=True):
        rates[code]["price"] = price
    return document


def odd_tiers() -> dict:
    document = flat_tariff_document()
    document["versions"][0]["energy"] = {
        "kind": "tiered",
        "period": "monthly",
        "tiers": [{"up_to": "50", "price": "0.5383"}, {"price": "0.837921"}],
    }
    return document


TARIFFS = {
    "flat": lambda: flat_tariff_document("0.4831"),
    "tiered": odd_tiers,
    "tou": odd_tou,
}
MONTH_START = local(2025, 7, 1, 0, 0)
MONTH_END = local(2025, 8, 1, 0, 0)

steps = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=2 * 1440),  # minutes since the previous reading
        st.integers(min_value=0, max_value=30_000),  # thousandths of a kWh consumed
        st.booleans(),  # deduct after storing this reading
    ),
    min_size=1,
    max_size=40,
)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(sorted(TARIFFS)), steps=steps)
def test_postings_over_a_month_equal_the_month_rated_at_once(kind, steps):
    org = make_organisation()
    customer = make_customer(org)
    tariff = make_tariff(org, TARIFFS[kind]())
    # Daily readings: a gap up to two days is interval data, not an estimate.
    meter = make_meter(org, customer=customer, tariff=tariff, reading_interval_minutes=1440)
    at, register = MONTH_START, Decimal(0)
    make_reading(meter, at, energy_kwh=register)
    intervals = []
    for minutes, thousandths, run in steps:
        end = at + datetime.timedelta(minutes=minutes)
        if end > MONTH_END:
            break
        used = Decimal(thousandths) / 1000
        intervals.append(Interval(at, used))
        at, register = end, register + used
        make_reading(meter, at, energy_kwh=register)
        if run:
            deduct(meter.pk)
    deduct(meter.pk)
    deduct(meter.pk)

    posted = -(balance(customer) or Decimal("0.00"))
    if intervals:
        month = rate(
            engine_tariff(tariff), Usage(intervals=tuple(intervals), charges=REAL_TIME_LINES)
        )
        assert posted == month.total
    else:
        assert posted == 0
    assert UsageCharge.objects.filter(meter=meter).count() == len(intervals)
