"""What every simulated gateway is: a set of the simulation's meters behind one endpoint that
can be started, stopped, and put offline for an outage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from submeter.protocols.mqtt_payloads import MeterEvent, MeterReading
from submeter.simulator.meters import ElectricityMeter, WaterMeter

if TYPE_CHECKING:
    from submeter.simulator.simulation import Simulation


class Gateway:
    """Base class. A gateway registers itself with its simulation; the simulation hands it
    the readings of its meters at every interval (`deliver_readings`, used by gateways that
    push, like MQTT) and their events (`deliver_events`), and switches it offline and online
    for scheduled outages. Polled gateways (Modbus, DL/T 645) answer from the meters' live
    state instead."""

    pushes_readings: ClassVar[bool] = False

    def __init__(
        self, simulation: Simulation, gateway_id: str, meter_addresses: Sequence[str]
    ) -> None:
        self.simulation = simulation
        self.gateway_id = gateway_id
        self.meters: list[ElectricityMeter | WaterMeter] = [
            simulation.meter(address) for address in meter_addresses
        ]
        self.meters_by_address = {meter.address: meter for meter in self.meters}
        self.online = False
        simulation.add_gateway(self)

    @property
    def endpoint(self) -> str:
        """Where to reach it: `host:port`, or the MQTT topic prefix."""
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def go_offline(self) -> None:
        """Start an outage: stop talking to the platform (and buffer what would be sent)."""
        raise NotImplementedError

    def go_online(self) -> None:
        """End an outage (replaying what was buffered, oldest first)."""
        raise NotImplementedError

    def deliver_readings(self, at: datetime, readings: list[MeterReading]) -> None:
        """The readings of this gateway's reachable meters at interval end `at`."""

    def deliver_events(self, events: list[MeterEvent]) -> None:
        """Events of this gateway's meters (relay opened, valve closed…), oldest first."""
