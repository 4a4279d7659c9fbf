"""Virtual meters: electricity (single- or three-phase) and water.

A meter integrates its load step by step (see `time_steps`): the load is the consumption
profile's share at that local time × the rated power (or flow) × seeded noise, never negative.
While the relay is open (or the valve closed, or the grid is down) nothing is consumed.
Cumulative registers only grow; they are kept as integers (mWh, mL) and shown rounded *down* to
0.01 kWh / m³, so a shown value never goes backwards either.

Electricity registers: forward active energy, total and per rate (1 尖 2 峰 3 平 4 谷, by the
simulation's `RateTable`), combined reactive energy, instantaneous voltage, current, power and
power factor per phase, maximum demand (see below), and optionally a balance kept by the meter.

Maximum demand is **block demand**: the average power over fixed 15-minute periods aligned to
the local quarter hours (…:00, :15, :30, :45). `max_demand_kw` is the highest block of the
current calendar month (local), with the time its block ended; it restarts with each month.

The relay obeys `MeterAction`s. `PROTECT` (保电) makes every trip fail with `CommandRefused`
(commands, and trips for exceeding the power limit); it does not close an open relay.
`CLOSE_ALLOWED` (合闸允许) leaves the relay open until the simulated tenant presses the button,
which happens at the end of the next step.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from submeter.protocols.cjt188 import ValveState
from submeter.protocols.mqtt_payloads import EventType, MeterEvent, RelayState
from submeter.simulator.profiles import PROFILE_SHAPES, Profile
from submeter.simulator.rate_table import RATE_COUNT
from submeter.simulator.time_steps import DEMAND_PERIOD_HOURS, Step

NOMINAL_VOLTAGE_V = 220.0
NOMINAL_FREQUENCY_HZ = Decimal("50.00")
LOAD_NOISE = 0.12
"""Relative standard deviation of the load around the profile."""
_TRIANGULAR_SD = math.sqrt(1 / 6)
"""Standard deviation of u1 + u2 − 1 for two uniform draws (a cheap bell-shaped noise)."""
POWER_FACTOR_SPREAD = 0.03
VOLTAGE_SPREAD_V = 4.0
PHASE_IMBALANCE = 0.1
MAX_PENDING_EVENTS = 1000
DEFAULT_RATED_POWER_KW = {1: 8.0, 3: 20.0}
DEFAULT_RATED_FLOW_M3_PER_H = 1.5

CENTI = Decimal("0.01")
MILLIWATT_HOURS_PER_KWH = 1_000_000
MILLILITRES_PER_M3 = 1_000_000


class MeterKind(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"


class MeterAction(StrEnum):
    """What a command asks a meter to do (DL/T 645 1CH N1 codes, CJ/T 188 A017, MQTT)."""

    TRIP = "trip"
    CLOSE_DIRECTLY = "close_directly"
    CLOSE_ALLOWED = "close_allowed"
    PROTECT = "protect"
    UNPROTECT = "unprotect"
    ALARM = "alarm"
    ALARM_RELEASE = "alarm_release"
    VALVE_OPEN = "valve_open"
    VALVE_CLOSE = "valve_close"


class CommandRefused(Exception):
    """The meter refused a command. `code` is the MQTT ack error code (`meter_refused`,
    `unsupported`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """What a virtual meter is. Leave `rated_power_kw`, `rated_flow_m3_per_h` and `profile` out
    for the defaults (8 kW single-phase, 20 kW three-phase, 1.5 m³/h, office or water).
    `model` picks the Modbus register map (`ddsy1352`, `dtsd1352`, `adf400l`); `energy_kwh`
    and `water_m3` are the registers' starting values (random but seeded when left out)."""

    address: str
    kind: MeterKind = MeterKind.ELECTRICITY
    phases: int = 1
    rated_power_kw: float | None = None
    rated_flow_m3_per_h: float | None = None
    profile: Profile | None = None
    gateway: str | None = None
    model: str | None = None
    energy_kwh: Decimal | None = None
    water_m3: Decimal | None = None
    energy_rates_kwh: tuple[Decimal, Decimal, Decimal, Decimal] | None = None
    """Starting values of rates 1–4 (to resume a meter exactly); `energy_kwh` is then their sum."""

    def __post_init__(self) -> None:
        if self.phases not in (1, 3):
            raise ValueError(f"meter {self.address}: phases must be 1 or 3, not {self.phases}")
        for name in ("rated_power_kw", "rated_flow_m3_per_h"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"meter {self.address}: {name} cannot be negative")
        for name in ("energy_kwh", "water_m3"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"meter {self.address}: {name} cannot be negative")

    @property
    def load_profile(self) -> Profile:
        if self.profile is not None:
            return self.profile
        return Profile.WATER if self.kind is MeterKind.WATER else Profile.OFFICE


def register_value(millionths: int) -> Decimal:
    """A cumulative register as shown, from millionths of its unit: rounded down to 0.01."""
    return Decimal(millionths // 10_000).scaleb(-2)


def round_to(value: float, places: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


class Meter:
    """What both kinds share: identity, seeded noise, reachability, pending events."""

    kind: MeterKind

    def __init__(self, spec: MeterSpec, seed: int) -> None:
        self.spec = spec
        self.address = spec.address
        self.seed = seed
        self.rng = random.Random(f"{seed}:{spec.kind}:{spec.address}")
        self.reachable = True
        """False: the meter does not answer (no reply on the bus, `meter_timeout` acks)."""
        self.events: deque[MeterEvent] = deque(maxlen=MAX_PENDING_EVENTS)
        self.prices_cny: dict[int, Decimal] = {}
        """Price per meter rate, set by `set_price` commands."""

    def _event(self, event_type: EventType, at: datetime, **detail: str) -> None:
        self.events.append(MeterEvent(event_type, at, self.address, detail))

    def take_events(self) -> list[MeterEvent]:
        events = list(self.events)
        self.events.clear()
        return events

    def set_reachable(self, reachable: bool, at: datetime) -> None:
        if reachable != self.reachable:
            self.reachable = reachable
            self._event(EventType.METER_ONLINE if reachable else EventType.METER_OFFLINE, at)

    def set_prices(self, prices_by_rate: dict[int, Decimal]) -> None:
        for rate, price in prices_by_rate.items():
            if price < 0:
                raise CommandRefused("invalid_command", f"price {price} is negative")
            self.prices_cny[rate] = price

    def _noise(self) -> float:
        """A factor around 1 (sd LOAD_NOISE), never negative: two draws per step."""
        rng = self.rng
        spread = (rng.random() + rng.random() - 1.0) / _TRIANGULAR_SD
        return max(0.0, 1.0 + LOAD_NOISE * spread)

    def step(self, step: Step) -> None:
        raise NotImplementedError

    def apply(self, action: MeterAction, at: datetime) -> None:
        raise NotImplementedError

    def registers(self) -> dict[str, Decimal]:
        """Current values by MQTT register name (`energy_kwh`, `water_m3`…)."""
        raise NotImplementedError


class ElectricityMeter(Meter):
    kind = MeterKind.ELECTRICITY

    def __init__(self, spec: MeterSpec, seed: int) -> None:
        super().__init__(spec, seed)
        self.phases = spec.phases
        self.profile = spec.load_profile
        self.rated_power_kw = (
            spec.rated_power_kw
            if spec.rated_power_kw is not None
            else DEFAULT_RATED_POWER_KW[spec.phases]
        )
        self._typical_power_factor = PROFILE_SHAPES[self.profile].power_factor
        start_kwh = spec.energy_kwh
        if start_kwh is None:
            start_kwh = Decimal(self.rng.randrange(10_000, 500_000)).scaleb(-2)
        start_mwh = int(start_kwh * MILLIWATT_HOURS_PER_KWH)
        parts = [start_mwh * percent // 100 for percent in (10, 35, 30)]
        self._milliwatt_hours_by_rate = [*parts, start_mwh - sum(parts)]
        if spec.energy_rates_kwh is not None:
            self._milliwatt_hours_by_rate = [
                int(kwh * MILLIWATT_HOURS_PER_KWH) for kwh in spec.energy_rates_kwh
            ]
            start_mwh = sum(self._milliwatt_hours_by_rate)
        """Forward active energy per rate 1–4, in mWh (integers: exact, order-independent)."""
        self._reactive_millivar_hours = start_mwh * 3 // 10
        self.relay_open = False
        self.relay_command_open = False
        self.close_allowed = False
        """合闸允许 received: the tenant closes the relay at the end of the next step."""
        self.protected = False
        self.alarm = False
        self.grid_powered = True
        self.power_limit_kw: Decimal | None = None
        self.last_trip_at: datetime | None = None
        self.last_close_at: datetime | None = None
        self.power_kw = 0.0
        self.power_factor = 1.0
        self._last_step_end: datetime | None = None
        self._phase_values_at: datetime | None = None
        self._phase_values_cache: tuple[list[float], list[float], list[float]] | None = None
        self._demand_period_kwh = 0.0
        self._demand_month: tuple[int, int] | None = None
        self.last_demand_kw = 0.0
        self.max_demand_kw = 0.0
        self.max_demand_at: datetime | None = None
        self._balance_cny: Decimal | None = None
        self._spent_since_balance_cny = 0.0

    # --- physics ---------------------------------------------------------------------------

    def step(self, step: Step) -> None:
        demand_kw = self.rated_power_kw * step.load_shares[self.profile] * self._noise()
        power_factor = self._typical_power_factor + POWER_FACTOR_SPREAD * (self.rng.random() - 0.5)
        power_factor = min(1.0, max(0.5, power_factor))
        if (
            self.power_limit_kw is not None
            and demand_kw > float(self.power_limit_kw)
            and not self.relay_open
            and not self.protected
        ):
            self._open_relay(step.start, cause="overload")
        supplied = self.grid_powered and not self.relay_open
        power_kw = demand_kw if supplied else 0.0
        energy_kwh = power_kw * step.hours
        self._milliwatt_hours_by_rate[step.rate - 1] += round(energy_kwh * MILLIWATT_HOURS_PER_KWH)
        reactive_kvarh = energy_kwh * math.sqrt(1.0 - power_factor * power_factor) / power_factor
        self._reactive_millivar_hours += round(reactive_kvarh * MILLIWATT_HOURS_PER_KWH)
        price = self.prices_cny.get(step.rate)
        if self._balance_cny is not None and price is not None:
            self._spent_since_balance_cny += energy_kwh * float(price)
        self.power_kw = power_kw
        self.power_factor = power_factor if power_kw > 0 else 1.0
        self._last_step_end = step.end
        self._account_demand(step, energy_kwh)
        if self.close_allowed and self.relay_open:
            self._close_relay(step.end, cause="button")

    def _phase_values(self) -> tuple[list[float], list[float], list[float]]:
        """Voltages, phase powers and currents of the last step. They do not affect any
        register, so they are drawn only when read, from a generator seeded by the meter and
        the step: the same step always shows the same values."""
        step_end = self._last_step_end
        if self._phase_values_cache is None or self._phase_values_at != step_end:
            key = step_end.timestamp() if step_end is not None else 0.0
            rng = random.Random(f"{self.seed}:{self.address}:{key}")
            voltages = [
                NOMINAL_VOLTAGE_V + VOLTAGE_SPREAD_V * (rng.random() - 0.5) * 2
                if self.grid_powered
                else 0.0
                for _ in range(self.phases)
            ]
            weights = [1.0 + PHASE_IMBALANCE * (rng.random() - 0.5) for _ in range(self.phases)]
            phase_power_kw = [self.power_kw * weight / sum(weights) for weight in weights]
            currents = [
                kw * 1000 / (voltage * self.power_factor) if voltage > 0 else 0.0
                for kw, voltage in zip(phase_power_kw, voltages, strict=True)
            ]
            self._phase_values_cache = (voltages, phase_power_kw, currents)
            self._phase_values_at = step_end
        return self._phase_values_cache

    @property
    def voltages_v(self) -> list[float]:
        return self._phase_values()[0]

    @property
    def phase_power_kw(self) -> list[float]:
        return self._phase_values()[1]

    @property
    def currents_a(self) -> list[float]:
        return self._phase_values()[2]

    def _account_demand(self, step: Step, energy_kwh: float) -> None:
        self._demand_period_kwh += energy_kwh
        if not step.ends_demand_period:
            return
        demand_kw = self._demand_period_kwh / DEMAND_PERIOD_HOURS
        self._demand_period_kwh = 0.0
        self.last_demand_kw = demand_kw
        if self._demand_month != step.month:
            self._demand_month = step.month
            self.max_demand_kw = 0.0
            self.max_demand_at = None
        if demand_kw > self.max_demand_kw or self.max_demand_at is None:
            self.max_demand_kw = demand_kw
            self.max_demand_at = step.end

    def set_grid_power(self, powered: bool, at: datetime) -> None:
        """Cut or restore the supply upstream of the meter (a power outage)."""
        if powered != self.grid_powered:
            self.grid_powered = powered
            if not powered:
                self._no_load_until_next_step()
            self._event(EventType.POWER_RESTORED if powered else EventType.POWER_LOST, at)

    def _no_load_until_next_step(self) -> None:
        """Instantaneous values drop at once when supply stops (energy stops with the step)."""
        self.power_kw = 0.0
        self.power_factor = 1.0
        self._phase_values_cache = None

    # --- relay -----------------------------------------------------------------------------

    def _open_relay(self, at: datetime, cause: str) -> None:
        self.relay_command_open = True
        self.close_allowed = False
        if not self.relay_open:
            self.relay_open = True
            self.last_trip_at = at
            self._no_load_until_next_step()
            self._event(EventType.RELAY_OPENED, at, cause=cause)

    def _close_relay(self, at: datetime, cause: str) -> None:
        self.relay_command_open = False
        self.close_allowed = False
        if self.relay_open:
            self.relay_open = False
            self.last_close_at = at
            self._event(EventType.RELAY_CLOSED, at, cause=cause)

    def apply(self, action: MeterAction, at: datetime) -> None:
        if action is MeterAction.TRIP:
            if self.protected:
                raise CommandRefused("meter_refused", "the meter is protected (保电): no trip")
            self._open_relay(at, cause="command")
        elif action is MeterAction.CLOSE_DIRECTLY:
            self._close_relay(at, cause="command")
        elif action is MeterAction.CLOSE_ALLOWED:
            self.relay_command_open = False
            self.close_allowed = self.relay_open
        elif action in (MeterAction.PROTECT, MeterAction.UNPROTECT):
            protect = action is MeterAction.PROTECT
            if protect != self.protected:
                self.protected = protect
                self._event(EventType.PROTECT_SET if protect else EventType.PROTECT_CLEARED, at)
        elif action in (MeterAction.ALARM, MeterAction.ALARM_RELEASE):
            self.alarm = action is MeterAction.ALARM
        else:
            raise CommandRefused("unsupported", f"an electricity meter cannot {action}")

    @property
    def relay_state(self) -> RelayState:
        return RelayState.OPEN if self.relay_open else RelayState.CLOSED

    # --- settings --------------------------------------------------------------------------

    def set_power_limit(self, limit_kw: Decimal) -> None:
        """Trip by itself when the load exceeds `limit_kw` (0 removes the limit)."""
        if limit_kw < 0:
            raise CommandRefused("invalid_command", f"power limit {limit_kw} is negative")
        self.power_limit_kw = limit_kw if limit_kw > 0 else None

    @property
    def keeps_balance(self) -> bool:
        return self._balance_cny is not None

    def set_balance(self, balance_cny: Decimal | None) -> None:
        """Make the meter keep a balance (电费型 prepaid), debited at its `prices_cny`;
        None stops it."""
        self._balance_cny = balance_cny
        self._spent_since_balance_cny = 0.0

    @property
    def remaining_money_cny(self) -> Decimal | None:
        if self._balance_cny is None:
            return None
        spent = Decimal(repr(self._spent_since_balance_cny)).quantize(CENTI, ROUND_HALF_UP)
        return self._balance_cny - spent

    # --- registers -------------------------------------------------------------------------

    @property
    def energy_kwh(self) -> Decimal:
        return register_value(sum(self._milliwatt_hours_by_rate))

    def rate_energy_kwh(self, rate: int) -> Decimal:
        return register_value(self._milliwatt_hours_by_rate[rate - 1])

    @property
    def reactive_energy_kvarh(self) -> Decimal:
        return register_value(self._reactive_millivar_hours)

    def registers(self) -> dict[str, Decimal]:
        values = {"energy_kwh": self.energy_kwh}
        for rate in range(1, RATE_COUNT + 1):
            values[f"energy_rate{rate}_kwh"] = self.rate_energy_kwh(rate)
        for phase, voltage, current in zip("abc", self.voltages_v, self.currents_a, strict=False):
            values[f"voltage_{phase}_v"] = round_to(voltage, 1)
            values[f"current_{phase}_a"] = round_to(current, 3)
        values["power_kw"] = round_to(self.power_kw, 4)
        values["power_factor"] = round_to(self.power_factor, 3)
        money = self.remaining_money_cny
        if money is not None:
            values["remaining_money_cny"] = money
        return values


class WaterMeter(Meter):
    kind = MeterKind.WATER

    def __init__(self, spec: MeterSpec, seed: int) -> None:
        super().__init__(spec, seed)
        self.profile = spec.load_profile
        self.rated_flow_m3_per_h = (
            spec.rated_flow_m3_per_h
            if spec.rated_flow_m3_per_h is not None
            else DEFAULT_RATED_FLOW_M3_PER_H
        )
        start_m3 = spec.water_m3
        if start_m3 is None:
            start_m3 = Decimal(self.rng.randrange(1_000, 80_000)).scaleb(-2)
        self._volume_ml = int(start_m3 * MILLILITRES_PER_M3)
        self._settlement_ml = self._volume_ml
        """The volume at the start of the current month (CJ/T 188 结算日累积流量)."""
        self._month: tuple[int, int] | None = None
        self.valve_open = True
        self.battery_low = False
        self.flow_m3_per_h = 0.0

    def step(self, step: Step) -> None:
        if step.month != self._month:
            if self._month is not None:
                self._settlement_ml = self._volume_ml
            self._month = step.month
        demand = self.rated_flow_m3_per_h * step.load_shares[self.profile] * self._noise()
        self.flow_m3_per_h = demand if self.valve_open else 0.0
        self._volume_ml += round(self.flow_m3_per_h * step.hours * MILLILITRES_PER_M3)

    def apply(self, action: MeterAction, at: datetime) -> None:
        if action not in (MeterAction.VALVE_OPEN, MeterAction.VALVE_CLOSE):
            raise CommandRefused("unsupported", f"a water meter cannot {action}")
        open_valve = action is MeterAction.VALVE_OPEN
        if open_valve != self.valve_open:
            self.valve_open = open_valve
            self._event(EventType.VALVE_OPENED if open_valve else EventType.VALVE_CLOSED, at)

    @property
    def valve_state(self) -> ValveState:
        return ValveState.OPEN if self.valve_open else ValveState.CLOSED

    @property
    def water_m3(self) -> Decimal:
        return register_value(self._volume_ml)

    @property
    def settlement_m3(self) -> Decimal:
        return register_value(self._settlement_ml)

    def registers(self) -> dict[str, Decimal]:
        return {"water_m3": self.water_m3}


def build_meter(spec: MeterSpec, seed: int) -> ElectricityMeter | WaterMeter:
    if spec.kind is MeterKind.WATER:
        return WaterMeter(spec, seed)
    return ElectricityMeter(spec, seed)
