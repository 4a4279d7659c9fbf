"""The MQTT gateway through a real broker (MQTT_URL, or the embedded one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from submeter.protocols.cjt188 import ValveState
from submeter.protocols.mqtt_payloads import (
    AckResult,
    CloseMode,
    Command,
    CommandAck,
    CommandAction,
    EventType,
    RelayState,
    encode_command,
    parse_ack,
    parse_events,
    parse_readings,
)
from submeter.simulator import (
    ElectricityMeter,
    MeterKind,
    MeterSpec,
    MqttGateway,
    Simulation,
    generate_meter_specs,
)
from submeter.simulator.clock import ManualClock
from tests.simulator.conftest import START, Received, Subscriber, make_simulation

GATEWAY = "gw-01"
ELECTRICITY = "123456789012"
WATER = "00000012345678"


@pytest.fixture
def park(
    mqtt_url: str, org_code: str
) -> Iterator[Callable[[list[MeterSpec]], tuple[Simulation, ManualClock, MqttGateway]]]:
    gateways: list[MqttGateway] = []

    def start(specs: list[MeterSpec]) -> tuple[Simulation, ManualClock, MqttGateway]:
        simulation, clock = make_simulation(specs)
        gateway = MqttGateway(
            simulation,
            GATEWAY,
            [spec.address for spec in specs],
            mqtt_url=mqtt_url,
            organisation=org_code,
        )
        gateway.start()
        gateways.append(gateway)
        return simulation, clock, gateway

    yield start
    for gateway in gateways:
        gateway.stop()


@pytest.fixture
def uplink(org_code: str, subscribe: Callable[[str], Subscriber]) -> Subscriber:
    return subscribe(f"submeter/{org_code}/+/up/#")


def is_kind(kind: str) -> Callable[[Received], bool]:
    return lambda message: message.topic.endswith(f"/up/{kind}")


def send(uplink: Subscriber, org_code: str, command: Command) -> CommandAck:
    uplink.publish(f"submeter/{org_code}/{GATEWAY}/down/commands", encode_command(command))
    (message,) = uplink.wait_for(
        lambda received: (
            is_kind("acks")(received)
            and parse_ack(received.payload).command_id == command.command_id
        )
    )
    return parse_ack(message.payload)


def command(
    command_id: str,
    action: CommandAction,
    address: str = ELECTRICITY,
    *,
    close_mode: CloseMode | None = None,
    registers: tuple[str, ...] | None = None,
    power_limit_kw: Decimal | None = None,
) -> Command:
    return Command(
        command_id,
        address,
        action,
        datetime.now(UTC),
        close_mode=close_mode,
        registers=registers,
        power_limit_kw=power_limit_kw,
    )


ONE_METER = [MeterSpec(ELECTRICITY), MeterSpec(WATER, kind=MeterKind.WATER)]


def test_readings_of_150_meters_come_in_messages_of_at_most_100_every_interval(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]], uplink: Subscriber
) -> None:
    specs = generate_meter_specs(150, water_share=0.2)
    simulation, clock, _ = park(specs)
    simulation.run_until(clock.advance(timedelta(minutes=30)))
    messages = [parse_readings(m.payload) for m in uplink.wait_for(is_kind("readings"), count=6)]
    assert [len(message.readings) for message in messages] == [100, 50] * 3
    last = [reading for message in messages[-2:] for reading in message.readings]
    assert {reading.timestamp for reading in last} == {START + timedelta(minutes=30)}
    by_address = {reading.meter_address: reading for reading in last}
    for spec in specs:
        assert by_address[spec.address].registers == simulation.meter(spec.address).registers()


def test_gateway_announces_itself_when_it_starts(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]], uplink: Subscriber
) -> None:
    park(ONE_METER)
    (message,) = uplink.wait_for(is_kind("events"))
    assert parse_events(message.payload).events[0].event_type is EventType.GATEWAY_STARTED


def test_trip_command_is_acknowledged_and_opens_the_relay(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    simulation, _, _ = park(ONE_METER)
    ack = send(uplink, org_code, command("cmd-1", CommandAction.TRIP))
    assert ack.result is AckResult.OK
    assert ack.relay_state is RelayState.OPEN
    assert ack.gateway_id == GATEWAY
    meter = simulation.meter(ELECTRICITY)
    assert isinstance(meter, ElectricityMeter) and meter.relay_open


def test_relay_change_is_published_as_an_event(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    simulation, clock, _ = park(ONE_METER)
    send(uplink, org_code, command("cmd-1", CommandAction.TRIP))
    simulation.run_until(clock.advance(timedelta(minutes=1)))
    (message,) = uplink.wait_for(lambda m: is_kind("events")(m) and b"relay_opened" in m.payload)
    (event,) = parse_events(message.payload).events
    assert event.meter_address == ELECTRICITY


def test_trip_of_a_protected_meter_gets_an_error_ack(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    park(ONE_METER)
    assert send(uplink, org_code, command("cmd-1", CommandAction.PROTECT)).result is AckResult.OK
    ack = send(uplink, org_code, command("cmd-2", CommandAction.TRIP))
    assert ack.result is AckResult.ERROR
    assert ack.error_code == "meter_refused"
    assert ack.relay_state is RelayState.CLOSED


def test_a_command_id_already_run_is_answered_again_and_not_run_twice(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    simulation, _, _ = park(ONE_METER)
    first = send(uplink, org_code, command("cmd-1", CommandAction.TRIP))
    send(uplink, org_code, command("cmd-2", CommandAction.CLOSE, close_mode=CloseMode.DIRECT))
    again = send(uplink, org_code, command("cmd-1", CommandAction.TRIP))
    assert again == first
    meter = simulation.meter(ELECTRICITY)
    assert isinstance(meter, ElectricityMeter) and not meter.relay_open


def test_valve_command_closes_the_water_meter(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    park(ONE_METER)
    ack = send(uplink, org_code, command("cmd-1", CommandAction.VALVE_CLOSE, WATER))
    assert ack.result is AckResult.OK
    assert ack.valve_state is ValveState.CLOSED
    assert ack.relay_state is None


def test_a_command_for_an_unknown_meter_gets_an_error_ack(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    park(ONE_METER)
    ack = send(uplink, org_code, command("cmd-1", CommandAction.TRIP, "999999999999"))
    assert ack.error_code == "unknown_meter"


def test_an_unreachable_meter_times_out_and_a_retry_can_succeed(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    simulation, _, _ = park(ONE_METER)
    simulation.meter(ELECTRICITY).set_reachable(False, simulation.time)
    assert (
        send(uplink, org_code, command("cmd-1", CommandAction.TRIP)).error_code == "meter_timeout"
    )
    simulation.meter(ELECTRICITY).set_reachable(True, simulation.time)
    assert send(uplink, org_code, command("cmd-1", CommandAction.TRIP)).result is AckResult.OK


def test_an_expired_command_is_not_run(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    park(ONE_METER)
    expired = Command(
        "cmd-1",
        ELECTRICITY,
        CommandAction.TRIP,
        datetime(2024, 1, 1, tzinfo=UTC),
        expires_at=datetime(2024, 1, 1, 0, 10, tzinfo=UTC),
    )
    assert send(uplink, org_code, expired).error_code == "expired"


def test_an_invalid_command_gets_an_invalid_command_ack(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    park(ONE_METER)
    payload = b'{"command_id": "cmd-9", "meter_address": "123456789012", "action": "explode"}'
    uplink.publish(f"submeter/{org_code}/{GATEWAY}/down/commands", payload)
    (message,) = uplink.wait_for(is_kind("acks"))
    ack = parse_ack(message.payload)
    assert (ack.command_id, ack.error_code) == ("cmd-9", "invalid_command")


def test_read_command_publishes_the_requested_registers(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    simulation, _, _ = park(ONE_METER)
    send(uplink, org_code, command("cmd-1", CommandAction.READ, registers=("energy_kwh",)))
    (message,) = uplink.wait_for(is_kind("readings"))
    (reading,) = parse_readings(message.payload).readings
    assert reading.registers == {
        "energy_kwh": simulation.meter(ELECTRICITY).registers()["energy_kwh"]
    }


def test_set_power_limit_makes_the_meter_trip_on_overload(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]],
    uplink: Subscriber,
    org_code: str,
) -> None:
    simulation, clock, _ = park(ONE_METER)
    limit = command("cmd-1", CommandAction.SET_POWER_LIMIT, power_limit_kw=Decimal("0.5"))
    assert send(uplink, org_code, limit).result is AckResult.OK
    simulation.run_until(clock.advance(timedelta(hours=10)))
    meter = simulation.meter(ELECTRICITY)
    assert isinstance(meter, ElectricityMeter) and meter.relay_open


def test_six_hour_outage_replays_every_interval_once_and_in_order(
    park: Callable[..., tuple[Simulation, ManualClock, MqttGateway]], uplink: Subscriber
) -> None:
    specs = [MeterSpec(f"12345678901{n}") for n in range(3)]
    simulation, clock, gateway = park(specs)
    outage_start = START + timedelta(hours=1)
    simulation.schedule_outage(GATEWAY, outage_start, timedelta(hours=6))
    simulation.run_until(clock.advance(timedelta(hours=3)))
    live = [parse_readings(m.payload) for m in uplink.wait_for(is_kind("readings"), count=5)]
    assert not gateway.online
    assert gateway.buffered_messages == 8
    for _ in range(10):
        simulation.run_until(clock.advance(timedelta(minutes=30)))
    expected = [START + timedelta(minutes=15 * n) for n in range(4 * 8 + 1)]
    rest = uplink.wait_for(is_kind("readings"), count=len(expected) - len(live))
    messages = live + [parse_readings(m.payload) for m in rest]
    assert [message.readings[0].timestamp for message in messages] == expected
    for spec in specs:
        times = [
            r.timestamp for m in messages for r in m.readings if r.meter_address == spec.address
        ]
        assert times == expected
    assert len({message.message_id for message in messages}) == len(messages)
    assert not [m for m in uplink.drain(0.3) if is_kind("readings")(m)]
    assert gateway.online
