"""The living demo park: simulated meters → MQTT → ingest, in-process, and a restart that
resumes each meter where it stopped (no register goes backwards)."""

import time

import pytest

from submeter.demo import live
from submeter.metering.models import Meter, QuarantinedReading, Reading
from tests.factories import make_gateway, make_meter, make_organisation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def small_park(monkeypatch):
    monkeypatch.setattr(live, "BACKFILL", live.datetime.timedelta(hours=3))
    monkeypatch.setattr(live, "CATCH_UP_SECONDS", 3.0)
    organisation = make_organisation(code=f"live-{int(time.time() * 1000) % 10**8}")
    gateway = make_gateway(organisation, serial="GW-01")
    for n in range(3):
        make_meter(organisation, address=f"20260101{n:04d}", gateway=gateway, rated_power_kw=8)
    make_meter(organisation, address="102601000000", kind="water", gateway=gateway)
    return organisation


def wait_for_readings(organisation, count, timeout_s=40):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if Reading.objects.filter(organisation=organisation).count() >= count:
            return
        time.sleep(0.3)
    pytest.fail(f"only {Reading.objects.filter(organisation=organisation).count()} readings stored")


def test_live_park_backfills_and_resumes_without_going_backwards(small_park):
    park = live.start_live_park(small_park, mqtt_url="")
    try:
        wait_for_readings(small_park, 4 * 12)  # 4 meters × 12 quarter hours in 3 hours
    finally:
        park.stop()
    assert set(
        Meter.objects.filter(organisation=small_park).values_list("online_state", flat=True)
    ) == {"online"}

    park = live.start_live_park(small_park, mqtt_url="")
    time.sleep(5)
    park.stop()
    assert not QuarantinedReading.objects.filter(organisation=small_park).exists()
