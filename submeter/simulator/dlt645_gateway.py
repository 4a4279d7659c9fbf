"""A DL/T 645-2007 gateway over TCP (a transparent RS485-to-TCP converter with meters behind).

Answers, for each meter on it (by its 12-digit address):

* 11H reads: energy (forward / combined active total, rates 1–4 and the FF block, reverse
  active = 0, combined reactive 1 total), maximum demand 01010000, voltage, current, active /
  reactive / apparent power, power factor (totals, phases, FF blocks), frequency, the balance
  00900200 / overdraft 00900201 if the meter keeps one, prices 0405010n once set, date and
  time 04000101/04000102, address 04000401/04000402, demand period 04000103/04, status word 3
  04000503 (relay bit 4, relay command bit 6, alarm bit 7, money prepaid bits 8–9 when it keeps
  a balance, 保电 bit 12), last trip / close time 1D000101 / 1E000101. Anything else, or a rate
  the meter does not have, gets a D1H reply with "no requested data".
* 1CH relay commands: 9CH when done; DCH with ERR "other" when refused (trip while protected)
  or past the command's deadline (compared with the wall clock, the platform's time), and
  "unauthorized" when a `password` is configured and the command's differs.
* 08H broadcast time to 99…99: sets the meters' clock offset; no reply.
* 13H read address to AA…AA: answered only when one meter is on the gateway.

Unknown addresses get no reply (as on a bus); other functions get an "other" error reply.
Values go out rounded to the item's decimals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols.dlt645 import (
    BROADCAST_ADDRESS,
    DATA_ITEMS,
    WILDCARD_ADDRESS,
    DataItem,
    DataValue,
    Dlt645ErrorFlag,
    Dlt645StreamFramer,
    Frame,
    Function,
    MaximumDemand,
    RelayAction,
    StatusWord3,
    TimeByteOrder,
    ValueFormat,
    decode_broadcast_time,
    decode_read_request,
    decode_relay_command,
    encode_error_reply,
    encode_read_address_reply,
    encode_read_reply,
    encode_relay_reply,
)
from submeter.protocols.errors import ProtocolError
from submeter.protocols.measurement_kind import MeasurementKind
from submeter.protocols.meter_clock import CHINA_TIME_ZONE
from submeter.protocols.stream_framer import StreamFramer
from submeter.simulator.meters import (
    NOMINAL_FREQUENCY_HZ,
    CommandRefused,
    ElectricityMeter,
    MeterAction,
)
from submeter.simulator.rate_table import RATE_COUNT
from submeter.simulator.tcp_frame_gateway import TcpFrameGateway

if TYPE_CHECKING:
    from submeter.simulator.simulation import Simulation

DEMAND_PERIOD_MINUTES = Decimal(15)

_RELAY_ACTIONS = {
    RelayAction.TRIP: MeterAction.TRIP,
    RelayAction.CLOSE_ALLOWED: MeterAction.CLOSE_ALLOWED,
    RelayAction.CLOSE_DIRECTLY: MeterAction.CLOSE_DIRECTLY,
    RelayAction.ALARM: MeterAction.ALARM,
    RelayAction.ALARM_RELEASE: MeterAction.ALARM_RELEASE,
    RelayAction.PROTECT: MeterAction.PROTECT,
    RelayAction.PROTECT_RELEASE: MeterAction.UNPROTECT,
}

STATUS_RELAY_OPEN = 0x0010
STATUS_RELAY_COMMAND_OPEN = 0x0040
STATUS_PRE_TRIP_ALARM = 0x0080
STATUS_PREPAID_MONEY = 0x0200
STATUS_PROTECTED = 0x1000


def status_word_3(meter: ElectricityMeter) -> StatusWord3:
    raw = 0
    if meter.relay_open:
        raw |= STATUS_RELAY_OPEN
    if meter.relay_command_open:
        raw |= STATUS_RELAY_COMMAND_OPEN
    if meter.alarm:
        raw |= STATUS_PRE_TRIP_ALARM
    if meter.keeps_balance:
        raw |= STATUS_PREPAID_MONEY
    if meter.protected:
        raw |= STATUS_PROTECTED
    return StatusWord3(raw)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


class Dlt645Gateway(TcpFrameGateway[Frame]):
    def __init__(
        self,
        simulation: Simulation,
        gateway_id: str,
        meter_addresses: Sequence[str],
        *,
        loop_thread: EventLoopThread,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str | None = None,
        time_byte_order: TimeByteOrder = TimeByteOrder.SECONDS_FIRST,
    ) -> None:
        super().__init__(
            simulation, gateway_id, meter_addresses, loop_thread=loop_thread, host=host, port=port
        )
        for meter in self.meters:
            if not isinstance(meter, ElectricityMeter):
                raise ValueError(f"meter {meter.address}: DL/T 645 is for electricity meters")
            if len(meter.address) != 12 or not meter.address.isdigit():
                raise ValueError(f"meter {meter.address}: a DL/T 645 address is 12 digits")
        self.electricity_meters = {
            meter.address: meter for meter in self.meters if isinstance(meter, ElectricityMeter)
        }
        self.password = password
        self.time_byte_order = time_byte_order
        self.clock_offset = timedelta(0)
        """Set by a broadcast time frame: the meters' clock minus the simulated time."""

    def new_framer(self) -> StreamFramer[Frame]:
        return Dlt645StreamFramer()

    def meter_time(self) -> datetime:
        return (self.simulation.time + self.clock_offset).astimezone(CHINA_TIME_ZONE)

    def answer(self, frame: Frame) -> bytes | None:
        if frame.from_meter:
            return None
        if frame.address == BROADCAST_ADDRESS:
            if frame.function == Function.BROADCAST_TIME:
                at = decode_broadcast_time(frame, byte_order=self.time_byte_order)
                with self.simulation.lock:
                    self.clock_offset = at - self.simulation.time
            return None
        if frame.address == WILDCARD_ADDRESS:
            if len(self.electricity_meters) != 1:
                return None
            (meter,) = self.electricity_meters.values()
            if frame.function == Function.READ_ADDRESS:
                return encode_read_address_reply(meter.address) if meter.reachable else None
        else:
            found = self.electricity_meters.get(frame.address)
            if found is None:
                return None
            meter = found
        with self.simulation.lock:
            if not meter.reachable:
                return None
            if frame.function == Function.READ_DATA:
                return self._answer_read(meter, frame)
            if frame.function == Function.RELAY_CONTROL:
                return self._answer_relay(meter, frame)
        return encode_error_reply(meter.address, frame.function, Dlt645ErrorFlag.OTHER)

    def _answer_read(self, meter: ElectricityMeter, frame: Frame) -> bytes:
        try:
            data_identifier = decode_read_request(frame)
        except ProtocolError:
            return encode_error_reply(meter.address, Function.READ_DATA, Dlt645ErrorFlag.OTHER)
        item = DATA_ITEMS.get(data_identifier)
        value = self.read_value(meter, data_identifier) if item is not None else None
        if item is None or value is None:
            return encode_error_reply(
                meter.address, Function.READ_DATA, Dlt645ErrorFlag.NO_REQUESTED_DATA
            )
        return encode_read_reply(meter.address, data_identifier, _fit(item, value))

    def _answer_relay(self, meter: ElectricityMeter, frame: Frame) -> bytes:
        try:
            command = decode_relay_command(frame)
        except ProtocolError:
            return encode_relay_reply(meter.address, Dlt645ErrorFlag.OTHER)
        if self.password is not None and command.credentials.password != self.password:
            return encode_relay_reply(meter.address, Dlt645ErrorFlag.UNAUTHORIZED)
        if command.deadline < datetime.now(UTC):
            return encode_relay_reply(meter.address, Dlt645ErrorFlag.OTHER)
        try:
            meter.apply(_RELAY_ACTIONS[command.action], self.simulation.time)
        except CommandRefused:
            return encode_relay_reply(meter.address, Dlt645ErrorFlag.OTHER)
        return encode_relay_reply(meter.address)

    def read_value(self, meter: ElectricityMeter, data_identifier: str) -> DataValue:
        """The meter's value for a data identifier, None when it has none."""
        family, part, settlement = (
            data_identifier[:4],
            int(data_identifier[4:6], 16),
            data_identifier[6:],
        )
        if family in ("0000", "0001", "0002", "0003", "0004"):
            return self._energy(meter, family, part) if settlement == "00" else None
        if data_identifier == "01010000":
            return MaximumDemand(_decimal(meter.max_demand_kw), meter.max_demand_at)
        if family in ("0201", "0202", "0203", "0204", "0205", "0206") and settlement == "00":
            return self._instantaneous(meter, family, part)
        return self._single_value(meter, data_identifier)

    def _energy(self, meter: ElectricityMeter, family: str, part: int) -> DataValue:
        if family in ("0000", "0001"):
            values = (
                meter.energy_kwh,
                *(meter.rate_energy_kwh(r) for r in range(1, RATE_COUNT + 1)),
            )
        elif family == "0003":
            values = (meter.reactive_energy_kvarh,)
        else:
            values = (Decimal(0),) * (RATE_COUNT + 1 if family == "0002" else 1)
        if part == 0xFF:
            return values
        return values[part] if part < len(values) else None

    def _instantaneous(self, meter: ElectricityMeter, family: str, part: int) -> DataValue:
        phases = meter.phases
        reactive_kvar = meter.power_kw * math.tan(math.acos(meter.power_factor))
        by_family: dict[str, tuple[float | None, list[float]]] = {
            "0201": (None, meter.voltages_v),
            "0202": (None, meter.currents_a),
            "0203": (meter.power_kw, meter.phase_power_kw),
            "0204": (reactive_kvar, [reactive_kvar * share for share in self._shares(meter)]),
            "0205": (
                meter.power_kw / meter.power_factor,
                [kw / meter.power_factor for kw in meter.phase_power_kw],
            ),
            "0206": (meter.power_factor, [meter.power_factor] * phases),
        }
        total, per_phase = by_family[family]
        if part == 0xFF:
            values = per_phase if total is None else [total, *per_phase]
            return tuple(_decimal(value) for value in values)
        if part == 0:
            return None if total is None else _decimal(total)
        return _decimal(per_phase[part - 1]) if part <= phases else None

    @staticmethod
    def _shares(meter: ElectricityMeter) -> list[float]:
        if meter.power_kw <= 0:
            return [1 / meter.phases] * meter.phases
        return [kw / meter.power_kw for kw in meter.phase_power_kw]

    def _single_value(self, meter: ElectricityMeter, data_identifier: str) -> DataValue:
        money = meter.remaining_money_cny
        now = self.meter_time()
        values: dict[str, DataValue] = {
            "02800002": NOMINAL_FREQUENCY_HZ,
            "04000101": f"{now:%y%m%d}{(now.weekday() + 1) % 7:02d}",
            "04000102": f"{now:%H%M%S}",
            "04000103": DEMAND_PERIOD_MINUTES,
            "04000104": DEMAND_PERIOD_MINUTES,
            "04000401": meter.address,
            "04000402": meter.address,
            "04000503": status_word_3(meter),
            "1D000101": meter.last_trip_at,
            "1E000101": meter.last_close_at,
        }
        if money is not None:
            values["00900200"] = max(money, Decimal(0))
            values["00900201"] = max(-money, Decimal(0))
        for rate, price in meter.prices_cny.items():
            values[f"040501{rate:02d}"] = price
        return values.get(data_identifier)


def _fit(item: DataItem, value: DataValue) -> DataValue:
    """Round numbers to the item's decimals (down for cumulative registers)."""
    rounding = ROUND_FLOOR if item.kind is MeasurementKind.CUMULATIVE else ROUND_HALF_UP
    step = Decimal(1).scaleb(-item.decimals)
    if isinstance(value, Decimal):
        return value.quantize(step, rounding)
    if isinstance(value, tuple):
        return tuple(part.quantize(step, rounding) for part in value)
    if isinstance(value, MaximumDemand) and item.value_format is ValueFormat.MAXIMUM_DEMAND:
        return MaximumDemand(value.demand_kw.quantize(step, rounding), value.occurred_at)
    return value
