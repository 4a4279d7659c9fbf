"""Tariff documents: each invalid one fails with a machine code and the field at fault."""

import copy

import pytest

from submeter.engine import TariffError, load_schema, parse_tariff


def tou_tariff() -> dict:
    return {
        "id": "valid-tou",
        "utility": "electricity",
        "versions": [
            {
                "valid_from": "2025-01-01T00:00:00+08:00",
                "energy": {
                    "kind": "tou",
                    "rates": {
                        "peak": {"price": "0.9"},
                        "flat": {"price": "0.6"},
                        "valley": {"price": "0.3"},
                    },
                    "day_profiles": {
                        "daily": [
                            {"from": "08:00", "to": "12:00", "rate": "peak"},
                            {"from": "12:00", "to": "22:00", "rate": "flat"},
                            {"from": "22:00", "to": "08:00", "rate": "valley"},
                        ]
                    },
                },
                "power_factor": {"standard": "0.90"},
            }
        ],
    }


def tiered_tariff() -> dict:
    return {
        "id": "valid-tiered",
        "utility": "water",
        "versions": [
            {
                "valid_from": "2025-01-01",
                "energy": {
                    "kind": "tiered",
                    "period": "yearly",
                    "tiers": [
                        {"up_to": "240", "price": "1.30"},
                        {"up_to": "360", "price": "1.95"},
                        {"price": "3.90"},
                    ],
                },
            }
        ],
    }


def error_for(document: dict) -> tuple[str, str]:
    with pytest.raises(TariffError) as caught:
        parse_tariff(document)
    return caught.value.code, caught.value.field


def edited(document: dict, edit) -> dict:
    copied = copy.deepcopy(document)
    edit(copied)
    return copied


def energy(document: dict) -> dict:
    return document["versions"][0]["energy"]


def test_valid_documents_parse():
    assert parse_tariff(tou_tariff()).versions[0].energy.rates[0].code == "peak"
    assert parse_tariff(tiered_tariff()).unit == "m3"


def test_schema_is_published_as_json():
    schema = load_schema("tariff.schema.json")
    assert schema["title"] == "Submeter tariff"


def test_unknown_rate_in_day_profile_names_the_period():
    document = edited(
        tou_tariff(), lambda d: energy(d)["day_profiles"]["daily"][1].update(rate="sharp")
    )
    assert error_for(document) == ("unknown_rate", "versions[0].energy.day_profiles.daily[1].rate")


def test_overlapping_periods_are_rejected():
    document = edited(
        tou_tariff(), lambda d: energy(d)["day_profiles"]["daily"][1].update({"from": "11:00"})
    )
    assert error_for(document) == ("period_overlap", "versions[0].energy.day_profiles.daily[1]")


def test_periods_leaving_a_gap_are_rejected():
    document = edited(
        tou_tariff(), lambda d: energy(d)["day_profiles"]["daily"][1].update(to="21:00")
    )
    with pytest.raises(TariffError) as caught:
        parse_tariff(document)
    assert (caught.value.code, caught.value.field) == (
        "period_gap",
        "versions[0].energy.day_profiles.daily",
    )
    assert "21:00-22:00" in caught.value.message


def test_period_starting_and_ending_at_the_same_time_is_rejected():
    document = edited(
        tou_tariff(),
        lambda d: energy(d)["day_profiles"].update(
            daily=[{"from": "08:00", "to": "08:00", "rate": "flat"}]
        ),
    )
    assert error_for(document)[0] == "empty_period"


def test_more_than_eight_rates_are_rejected():
    rates = {f"rate_{index}": {"price": "0.5"} for index in range(9)}
    document = edited(tou_tariff(), lambda d: energy(d).update(rates=rates))
    assert error_for(document) == ("too_many_rates", "versions[0].energy.rates")


def test_tiers_out_of_order_are_rejected():
    document = edited(tiered_tariff(), lambda d: energy(d)["tiers"][1].update(up_to="200"))
    assert error_for(document) == ("tiers_out_of_order", "versions[0].energy.tiers[1].up_to")


def test_last_tier_with_a_bound_is_rejected():
    document = edited(tiered_tariff(), lambda d: energy(d)["tiers"][2].update(up_to="500"))
    assert error_for(document) == ("last_tier_bounded", "versions[0].energy.tiers[2].up_to")


def test_power_factor_standard_above_one_is_rejected():
    document = edited(
        tou_tariff(), lambda d: d["versions"][0]["power_factor"].update(standard="1.05")
    )
    assert error_for(document) == ("power_factor_above_one", "versions[0].power_factor.standard")


def test_power_factor_standard_outside_the_three_tables_is_rejected():
    document = edited(
        tou_tariff(), lambda d: d["versions"][0]["power_factor"].update(standard="0.95")
    )
    assert error_for(document)[0] == "unknown_power_factor_standard"


@pytest.mark.parametrize(
    ("price", "code"),
    [
        ("-0.6", "not_positive"),
        ("0", "not_positive"),
        ("0.0000001", "too_many_decimals"),
        ("9" * 30, "too_many_digits"),
    ],
)
def test_bad_prices_are_rejected_naming_the_price(price, code):
    document = edited(tou_tariff(), lambda d: energy(d)["rates"]["flat"].update(price=price))
    assert error_for(document) == (code, "versions[0].energy.rates.flat.price")


def test_six_decimal_price_is_accepted():
    document = edited(tou_tariff(), lambda d: energy(d)["rates"]["flat"].update(price="0.123456"))
    assert parse_tariff(document).versions[0].energy.rates[1].price.as_tuple().exponent == -6


def test_price_as_json_number_is_rejected_with_a_clear_message():
    document = edited(tou_tariff(), lambda d: energy(d)["rates"]["flat"].update(price=0.6))
    with pytest.raises(TariffError) as caught:
        parse_tariff(document)
    assert (caught.value.code, caught.value.field) == (
        "number_not_string",
        "versions[0].energy.rates.flat.price",
    )
    assert "not JSON numbers" in caught.value.message


def test_price_in_exponent_form_is_rejected():
    document = edited(tou_tariff(), lambda d: energy(d)["rates"]["flat"].update(price="6e-1"))
    assert error_for(document) == ("invalid_decimal", "versions[0].energy.rates.flat.price")


def test_missing_field_is_named():
    document = edited(tiered_tariff(), lambda d: energy(d).pop("period"))
    assert error_for(document) == ("missing_field", "versions[0].energy.period")


def test_unknown_field_is_named():
    document = edited(tiered_tariff(), lambda d: energy(d).update(colour="blue"))
    assert error_for(document) == ("unknown_field", "versions[0].energy.colour")


def test_unknown_energy_kind_is_rejected():
    document = edited(tiered_tariff(), lambda d: energy(d).update(kind="auction"))
    assert error_for(document) == ("invalid_choice", "versions[0].energy.kind")


def test_valid_from_without_offset_is_rejected():
    document = edited(
        tiered_tariff(), lambda d: d["versions"][0].update(valid_from="2025-01-01T00:00:00")
    )
    assert error_for(document) == ("naive_datetime", "versions[0].valid_from")


def test_versions_out_of_order_are_rejected():
    def add_earlier_version(document: dict) -> None:
        later = copy.deepcopy(document["versions"][0])
        later["valid_from"] = "2024-01-01"
        document["versions"].append(later)

    assert error_for(edited(tiered_tariff(), add_earlier_version)) == (
        "versions_out_of_order",
        "versions[1].valid_from",
    )


def test_seasons_must_cover_every_month():
    seasons = [{"name": "summer", "months": [6, 7, 8], "profiles": {"workday": "daily"}}]
    document = edited(tou_tariff(), lambda d: energy(d).update(seasons=seasons))
    with pytest.raises(TariffError) as caught:
        parse_tariff(document)
    assert (caught.value.code, caught.value.field) == (
        "season_months_missing",
        "versions[0].energy.seasons",
    )


def test_a_month_in_two_seasons_is_rejected():
    seasons = [
        {"name": "a", "months": list(range(1, 13)), "profiles": {"workday": "daily"}},
        {"name": "b", "months": [7], "profiles": {"workday": "daily"}},
    ]
    document = edited(tou_tariff(), lambda d: energy(d).update(seasons=seasons))
    assert error_for(document) == ("season_months_overlap", "versions[0].energy.seasons[1].months")


def test_season_naming_an_unknown_profile_is_rejected():
    seasons = [{"name": "a", "months": list(range(1, 13)), "profiles": {"workday": "nightly"}}]
    document = edited(tou_tariff(), lambda d: energy(d).update(seasons=seasons))
    assert error_for(document) == (
        "unknown_profile",
        "versions[0].energy.seasons[0].profiles.workday",
    )


def test_unknown_timezone_is_rejected():
    document = edited(tou_tariff(), lambda d: d.update(timezone="Mars/Olympus"))
    assert error_for(document) == ("unknown_timezone", "timezone")


def test_power_factor_on_a_water_tariff_is_rejected():
    document = edited(
        tiered_tariff(), lambda d: d["versions"][0].update(power_factor={"standard": "0.90"})
    )
    assert error_for(document) == ("electricity_only", "versions[0].power_factor")
