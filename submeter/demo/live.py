"""The living demo park: the seeded meters consume in a simulation, their gateways publish over
MQTT, an ingest worker stores the readings, and offline meters are detected — all in-process.

On start the simulation catches up from the last stored reading (at most `BACKFILL` ago) to now
at high speed, so the 7-day charts have data within a minute; afterwards it runs in real time.
Each meter resumes from its last stored registers, so restarting the demo never sends a register
backwards.
"""

from __future__ import annotations

import datetime
import logging
import random
import threading
import time
from dataclasses import dataclass, field

from submeter.control import policy, transport
from submeter.metering.models import Gateway, Meter, MeterKind
from submeter.metering.mqtt_ingest import IngestWorker
from submeter.protocols.meter_clock import CHINA_TIME_ZONE
from submeter.scheduler import Scheduler
from submeter.simulator import MeterKind as SimKind
from submeter.simulator import (
    MeterSpec,
    MqttGateway,
    Profile,
    Simulation,
    SimulationRunner,
    build_meters,
)

logger = logging.getLogger(__name__)

BACKFILL = datetime.timedelta(days=3)
CATCH_UP_SECONDS = 60.0
ELECTRICITY_PROFILES = (
    Profile.OFFICE,
    Profile.OFFICE,
    Profile.SHOP,
    Profile.RESTAURANT,
    Profile.DORMITORY,
)


class CatchUpClock:
    """Runs `speed` times faster than the wall clock from `start` until it reaches the wall
    clock, then keeps to it."""

    def __init__(self, start: datetime.datetime, speed: float) -> None:
        self.start = start.astimezone(CHINA_TIME_ZONE)
        self.speed = speed
        self._wall_start = time.monotonic()

    @property
    def tz(self):
        return CHINA_TIME_ZONE

    def now(self) -> datetime.datetime:
        simulated = self.start + datetime.timedelta(
            seconds=(time.monotonic() - self._wall_start) * self.speed
        )
        return min(simulated, datetime.datetime.now(CHINA_TIME_ZONE))


def meter_spec(meter: Meter, rng: random.Random) -> MeterSpec:
    """A simulator spec for a stored meter, resuming from its last stored registers."""
    values = meter.latest_values()
    if meter.kind == MeterKind.WATER:
        return MeterSpec(
            meter.address,
            kind=SimKind.WATER,
            rated_flow_m3_per_h=1.5,
            gateway=meter.gateway.serial if meter.gateway_id else None,
            water_m3=values.get("water_m3"),
        )
    rates = None
    if all(f"energy_rate{n}_kwh" in values for n in range(1, 5)) and "energy_kwh" in values:
        rate_values = [values[f"energy_rate{n}_kwh"] for n in range(1, 5)]
        shortfall = values["energy_kwh"] - sum(rate_values)
        if shortfall > 0:  # registers are floored one by one: keep the total where it was
            rate_values[3] += shortfall
        rates = tuple(rate_values)
    return MeterSpec(
        meter.address,
        phases=meter.phases,
        rated_power_kw=float(meter.rated_power_kw or 8) * 0.6,
        profile=rng.choice(ELECTRICITY_PROFILES),
        gateway=meter.gateway.serial if meter.gateway_id else None,
        energy_kwh=values.get("energy_kwh"),
        energy_rates_kwh=rates,
    )


@dataclass
class LivePark:
    organisation_code: str
    mqtt_url: str
    broker: object | None = None
    worker: IngestWorker | None = None
    runner: SimulationRunner | None = None
    gateways: list[MqttGateway] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    scheduler: Scheduler | None = None
    transport_started: bool = False

    def stop(self) -> None:
        self.stopping.set()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.runner is not None:
            self.runner.stop()
        for gateway in self.gateways:
            gateway.stop()
        if self.worker is not None:
            self.worker.stop()
        for thread in self.threads:
            thread.join(timeout=10)
        if self.transport_started:
            transport.stop()
        if self.broker is not None:
            self.broker.stop()


def start_live_park(organisation, *, mqtt_url: str = "", simulate: bool = True) -> LivePark:
    broker = None
    if not mqtt_url:
        from submeter.mqtt.broker import EmbeddedBroker

        broker = EmbeddedBroker()
        mqtt_url = broker.start()
    park = LivePark(organisation.code, mqtt_url, broker=broker)
    park.worker = IngestWorker(
        mqtt_url, client_id=f"demo-ingest-{organisation.code}", share_group="", mqtt5=broker is None
    )
    park.worker.subscription_organisation = organisation.code
    park.worker.start()

    def ingest_loop() -> None:
        from django.db import close_old_connections

        try:
            park.worker.run(until=park.stopping.is_set)
        finally:
            close_old_connections()

    thread = threading.Thread(target=ingest_loop, name="demo-ingest", daemon=True)
    thread.start()
    park.threads.append(thread)
    # Commands to the simulated meters and their acknowledgements, then the periodic work
    # (due cut-offs, command retries, notifications, online state, billing catch-up).
    transport.start(mqtt_url, organisation=organisation.code)
    park.transport_started = True
    policy.evaluate_all(organisation.pk)
    park.scheduler = Scheduler()
    park.threads.append(park.scheduler.start())

    if simulate:
        meters = list(
            Meter.objects.filter(organisation=organisation, gateway__isnull=False)
            .select_related("gateway")
            .order_by("address")
        )
        rng = random.Random(7)
        specs = [meter_spec(meter, rng) for meter in meters]
        now = datetime.datetime.now(CHINA_TIME_ZONE).replace(second=0, microsecond=0)
        last = max(
            (meter.last_reading_at for meter in meters if meter.last_reading_at), default=None
        )
        # Resume just after the last stored reading (its interval must not be sent again).
        start = (
            max(last + datetime.timedelta(minutes=1), now - BACKFILL) if last else now - BACKFILL
        )
        start = start.astimezone(CHINA_TIME_ZONE).replace(second=0, microsecond=0)
        speed = max(1.0, (now - start).total_seconds() / CATCH_UP_SECONDS)
        simulation = Simulation(build_meters(specs, seed=7), CatchUpClock(start, speed))
        for serial in Gateway.objects.filter(organisation=organisation).values_list(
            "serial", flat=True
        ):
            addresses = [spec.address for spec in specs if spec.gateway == serial]
            if addresses:
                gateway = MqttGateway(
                    simulation, serial, addresses, mqtt_url=mqtt_url, organisation=organisation.code
                )
                gateway.start()
                park.gateways.append(gateway)
        park.runner = SimulationRunner(simulation, tick_s=0.5).start()
    return park
