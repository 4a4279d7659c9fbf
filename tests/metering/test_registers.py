from decimal import Decimal

from submeter.metering.registers import VALUE_FIELDS, stored_units, units_as_text

ENERGY, VOLTAGE, POWER = (VALUE_FIELDS.index(n) for n in ("energy_kwh", "voltage_a_v", "power_kw"))


def test_decimal_strings_become_exact_integers_at_the_stored_places():
    units = stored_units({"energy_kwh": "1097.25", "voltage_a_v": "220", "power_kw": "-0.5"})

    assert (units[ENERGY], units[VOLTAGE], units[POWER]) == (1097250, 22000, -5000)


def test_cumulative_registers_are_floored_and_instantaneous_ones_rounded_half_even():
    units = stored_units({"energy_kwh": "1.23999", "voltage_a_v": "220.125", "power_kw": "1.00005"})

    assert (units[ENERGY], units[VOLTAGE], units[POWER]) == (1239, 22012, 10000)


def test_decimals_and_strings_give_the_same_units():
    text = {"energy_kwh": "987654.321", "power_kw": "2.5", "voltage_a_v": "230.06"}

    assert stored_units(text) == stored_units({k: Decimal(v) for k, v in text.items()})


def test_unknown_registers_are_ignored_and_none_known_gives_none():
    assert stored_units({"frequency_hz": "50"}) is None
    assert stored_units({"frequency_hz": "50", "energy_kwh": "1"})[ENERGY] == 1000


def test_units_read_back_as_the_decimals_they_stand_for():
    assert units_as_text(stored_units({"energy_kwh": "12.5", "power_kw": "0.1234"})) == {
        "energy_kwh": "12.500",
        "power_kw": "0.1234",
    }
