"""Fixtures for the command layer: a broker (MQTT_URL or the embedded one), the control
transport started on it, and a park of simulated meters behind an MQTT gateway whose meters are
in the database. Tests that cross threads (the ack listener writes from paho's network thread)
use `transactional_db`, so what the test writes is committed and seen there."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from submeter.control import transport
from submeter.control.models import Command, ControlSettings
from submeter.metering.models import Gateway, Meter
from submeter.mqtt.broker import EmbeddedBroker
from submeter.protocols.meter_clock import CHINA_TIME_ZONE
from submeter.simulator import ManualClock, MeterSpec, MqttGateway, Simulation, build_meters
from submeter.tenancy.models import Organisation
from tests.factories import make_gateway, make_meter, make_organisation

START = datetime(2024, 5, 20, 8, 0, tzinfo=CHINA_TIME_ZONE)
WAIT_S = 10.0


@pytest.fixture(scope="module")
def mqtt_url() -> Iterator[str]:
    url = os.environ.get("MQTT_URL")
    if url:
        yield url
        return
    broker = EmbeddedBroker()
    yield broker.start()
    broker.stop()


@pytest.fixture
def control_transport(mqtt_url: str) -> Iterator[str]:
    transport.start(mqtt_url)
    yield mqtt_url
    transport.stop()


@dataclass
class Park:
    organisation: Organisation
    gateway: Gateway
    meters: list[Meter]
    simulation: Simulation
    clock: ManualClock
    sim_gateway: MqttGateway | None

    def sim_meter(self, meter: Meter):
        return self.simulation.meter(meter.address)


def fast_settings(organisation: Organisation, **fields) -> ControlSettings:
    values = {"command_timeout_seconds": 1, "command_max_attempts": 3, **fields}
    settings, _created = ControlSettings.objects.update_or_create(
        organisation=organisation, defaults=values
    )
    return settings


@pytest.fixture
def make_park(mqtt_url: str) -> Iterator[Callable[..., Park]]:
    gateways: list[MqttGateway] = []

    def start(count: int = 2, *, online: bool = True, **settings_fields) -> Park:
        organisation = make_organisation(code=f"ctl-{uuid.uuid4().hex[:10]}")
        fast_settings(organisation, **settings_fields)
        gateway = make_gateway(organisation, serial="gw-1")
        meters = [
            make_meter(organisation, address=f"3100000000{n:02d}", gateway=gateway)
            for n in range(count)
        ]
        clock = ManualClock(START)
        simulation = Simulation(build_meters([MeterSpec(m.address) for m in meters], 1), clock)
        sim_gateway = None
        if online:
            sim_gateway = MqttGateway(
                simulation,
                "gw-1",
                [meter.address for meter in meters],
                mqtt_url=mqtt_url,
                organisation=organisation.code,
            )
            sim_gateway.start()
            gateways.append(sim_gateway)
        simulation.run_until(clock.advance(timedelta(minutes=15)))
        return Park(organisation, gateway, meters, simulation, clock, sim_gateway)

    yield start
    for gateway in gateways:
        gateway.stop()


def wait_for_state(command: Command, *states: str, timeout_s: float = WAIT_S) -> Command:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        command.refresh_from_db()
        if command.state in states:
            return command
        time.sleep(0.01)
    pytest.fail(f"command stayed {command.state}, expected {states}")


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    pytest.fail("the condition did not hold in time")
