"""The DL/T 645 TCP gateway, driven over a real socket with frames built by our codec."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols import dlt645
from submeter.protocols.dlt645 import (
    Dlt645ErrorFlag,
    Dlt645ErrorReply,
    Frame,
    MaximumDemand,
    RelayAction,
    RelayCommand,
    StatusWord3,
)
from submeter.protocols.meter_clock import CHINA_TIME_ZONE
from submeter.simulator import Dlt645Gateway, ElectricityMeter, MeterAction, MeterSpec, Simulation
from tests.simulator.conftest import make_simulation

ADDRESS = "123456789012"
OTHER = "123456789013"
DEADLINE = datetime(2098, 12, 31, 23, 59, 59, tzinfo=CHINA_TIME_ZONE)
TIMEOUT_S = 5.0


class Connection:
    """A client socket that reads whole frames back with our stream framer."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.framer = dlt645.Dlt645StreamFramer()
        self.frames: list[Frame] = []

    def send(self, data: bytes) -> None:
        self.socket.sendall(data)

    def receive(self) -> Frame:
        while not self.frames:
            data = self.socket.recv(4096)
            assert data, "the gateway closed the connection"
            self.frames += self.framer.feed(data)
        return self.frames.pop(0)

    def exchange(self, data: bytes) -> Frame:
        self.send(data)
        return self.receive()

    def read(self, address: str, data_identifier: str) -> dlt645.DataValue:
        frame = self.exchange(dlt645.encode_read_request(address, data_identifier))
        return dlt645.decode_read_reply(frame).value

    def nothing_within(self, seconds: float) -> bool:
        """True when no byte arrives within `seconds` and the connection stays open."""
        self.socket.settimeout(seconds)
        try:
            self.socket.recv(4096)
        except TimeoutError:
            return True
        finally:
            self.socket.settimeout(TIMEOUT_S)
        return False

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def gateway(loop_thread: EventLoopThread) -> Iterator[tuple[Simulation, Dlt645Gateway]]:
    specs = [MeterSpec(ADDRESS, phases=3), MeterSpec(OTHER)]
    simulation, clock = make_simulation(specs)
    dlt645_gateway = Dlt645Gateway(simulation, "gw-645", [ADDRESS, OTHER], loop_thread=loop_thread)
    dlt645_gateway.start()
    simulation.run_until(clock.advance(timedelta(hours=10)))
    yield simulation, dlt645_gateway
    dlt645_gateway.stop()


@pytest.fixture
def connection(gateway: tuple[Simulation, Dlt645Gateway]) -> Iterator[Connection]:
    client = Connection(gateway[1].port)
    yield client
    client.close()


def meter(simulation: Simulation, address: str = ADDRESS) -> ElectricityMeter:
    found = simulation.meter(address)
    assert isinstance(found, ElectricityMeter)
    return found


def relay_command(action: RelayAction, deadline: datetime = DEADLINE) -> bytes:
    return dlt645.encode_relay_command(RelayCommand(ADDRESS, action, deadline))


def test_forward_energy_total_is_the_meters(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    assert connection.read(ADDRESS, "00010000") == meter(simulation).energy_kwh


def test_energy_block_holds_total_and_four_rates(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    rates = tuple(meter(simulation).rate_energy_kwh(rate) for rate in range(1, 5))
    assert connection.read(ADDRESS, "0001FF00") == (meter(simulation).energy_kwh, *rates)
    assert connection.read(ADDRESS, "00010300") == rates[2]


def test_instantaneous_values_are_the_meters(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    registers = meter(simulation).registers()
    assert connection.read(ADDRESS, "02010200") == registers["voltage_b_v"]
    assert connection.read(ADDRESS, "02020300") == registers["current_c_a"]
    assert connection.read(ADDRESS, "02030000") == registers["power_kw"]
    assert connection.read(ADDRESS, "02060000") == registers["power_factor"]
    voltages = connection.read(ADDRESS, "0201FF00")
    assert isinstance(voltages, tuple) and len(voltages) == 3


def test_maximum_demand_comes_with_its_time(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    demand = connection.read(ADDRESS, "01010000")
    assert isinstance(demand, MaximumDemand)
    assert demand.occurred_at == meter(simulation).max_demand_at
    assert float(demand.demand_kw) == pytest.approx(meter(simulation).max_demand_kw, abs=1e-4)


def test_status_word_shows_relay_closed_and_not_protected(connection: Connection) -> None:
    status = connection.read(ADDRESS, "04000503")
    assert isinstance(status, StatusWord3)
    assert not status.relay_open
    assert not status.protected


def test_trip_is_acknowledged_and_opens_the_relay(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    reply = connection.exchange(relay_command(RelayAction.TRIP))
    assert reply.control_code == 0x9C
    dlt645.decode_relay_reply(reply)
    assert meter(simulation).relay_open
    status = connection.read(ADDRESS, "04000503")
    assert isinstance(status, StatusWord3)
    assert status.relay_open and status.relay_command_open


def test_trip_of_a_protected_meter_gets_an_error_reply(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    assert connection.exchange(relay_command(RelayAction.PROTECT)).control_code == 0x9C
    status = connection.read(ADDRESS, "04000503")
    assert isinstance(status, StatusWord3) and status.protected
    reply = connection.exchange(relay_command(RelayAction.TRIP))
    assert reply.control_code == 0xDC
    with pytest.raises(Dlt645ErrorReply):
        dlt645.decode_relay_reply(reply)
    assert not meter(simulation).relay_open


def test_an_expired_relay_command_gets_an_error_reply(connection: Connection) -> None:
    expired = datetime(2020, 1, 1, tzinfo=UTC)
    assert connection.exchange(relay_command(RelayAction.TRIP, expired)).control_code == 0xDC


def test_close_directly_closes_a_tripped_relay(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    simulation.apply(meter(simulation), MeterAction.TRIP)
    assert connection.exchange(relay_command(RelayAction.CLOSE_DIRECTLY)).control_code == 0x9C
    assert not meter(simulation).relay_open


def test_unknown_data_identifier_gets_no_requested_data(connection: Connection) -> None:
    reply = connection.exchange(dlt645.encode_read_request(ADDRESS, "12345678"))
    with pytest.raises(Dlt645ErrorReply) as error:
        dlt645.decode_read_reply(reply)
    assert error.value.flags == Dlt645ErrorFlag.NO_REQUESTED_DATA


def test_phase_c_voltage_of_a_single_phase_meter_gets_an_error_reply(
    connection: Connection,
) -> None:
    with pytest.raises(Dlt645ErrorReply):
        connection.read(OTHER, "02010300")
    assert connection.read(OTHER, "02010100") is not None


def test_garbage_before_a_frame_is_skipped_and_the_frame_answered(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    connection.send(b"\x00\x68\x99garbage\x16\xfe\xfe")
    assert connection.read(ADDRESS, "00010000") == meter(simulation).energy_kwh


def test_a_bad_checksum_is_ignored_and_the_connection_kept(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    frame = bytearray(dlt645.encode_read_request(ADDRESS, "00010000"))
    frame[-2] ^= 0xFF
    connection.send(bytes(frame))
    assert connection.nothing_within(0.3)
    assert connection.read(ADDRESS, "00010000") == meter(simulation).energy_kwh


def test_a_frame_split_over_two_packets_is_answered(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    frame = dlt645.encode_read_request(ADDRESS, "00010000", preamble_length=4)
    connection.send(frame[:7])
    assert connection.nothing_within(0.1)
    reply = connection.exchange(frame[7:])
    assert dlt645.decode_read_reply(reply).value == meter(simulation).energy_kwh


def test_an_unknown_address_gets_no_reply(connection: Connection) -> None:
    connection.send(dlt645.encode_read_request("999999999998", "00010000"))
    assert connection.nothing_within(0.3)


def test_broadcast_time_gets_no_reply_and_sets_the_meter_clock(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    at = datetime(2024, 6, 1, 8, 30, 15, tzinfo=CHINA_TIME_ZONE)
    connection.send(dlt645.encode_broadcast_time(at))
    assert connection.nothing_within(0.3)
    assert connection.read(ADDRESS, "04000102") == "083015"
    assert connection.read(ADDRESS, "04000101") == "24060106"


def test_remaining_money_is_read_when_the_meter_keeps_a_balance(
    gateway: tuple[Simulation, Dlt645Gateway], connection: Connection
) -> None:
    simulation, _ = gateway
    with pytest.raises(Dlt645ErrorReply):
        connection.read(ADDRESS, "00900200")
    meter(simulation).set_balance(Decimal("88.88"))
    assert connection.read(ADDRESS, "00900200") == Decimal("88.88")
