"""Generated meters and meters files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from submeter.simulator import (
    MeterKind,
    MetersFileError,
    assign_gateways,
    generate_meter_specs,
    load_meters_file,
    parse_meter_specs,
)


def test_generated_addresses_do_not_depend_on_the_seed() -> None:
    first = [spec.address for spec in generate_meter_specs(20, water_share=0.2, seed=1)]
    second = [spec.address for spec in generate_meter_specs(20, water_share=0.2, seed=2)]
    assert first == second
    assert first[:2] == ["990000000001", "990000000002"]


def test_water_share_makes_that_many_water_meters_with_14_digit_addresses() -> None:
    specs = generate_meter_specs(20, water_share=0.2)
    water = [spec for spec in specs if spec.kind is MeterKind.WATER]
    assert len(water) == 4
    assert all(len(spec.address) == 14 for spec in water)


def test_generated_meters_are_spread_over_the_gateways_in_order() -> None:
    groups = assign_gateways(generate_meter_specs(10, gateways=3))
    assert list(groups) == ["sim-gw-001", "sim-gw-002", "sim-gw-003"]
    assert sum(len(addresses) for addresses in groups.values()) == 10


def test_meters_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "meters.json"
    path.write_text(
        json.dumps(
            [
                {
                    "address": "202601010100",
                    "kind": "electricity",
                    "phases": 3,
                    "rated_power_kw": "20",
                    "gateway": "GW-01",
                    "model": "DTSD1352",
                },
                {
                    "address": "10260101000",
                    "kind": "water",
                    "phases": 1,
                    "rated_power_kw": None,
                    "gateway": "GW-01",
                },
            ]
        )
    )
    specs = load_meters_file(path)
    assert specs[0].phases == 3
    assert specs[0].rated_power_kw == 20.0
    assert specs[1].kind is MeterKind.WATER
    assert assign_gateways(specs) == {"GW-01": ["202601010100", "10260101000"]}


def test_meters_without_a_gateway_are_spread_over_generated_ones() -> None:
    specs = parse_meter_specs(
        [{"address": "1"}, {"address": "2"}, {"address": "3", "gateway": "g"}]
    )
    assert assign_gateways(specs, gateways=2) == {
        "sim-gw-001": ["1"],
        "sim-gw-002": ["2"],
        "g": ["3"],
    }


def test_starting_registers_are_read_as_decimals() -> None:
    (spec,) = parse_meter_specs([{"address": "1", "energy_kwh": "12.34"}])
    assert spec.energy_kwh == Decimal("12.34")


def test_an_unknown_key_names_the_entry() -> None:
    with pytest.raises(MetersFileError, match=r"meters\[0\]\.room"):
        parse_meter_specs([{"address": "1", "room": "101"}])


def test_a_bad_kind_names_the_meter() -> None:
    with pytest.raises(MetersFileError, match=r"meters\[0\] \(1\)"):
        parse_meter_specs([{"address": "1", "kind": "gas"}])


def test_a_duplicate_address_is_refused() -> None:
    with pytest.raises(MetersFileError, match="twice"):
        parse_meter_specs([{"address": "1"}, {"address": "1"}])


def test_a_file_that_is_not_a_list_is_refused() -> None:
    with pytest.raises(MetersFileError, match="list"):
        parse_meter_specs({"address": "1"})
