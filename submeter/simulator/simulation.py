"""A simulation: meters, a clock, gateways, and scheduled gateway outages.

`run_until(t)` advances every meter to `t` on the fixed step grid, stopping at each interval
end (readings go to the gateways that push them) and at each outage start or end, in time order.
At the same instant an outage ends first, then the interval's readings are taken, then an outage
starts. `advance()` runs until the clock's now; `SimulationRunner` does that on a thread.

Thread safety: meter state is guarded by `lock`, which gateways take to answer requests and
run commands (from their network threads). `run_until` holds it only while the meters move,
never while a gateway talks to the network, and only one `run_until` runs at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from submeter.protocols.mqtt_payloads import MeterEvent, MeterReading
from submeter.simulator.clock import Clock
from submeter.simulator.gateway import Gateway
from submeter.simulator.meters import ElectricityMeter, MeterAction, WaterMeter
from submeter.simulator.rate_table import DEFAULT_RATE_TABLE, RateTable
from submeter.simulator.time_steps import DEFAULT_STEP_S, DEMAND_PERIOD, floor_to_grid, iter_steps

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = timedelta(minutes=15)

_OUTAGE_END, _INTERVAL, _OUTAGE_START = 0, 1, 2
"""Order of things that happen at the same instant."""


@dataclass(frozen=True, slots=True)
class Outage:
    gateway_id: str
    start: datetime
    end: datetime


class Simulation:
    def __init__(
        self,
        meters: Iterable[ElectricityMeter | WaterMeter],
        clock: Clock,
        *,
        interval: timedelta = DEFAULT_INTERVAL,
        step_s: int = DEFAULT_STEP_S,
        rate_table: RateTable = DEFAULT_RATE_TABLE,
    ) -> None:
        step = timedelta(seconds=step_s)
        if step_s <= 0 or DEMAND_PERIOD % step or interval <= timedelta(0) or interval % step:
            raise ValueError(
                f"the step ({step_s} s) must divide 15 minutes and the interval ({interval})"
            )
        self.clock = clock
        self.tz = clock.tz
        self.interval = interval
        self.step_s = step_s
        self.rate_table = rate_table
        self.lock = threading.RLock()
        self._run_lock = threading.Lock()
        self.meters: dict[str, ElectricityMeter | WaterMeter] = {}
        for meter in meters:
            if meter.address in self.meters:
                raise ValueError(f"two meters have the address {meter.address}")
            self.meters[meter.address] = meter
        self.gateways: dict[str, Gateway] = {}
        self._gateway_of_meter: dict[str, str] = {}
        start = clock.start.astimezone(self.tz)
        self.time = start
        """The time the meters have been advanced to (from the clock's start)."""
        self._grid_time = floor_to_grid(start, step_s)
        self._next_interval = self._first_interval_at_or_after(start)
        self._transitions: list[tuple[datetime, int, str]] = []
        self.outages: list[Outage] = []

    def _first_interval_at_or_after(self, at: datetime) -> datetime:
        offset = at.utcoffset() or timedelta(0)
        local_seconds = at.timestamp() + offset.total_seconds()
        interval_s = self.interval.total_seconds()
        remainder = local_seconds % interval_s
        if remainder == 0:
            return at
        return at + timedelta(seconds=interval_s - remainder)

    # --- set-up ----------------------------------------------------------------------------

    def meter(self, address: str) -> ElectricityMeter | WaterMeter:
        try:
            return self.meters[address]
        except KeyError:
            raise KeyError(f"no meter {address} in the simulation") from None

    def add_gateway(self, gateway: Gateway) -> None:
        if gateway.gateway_id in self.gateways:
            raise ValueError(f"two gateways have the id {gateway.gateway_id}")
        for meter in gateway.meters:
            owner = self._gateway_of_meter.get(meter.address)
            if owner is not None:
                raise ValueError(f"meter {meter.address} is already behind gateway {owner}")
        for meter in gateway.meters:
            self._gateway_of_meter[meter.address] = gateway.gateway_id
        self.gateways[gateway.gateway_id] = gateway

    def schedule_outage(self, gateway_id: str, start: datetime, duration: timedelta) -> Outage:
        """Take the gateway offline from `start` (simulated time) for `duration`."""
        if gateway_id not in self.gateways:
            raise KeyError(f"no gateway {gateway_id}")
        if duration <= timedelta(0):
            raise ValueError("an outage needs a positive duration")
        outage = Outage(gateway_id, start, start + duration)
        self.outages.append(outage)
        self._transitions.append((outage.start, _OUTAGE_START, gateway_id))
        self._transitions.append((outage.end, _OUTAGE_END, gateway_id))
        self._transitions.sort()
        return outage

    # --- commands --------------------------------------------------------------------------

    def apply(self, meter: ElectricityMeter | WaterMeter, action: MeterAction) -> None:
        """Run `action` on the meter now (raises CommandRefused)."""
        with self.lock:
            meter.apply(action, self.time)

    # --- time ------------------------------------------------------------------------------

    def advance(self) -> None:
        self.run_until(self.clock.now())

    def run_until(self, until: datetime) -> None:
        with self._run_lock:
            while True:
                point = self._next_point(until)
                if point is None:
                    break
                at, kind, gateway_id = point
                if kind == _INTERVAL:
                    self._next_interval += self.interval
                    self._move_to(at, take_readings=True)
                else:
                    self._transitions.pop(0)
                    self._move_to(at, take_readings=False)
                    self._switch(gateway_id, online=kind == _OUTAGE_END)
            self._move_to(until, take_readings=False)

    def _next_point(self, until: datetime) -> tuple[datetime, int, str] | None:
        candidates = [(self._next_interval, _INTERVAL, "")]
        if self._transitions:
            candidates.append(self._transitions[0])
        point = min(candidates)
        return point if point[0] <= until else None

    def _switch(self, gateway_id: str, online: bool) -> None:
        gateway = self.gateways[gateway_id]
        logger.info("gateway %s goes %s", gateway_id, "online" if online else "offline")
        if online:
            gateway.go_online()
        else:
            gateway.go_offline()

    def _move_to(self, at: datetime, *, take_readings: bool) -> None:
        at = at.astimezone(self.tz)
        readings: dict[str, list[MeterReading]] = {}
        events: dict[str, list[MeterEvent]] = {}
        with self.lock:
            target = floor_to_grid(at, self.step_s)
            if target > self._grid_time:
                meters = list(self.meters.values())
                for step in iter_steps(
                    self._grid_time, target, self.step_s, self.tz, self.rate_table
                ):
                    for meter in meters:
                        meter.step(step)
                self._grid_time = target
            self.time = max(self.time, at)
            for gateway in self.gateways.values():
                if take_readings and gateway.pushes_readings:
                    readings[gateway.gateway_id] = [
                        MeterReading(meter.address, at, meter.registers())
                        for meter in gateway.meters
                        if meter.reachable
                    ]
                events[gateway.gateway_id] = [
                    event for meter in gateway.meters for event in meter.take_events()
                ]
        for gateway_id, gateway_events in events.items():
            if gateway_events:
                self.gateways[gateway_id].deliver_events(gateway_events)
        for gateway_id, gateway_readings in readings.items():
            if gateway_readings:
                self.gateways[gateway_id].deliver_readings(at, gateway_readings)


class SimulationRunner:
    """Advances a simulation to its clock's time every `tick_s` wall seconds, on a thread."""

    def __init__(self, simulation: Simulation, tick_s: float = 0.2) -> None:
        self.simulation = simulation
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> SimulationRunner:
        if self._thread is not None:
            raise RuntimeError("the runner is already started")
        self._thread = threading.Thread(target=self._run, name="submeter-simulation", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.simulation.advance()
            except Exception as exc:
                logger.exception("the simulation stopped")
                self.error = exc
                return
            self._stop.wait(self.tick_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
