"""Two-part tariff basic charge: capacity, contracted demand (105 % rule, 40 % floor), actual."""

from decimal import Decimal

import pytest

from submeter.engine import LineKind, Usage, UsageError, parse_tariff, rate


def two_part_tariff(basic_charge: dict) -> dict:
    return {
        "id": "two-part",
        "utility": "electricity",
        "versions": [
            {
                "valid_from": "2024-01-01",
                "energy": {"kind": "flat", "price": "0.6"},
                "basic_charge": basic_charge,
            }
        ],
    }


def basic_lines(basic_charge: dict, **usage_fields: str):
    tariff = parse_tariff(two_part_tariff(basic_charge))
    usage = Usage(
        period_start=tariff.versions[0].valid_from,
        consumption=Decimal(0),
        **{name: Decimal(value) for name, value in usage_fields.items()},
    )
    return [line for line in rate(tariff, usage).lines if line.kind == LineKind.BASIC]


CONTRACT_40 = {"method": "contract_demand", "price_per_kw_month": "40"}


def test_capacity_charge_is_kva_times_price():
    (line,) = basic_lines({"method": "capacity", "price_per_kva_month": "30"}, capacity_kva="400")
    assert (line.code, line.quantity, line.unit, line.amount) == (
        "basic.capacity",
        Decimal(400),
        "kVA",
        Decimal("12000.00"),
    )


def test_demand_within_105_percent_is_billed_on_the_contract():
    (line,) = basic_lines(
        CONTRACT_40, contract_demand_kw="500", max_demand_kw="525", capacity_kva="1000"
    )
    assert (line.quantity, line.amount) == (Decimal(500), Decimal("20000.00"))


def test_demand_above_105_percent_charges_the_excess_twice():
    lines = basic_lines(
        CONTRACT_40, contract_demand_kw="500", max_demand_kw="560", capacity_kva="1000"
    )
    assert [(line.code, line.quantity, line.amount) for line in lines] == [
        ("basic.demand", Decimal(560), Decimal("22400.00")),
        ("basic.demand_excess", Decimal(35), Decimal("1400.00")),
    ]
    assert sum(line.amount for line in lines) == Decimal("23800.00")


def test_contract_below_40_percent_of_capacity_is_raised_to_the_floor():
    (line,) = basic_lines(
        CONTRACT_40, contract_demand_kw="300", max_demand_kw="200", capacity_kva="1000"
    )
    assert line.quantity == Decimal(400)
    assert "below" in line.rule


def test_105_percent_rule_applies_to_the_floored_contract():
    lines = basic_lines(
        CONTRACT_40, contract_demand_kw="300", max_demand_kw="430", capacity_kva="1000"
    )
    assert [line.quantity for line in lines] == [Decimal(430), Decimal(10)]


def test_actual_demand_is_billed_as_measured():
    (line,) = basic_lines(
        {"method": "actual_demand", "price_per_kw_month": "38.4"}, max_demand_kw="321.5"
    )
    assert line.amount == Decimal("12345.60")


def test_actual_demand_floor_applies_only_when_configured():
    (line,) = basic_lines(
        {"method": "actual_demand", "price_per_kw_month": "40", "floor_ratio": "0.40"},
        max_demand_kw="100",
        capacity_kva="1000",
    )
    assert line.quantity == Decimal(400)


def test_contract_demand_without_max_demand_names_the_missing_field():
    with pytest.raises(UsageError) as caught:
        basic_lines(CONTRACT_40, contract_demand_kw="500", capacity_kva="1000")
    assert (caught.value.code, caught.value.field) == ("missing_field", "max_demand_kw")


def test_capacity_charge_without_capacity_names_the_missing_field():
    with pytest.raises(UsageError) as caught:
        basic_lines({"method": "capacity", "price_per_kva_month": "30"})
    assert caught.value.field == "capacity_kva"
