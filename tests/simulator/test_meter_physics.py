"""Virtual meters: registers, relay, protect, valve, demand, determinism."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from submeter.protocols.mqtt_payloads import EventType, RelayState
from submeter.simulator import (
    CommandRefused,
    ElectricityMeter,
    MeterAction,
    MeterKind,
    MeterSpec,
    Profile,
    WaterMeter,
)
from tests.simulator.conftest import START, make_simulation

OFFICE = MeterSpec("123456789012", profile=Profile.OFFICE, rated_power_kw=10.0)
THREE_PHASE = MeterSpec("123456789013", phases=3, profile=Profile.SHOP)
WATER = MeterSpec("00000012345678", kind=MeterKind.WATER)
CUMULATIVE = ("energy_kwh", "energy_rate1_kwh", "energy_rate2_kwh", "energy_rate3_kwh")


def electricity(simulation_meter: object) -> ElectricityMeter:
    assert isinstance(simulation_meter, ElectricityMeter)
    return simulation_meter


def water(simulation_meter: object) -> WaterMeter:
    assert isinstance(simulation_meter, WaterMeter)
    return simulation_meter


def test_cumulative_registers_never_go_backwards_over_a_week() -> None:
    simulation, clock = make_simulation([OFFICE, THREE_PHASE, WATER])
    previous: dict[str, dict[str, Decimal]] = {}
    for _ in range(7 * 24):
        simulation.run_until(clock.advance(timedelta(hours=1)))
        for address, meter in simulation.meters.items():
            registers = meter.registers()
            for name, value in registers.items():
                if name in (*CUMULATIVE, "energy_rate4_kwh", "water_m3"):
                    assert value >= previous.get(address, {}).get(name, Decimal(0))
            previous[address] = registers


def test_total_energy_is_the_sum_of_the_rates_within_rounding() -> None:
    simulation, clock = make_simulation([OFFICE])
    simulation.run_until(clock.advance(timedelta(days=3)))
    meter = electricity(simulation.meter(OFFICE.address))
    rates = sum(meter.rate_energy_kwh(rate) for rate in range(1, 5))
    assert Decimal(0) <= meter.energy_kwh - rates < Decimal("0.04")


def test_consumption_follows_the_rate_table() -> None:
    simulation, clock = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    before = meter.registers()
    simulation.run_until(clock.advance(timedelta(hours=8)))
    after = meter.registers()
    assert after["energy_rate4_kwh"] > before["energy_rate4_kwh"]
    for rate in (1, 2, 3):
        assert after[f"energy_rate{rate}_kwh"] == before[f"energy_rate{rate}_kwh"]


def test_office_uses_more_at_eleven_on_a_weekday_than_at_three_in_the_night() -> None:
    simulation, clock = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    simulation.run_until(clock.advance(timedelta(hours=3)))
    night_start = meter.energy_kwh
    simulation.run_until(clock.advance(timedelta(hours=1)))
    night_kwh = meter.energy_kwh - night_start
    simulation.run_until(clock.advance(timedelta(hours=7)))
    day_start = meter.energy_kwh
    simulation.run_until(clock.advance(timedelta(hours=1)))
    assert meter.energy_kwh - day_start > 5 * night_kwh


def test_open_relay_stops_consumption() -> None:
    simulation, clock = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    simulation.run_until(clock.advance(timedelta(hours=9)))
    simulation.apply(meter, MeterAction.TRIP)
    tripped = meter.registers()
    simulation.run_until(clock.advance(timedelta(hours=3)))
    assert meter.registers()["energy_kwh"] == tripped["energy_kwh"]
    assert meter.power_kw == 0
    assert meter.currents_a == [0.0]
    assert meter.relay_state is RelayState.OPEN


def test_closing_the_relay_resumes_consumption() -> None:
    simulation, clock = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    simulation.run_until(clock.advance(timedelta(hours=9)))
    simulation.apply(meter, MeterAction.TRIP)
    simulation.apply(meter, MeterAction.CLOSE_DIRECTLY)
    closed = meter.energy_kwh
    simulation.run_until(clock.advance(timedelta(hours=1)))
    assert meter.energy_kwh > closed
    assert meter.relay_state is RelayState.CLOSED


def test_protect_refuses_trip() -> None:
    simulation, _ = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    simulation.apply(meter, MeterAction.PROTECT)
    with pytest.raises(CommandRefused) as refused:
        simulation.apply(meter, MeterAction.TRIP)
    assert refused.value.code == "meter_refused"
    assert not meter.relay_open


def test_unprotect_allows_trip_again() -> None:
    simulation, _ = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    simulation.apply(meter, MeterAction.PROTECT)
    simulation.apply(meter, MeterAction.UNPROTECT)
    simulation.apply(meter, MeterAction.TRIP)
    assert meter.relay_open


def test_close_allowed_closes_when_the_tenant_presses_the_button_after_one_step() -> None:
    simulation, clock = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    simulation.apply(meter, MeterAction.TRIP)
    simulation.apply(meter, MeterAction.CLOSE_ALLOWED)
    assert meter.relay_open
    simulation.run_until(clock.advance(timedelta(minutes=1)))
    assert not meter.relay_open


def test_relay_changes_are_events() -> None:
    simulation, _ = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    simulation.apply(meter, MeterAction.TRIP)
    simulation.apply(meter, MeterAction.CLOSE_DIRECTLY)
    assert [event.event_type for event in meter.take_events()] == [
        EventType.RELAY_OPENED,
        EventType.RELAY_CLOSED,
    ]


def test_exceeding_the_power_limit_trips_the_relay() -> None:
    simulation, clock = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    meter.set_power_limit(Decimal("1"))
    simulation.run_until(clock.advance(timedelta(hours=10)))
    assert meter.relay_open
    assert meter.take_events()[0].detail == {"cause": "overload"}


def test_water_meter_valve_closed_stops_flow() -> None:
    simulation, clock = make_simulation([WATER])
    meter = water(simulation.meter(WATER.address))
    simulation.run_until(clock.advance(timedelta(hours=8)))
    simulation.apply(meter, MeterAction.VALVE_CLOSE)
    closed = meter.water_m3
    simulation.run_until(clock.advance(timedelta(hours=12)))
    assert meter.water_m3 == closed
    simulation.apply(meter, MeterAction.VALVE_OPEN)
    simulation.run_until(clock.advance(timedelta(hours=12)))
    assert meter.water_m3 > closed


def test_water_meter_refuses_relay_commands() -> None:
    simulation, _ = make_simulation([WATER])
    with pytest.raises(CommandRefused) as refused:
        simulation.apply(simulation.meter(WATER.address), MeterAction.TRIP)
    assert refused.value.code == "unsupported"


def test_three_phase_meter_reports_three_voltages_and_currents() -> None:
    simulation, clock = make_simulation([THREE_PHASE])
    simulation.run_until(clock.advance(timedelta(hours=12)))
    registers = simulation.meter(THREE_PHASE.address).registers()
    for phase in "abc":
        assert Decimal(200) < registers[f"voltage_{phase}_v"] < Decimal(240)
        assert registers[f"current_{phase}_a"] > 0


def test_power_times_time_matches_the_energy_registers() -> None:
    simulation, clock = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    simulation.run_until(clock.advance(timedelta(hours=10)))
    before = meter.energy_kwh
    simulation.run_until(clock.advance(timedelta(minutes=1)))
    assert meter.energy_kwh - before == pytest.approx(
        Decimal(repr(meter.power_kw / 60)), abs=Decimal("0.011")
    )


def test_maximum_demand_is_the_highest_quarter_hour_of_the_month() -> None:
    simulation, clock = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    quarter_demands = []
    for _ in range(24 * 4):
        before = meter.energy_kwh
        simulation.run_until(clock.advance(timedelta(minutes=15)))
        quarter_demands.append((meter.energy_kwh - before) * 4)
    assert meter.max_demand_kw == pytest.approx(float(max(quarter_demands)), abs=0.05)
    assert meter.max_demand_at is not None
    assert meter.max_demand_at.minute % 15 == 0


def test_maximum_demand_restarts_with_the_month() -> None:
    simulation, clock = make_simulation([OFFICE], start=START.replace(day=31, hour=10))
    meter = electricity(simulation.meter(OFFICE.address))
    simulation.run_until(clock.advance(timedelta(hours=14, minutes=15)))
    assert meter.max_demand_at is not None
    assert meter.max_demand_at.month == 6
    assert meter.max_demand_kw < 2


def test_same_seed_gives_the_same_registers() -> None:
    runs = []
    for _ in range(2):
        simulation, clock = make_simulation([OFFICE, THREE_PHASE, WATER], seed=42)
        simulation.run_until(clock.advance(timedelta(days=2)))
        runs.append([meter.registers() for meter in simulation.meters.values()])
    assert runs[0] == runs[1]


def test_another_seed_gives_other_registers() -> None:
    registers = []
    for seed in (1, 2):
        simulation, clock = make_simulation([OFFICE], seed=seed)
        simulation.run_until(clock.advance(timedelta(days=1)))
        registers.append(simulation.meter(OFFICE.address).registers()["energy_kwh"])
    assert registers[0] != registers[1]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=600), min_size=1, max_size=12))
def test_advancing_in_any_slices_gives_the_same_registers(slices_minutes: list[int]) -> None:
    total = timedelta(minutes=sum(slices_minutes))
    sliced, sliced_clock = make_simulation([OFFICE, WATER], seed=7)
    for minutes in slices_minutes:
        sliced.run_until(sliced_clock.advance(timedelta(minutes=minutes)))
    whole, whole_clock = make_simulation([OFFICE, WATER], seed=7)
    whole.run_until(whole_clock.advance(total))
    assert [meter.registers() for meter in sliced.meters.values()] == [
        meter.registers() for meter in whole.meters.values()
    ]


def test_starting_registers_come_from_the_spec() -> None:
    spec = MeterSpec("123456789012", energy_kwh=Decimal("1234.56"))
    simulation, _ = make_simulation(
        [spec, MeterSpec("1", kind=MeterKind.WATER, water_m3=Decimal(7))]
    )
    assert simulation.meter("123456789012").registers()["energy_kwh"] == Decimal("1234.56")
    assert simulation.meter("1").registers() == {"water_m3": Decimal("7.00")}


def test_a_meter_keeping_a_balance_debits_it_at_its_prices() -> None:
    simulation, clock = make_simulation([OFFICE])
    meter = electricity(simulation.meter(OFFICE.address))
    meter.set_prices({rate: Decimal("1.00") for rate in range(1, 5)})
    meter.set_balance(Decimal("100.00"))
    before = meter.energy_kwh
    simulation.run_until(clock.advance(timedelta(hours=12)))
    used = meter.energy_kwh - before
    assert meter.remaining_money_cny == pytest.approx(Decimal(100) - used, abs=Decimal("0.05"))
    assert "remaining_money_cny" in meter.registers()
