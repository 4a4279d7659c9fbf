"""Simulated time: acceleration and manual clocks."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from submeter.simulator import ManualClock, SimClock
from tests.simulator.conftest import START


class FakeMonotonic:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_speed_720_runs_a_month_in_an_hour() -> None:
    wall = FakeMonotonic()
    clock = SimClock(START, speed=720, monotonic=wall)
    wall.seconds += 3600
    assert clock.now() - START == timedelta(days=30)


def test_speed_one_follows_the_wall_clock() -> None:
    wall = FakeMonotonic()
    clock = SimClock(START, monotonic=wall)
    wall.seconds += 90
    assert clock.now() == START + timedelta(seconds=90)


def test_sim_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="time zone"):
        SimClock(datetime(2024, 5, 20), speed=2)  # noqa: DTZ001


def test_sim_clock_refuses_a_speed_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SimClock(START, speed=0)


def test_sim_clock_starts_now_by_default() -> None:
    clock = SimClock(speed=1)
    assert clock.start.second == 0
    assert abs(clock.now() - clock.start) < timedelta(minutes=1, seconds=5)


def test_manual_clock_never_goes_backwards() -> None:
    clock = ManualClock(START)
    clock.advance(timedelta(hours=1))
    with pytest.raises(ValueError):
        clock.set(START)
    assert clock.now() == START + timedelta(hours=1)
