"""Fixtures for the simulator tests: a broker (MQTT_URL, or an embedded one), an event loop
thread for the TCP gateways, unique organisation codes, and a subscriber that collects
messages with bounded waits."""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from submeter.mqtt.broker import EmbeddedBroker
from submeter.mqtt.client import connect, disconnect
from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols.meter_clock import CHINA_TIME_ZONE
from submeter.simulator import ManualClock, MeterSpec, Simulation, build_meters

START = datetime(2024, 5, 20, 0, 0, tzinfo=CHINA_TIME_ZONE)
"""A Monday, midnight in Shanghai."""
WAIT_S = 10.0


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every test stops the threads it started (network loops, servers, runners)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while (left := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not left, f"threads left running: {sorted(thread.name for thread in left)}"


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    url = os.environ.get("MQTT_URL")
    if url:
        yield url
        return
    broker = EmbeddedBroker()
    yield broker.start()
    broker.stop()


@pytest.fixture
def org_code() -> str:
    """A fresh organisation code, so tests sharing a broker never see each other's messages."""
    return f"simtest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def loop_thread() -> Iterator[EventLoopThread]:
    with EventLoopThread(name="simulator-test-loop") as thread:
        yield thread


def make_simulation(
    specs: list[MeterSpec], *, seed: int = 1, start: datetime = START
) -> tuple[Simulation, ManualClock]:
    clock = ManualClock(start)
    return Simulation(build_meters(specs, seed), clock), clock


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes


class Subscriber:
    """Collects the messages of a topic filter; `wait_for` bounds every wait."""

    def __init__(self, url: str, topic_filter: str) -> None:
        self.messages: queue.Queue[Received] = queue.Queue()
        self.client = connect(url, subscriptions=[(topic_filter, 1)], on_message=self._on_message)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(Received(message.topic, bytes(message.payload)))

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)

    def wait_for(
        self, predicate: Callable[[Received], bool], count: int = 1, timeout_s: float = WAIT_S
    ) -> list[Received]:
        """The first `count` messages matching `predicate`; fails after `timeout_s`."""
        found: list[Received] = []
        deadline = time.monotonic() + timeout_s
        while len(found) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"got {len(found)} of {count} expected MQTT messages")
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(message):
                found.append(message)
        return found

    def drain(self, seconds: float) -> list[Received]:
        """Everything that arrives within `seconds`."""
        received: list[Received] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                received.append(self.messages.get(timeout=remaining))
            except queue.Empty:
                break
        return received

    def close(self) -> None:
        disconnect(self.client)


@pytest.fixture
def subscribe(mqtt_url: str) -> Iterator[Callable[[str], Subscriber]]:
    subscribers: list[Subscriber] = []

    def make(topic_filter: str) -> Subscriber:
        subscriber = Subscriber(mqtt_url, topic_filter)
        subscribers.append(subscriber)
        return subscriber

    yield make
    for subscriber in subscribers:
        subscriber.close()
