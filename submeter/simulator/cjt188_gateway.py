"""A CJ/T 188-2004 gateway over TCP for water meters (the water side of a DL/T 645 park).

Meters are addressed by their address left-padded with zeros to 14 digits, type 10H (cold
water). Answers:

* 01H read 901F: current volume (m³), volume at the start of the month, meter time, status
  (valve in ST0 D0–D1, battery D2: the standard layout). Replies use the DI byte order the
  request came in.
* 04H A017 valve control: 55H opens, 99H closes, AAH (exercise) leaves it as it is; the 84H
  reply carries the new status. 77H (half open) and other DIs get an error reply.
* 03H read address to the wildcard: answered only when one meter is on the gateway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from submeter.mqtt.event_loop_thread import EventLoopThread
from submeter.protocols.cjt188 import (
    UNIT_CODE_M3,
    WILDCARD_ADDRESS,
    Cjt188StreamFramer,
    DataIdentifier,
    DataIdentifierOrder,
    Frame,
    Function,
    MeteredQuantity,
    MeterStatus,
    MeterType,
    ValveAction,
    WaterReading,
    build_status,
    decode_read_request,
    decode_valve_command,
    encode_error_reply,
    encode_read_address_reply,
    encode_read_reply,
    encode_valve_reply,
)
from submeter.protocols.errors import ProtocolError
from submeter.protocols.stream_framer import StreamFramer
from submeter.simulator.meters import MeterAction, WaterMeter
from submeter.simulator.tcp_frame_gateway import TcpFrameGateway

if TYPE_CHECKING:
    from submeter.simulator.simulation import Simulation

ADDRESS_DIGITS = 14


def cjt188_address(address: str) -> str:
    """A meter address as CJ/T 188 carries it: digits, left-padded to 14."""
    if not address.isdigit() or len(address) > ADDRESS_DIGITS:
        raise ValueError(f"meter {address}: a CJ/T 188 address is up to 14 digits")
    return address.zfill(ADDRESS_DIGITS)


class Cjt188Gateway(TcpFrameGateway[Frame]):
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
        super().__init__(
            simulation, gateway_id, meter_addresses, loop_thread=loop_thread, host=host, port=port
        )
        self.water_meters: dict[str, WaterMeter] = {}
        for meter in self.meters:
            if not isinstance(meter, WaterMeter):
                raise ValueError(f"meter {meter.address}: CJ/T 188 is for water meters here")
            self.water_meters[cjt188_address(meter.address)] = meter

    def new_framer(self) -> StreamFramer[Frame]:
        return Cjt188StreamFramer()

    def answer(self, frame: Frame) -> bytes | None:
        if frame.from_meter:
            return None
        serial = frame.serial or 0
        order = frame.data_identifier_order or DataIdentifierOrder.HIGH_FIRST
        if frame.address == WILDCARD_ADDRESS:
            if frame.function != Function.READ_ADDRESS or len(self.water_meters) != 1:
                return None
            ((address, meter),) = self.water_meters.items()
            if not meter.reachable:
                return None
            return encode_read_address_reply(address, serial=serial, data_identifier_order=order)
        found = self.water_meters.get(frame.address)
        if found is None:
            return None
        meter = found
        with self.simulation.lock:
            if not meter.reachable:
                return None
            try:
                if frame.function == Function.READ_DATA:
                    if decode_read_request(frame) == DataIdentifier.METERING_DATA:
                        return self._reading(frame.address, meter, serial, order)
                elif frame.function == Function.WRITE_DATA:
                    action = decode_valve_command(frame)
                    if action is not ValveAction.HALF_OPEN:
                        if action is not ValveAction.EXERCISE:
                            opening = action is ValveAction.OPEN
                            meter.apply(
                                MeterAction.VALVE_OPEN if opening else MeterAction.VALVE_CLOSE,
                                self.simulation.time,
                            )
                        return encode_valve_reply(
                            frame.address,
                            self._status(meter),
                            serial=serial,
                            data_identifier_order=order,
                        )
            except ProtocolError:
                pass
            return encode_error_reply(
                frame.address, frame.function, self._status(meter), serial=serial
            )

    @staticmethod
    def _status(meter: WaterMeter) -> MeterStatus:
        return build_status(meter.valve_state, meter.battery_low)

    def _reading(
        self, address: str, meter: WaterMeter, serial: int, order: DataIdentifierOrder
    ) -> bytes:
        reading = WaterReading(
            meter_type=MeterType.COLD_WATER,
            address=address,
            serial=serial,
            current=MeteredQuantity(meter.water_m3, UNIT_CODE_M3),
            settlement=MeteredQuantity(meter.settlement_m3, UNIT_CODE_M3),
            meter_time=self.simulation.time,
            status=self._status(meter),
        )
        return encode_read_reply(reading, data_identifier_order=order)
