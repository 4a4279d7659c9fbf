"""MQTT into the database through a real broker: Mosquitto when MQTT_URL is set (CI), otherwise
the embedded broker. Each test uses its own organisation code and client ids, so tests sharing a
broker never see each other's messages."""

import os
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from submeter.metering.models import QuarantinedReading, Reading
from submeter.metering.mqtt_ingest import IngestWorker
from submeter.mqtt.broker import EmbeddedBroker
from submeter.mqtt.client import connect, disconnect
from submeter.protocols.meter_clock import CHINA_TIME_ZONE
from submeter.protocols.mqtt_payloads import MeterReading, ReadingsMessage, encode_readings
from submeter.protocols.mqtt_topics import TopicKind, build_topic
from tests.factories import make_gateway, make_meter, make_organisation

START = datetime(2026, 11, 1, tzinfo=CHINA_TIME_ZONE)


@pytest.fixture(scope="module")
def mqtt_url():
    url = os.environ.get("MQTT_URL")
    if url:
        yield url
        return
    broker = EmbeddedBroker()
    yield broker.start()
    broker.stop()


@pytest.fixture
def park(db):
    code = f"ingest-{uuid.uuid4().hex[:10]}"
    organisation = make_organisation(code=code)
    make_gateway(organisation, serial="gw-1")
    meters = [make_meter(organisation, address=f"1000000000{n:02d}") for n in range(5)]
    return organisation, meters


@pytest.fixture
def publisher(mqtt_url):
    client = connect(mqtt_url, client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
    yield client
    disconnect(client)


def message(meters, interval: int, message_id: str = "") -> bytes:
    at = START + timedelta(minutes=15 * interval)
    return encode_readings(
        ReadingsMessage(
            gateway_id="gw-1",
            message_id=message_id or f"m-{interval}",
            readings=tuple(
                MeterReading(meter.address, at, {"energy_kwh": Decimal(100 + interval) / 4})
                for meter in meters
            ),
        )
    )


def worker_for(url, organisation, client_id=None):
    worker = IngestWorker(
        url,
        client_id=client_id or f"ingest-{uuid.uuid4().hex[:8]}",
        share_group="",
        mqtt5=bool(os.environ.get("MQTT_URL")),
    )
    worker.subscription_organisation = organisation.code
    worker.start()
    return worker


def run_until(worker, condition, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = worker._collect()
        if batch:
            worker.process(batch)
        if condition():
            return
    pytest.fail("the worker did not get there in time")


def test_readings_published_by_a_gateway_are_stored(mqtt_url, park, publisher):
    organisation, meters = park
    worker = worker_for(mqtt_url, organisation)
    topic = build_topic(organisation.code, "gw-1", TopicKind.READINGS)
    try:
        for interval in range(4):
            publisher.publish(topic, message(meters, interval), qos=1).wait_for_publish(5)
        run_until(worker, lambda: Reading.objects.filter(organisation=organisation).count() == 20)
    finally:
        worker.stop()
    assert Reading.objects.filter(meter=meters[0]).count() == 4


def test_the_same_message_delivered_twice_is_stored_once(mqtt_url, park, publisher):
    organisation, meters = park
    worker = worker_for(mqtt_url, organisation)
    topic = build_topic(organisation.code, "gw-1", TopicKind.READINGS)
    try:
        publisher.publish(topic, message(meters, 0), qos=1).wait_for_publish(5)
        publisher.publish(topic, message(meters, 0), qos=1).wait_for_publish(5)
        run_until(worker, lambda: worker.stats.result.duplicates == 5)
    finally:
        worker.stop()
    assert Reading.objects.filter(organisation=organisation).count() == 5


def test_a_bad_payload_is_quarantined_and_the_worker_goes_on(mqtt_url, park, publisher):
    organisation, meters = park
    worker = worker_for(mqtt_url, organisation)
    topic = build_topic(organisation.code, "gw-1", TopicKind.READINGS)
    try:
        publisher.publish(
            topic, b'{"gateway_id": "gw-1", "readings": "garbage"}', qos=1
        ).wait_for_publish(5)
        publisher.publish(topic, message(meters, 1), qos=1).wait_for_publish(5)
        run_until(worker, lambda: Reading.objects.filter(organisation=organisation).count() == 5)
    finally:
        worker.stop()
    assert QuarantinedReading.objects.filter(reason="bad_payload").count() == 1


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(mqtt_url, park, publisher):
    """The first worker stores a batch but dies before acknowledging it, and dies with more
    messages received but not stored; the restarted worker (same session) gets them again."""
    if not os.environ.get("MQTT_URL"):
        pytest.skip(
            "needs a broker that redelivers a resumed session's unacknowledged messages "
            "(Mosquitto: set MQTT_URL, as CI does); the embedded amqtt broker does not"
        )
    organisation, meters = park
    client_id = f"ingest-crash-{uuid.uuid4().hex[:8]}"
    topic = build_topic(organisation.code, "gw-1", TopicKind.READINGS)
    first = worker_for(mqtt_url, organisation, client_id)
    for interval in range(6):
        publisher.publish(topic, message(meters, interval), qos=1).wait_for_publish(5)
    received = []
    deadline = time.monotonic() + 10
    while len(received) < 6 and time.monotonic() < deadline:
        received.extend(first._collect())
    assert len(received) == 6
    client = first.client
    first.client = None  # no acknowledgements from here on
    first.process(received[:3])  # stored and committed, but never acknowledged
    client.loop_stop()  # the process dies: no DISCONNECT, no PUBACK
    client.socket().close()

    second = worker_for(mqtt_url, organisation, client_id)
    try:
        run_until(second, lambda: Reading.objects.filter(organisation=organisation).count() == 30)
        time.sleep(0.5)
        for batch in [second._collect()]:
            if batch:
                second.process(batch)
    finally:
        second.stop()
    assert Reading.objects.filter(organisation=organisation).count() == 30
    assert Reading.objects.filter(meter=meters[0]).count() == 6


def publish_and_run(worker, publisher, organisation, payloads, expected: int) -> int:
    """Publish the payloads as gateway gw-1, run the worker's production loop (`run`) until it
    has stored `expected` readings or 30 s passed, stop it; the readings stored."""
    topic = build_topic(organisation.code, "gw-1", TopicKind.READINGS)
    stored = Reading.objects.filter(organisation=organisation)
    deadline = time.monotonic() + 30
    try:
        for payload in payloads:
            publisher.publish(topic, payload, qos=1).wait_for_publish(5)
        worker.run(until=lambda: stored.count() == expected or time.monotonic() > deadline)
    finally:
        worker.stop()
    return stored.count()


def decoding_worker(url, organisation):
    """A worker that decodes in a second process (not started: tests call `start`)."""
    worker = IngestWorker(
        url,
        client_id=f"ingest-{uuid.uuid4().hex[:8]}",
        share_group="",
        mqtt5=bool(os.environ.get("MQTT_URL")),
        decode_processes=1,
        flush_interval_s=0.05,
    )
    worker.subscription_organisation = organisation.code
    return worker


@pytest.mark.django_db(transaction=True)  # `run` is the production loop: it recycles connections
def test_a_worker_decoding_in_another_process_stores_every_reading(mqtt_url, park, publisher):
    organisation, meters = park
    worker = decoding_worker(mqtt_url, organisation)
    worker.start()
    payloads = [*(message(meters, interval) for interval in range(8)), b"not json"]

    assert publish_and_run(worker, publisher, organisation, payloads, 40) == 40
    meters[0].refresh_from_db()
    assert meters[0].last_reading_at == START + timedelta(minutes=15 * 7)
    assert worker.stats.rejected == 1
    assert QuarantinedReading.objects.get(reason="bad_payload").raw == "not json"


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_decoding_process_dies_decodes_the_batch_itself(mqtt_url, park, publisher):
    import os as os_module
    import signal

    organisation, meters = park
    worker = decoding_worker(mqtt_url, organisation)
    worker._decode_elsewhere([]).result()  # the decoding process is up
    for pid in list(worker._decoder._processes):
        os_module.kill(pid, signal.SIGKILL)
    worker.start()
    assert publish_and_run(worker, publisher, organisation, [message(meters, 0)], 5) == 5


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_meets_a_database_error_is_stored_on_a_new_connection(
    mqtt_url, park, publisher, monkeypatch
):
    from django.db import OperationalError, connection

    from submeter.metering import mqtt_ingest

    organisation, meters = park
    worker = worker_for(mqtt_url, organisation)
    real_store, calls = mqtt_ingest.store, []

    def failing_once(groups, **kwargs):
        calls.append(connection.connection)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real_store(groups, **kwargs)

    monkeypatch.setattr(mqtt_ingest, "store", failing_once)
    assert publish_and_run(worker, publisher, organisation, [message(meters, 0)], 5) == 5
    assert len(calls) == 2 and calls[0] is not calls[1]
