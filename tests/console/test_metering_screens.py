import datetime
import json
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from submeter.metering.ingest import ReadingIn, ingest
from submeter.metering.models import Meter, QuarantinedReading, Reading
from submeter.tenancy.roles import Role
from tests.factories import make_meter, make_user


def console(user):
    client = Client()
    client.force_login(user)
    return client


def feed(meter, hours=3, start_kwh="100"):
    now = timezone.now().replace(second=0, microsecond=0)
    batch = [
        ReadingIn(
            meter.organisation_id,
            meter.address,
            now - datetime.timedelta(minutes=15 * n),
            {
                "energy_kwh": Decimal(start_kwh) + Decimal(hours * 4 - n) / 4,
                "power_kw": Decimal("1.2"),
                "voltage_a_v": Decimal("220.5"),
            },
            "mqtt",
        )
        for n in range(hours * 4)
    ]
    ingest(batch)


def test_meter_page_shows_latest_values_and_seven_day_series(org, admin_user):
    meter = make_meter(org, rated_power_kw=Decimal("10"))
    feed(meter)

    page = console(admin_user).get(f"/console/metering/meter/{meter.pk}/change/")

    panel = page.context["meter_panel"]
    assert any(str(item["value"]) == "220.50" for item in panel["latest"])
    usage = json.loads(panel["charts"]["usage"])
    assert len(usage["labels"]) == 12
    assert usage["datasets"][0]["data"][1:] == [0.25] * 11
    assert b"data-meter-panel" in page.content


def test_manual_reading_through_the_console(org, admin_user):
    meter = make_meter(org)
    when = timezone.localtime(timezone.now() - datetime.timedelta(hours=2))

    answer = console(admin_user).post(
        f"/console/metering/meter/{meter.pk}/manual-reading/",
        {
            "timestamp_0": when.strftime("%Y-%m-%d"),
            "timestamp_1": when.strftime("%H:%M:%S"),
            "energy_kwh": "5000.5",
        },
    )

    assert answer.status_code == 302
    assert Reading.objects.get(meter=meter).energy_kwh == Decimal("5000.500")


def test_manual_reading_lower_than_the_last_is_refused_with_a_message(org, admin_user):
    meter = make_meter(org)
    feed(meter, hours=1, start_kwh="9000")
    when = timezone.localtime(timezone.now() - datetime.timedelta(minutes=5))

    page = console(admin_user).post(
        f"/console/metering/meter/{meter.pk}/manual-reading/",
        {
            "timestamp_0": when.strftime("%Y-%m-%d"),
            "timestamp_1": when.strftime("%H:%M:%S"),
            "energy_kwh": "10",
        },
    )

    assert page.status_code == 200
    assert page.context["form"].non_field_errors()
    assert Reading.objects.filter(meter=meter).count() == 4


def test_viewer_cannot_enter_readings(org):
    meter = make_meter(org)

    answer = console(make_user(org, Role.VIEWER)).get(
        f"/console/metering/meter/{meter.pk}/manual-reading/"
    )

    assert answer.status_code == 403


def test_quarantine_release_action_stores_the_reading(org, admin_user):
    meter = make_meter(org, rated_power_kw=Decimal("1"))
    feed(meter, hours=1)
    ingest(
        [
            ReadingIn(
                org.pk,
                meter.address,
                timezone.now() + datetime.timedelta(minutes=1),
                {"energy_kwh": Decimal("500")},
                "mqtt",
            )
        ]
    )
    item = QuarantinedReading.objects.get()

    console(admin_user).post(
        "/console/metering/quarantinedreading/",
        {"action": "release", "_selected_action": [item.pk]},
    )

    item.refresh_from_db()
    assert item.state == "released"
    assert Reading.objects.filter(meter=meter, energy_kwh=Decimal("500")).exists()


def test_other_organisations_readings_are_not_listed(org, other_org, admin_user):
    mine, theirs = make_meter(org, address="111"), make_meter(other_org, address="999")
    feed(mine, hours=1)
    feed(theirs, hours=1)

    page = console(admin_user).get("/console/metering/reading/")

    assert {row.meter_id for row in page.context["cl"].result_list} == {mine.pk}


def test_duplicate_meter_address_is_refused_in_the_add_form_in_chinese(org, admin_user):
    make_meter(org, address="123456789012")

    page = console(admin_user).post(
        "/console/metering/meter/add/",
        {
            "organisation": org.pk,
            "kind": "electricity",
            "phases": 1,
            "address": "123456789012",
            "ct_ratio": "1",
            "state": "active",
        },
    )

    assert page.status_code == 200
    assert page.context["adminform"].form.errors["address"] == ["已存在使用该通讯地址的表计。"]
    assert Meter.objects.filter(address="123456789012").count() == 1
