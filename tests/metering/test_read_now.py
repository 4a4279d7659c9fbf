"""Read-now through a gateway: DL/T 645 polled directly, MQTT through a command and ingest."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client, override_settings

from submeter.demo import live
from submeter.errors import ServiceError
from submeter.metering.models import GatewayProtocol, Reading
from submeter.metering.services import read_now
from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.simulator import Dlt645Gateway, MeterSpec
from tests.factories import make_gateway, make_meter, make_organisation
from tests.simulator.conftest import make_simulation

pytestmark = pytest.mark.django_db(transaction=True)


def test_read_now_over_dlt645_answers_and_stores(org, admin_user):
    with EventLoopThread(name="read-now") as loop_thread:
        simulation, clock = make_simulation([MeterSpec("123456789012", phases=3)])
        gateway = Dlt645Gateway(simulation, "gw-645", ["123456789012"], loop_thread=loop_thread)
        gateway.start()
        simulation.run_until(clock.advance(timedelta(hours=2)))
        try:
            db_gateway = make_gateway(
                org,
                serial="gw-645",
                protocol=GatewayProtocol.DLT645_TCP,
                address=f"127.0.0.1:{gateway.port}",
            )
            meter = make_meter(org, address="123456789012", gateway=db_gateway)
            values = read_now(admin_user, meter)
        finally:
            gateway.stop()
    assert Decimal(values["energy_kwh"]) == simulation.meter("123456789012").energy_kwh.quantize(
        Decimal("0.01")
    )
    assert Reading.objects.filter(meter=meter).count() == 1


def test_read_now_of_an_unreachable_gateway_is_a_clear_error(org, admin_user):
    gateway = make_gateway(org, protocol=GatewayProtocol.DLT645_TCP, address="127.0.0.1:9")
    meter = make_meter(org, gateway=gateway)

    with pytest.raises(ServiceError) as error:
        read_now(admin_user, meter)

    assert error.value.code == "no_answer"


def test_read_now_over_mqtt_through_the_live_park(monkeypatch, admin_user):
    monkeypatch.setattr(live, "BACKFILL", timedelta(minutes=30))
    monkeypatch.setattr(live, "CATCH_UP_SECONDS", 1.0)
    organisation = make_organisation(code=f"readnow-{int(time.time() * 1000) % 10**8}")
    gateway = make_gateway(organisation, serial="GW-01")
    meter = make_meter(organisation, address="202601010001", gateway=gateway, rated_power_kw=8)
    park = live.start_live_park(organisation, mqtt_url="")
    try:
        with override_settings(MQTT_URL=park.mqtt_url):
            values = read_now(admin_user, meter)
    finally:
        park.stop()
    assert "energy_kwh" in values


def test_read_now_button_needs_post_and_shows_the_answer(org, admin_user):
    gateway = make_gateway(org, protocol=GatewayProtocol.DLT645_TCP, address="127.0.0.1:9")
    meter = make_meter(org, gateway=gateway)
    client = Client()
    client.force_login(admin_user)

    assert client.get(f"/console/metering/meter/{meter.pk}/read-now/").status_code == 302
    page = client.post(
        f"/console/metering/meter/{meter.pk}/read-now/", follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert next(str(m) for m in page.context["messages"]).startswith("The meter did not answer")
