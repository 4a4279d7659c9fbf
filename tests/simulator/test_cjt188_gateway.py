"""Water meters over CJ/T 188 on TCP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest

from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols import cjt188
from submeter.protocols.cjt188 import DataIdentifierOrder, ValveAction, ValveState
from submeter.simulator import Cjt188Gateway, MeterKind, MeterSpec, Simulation, WaterMeter
from tests.simulator.conftest import make_simulation

ADDRESS = "12345678"
WIRE_ADDRESS = "00000012345678"


@pytest.fixture
def water_gateway(loop_thread: EventLoopThread) -> Iterator[tuple[Simulation, Cjt188Gateway]]:
    simulation, clock = make_simulation([MeterSpec(ADDRESS, kind=MeterKind.WATER)])
    gateway = Cjt188Gateway(simulation, "gw-water", [ADDRESS], loop_thread=loop_thread)
    gateway.start()
    simulation.run_until(clock.advance(timedelta(hours=9)))
    yield simulation, gateway
    gateway.stop()


def exchange(port: int, request: bytes) -> cjt188.Frame:
    framer = cjt188.Cjt188StreamFramer()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        while True:
            data = connection.recv(4096)
            assert data, "the gateway closed the connection"
            frames = framer.feed(data)
            if frames:
                return frames[0]


def water(simulation: Simulation) -> WaterMeter:
    meter = simulation.meter(ADDRESS)
    assert isinstance(meter, WaterMeter)
    return meter


@pytest.mark.parametrize("order", list(DataIdentifierOrder))
def test_read_901f_gives_the_meters_volume(
    water_gateway: tuple[Simulation, Cjt188Gateway], order: DataIdentifierOrder
) -> None:
    simulation, gateway = water_gateway
    request = cjt188.encode_read_request(WIRE_ADDRESS, data_identifier_order=order)
    reply = exchange(gateway.port, request)
    reading = cjt188.decode_read_reply(reply)
    assert reply.data_identifier_order is order
    assert reading.current.to_m3() == water(simulation).water_m3
    assert reading.status.valve is ValveState.OPEN
    assert reading.meter_time == simulation.time


def test_closing_the_valve_is_acknowledged_with_the_new_status(
    water_gateway: tuple[Simulation, Cjt188Gateway],
) -> None:
    simulation, gateway = water_gateway
    request = cjt188.encode_valve_command(WIRE_ADDRESS, ValveAction.CLOSE, serial=3)
    status = cjt188.decode_valve_reply(exchange(gateway.port, request))
    assert status.valve is ValveState.CLOSED
    assert not water(simulation).valve_open
