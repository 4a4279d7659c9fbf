"""Pollers for gateways that are asked rather than publishing: Modbus TCP and DL/T 645 over TCP.

The asynchronous part (`poll_gateways`) is pure I/O and protocol: it talks to many gateways at
once with bounded concurrency and returns readings. `poll_cycle` loads the gateways and meters
from the database, runs it, and hands the readings to `ingest`. Two schedules: safety data
(voltage, current, power, power factor; every 5 minutes by default) and billing registers
(energy; every 30 minutes by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from submeter.metering.registers import INSTANTANEOUS_FIELDS
from submeter.protocols import dlt645
from submeter.protocols.errors import ProtocolError
from submeter.protocols.modbus_maps import REGISTER_MAPS, RegisterMap, decode_registers

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 32
REPLY_TIMEOUT_S = 3.0


class PollKind(StrEnum):
    SAFETY = "safety"
    BILLING = "billing"


SAFETY_REGISTERS = INSTANTANEOUS_FIELDS  # V, A, kW, PF: what a reading keeps of the moment
BILLING_REGISTERS = (
    "energy_kwh",
    "energy_rate1_kwh",
    "energy_rate2_kwh",
    "energy_rate3_kwh",
    "energy_rate4_kwh",
)
DLT645_ITEMS = {
    "energy_kwh": "00010000",
    "energy_rate1_kwh": "00010100",
    "energy_rate2_kwh": "00010200",
    "energy_rate3_kwh": "00010300",
    "energy_rate4_kwh": "00010400",
    "voltage_a_v": "02010100",
    "current_a_a": "02020100",
    "power_kw": "02030000",
    "power_factor": "02060000",
}


@dataclass(frozen=True)
class PollTarget:
    meter_address: str
    model: str = "dtsd1352"


@dataclass(frozen=True)
class GatewayTarget:
    serial: str
    protocol: str  # "modbus_tcp" or "dlt645_tcp"
    host: str
    port: int
    meters: tuple[PollTarget, ...]


@dataclass(frozen=True)
class PolledReading:
    gateway_serial: str
    meter_address: str
    timestamp: datetime.datetime
    registers: dict[str, Decimal]


@dataclass
class PollReport:
    readings: list[PolledReading]
    failures: list[str]


def wanted(kind: PollKind) -> tuple[str, ...]:
    return SAFETY_REGISTERS if kind is PollKind.SAFETY else BILLING_REGISTERS + SAFETY_REGISTERS


async def poll_gateways(
    gateways: Sequence[GatewayTarget], kind: PollKind, *, concurrency: int = DEFAULT_CONCURRENCY
) -> PollReport:
    """Poll every gateway (at most `concurrency` at a time); a failing gateway or meter is
    reported and never stops the others."""
    semaphore = asyncio.Semaphore(concurrency)
    report = PollReport([], [])

    async def one(gateway: GatewayTarget) -> None:
        async with semaphore:
            try:
                if gateway.protocol == "modbus_tcp":
                    await _poll_modbus(gateway, kind, report)
                elif gateway.protocol == "dlt645_tcp":
                    await _poll_dlt645(gateway, kind, report)
            except (OSError, TimeoutError, ProtocolError) as exc:
                report.failures.append(f"{gateway.serial}: {exc}")

    await asyncio.gather(*(one(gateway) for gateway in gateways))
    return report


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


async def _poll_modbus(gateway: GatewayTarget, kind: PollKind, report: PollReport) -> None:
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient(
        gateway.host, port=gateway.port, timeout=REPLY_TIMEOUT_S, retries=1
    )
    if not await client.connect():
        raise OSError(f"cannot connect to {gateway.host}:{gateway.port}")
    try:
        for meter in gateway.meters:
            register_map: RegisterMap = REGISTER_MAPS.get(meter.model, REGISTER_MAPS["dtsd1352"])
            names = set(wanted(kind))
            values: dict[str, Decimal] = {}
            try:
                for span in register_map.read_spans(max_gap=8):
                    if not any(
                        register.name in names
                        and span.address <= register.address < span.address + span.count
                        for register in register_map.registers
                    ):
                        continue
                    answer = await client.read_holding_registers(
                        span.address, count=span.count, device_id=int(meter.meter_address)
                    )
                    if answer.isError():
                        raise OSError(f"Modbus error {answer}")
                    values |= decode_registers(register_map, span.address, answer.registers)
            except (OSError, TimeoutError, ValueError, ProtocolError) as exc:
                report.failures.append(f"{gateway.serial}/{meter.meter_address}: {exc}")
                continue
            registers = {name: value for name, value in values.items() if name in names}
            if registers:
                report.readings.append(
                    PolledReading(gateway.serial, meter.meter_address, _now(), registers)
                )
    finally:
        client.close()


class Dlt645Connection:
    """One TCP connection to a DL/T 645 gateway: request, then wait for the matching reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = dlt645.Dlt645StreamFramer()
        self.pending: list[dlt645.Frame] = []

    @classmethod
    async def open(cls, host: str, port: int) -> Dlt645Connection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), REPLY_TIMEOUT_S
        )
        return cls(reader, writer)

    async def request(self, frame_bytes: bytes, address: str) -> dlt645.Frame:
        self.writer.write(frame_bytes)
        await self.writer.drain()
        deadline = asyncio.get_running_loop().time() + REPLY_TIMEOUT_S
        while True:
            for frame in self.pending:
                if frame.address == address and frame.from_meter:
                    self.pending.remove(frame)
                    return frame
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no reply from meter {address}")
            data = await asyncio.wait_for(self.reader.read(4096), remaining)
            if not data:
                raise OSError("connection closed by the gateway")
            self.pending.extend(self.framer.feed(data))

    async def read(self, address: str, data_identifier: str) -> Decimal:
        reply = await self.request(dlt645.encode_read_request(address, data_identifier), address)
        decoded = dlt645.decode_read_reply(reply)
        if not isinstance(decoded.value, Decimal):
            raise ProtocolError(f"{data_identifier} is not a number")
        return decoded.value

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def _poll_dlt645(gateway: GatewayTarget, kind: PollKind, report: PollReport) -> None:
    connection = await Dlt645Connection.open(gateway.host, gateway.port)
    try:
        for meter in gateway.meters:
            registers: dict[str, Decimal] = {}
            try:
                for name in wanted(kind):
                    identifier = DLT645_ITEMS.get(name)
                    if identifier is None:
                        continue
                    try:
                        registers[name] = await connection.read(meter.meter_address, identifier)
                    except dlt645.Dlt645ErrorReply:
                        continue  # the meter does not keep this item
            except (OSError, TimeoutError, ProtocolError) as exc:
                report.failures.append(f"{gateway.serial}/{meter.meter_address}: {exc}")
                continue
            if registers:
                report.readings.append(
                    PolledReading(gateway.serial, meter.meter_address, _now(), registers)
                )
    finally:
        await connection.close()


def gateway_targets(
    organisation_ids: Sequence[int] | None = None,
) -> list[tuple[int, GatewayTarget]]:
    """The polled gateways and their meters from the database, with their organisation."""
    from submeter.metering.models import Gateway, GatewayProtocol, MeterState

    gateways = Gateway.objects.filter(
        protocol__in=[GatewayProtocol.MODBUS_TCP, GatewayProtocol.DLT645_TCP]
    )
    if organisation_ids is not None:
        gateways = gateways.filter(organisation_id__in=organisation_ids)
    targets = []
    for gateway in gateways.prefetch_related("meters"):
        host, _, port = gateway.address.rpartition(":")
        if not host or not port.isdigit():
            logger.warning("gateway %s has no host:port address", gateway.serial)
            continue
        meters = tuple(
            PollTarget(meter.address, (meter.model or "dtsd1352").lower())
            for meter in gateway.meters.all()
            if meter.state == MeterState.ACTIVE
        )
        targets.append(
            (
                gateway.organisation_id,
                GatewayTarget(gateway.serial, gateway.protocol, host, int(port), meters),
            )
        )
    return targets


def poll_cycle(
    kind: PollKind,
    *,
    organisation_ids: Sequence[int] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
):
    """One round over every polled gateway; the readings go through `ingest`."""
    from submeter.metering.ingest import ReadingIn, ingest
    from submeter.metering.models import ReadingSource

    targets = gateway_targets(organisation_ids)
    organisation_of = {target.serial: organisation_id for organisation_id, target in targets}
    protocol_of = {target.serial: target.protocol for _organisation_id, target in targets}
    report = asyncio.run(
        poll_gateways([target for _org, target in targets], kind, concurrency=concurrency)
    )
    batch = [
        ReadingIn(
            organisation_id=organisation_of[reading.gateway_serial],
            meter_address=reading.meter_address,
            timestamp=reading.timestamp,
            registers=reading.registers,
            source=ReadingSource.MODBUS
            if protocol_of[reading.gateway_serial] == "modbus_tcp"
            else ReadingSource.DLT645,
            gateway_serial=reading.gateway_serial,
        )
        for reading in report.readings
    ]
    result = ingest(batch)
    for failure in report.failures:
        logger.warning("poll failure: %s", failure)
    return result, report
