"""A gateway offline for 6 hours buffers its readings and replays them when it comes back:
through a real broker and the ingest worker, every interval is stored once, with no gap."""

import itertools
import os
import time
import uuid
from datetime import timedelta

import pytest

from submeter.metering.models import QuarantinedReading, Reading
from submeter.metering.mqtt_ingest import IngestWorker
from submeter.mqtt.broker import EmbeddedBroker
from submeter.simulator import MeterSpec, MqttGateway
from tests.factories import make_gateway, make_meter, make_organisation
from tests.simulator.conftest import START, make_simulation

ADDRESSES = ("202601010001", "202601010002")


@pytest.fixture
def mqtt_url():
    url = os.environ.get("MQTT_URL")
    if url:
        yield url
        return
    broker = EmbeddedBroker()
    yield broker.start()
    broker.stop()


def drain(worker, until, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not until():
        batch = worker._collect()
        if batch:
            worker.process(batch)
    return until()


def test_six_hour_outage_then_replay_leaves_no_gap_and_no_duplicate(db, mqtt_url):
    code = f"outage-{uuid.uuid4().hex[:10]}"
    organisation = make_organisation(code=code)
    gateway = make_gateway(organisation, serial="gw-1")
    meters = [
        make_meter(organisation, address=address, gateway=gateway, rated_power_kw=20)
        for address in ADDRESSES
    ]
    worker = IngestWorker(
        mqtt_url, client_id=f"ingest-{code}", share_group="", mqtt5=bool(os.environ.get("MQTT_URL"))
    )
    worker.subscription_organisation = code
    worker.start()
    simulation, clock = make_simulation(
        [MeterSpec(address, rated_power_kw=10) for address in ADDRESSES]
    )
    sim_gateway = MqttGateway(
        simulation, "gw-1", list(ADDRESSES), mqtt_url=mqtt_url, organisation=code
    )
    sim_gateway.start()
    try:
        simulation.schedule_outage("gw-1", START + timedelta(hours=2), timedelta(hours=6))
        simulation.run_until(clock.advance(timedelta(hours=12)))
        expected = 2 * (12 * 4 + 1)  # two meters, every quarter hour of 12 hours, both ends
        stored = drain(
            worker, lambda: Reading.objects.filter(organisation=organisation).count() >= expected
        )
    finally:
        sim_gateway.stop()
        worker.stop()
    assert stored, Reading.objects.filter(organisation=organisation).count()
    for meter in meters:
        stamps = list(
            Reading.objects.filter(meter=meter)
            .order_by("timestamp")
            .values_list("timestamp", flat=True)
        )
        assert len(stamps) == 49
        assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(stamps))
    assert not QuarantinedReading.objects.filter(organisation=organisation).exists()
