"""The simulation's timeline: interval readings, outages, and their order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from submeter.protocols.mqtt_payloads import MeterEvent, MeterReading
from submeter.simulator import Gateway, MeterAction, MeterSpec, Simulation
from tests.simulator.conftest import START, make_simulation


class RecordingGateway(Gateway):
    """A push gateway that records what the simulation hands it."""

    pushes_readings = True

    def __init__(self, simulation: Simulation, gateway_id: str, addresses: Sequence[str]) -> None:
        super().__init__(simulation, gateway_id, addresses)
        self.log: list[tuple[str, datetime | None]] = []
        self.readings: list[MeterReading] = []
        self.events: list[MeterEvent] = []

    def go_offline(self) -> None:
        self.log.append(("offline", None))

    def go_online(self) -> None:
        self.log.append(("online", None))

    def deliver_readings(self, at: datetime, readings: list[MeterReading]) -> None:
        self.log.append(("readings", at))
        self.readings += readings

    def deliver_events(self, events: list[MeterEvent]) -> None:
        self.events += events


METERS = [MeterSpec("123456789012"), MeterSpec("123456789013")]


def test_readings_come_at_every_interval_end_including_the_start() -> None:
    simulation, clock = make_simulation(METERS)
    gateway = RecordingGateway(simulation, "gw", ["123456789012", "123456789013"])
    simulation.run_until(clock.advance(timedelta(hours=1)))
    times = [at for kind, at in gateway.log if kind == "readings"]
    assert times == [START + timedelta(minutes=15 * n) for n in range(5)]
    assert len(gateway.readings) == 10


def test_readings_carry_the_registers_at_the_interval_end() -> None:
    simulation, clock = make_simulation(METERS)
    gateway = RecordingGateway(simulation, "gw", ["123456789012"])
    simulation.run_until(clock.advance(timedelta(minutes=20)))
    at_quarter = gateway.readings[-1]
    assert at_quarter.timestamp == START + timedelta(minutes=15)
    assert (
        at_quarter.registers["energy_kwh"]
        <= simulation.meter("123456789012").registers()["energy_kwh"]
    )


def test_an_outage_ends_before_and_starts_after_the_readings_of_the_same_instant() -> None:
    simulation, clock = make_simulation(METERS)
    gateway = RecordingGateway(simulation, "gw", ["123456789012"])
    simulation.schedule_outage("gw", START + timedelta(minutes=15), timedelta(minutes=15))
    simulation.run_until(clock.advance(timedelta(minutes=30)))
    assert [kind for kind, _ in gateway.log] == [
        "readings",
        "readings",
        "offline",
        "online",
        "readings",
    ]


def test_unreachable_meters_are_left_out_of_the_readings() -> None:
    simulation, _ = make_simulation(METERS)
    gateway = RecordingGateway(simulation, "gw", ["123456789012", "123456789013"])
    simulation.meter("123456789013").set_reachable(False, START)
    simulation.run_until(START)
    assert [reading.meter_address for reading in gateway.readings] == ["123456789012"]


def test_meter_events_go_to_their_gateway() -> None:
    simulation, clock = make_simulation(METERS)
    gateway = RecordingGateway(simulation, "gw", ["123456789012"])
    simulation.apply(simulation.meter("123456789012"), MeterAction.TRIP)
    simulation.run_until(clock.advance(timedelta(minutes=1)))
    assert [event.meter_address for event in gateway.events] == ["123456789012"]


def test_a_meter_cannot_be_behind_two_gateways() -> None:
    simulation, _ = make_simulation(METERS)
    RecordingGateway(simulation, "gw-1", ["123456789012"])
    with pytest.raises(ValueError, match="already behind"):
        RecordingGateway(simulation, "gw-2", ["123456789012"])


def test_the_step_must_divide_the_interval() -> None:
    simulation, _ = make_simulation(METERS)
    with pytest.raises(ValueError, match="divide"):
        Simulation([], simulation.clock, interval=timedelta(minutes=15), step_s=7 * 60)
