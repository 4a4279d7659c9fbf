"""Relay commands to polled gateways over real sockets: a DL/T 645 1CH frame and a Modbus
register write, each against the simulator's gateway, answered and read back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from submeter.control import services, transport
from submeter.control.models import Command, CommandAction, CommandState, SupplyState
from submeter.metering.models import GatewayProtocol
from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols.mqtt_payloads import RelayState
from submeter.simulator import (
    Dlt645Gateway,
    ManualClock,
    MeterAction,
    MeterSpec,
    ModbusGateway,
    Simulation,
    build_meters,
)
from tests.control.conftest import START, fast_settings, wait_for_state, wait_until
from tests.factories import make_gateway, make_meter

ADDRESS = "123456789012"


@pytest.fixture
def loop_thread() -> Iterator[EventLoopThread]:
    with EventLoopThread(name="control-test-loop") as thread:
        yield thread
    transport.stop()


def simulate(gateway_class, loop_thread):
    clock = ManualClock(START)
    simulation = Simulation(build_meters([MeterSpec(ADDRESS, phases=3)], 1), clock)
    gateway = gateway_class(simulation, "gw-sim", [ADDRESS], loop_thread=loop_thread)
    gateway.start()
    simulation.run_until(clock.advance(timedelta(minutes=15)))
    return simulation, gateway


@pytest.mark.django_db(transaction=True)
def test_a_trip_reaches_a_dlt645_meter_as_a_1ch_frame(org, loop_thread):
    simulation, sim_gateway = simulate(Dlt645Gateway, loop_thread)
    try:
        fast_settings(org)
        gateway = make_gateway(
            org,
            protocol=GatewayProtocol.DLT645_TCP,
            address=f"127.0.0.1:{sim_gateway.port}",
        )
        meter = make_meter(org, address=ADDRESS, gateway=gateway)
        command = services.send(None, meter, CommandAction.TRIP, reason="arrears")
        wait_for_state(command, CommandState.ACKNOWLEDGED)
        assert simulation.meter(ADDRESS).relay_state is RelayState.OPEN
        assert command.answer["relay_state"] == "open"
        assert SupplyState.objects.get(meter=meter).relay_closed is False
        restore = services.send(None, meter, CommandAction.CLOSE, reason="topped up")
        wait_for_state(restore, CommandState.ACKNOWLEDGED)
        assert simulation.meter(ADDRESS).relay_state is RelayState.CLOSED
    finally:
        sim_gateway.stop()


@pytest.mark.django_db(transaction=True)
def test_a_dlt645_meter_refusing_a_trip_fails_the_command(org, loop_thread):
    simulation, sim_gateway = simulate(Dlt645Gateway, loop_thread)
    try:
        with simulation.lock:
            simulation.meter(ADDRESS).apply(MeterAction.PROTECT, simulation.time)
        gateway = make_gateway(
            org, protocol=GatewayProtocol.DLT645_TCP, address=f"127.0.0.1:{sim_gateway.port}"
        )
        meter = make_meter(org, address=ADDRESS, gateway=gateway)
        command = services.send(None, meter, CommandAction.TRIP, reason="arrears")
        wait_for_state(command, CommandState.FAILED)
        assert command.error_code == "meter_refused"
        assert simulation.meter(ADDRESS).relay_state is RelayState.CLOSED
    finally:
        sim_gateway.stop()


@pytest.mark.django_db(transaction=True)
def test_a_trip_reaches_a_modbus_meter_as_a_register_write(org, loop_thread):
    simulation, sim_gateway = simulate(ModbusGateway, loop_thread)
    try:
        gateway = make_gateway(
            org, protocol=GatewayProtocol.MODBUS_TCP, address=f"127.0.0.1:{sim_gateway.port}"
        )
        meter = make_meter(
            org, address=str(sim_gateway.device_id(ADDRESS)), gateway=gateway, model="DTSD1352"
        )
        command = services.send(None, meter, CommandAction.TRIP, reason="arrears")
        wait_for_state(command, CommandState.ACKNOWLEDGED)
        assert simulation.meter(ADDRESS).relay_state is RelayState.OPEN
        assert SupplyState.objects.get(meter=meter).relay_closed is False
    finally:
        sim_gateway.stop()


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_polled_gateway_leaves_the_command_to_be_retried(org, loop_thread):
    gateway = make_gateway(org, protocol=GatewayProtocol.DLT645_TCP, address="127.0.0.1:9")
    meter = make_meter(org, address=ADDRESS, gateway=gateway)
    command = services.send(None, meter, CommandAction.TRIP, reason="arrears")
    wait_until(lambda: Command.objects.get(pk=command.pk).error_code == "gateway_unreachable")
    command.refresh_from_db()
    assert command.state == CommandState.SENT
    assert command.attempts == 1
