from django.test import Client

from submeter.billing.models import ReviewFlag, UsageCharge
from tests.billing.conftest import local
from tests.factories import api_client, make_customer, make_meter, make_tariff


def billed_meter(org, read, bill, customer=None):
    meter = make_meter(org, customer=customer or make_customer(org), tariff=make_tariff(org))
    read(local(2025, 7, 1, 0, 0), meter, energy_kwh="0")
    read(local(2025, 7, 1, 0, 15), meter, energy_kwh="2")
    bill(meter)
    return meter


def test_usage_charges_api_lists_only_the_callers_charges(org, other_org, admin_user, read, bill):
    mine = billed_meter(org, read, bill)
    billed_meter(other_org, read, bill)

    answer = api_client(admin_user).get("/api/v1/usage-charges/")

    assert answer.status_code == 200
    rows = answer.json()["results"]
    assert [row["meter"] for row in rows] == [mine.pk]
    assert rows[0]["posted_amount"] == "2.00"
    assert rows[0]["lines"][0]["code"] == "energy.single_rate"


def test_usage_charges_api_filters_by_meter_and_date(org, admin_user, read, bill):
    first = billed_meter(org, read, bill)
    billed_meter(org, read, bill)
    client = api_client(admin_user)

    by_meter = client.get(f"/api/v1/usage-charges/?meter={first.pk}").json()["results"]
    later = client.get("/api/v1/usage-charges/?from=2025-07-02").json()["results"]
    bad = client.get("/api/v1/usage-charges/?from=yesterday")

    assert [row["meter"] for row in by_meter] == [first.pk]
    assert later == []
    assert bad.status_code == 400


def test_usage_charges_cannot_be_written_through_the_api(org, admin_user, read, bill):
    billed_meter(org, read, bill)
    charge = UsageCharge.objects.get()

    answer = api_client(admin_user).delete(f"/api/v1/usage-charges/{charge.pk}/")

    assert answer.status_code == 403
    assert UsageCharge.objects.filter(pk=charge.pk).exists()


def test_console_lists_usage_charges_and_exports_them(org, admin_user, read, bill):
    meter = billed_meter(org, read, bill)
    client = Client()
    client.force_login(admin_user)

    page = client.get("/console/billing/usagecharge/")
    export = client.get("/console/billing/usagecharge/?_export=xlsx")

    assert page.status_code == 200
    assert meter.address in page.content.decode()
    assert export["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )


def test_console_resolves_a_review_by_restarting_the_series(org, admin_user, meter, read, bill):
    read(local(2025, 7, 1, 0, 0), energy_kwh="100")
    read(local(2025, 7, 1, 0, 15), energy_kwh="1")
    bill()
    flag = ReviewFlag.objects.get()
    client = Client()
    client.force_login(admin_user)

    assert client.get("/console/billing/reviewflag/").status_code == 200
    client.post(
        "/console/billing/reviewflag/",
        {"action": "restart_series", "_selected_action": [flag.pk]},
    )

    flag.refresh_from_db()
    assert flag.state == "resolved"
