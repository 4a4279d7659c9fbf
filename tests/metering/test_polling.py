"""The pollers against the simulator's gateways over real sockets: what the virtual meter holds
is what lands in the database."""

from datetime import timedelta
from decimal import Decimal

import pytest

from submeter.metering.models import GatewayProtocol, Reading
from submeter.metering.polling import PollKind, poll_cycle
from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.simulator import Dlt645Gateway, MeterSpec, ModbusGateway
from tests.factories import make_gateway, make_meter
from tests.simulator.conftest import make_simulation

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESSES = ("123456789012", "123456789013")


@pytest.fixture
def loop_thread():
    with EventLoopThread(name="poll-test-loop") as thread:
        yield thread


def simulate(gateway_class, loop_thread):
    simulation, clock = make_simulation([MeterSpec(address, phases=3) for address in ADDRESSES])
    gateway = gateway_class(simulation, "gw-poll", list(ADDRESSES), loop_thread=loop_thread)
    gateway.start()
    simulation.run_until(clock.advance(timedelta(hours=6)))
    return simulation, gateway


def test_modbus_poll_stores_what_the_meters_hold(org, loop_thread):
    simulation, gateway = simulate(ModbusGateway, loop_thread)
    try:
        db_gateway = make_gateway(
            org,
            serial="gw-poll",
            protocol=GatewayProtocol.MODBUS_TCP,
            address=f"127.0.0.1:{gateway.port}",
        )
        meters = {
            address: make_meter(
                org, address=str(gateway.device_id(address)), gateway=db_gateway, model="DTSD1352"
            )
            for address in ADDRESSES
        }
        result, report = poll_cycle(PollKind.BILLING)
    finally:
        gateway.stop()
    assert report.failures == []
    assert result.stored == 2
    for address, meter in meters.items():
        stored = Reading.objects.get(meter=meter)
        simulated = simulation.meter(address)
        assert stored.energy_kwh == simulated.energy_kwh.quantize(Decimal("0.01"))
        assert stored.source == "modbus"


def test_dlt645_poll_stores_what_the_meters_hold(org, loop_thread):
    simulation, gateway = simulate(Dlt645Gateway, loop_thread)
    try:
        db_gateway = make_gateway(
            org,
            serial="gw-poll",
            protocol=GatewayProtocol.DLT645_TCP,
            address=f"127.0.0.1:{gateway.port}",
        )
        meters = {
            address: make_meter(org, address=address, gateway=db_gateway) for address in ADDRESSES
        }
        result, report = poll_cycle(PollKind.BILLING)
    finally:
        gateway.stop()
    assert report.failures == []
    assert result.stored == 2
    for address, meter in meters.items():
        stored = Reading.objects.get(meter=meter)
        assert stored.energy_kwh == simulation.meter(address).energy_kwh.quantize(Decimal("0.01"))
        assert stored.voltage_a_v is not None


def test_an_unreachable_gateway_is_reported_and_others_still_polled(org, loop_thread):
    _simulation, gateway = simulate(Dlt645Gateway, loop_thread)
    try:
        good = make_gateway(
            org,
            serial="gw-poll",
            protocol=GatewayProtocol.DLT645_TCP,
            address=f"127.0.0.1:{gateway.port}",
        )
        dead = make_gateway(
            org, serial="gw-dead", protocol=GatewayProtocol.DLT645_TCP, address="127.0.0.1:9"
        )
        make_meter(org, address=ADDRESSES[0], gateway=good)
        make_meter(org, address="999999999999", gateway=dead)
        result, report = poll_cycle(PollKind.SAFETY)
    finally:
        gateway.stop()
    assert result.stored == 1
    assert any("gw-dead" in failure for failure in report.failures)
