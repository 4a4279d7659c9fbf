"""The embedded broker and the client helper."""

from __future__ import annotations

import asyncio
import socket
import threading

import paho.mqtt.client as mqtt
import pytest

from submeter.mqtt.broker import EmbeddedBroker
from submeter.mqtt.client import (
    MqttConnectError,
    MqttUrl,
    connect,
    disconnect,
    parse_mqtt_url,
)


def test_embedded_broker_listens_on_loopback_and_a_free_port() -> None:
    with EmbeddedBroker() as broker:
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}"
        assert broker.port != 1883


def test_embedded_broker_stops_its_thread_and_socket() -> None:
    threads_before = set(threading.enumerate())
    broker = EmbeddedBroker()
    broker.start()
    port = broker.port
    broker.stop()
    assert set(threading.enumerate()) <= threads_before
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_embedded_broker_runs_on_the_current_event_loop_in_async_code() -> None:
    async def main() -> str:
        async with EmbeddedBroker() as broker:
            _, writer = await asyncio.open_connection("127.0.0.1", broker.port)
            writer.close()
            return broker.url

    assert asyncio.run(main()).startswith("mqtt://127.0.0.1:")


def test_client_falls_back_to_mqtt_311_on_the_embedded_broker() -> None:
    with EmbeddedBroker() as broker:
        client = connect(broker.url)
        try:
            assert client.protocol == mqtt.MQTTv311
        finally:
            disconnect(client)


def test_client_without_fallback_reports_the_refusal() -> None:
    threads_before = set(threading.enumerate())
    with EmbeddedBroker() as broker, pytest.raises(MqttConnectError, match="refused"):
        connect(broker.url, fallback_to_v311=False)
    assert set(threading.enumerate()) <= threads_before


def test_client_sets_tcp_nodelay(mqtt_url: str) -> None:
    client = connect(mqtt_url)
    try:
        sock = client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        disconnect(client)


def test_client_receives_what_it_subscribed_to(mqtt_url: str, org_code: str) -> None:
    received = threading.Event()
    client = connect(
        mqtt_url,
        subscriptions=[(f"{org_code}/#", 1)],
        on_message=lambda client, userdata, message: received.set(),
    )
    try:
        client.publish(f"{org_code}/x", b"hello", qos=1)
        assert received.wait(5)
    finally:
        disconnect(client)


def test_connecting_to_a_closed_port_fails_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MqttConnectError, match="cannot reach"):
        connect(f"mqtt://127.0.0.1:{port}", timeout_s=2)


def test_url_with_credentials_and_default_port() -> None:
    assert parse_mqtt_url("mqtt://ingest:s%40cret@broker.local") == MqttUrl(
        "broker.local", 1883, False, "ingest", "s@cret"
    )


def test_mqtts_url_means_tls_on_8883() -> None:
    assert parse_mqtt_url("mqtts://broker.local") == MqttUrl("broker.local", 8883, True)


@pytest.mark.parametrize("url", ["http://x", "mqtt://", "mqtt://host:1883/path", "mqtt://h:99999"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_mqtt_url(url)
