"""Modbus register maps: words ↔ Decimals, spans, and a real pymodbus server round trip."""

from __future__ import annotations

import asyncio
import warnings
from decimal import Decimal

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.client.mixin import ModbusClientMixin

from submeter.protocols import modbus_maps
from submeter.protocols.errors import InvalidValue
from submeter.protocols.measurement_kind import MeasurementKind
from submeter.protocols.modbus_maps import (
    ADF400L_MAP,
    DDSY1352_MAP,
    DTSD1352_MAP,
    Access,
    DataType,
    Register,
    RegisterMap,
    RegisterSpan,
    WordOrder,
    decode_register,
    decode_registers,
    encode_register,
    encode_registers,
)


def register(
    data_type: DataType, scale: str = "1", word_order: WordOrder = WordOrder.HIGH_FIRST
) -> Register:
    return Register(
        "value",
        "值",
        0,
        data_type,
        Decimal(scale),
        "",
        MeasurementKind.INSTANTANEOUS,
        word_order=word_order,
    )


def test_total_energy_words_from_domain_example_decode_to_1234_56_kwh() -> None:
    energy = DTSD1352_MAP.register("combined_energy_kwh")
    assert decode_register(energy, [1, 57920]) == Decimal("1234.56")


def test_energy_encodes_to_the_same_words() -> None:
    energy = DTSD1352_MAP.register("energy_kwh")
    assert encode_register(energy, Decimal("1234.56")) == (1, 57920)


def test_low_word_first_order_swaps_the_words() -> None:
    value = register(DataType.UINT32, word_order=WordOrder.LOW_FIRST)
    assert encode_register(value, Decimal(0x00012345)) == (0x2345, 0x0001)
    assert decode_register(value, [0x2345, 0x0001]) == Decimal(0x00012345)


def test_int16_decodes_negative_power() -> None:
    power = DDSY1352_MAP.register("power_kw")
    assert decode_register(power, [0xFFFF]) == Decimal("-0.001")


def test_int32_round_trips_negative_money() -> None:
    money = DTSD1352_MAP.register("remaining_money_cny")
    assert decode_register(money, encode_register(money, Decimal("-12.34"))) == Decimal("-12.34")


def test_float32_decodes_to_the_shortest_decimal() -> None:
    voltage = register(DataType.FLOAT32)
    words = encode_register(voltage, Decimal("220.1"))
    assert decode_register(voltage, words) == Decimal("220.1")


def test_float32_nan_is_refused() -> None:
    with pytest.raises(InvalidValue):
        decode_register(register(DataType.FLOAT32), [0x7FC0, 0x0000])


def test_value_between_scale_steps_is_refused() -> None:
    with pytest.raises(InvalidValue):
        encode_register(DTSD1352_MAP.register("energy_kwh"), Decimal("1.005"))


def test_value_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidValue):
        encode_register(register(DataType.UINT16), Decimal(65536))


def test_word_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidValue):
        decode_register(register(DataType.UINT16), [70000])


def test_wrong_word_count_is_refused() -> None:
    with pytest.raises(InvalidValue):
        decode_register(register(DataType.UINT32), [1])


@pytest.mark.parametrize(
    ("data_type", "pymodbus_type", "value"),
    [
        (DataType.UINT16, ModbusClientMixin.DATATYPE.UINT16, 4660),
        (DataType.INT16, ModbusClientMixin.DATATYPE.INT16, -2),
        (DataType.UINT32, ModbusClientMixin.DATATYPE.UINT32, 305419896),
        (DataType.INT32, ModbusClientMixin.DATATYPE.INT32, -305419896),
    ],
)
def test_words_agree_with_pymodbus_conversion(
    data_type: DataType, pymodbus_type: ModbusClientMixin.DATATYPE, value: int
) -> None:
    words = encode_register(register(data_type), Decimal(value))
    assert ModbusClientMixin.convert_from_registers(list(words), pymodbus_type) == value


def test_decode_registers_reads_every_register_inside_the_window() -> None:
    words = [0] * 20
    words[10:12] = [0, 12345]
    values = decode_registers(DTSD1352_MAP, 0, words)
    assert values["energy_kwh"] == Decimal("123.45")
    assert "voltage_a_v" not in values


def test_decode_registers_skips_registers_cut_by_the_window() -> None:
    assert "energy_kwh" not in decode_registers(DTSD1352_MAP, 0, [0] * 11)


def test_encode_registers_gives_words_by_address() -> None:
    words = encode_registers(
        DTSD1352_MAP, {"voltage_b_v": Decimal("230.5"), "relay_state": modbus_maps.RELAY_OPEN}
    )
    assert words == {0x0062: 2305, 0x0202: 1}


def test_map_round_trips_every_register() -> None:
    values = {
        item.name: Decimal(1) if item.kind is not MeasurementKind.CUMULATIVE else Decimal("9.99")
        for item in DTSD1352_MAP.registers
    }
    by_address = encode_registers(DTSD1352_MAP, values)
    for span in DTSD1352_MAP.read_spans():
        words = [by_address.get(span.address + offset, 0) for offset in range(span.count)]
        decoded = decode_registers(DTSD1352_MAP, span.address, words)
        assert all(decoded[name] == values[name] for name in decoded)


def test_read_spans_bridge_small_gaps() -> None:
    assert DTSD1352_MAP.read_spans(max_gap=0x60) == (
        RegisterSpan(0x0000, 0x006A),
        RegisterSpan(0x0200, 8),
    )


def test_read_spans_respect_the_modbus_limit_of_125_registers() -> None:
    assert all(span.count <= 125 for span in ADF400L_MAP.read_spans(max_gap=0x100))


def test_overlapping_registers_are_refused() -> None:
    with pytest.raises(InvalidValue):
        RegisterMap("bad", "", (register(DataType.UINT32), register(DataType.UINT16)))


def test_prepaid_registers_are_marked_as_assumed() -> None:
    for name in ("relay_state", "remaining_money_cny"):
        item = DTSD1352_MAP.register(name)
        assert item.assumed
        assert item.access is Access.READ_WRITE


def test_energy_registers_from_the_manual_are_not_assumed() -> None:
    assert not DTSD1352_MAP.register("energy_rate4_kwh").assumed
    assert DTSD1352_MAP.register("energy_rate4_kwh").address == 0x0012


def test_multi_circuit_map_has_energy_power_current_per_circuit() -> None:
    name = modbus_maps.circuit_register_name(12, "energy_kwh")
    energy = ADF400L_MAP.register(name)
    assert (energy.address, energy.kind, energy.assumed) == (
        0x0100 + 11 * 0x10,
        MeasurementKind.CUMULATIVE,
        True,
    )
    assert ADF400L_MAP.register(modbus_maps.circuit_register_name(1, "current_a")).unit == "A"


def test_maps_are_listed_by_profile_key() -> None:
    assert set(modbus_maps.REGISTER_MAPS) == {"dtsd1352", "ddsy1352", "adf400l"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_words_round_trip_through_a_real_pymodbus_server() -> None:
    from pymodbus.datastore import (
        ModbusDeviceContext,
        ModbusSequentialDataBlock,
        ModbusServerContext,
    )
    from pymodbus.server import ModbusTcpServer

    values = {
        "energy_kwh": Decimal("1234.56"),
        "power_kw": Decimal("-3.5"),
        "voltage_a_v": Decimal("220.1"),
    }
    block = [0] * 0x0300
    for address, word in encode_registers(DTSD1352_MAP, values).items():
        block[address] = word

    async def read_back() -> dict[str, Decimal]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            device = ModbusDeviceContext(hr=ModbusSequentialDataBlock(1, block))
            server = ModbusTcpServer(
                ModbusServerContext(devices=device, single=True), address=("127.0.0.1", 0)
            )
        serving = asyncio.create_task(server.serve_forever())
        try:
            while server.transport is None:
                await asyncio.sleep(0.01)
            port = server.transport.sockets[0].getsockname()[1]
            client = AsyncModbusTcpClient("127.0.0.1", port=port)
            await client.connect()
            decoded: dict[str, Decimal] = {}
            for span in DTSD1352_MAP.read_spans():
                reply = await client.read_holding_registers(
                    span.address, count=span.count, device_id=1
                )
                decoded |= decode_registers(DTSD1352_MAP, span.address, reply.registers)
            client.close()
            return decoded
        finally:
            await server.shutdown()
            serving.cancel()

    decoded = asyncio.run(asyncio.wait_for(read_back(), timeout=10))
    assert {name: decoded[name] for name in values} == values
