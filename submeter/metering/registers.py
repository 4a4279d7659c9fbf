"""The registers a reading stores, at which precision, and their conversion to the stored
integers. Pure Python (no Django): the processes that decode gateways' messages use it too."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

CUMULATIVE_FIELDS = (
    "energy_kwh",
    "energy_rate1_kwh",
    "energy_rate2_kwh",
    "energy_rate3_kwh",
    "energy_rate4_kwh",
    "reverse_energy_kwh",
    "water_m3",
)
INSTANTANEOUS_FIELDS = (
    "voltage_a_v",
    "voltage_b_v",
    "voltage_c_v",
    "current_a_a",
    "current_b_a",
    "current_c_a",
    "power_kw",
    "power_factor",
)
FIELD_PLACES = {name: 3 for name in CUMULATIVE_FIELDS} | {
    "voltage_a_v": 2,
    "voltage_b_v": 2,
    "voltage_c_v": 2,
    "current_a_a": 3,
    "current_b_a": 3,
    "current_c_a": 3,
    "power_kw": 4,
    "power_factor": 3,
}
VALUE_FIELDS = CUMULATIVE_FIELDS + INSTANTANEOUS_FIELDS
CUMULATIVE_COUNT = len(CUMULATIVE_FIELDS)

Units = list[int | None]
"""A reading's registers as stored: integers at each field's precision, in `VALUE_FIELDS`
order, None where the reading has no such register."""

# name → (index in VALUE_FIELDS, decimal places stored, rounding)
_FIELDS = {
    name: (
        index,
        FIELD_PLACES[name],
        ROUND_FLOOR if index < CUMULATIVE_COUNT else ROUND_HALF_EVEN,
    )
    for index, name in enumerate(VALUE_FIELDS)
}
_PADDING = tuple("0" * n for n in range(max(FIELD_PLACES.values()) + 1))


def stored_units(registers: Mapping[str, Decimal | str]) -> Units | None:
    """The registers as stored: cumulative ones floored (they stay monotonic), instantaneous
    ones rounded half-even. Unknown register names are ignored; None when none is known.

    Values are `Decimal`s or decimal strings already checked by a protocol codec. A string with
    no more places than stored is converted exactly without `Decimal` ("1097.25" at 3 places is
    int("1097250")); anything else goes through `Decimal`.
    """
    units: Units = [None] * len(VALUE_FIELDS)
    known = False
    for name, value in registers.items():
        spec = _FIELDS.get(name)
        if spec is None:
            continue
        index, places, rounding = spec
        if isinstance(value, str):
            whole, _dot, fraction = value.partition(".")
            if len(fraction) <= places:
                units[index] = int(whole + fraction + _PADDING[places - len(fraction)])
                known = True
                continue
            number = Decimal(value)
        else:
            number = value
        units[index] = int(number.scaleb(places).to_integral_value(rounding))
        known = True
    return units if known else None


def unit_value(units: int, index: int) -> Decimal:
    """One stored integer back as the exact decimal it stands for."""
    return Decimal(units).scaleb(-FIELD_PLACES[VALUE_FIELDS[index]])


def units_as_text(units: Units | None) -> dict[str, str]:
    """The registers of stored units as decimal strings (e.g. for a quarantine record)."""
    if units is None:
        return {}
    return {
        VALUE_FIELDS[index]: str(unit_value(value, index))
        for index, value in enumerate(units)
        if value is not None
    }
