"""The Modbus TCP gateway, read and written by a real pymodbus async client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ModbusPDU

from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols.modbus_maps import (
    ADF400L_MAP,
    DDSY1352_MAP,
    DTSD1352_MAP,
    RELAY_OPEN,
    RegisterMap,
    decode_registers,
    encode_register,
)
from submeter.simulator import ElectricityMeter, MeterAction, MeterSpec, ModbusGateway, Simulation
from tests.simulator.conftest import make_simulation

THREE_PHASE = "123456789012"
SINGLE_PHASE = "123456789013"
CIRCUITS = ("ADF400L-0007:01", "ADF400L-0007:02")
SPECS = [
    MeterSpec(THREE_PHASE, phases=3),
    MeterSpec(SINGLE_PHASE),
    *(MeterSpec(address, model="ADF400L") for address in CIRCUITS),
]
TIMEOUT_S = 5.0


@pytest.fixture
def modbus(loop_thread: EventLoopThread) -> Iterator[tuple[Simulation, ModbusGateway]]:
    simulation, clock = make_simulation(SPECS)
    gateway = ModbusGateway(
        simulation, "gw-modbus", [spec.address for spec in SPECS], loop_thread=loop_thread
    )
    gateway.start()
    simulation.run_until(clock.advance(timedelta(hours=10)))
    yield simulation, gateway
    gateway.stop()


async def read_map(port: int, device_id: int, register_map: RegisterMap) -> dict[str, Decimal]:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=TIMEOUT_S, retries=0)
    await client.connect()
    try:
        values: dict[str, Decimal] = {}
        for span in register_map.read_spans():
            response = await client.read_holding_registers(
                span.address, count=span.count, device_id=device_id
            )
            assert not response.isError(), response
            values |= decode_registers(register_map, span.address, response.registers)
        return values
    finally:
        client.close()


async def request(port: int, operation: str, *args: object, **kwargs: object) -> ModbusPDU:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=TIMEOUT_S, retries=0)
    await client.connect()
    try:
        response: ModbusPDU = await getattr(client, operation)(*args, **kwargs)
        return response
    finally:
        client.close()


def electricity(simulation: Simulation, address: str) -> ElectricityMeter:
    meter = simulation.meter(address)
    assert isinstance(meter, ElectricityMeter)
    return meter


def test_three_phase_registers_decode_to_the_meters_values(
    modbus: tuple[Simulation, ModbusGateway],
) -> None:
    simulation, gateway = modbus
    values = asyncio.run(read_map(gateway.port, gateway.device_id(THREE_PHASE), DTSD1352_MAP))
    registers = simulation.meter(THREE_PHASE).registers()
    for name in ("energy_kwh", "energy_rate1_kwh", "energy_rate4_kwh", "voltage_b_v"):
        assert values[name] == registers[name]
    assert values["combined_energy_kwh"] == registers["energy_kwh"]
    assert values["current_c_a"] == registers["current_c_a"].quantize(Decimal("0.01"))
    assert values["power_kw"] == registers["power_kw"].quantize(Decimal("0.001"))
    assert values["power_factor"] == registers["power_factor"]
    assert values["relay_state"] == 0


def test_single_phase_meter_uses_the_ddsy1352_map(
    modbus: tuple[Simulation, ModbusGateway],
) -> None:
    simulation, gateway = modbus
    assert gateway.register_map(SINGLE_PHASE) is DDSY1352_MAP
    values = asyncio.run(read_map(gateway.port, gateway.device_id(SINGLE_PHASE), DDSY1352_MAP))
    assert values["energy_kwh"] == simulation.meter(SINGLE_PHASE).registers()["energy_kwh"]


def test_registers_follow_the_meter_as_it_advances(
    modbus: tuple[Simulation, ModbusGateway],
) -> None:
    simulation, gateway = modbus
    device_id = gateway.device_id(THREE_PHASE)
    before = asyncio.run(read_map(gateway.port, device_id, DTSD1352_MAP))["energy_kwh"]
    simulation.run_until(simulation.clock.now() + timedelta(hours=1))
    after = asyncio.run(read_map(gateway.port, device_id, DTSD1352_MAP))["energy_kwh"]
    assert after > before
    assert after == simulation.meter(THREE_PHASE).registers()["energy_kwh"]


def test_writing_the_relay_register_trips_the_meter(
    modbus: tuple[Simulation, ModbusGateway],
) -> None:
    simulation, gateway = modbus
    relay = DTSD1352_MAP.register("relay_state")
    (word,) = encode_register(relay, RELAY_OPEN)
    response = asyncio.run(
        request(
            gateway.port,
            "write_register",
            relay.address,
            word,
            device_id=gateway.device_id(THREE_PHASE),
        )
    )
    assert not response.isError()
    assert electricity(simulation, THREE_PHASE).relay_open
    values = asyncio.run(read_map(gateway.port, gateway.device_id(THREE_PHASE), DTSD1352_MAP))
    assert values["relay_state"] == RELAY_OPEN


def test_a_protected_meter_answers_a_relay_write_with_exception_4(
    modbus: tuple[Simulation, ModbusGateway],
) -> None:
    simulation, gateway = modbus
    simulation.apply(simulation.meter(THREE_PHASE), MeterAction.PROTECT)
    relay = DTSD1352_MAP.register("relay_state")
    response = asyncio.run(
        request(
            gateway.port,
            "write_register",
            relay.address,
            1,
            device_id=gateway.device_id(THREE_PHASE),
        )
    )
    assert response.isError()
    assert response.exception_code == 4
    assert not electricity(simulation, THREE_PHASE).relay_open


def test_writing_a_read_only_register_answers_exception_2(
    modbus: tuple[Simulation, ModbusGateway],
) -> None:
    _, gateway = modbus
    response = asyncio.run(
        request(gateway.port, "write_register", 0x000A, 1, device_id=gateway.device_id(THREE_PHASE))
    )
    assert response.isError()
    assert response.exception_code == 2


def test_writing_a_balance_makes_the_meter_keep_it(
    modbus: tuple[Simulation, ModbusGateway],
) -> None:
    simulation, gateway = modbus
    register = DTSD1352_MAP.register("remaining_money_cny")
    words = list(encode_register(register, Decimal("88.88")))
    response = asyncio.run(
        request(
            gateway.port,
            "write_registers",
            register.address,
            words,
            device_id=gateway.device_id(THREE_PHASE),
        )
    )
    assert not response.isError()
    assert electricity(simulation, THREE_PHASE).remaining_money_cny == Decimal("88.88")


def test_an_unknown_device_id_answers_gateway_target_failed(
    modbus: tuple[Simulation, ModbusGateway],
) -> None:
    _, gateway = modbus
    response = asyncio.run(
        request(gateway.port, "read_holding_registers", 0, count=2, device_id=99)
    )
    assert response.isError()
    assert response.exception_code == 0x0B


def test_adf400l_circuits_share_one_device(modbus: tuple[Simulation, ModbusGateway]) -> None:
    simulation, gateway = modbus
    device_ids = {gateway.device_id(address) for address in CIRCUITS}
    assert len(device_ids) == 1
    values = asyncio.run(read_map(gateway.port, device_ids.pop(), ADF400L_MAP))
    for circuit, address in enumerate(CIRCUITS, start=1):
        energy = simulation.meter(address).registers()["energy_kwh"]
        assert values[f"circuit_{circuit:02d}_energy_kwh"] == energy
    assert values["circuit_03_energy_kwh"] == 0


def test_an_outage_refuses_connections_until_it_ends(
    modbus: tuple[Simulation, ModbusGateway], loop_thread: EventLoopThread
) -> None:
    _, gateway = modbus
    gateway.go_offline()
    loop_thread.run(asyncio.sleep(0.1))

    async def connects() -> bool:
        client = AsyncModbusTcpClient("127.0.0.1", port=gateway.port, timeout=1, retries=0)
        try:
            return await client.connect()
        finally:
            client.close()

    assert not asyncio.run(connects())
    gateway.go_online()
    loop_thread.run(asyncio.sleep(0.1))
    assert asyncio.run(connects())
