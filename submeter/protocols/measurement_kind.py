"""What kind of series a value belongs to, shared by every protocol's data tables."""

from __future__ import annotations

from enum import StrEnum


class MeasurementKind(StrEnum):
    CUMULATIVE = "cumulative"
    """A register that only grows (kWh, kvarh, m³): billing takes differences of it."""

    INSTANTANEOUS = "instantaneous"
    """A value at one moment (V, A, kW, PF, a money balance)."""

    STATE = "state"
    """A device state (relay, valve, status word)."""

    SETTING = "setting"
    """A parameter written to the meter (prices, limits, clock)."""
