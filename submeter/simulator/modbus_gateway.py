"""A Modbus TCP gateway: a pymodbus 3.16 server on 127.0.0.1, one device id per meter.

Each device's holding registers follow its meter's register map (`modbus_maps`): `ddsy1352`
for single-phase meters, `dtsd1352` for three-phase ones, unless the meter's `model` says
otherwise. Meters of model `adf400l` whose addresses share a prefix (`ADF400L-0007:03` is
circuit 3 of device `ADF400L-0007`) form one multi-circuit device. Registers are refreshed from
the meter on every read, so they always show its current state.

Writes: `relay_state` (0202H: 1 trips, 0 closes; a protected meter answers exception 04),
`protect_state` (1 = 保电), `remaining_money_cny` (the meter starts keeping that balance),
`price_cny_per_kwh` (all rates), `power_limit_kw` and `code`. Writing any other register, or
part of a 32-bit one, answers exception 02; a bad relay or protect value answers 03.
A device id with no meter, or an unreachable meter, answers exception 0BH (gateway target
device failed to respond), as a real RS485 gateway does.

Uses pymodbus's `SimDevice`/`SimData` datastore (the one that stays in v4): its addresses are
protocol addresses, so the old data-block "+1" offset does not apply here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimDataType
from pymodbus.simulator import SimAction, SimData, SimDevice

from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols.errors import InvalidValue
from submeter.protocols.measurement_kind import MeasurementKind
from submeter.protocols.modbus_maps import (
    ADF400L_CIRCUITS,
    REGISTER_MAPS,
    RELAY_CLOSED,
    RELAY_OPEN,
    Access,
    DataType,
    Register,
    RegisterMap,
    circuit_register_name,
    decode_register,
    encode_register,
)
from submeter.simulator.gateway import Gateway
from submeter.simulator.meters import (
    CommandRefused,
    ElectricityMeter,
    MeterAction,
)
from submeter.simulator.rate_table import RATE_COUNT

if TYPE_CHECKING:
    from submeter.simulator.simulation import Simulation

logger = logging.getLogger(__name__)

MAX_DEVICE_ID = 247
ADDRESS_SPACE = 0x10000
READ_FUNCTION_CODES = frozenset({3, 4})
_RANGES = {
    DataType.UINT16: (0, 0xFFFF),
    DataType.INT16: (-0x8000, 0x7FFF),
    DataType.UINT32: (0, 0xFFFF_FFFF),
    DataType.INT32: (-0x8000_0000, 0x7FFF_FFFF),
}
_CIRCUIT_ADDRESS = re.compile(r"(?P<device>.+):(?P<circuit>\d{1,2})")


def map_key(meter: ElectricityMeter) -> str:
    """The register map of a meter: its model if it names one, else by phase count."""
    model = re.sub(r"[^a-z0-9]", "", (meter.spec.model or "").lower())
    if model in REGISTER_MAPS:
        return model
    return "dtsd1352" if meter.phases == 3 else "ddsy1352"


@dataclass
class ModbusDevice:
    device_id: int
    register_map: RegisterMap
    meters_by_circuit: dict[int, ElectricityMeter]
    """Circuit number → meter; a single-circuit device has its meter at circuit 0."""
    code: int = 0
    registers_by_address: dict[int, Register] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for register in self.register_map.registers:
            for offset in range(register.count):
                self.registers_by_address[register.address + offset] = register

    @property
    def register_count(self) -> int:
        return max(register.address + register.count for register in self.register_map.registers)

    @property
    def meters(self) -> list[ElectricityMeter]:
        return list(self.meters_by_circuit.values())


def _fit(register: Register, value: Decimal) -> tuple[int, ...]:
    """Words for `value`, rounded to the register's scale and clipped to its range."""
    rounding = ROUND_FLOOR if register.kind is MeasurementKind.CUMULATIVE else ROUND_HALF_UP
    raw = (value / register.scale).quantize(Decimal(1), rounding)
    low, high = _RANGES.get(register.data_type, (-(2**31), 2**31 - 1))
    raw = min(max(raw, Decimal(low)), Decimal(high))
    return encode_register(register, raw * register.scale)


class ModbusGateway(Gateway):
    def __init__(
        self,
        simulation: Simulation,
        gateway_id: str,
        meter_addresses: Sequence[str],
        *,
        loop_thread: EventLoopThread,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(simulation, gateway_id, meter_addresses)
        self.loop_thread = loop_thread
        self.host = host
        self.port = port
        self.devices: list[ModbusDevice] = []
        self._device_of_meter: dict[str, ModbusDevice] = {}
        self._build_devices()
        self._server: ModbusTcpServer | None = None
        self.requests_answered = 0

    def _build_devices(self) -> None:
        by_key: dict[str, ModbusDevice] = {}
        for meter in self.meters:
            if not isinstance(meter, ElectricityMeter):
                raise ValueError(f"meter {meter.address}: a Modbus gateway has no map for water")
            key = map_key(meter)
            device_key, circuit = meter.address, 0
            if key == "adf400l":
                match = _CIRCUIT_ADDRESS.fullmatch(meter.address)
                device_key, circuit = (
                    (match["device"], int(match["circuit"])) if match else (meter.address, 1)
                )
                if not 1 <= circuit <= ADF400L_CIRCUITS:
                    raise ValueError(f"meter {meter.address}: circuit {circuit} is not 1–12")
            device = by_key.get(device_key)
            if device is None:
                device_id = len(self.devices) + 1
                if device_id > MAX_DEVICE_ID:
                    raise ValueError(f"a Modbus gateway holds at most {MAX_DEVICE_ID} devices")
                device = ModbusDevice(device_id, REGISTER_MAPS[key], {})
                by_key[device_key] = device
                self.devices.append(device)
            if circuit in device.meters_by_circuit:
                raise ValueError(f"meter {meter.address}: circuit {circuit} is taken")
            device.meters_by_circuit[circuit] = meter
            self._device_of_meter[meter.address] = device

    def device_id(self, meter_address: str) -> int:
        return self._device_of_meter[meter_address].device_id

    def register_map(self, meter_address: str) -> RegisterMap:
        return self._device_of_meter[meter_address].register_map

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    # --- server ----------------------------------------------------------------------------

    def _sim_devices(self) -> list[SimDevice]:
        devices = [
            SimDevice(
                device.device_id,
                simdata=[SimData(0, count=device.register_count, datatype=SimDataType.REGISTERS)],
                action=self._make_action(device),
            )
            for device in self.devices
        ]
        devices.append(
            SimDevice(
                0,
                simdata=[SimData(0, count=ADDRESS_SPACE, datatype=SimDataType.REGISTERS)],
                action=_no_such_device,
            )
        )
        return devices

    async def _open(self) -> None:
        server = ModbusTcpServer(self._sim_devices(), address=(self.host, self.port))
        await server.serve_forever(background=True)
        listener = server.transport
        sockets = getattr(listener, "sockets", None)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._server = server

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]

    def start(self) -> None:
        self.loop_thread.run(self._open())
        self.online = True

    def stop(self) -> None:
        self.online = False
        self.loop_thread.run(self._close())

    def go_offline(self) -> None:
        """Close the listening socket and every connection (clients see connection refused)."""
        self.online = False
        self.loop_thread.submit(self._close())

    def go_online(self) -> None:
        self.online = True
        self.loop_thread.submit(self._open())

    # --- requests --------------------------------------------------------------------------

    def _make_action(self, device: ModbusDevice) -> SimAction:
        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            with self.simulation.lock:
                if not self.online or not all(meter.reachable for meter in device.meters):
                    return ExcCodes.GATEWAY_NO_RESPONSE
                if set_values is not None and function_code not in READ_FUNCTION_CODES:
                    error = self._write(device, address, [int(value) for value in set_values])
                    if error is not None:
                        return error
                self._refresh(device, start_address, registers)
                self.requests_answered += 1
            return None

        return action

    def _refresh(self, device: ModbusDevice, start_address: int, registers: list[int]) -> None:
        values = self._values(device)
        for register in device.register_map.registers:
            value = values.get(register.name)
            if value is None:
                continue
            words = _fit(register, value)
            offset = register.address - start_address
            registers[offset : offset + len(words)] = words

    def _values(self, device: ModbusDevice) -> dict[str, Decimal]:
        if 0 in device.meters_by_circuit:
            values = self._meter_values(device.meters_by_circuit[0])
            values["code"] = Decimal(device.code)
            return values
        values = {}
        first = next(iter(device.meters_by_circuit.values()))
        for phase, voltage in zip("abc", first.voltages_v * 3, strict=False):
            values[f"voltage_{phase}_v"] = Decimal(repr(voltage))
        for circuit, meter in device.meters_by_circuit.items():
            values[circuit_register_name(circuit, "energy_kwh")] = meter.energy_kwh
            values[circuit_register_name(circuit, "power_kw")] = Decimal(repr(meter.power_kw))
            values[circuit_register_name(circuit, "current_a")] = Decimal(repr(meter.currents_a[0]))
            values[circuit_register_name(circuit, "power_factor")] = Decimal(
                repr(meter.power_factor)
            )
        return values

    def _meter_values(self, meter: ElectricityMeter) -> dict[str, Decimal]:
        values = meter.registers()
        values["combined_energy_kwh"] = values["energy_kwh"]
        for rate in range(1, RATE_COUNT + 1):
            values[f"combined_energy_rate{rate}_kwh"] = values[f"energy_rate{rate}_kwh"]
        values["apparent_power_kva"] = Decimal(repr(meter.power_kw / meter.power_factor))
        values["remaining_money_cny"] = meter.remaining_money_cny or Decimal(0)
        values["relay_state"] = RELAY_OPEN if meter.relay_open else RELAY_CLOSED
        values["protect_state"] = Decimal(int(meter.protected))
        rate_now = self.simulation.rate_table.rate_at(self.simulation.time.hour)
        values["price_cny_per_kwh"] = meter.prices_cny.get(rate_now, Decimal(0))
        values["power_limit_kw"] = meter.power_limit_kw or Decimal(0)
        return values

    def _write(self, device: ModbusDevice, address: int, words: list[int]) -> ExcCodes | None:
        written: dict[str, tuple[Register, list[int]]] = {}
        for offset, word in enumerate(words):
            register = device.registers_by_address.get(address + offset)
            if register is None or register.access is not Access.READ_WRITE:
                return ExcCodes.ILLEGAL_ADDRESS
            written.setdefault(register.name, (register, []))[1].append(word)
        for register, register_words in written.values():
            if len(register_words) != register.count:
                return ExcCodes.ILLEGAL_ADDRESS
        meter = device.meters_by_circuit.get(0)
        if meter is None:
            return ExcCodes.ILLEGAL_ADDRESS
        for register, register_words in written.values():
            try:
                value = decode_register(register, register_words)
            except InvalidValue:
                return ExcCodes.ILLEGAL_VALUE
            error = self._apply_write(device, meter, register.name, value)
            if error is not None:
                return error
        return None

    def _apply_write(
        self, device: ModbusDevice, meter: ElectricityMeter, name: str, value: Decimal
    ) -> ExcCodes | None:
        now = self.simulation.time
        try:
            if name == "relay_state":
                if value not in (RELAY_OPEN, RELAY_CLOSED):
                    return ExcCodes.ILLEGAL_VALUE
                action = MeterAction.TRIP if value == RELAY_OPEN else MeterAction.CLOSE_DIRECTLY
                meter.apply(action, now)
            elif name == "protect_state":
                if value not in (0, 1):
                    return ExcCodes.ILLEGAL_VALUE
                meter.apply(MeterAction.PROTECT if value else MeterAction.UNPROTECT, now)
            elif name == "remaining_money_cny":
                meter.set_balance(value)
            elif name == "price_cny_per_kwh":
                meter.set_prices(dict.fromkeys(range(1, RATE_COUNT + 1), value))
            elif name == "power_limit_kw":
                meter.set_power_limit(value)
            elif name == "code":
                device.code = int(value)
        except CommandRefused as exc:
            logger.info("meter %s refused %s=%s: %s", meter.address, name, value, exc.message)
            return ExcCodes.DEVICE_FAILURE
        return None


async def _no_such_device(
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    return ExcCodes.GATEWAY_NO_RESPONSE
