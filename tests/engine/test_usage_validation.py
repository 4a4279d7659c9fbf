"""Usage documents and values that do not fit a tariff fail with a code and the field."""

import copy
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from submeter.engine import Interval, Usage, UsageError, parse_tariff, parse_usage, quote, rate

SHANGHAI = ZoneInfo("Asia/Shanghai")
SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "sample-bill"


def load(name: str) -> dict:
    return json.loads((SAMPLE / name).read_text(encoding="utf-8"))


def usage_error(usage_document: dict, tariff_document: dict | None = None) -> tuple[str, str]:
    with pytest.raises(UsageError) as caught:
        quote(tariff_document or load("tariff.json"), usage_document)
    return caught.value.code, caught.value.field


def sample_usage(**changes) -> dict:
    document = copy.deepcopy(load("usage.json"))
    document.update(changes)
    return document


def flat_water_tariff() -> dict:
    return {
        "id": "water",
        "utility": "water",
        "versions": [{"valid_from": "2025-01-01", "energy": {"kind": "flat", "price": "3.2"}}],
    }


def test_unknown_rate_in_registers_is_named():
    usage = sample_usage(energy_kwh={"sharpest": "1"})
    assert usage_error(usage) == ("unknown_rate", "energy_kwh.sharpest")


def test_total_for_a_time_of_use_tariff_is_refused():
    assert usage_error(sample_usage(energy_kwh="100"))[0] == "per_rate_consumption_required"


def test_registers_and_intervals_together_are_refused():
    usage = sample_usage(
        intervals=[{"start": "2017-07-01T00:00:00+08:00", "energy_kwh": "1"}],
    )
    assert usage_error(usage) == ("consumption_required", "energy_kwh")


def test_quantity_as_json_number_is_refused():
    usage = sample_usage(capacity_kva=400)
    assert usage_error(usage) == ("number_not_string", "capacity_kva")


@pytest.mark.parametrize("quantity", ["9" * 100, "1." + "1" * 100])
def test_quantity_with_too_many_digits_is_refused_naming_it(quantity):
    usage = sample_usage(energy_kwh={"peak": quantity})
    assert usage_error(usage) == ("too_many_digits", "energy_kwh.peak")


def test_water_tariff_takes_volume_not_energy():
    usage = {"period": load("usage.json")["period"], "energy_kwh": "12"}
    assert usage_error(usage, flat_water_tariff()) == ("wrong_quantity", "energy_kwh")


def test_water_volume_is_rated():
    usage = {
        "period": {"start": "2025-03-01T00:00:00+08:00", "end": "2025-04-01T00:00:00+08:00"},
        "volume_m3": "12.5",
    }
    assert quote(flat_water_tariff(), usage)["total"] == "40.00"


def test_register_usage_needs_a_period():
    usage = sample_usage()
    del usage["period"]
    assert usage_error(usage) == ("missing_field", "period.start")


def test_missing_reactive_energy_is_named():
    usage = sample_usage()
    del usage["reactive_kvarh"]
    assert usage_error(usage) == ("missing_field", "reactive_kvarh")


def test_given_power_factor_above_one_is_refused():
    assert usage_error(sample_usage(power_factor="1.2")) == (
        "power_factor_out_of_range",
        "power_factor",
    )


def test_given_power_factor_replaces_p_and_q():
    bill = quote(load("tariff.json"), sample_usage(power_factor="0.88"))
    assert bill["power_factor"]["adjustment_percent"] == "1.0"
    assert bill["lines"][-1]["amount"] == "199.04"


def test_forward_plus_reverse_reactive_rule_adds_the_reverse_register():
    tariff = load("tariff.json")
    tariff["versions"][0]["power_factor"]["reactive"] = "forward_plus_reverse"
    # Q = 3000 + 5000 = 8000: PF = 11870.7 / sqrt(11870.7² + 8000²) = 0.829 -> 0.83
    bill = quote(tariff, sample_usage(reactive_reverse_kvarh="5000"))
    assert bill["power_factor"]["power_factor"] == "0.83"
    assert bill["power_factor"]["adjustment_percent"] == "3.5"


def test_charges_option_limits_the_lines_produced():
    bill = quote(load("tariff.json"), sample_usage(charges=["consumption"]))
    assert [line["kind"] for line in bill["lines"]] == ["consumption"] * 4
    assert bill["total"] == "7904.24"


def test_intervals_out_of_order_are_refused():
    usage = {
        "intervals": [
            {"start": "2017-07-01T00:15:00+08:00", "energy_kwh": "1"},
            {"start": "2017-07-01T00:00:00+08:00", "energy_kwh": "1"},
        ],
        "charges": ["consumption"],
    }
    assert usage_error(usage) == ("intervals_out_of_order", "intervals[1].start")


def test_interval_without_offset_is_refused():
    usage = {"intervals": [{"start": "2017-07-01T00:15:00", "energy_kwh": "1"}]}
    assert usage_error(usage) == ("naive_datetime", "intervals[0].start")


def test_negative_interval_consumption_is_refused():
    usage = {"intervals": [{"start": "2017-07-01T00:15:00+08:00", "energy_kwh": "-1"}]}
    assert usage_error(usage) == ("negative", "intervals[0].energy_kwh")


def test_tiered_intervals_crossing_the_tier_period_are_refused():
    tariff = parse_tariff(
        {
            "id": "monthly-tiers",
            "utility": "electricity",
            "versions": [
                {
                    "valid_from": "2025-01-01",
                    "energy": {
                        "kind": "tiered",
                        "period": "monthly",
                        "tiers": [{"up_to": "200", "price": "0.5"}, {"price": "0.8"}],
                    },
                }
            ],
        }
    )
    usage = Usage(
        intervals=(
            Interval(datetime(2025, 1, 31, 23, 45, tzinfo=SHANGHAI), Decimal(1)),
            Interval(datetime(2025, 2, 1, 0, 0, tzinfo=SHANGHAI), Decimal(1)),
        )
    )
    with pytest.raises(UsageError) as caught:
        rate(tariff, usage)
    assert (caught.value.code, caught.value.field) == ("crosses_tier_period", "intervals[1].start")


def test_unknown_usage_field_is_named():
    assert usage_error(sample_usage(max_demand="3")) == ("unknown_field", "max_demand")


def test_parse_usage_keeps_registers_by_rate():
    tariff = parse_tariff(load("tariff.json"))
    usage = parse_usage(load("usage.json"), tariff)
    assert usage.consumption_by_rate is not None
    assert usage.consumption_by_rate["valley"] == Decimal("5922.6")
