"""Bulk meter-day rating gives exactly what `rate()` gives on each day's intervals."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from submeter.engine import Interval, Usage, UsageError, parse_tariff, rate
from submeter.engine.meter_days import rate_meter_days

SHANGHAI = ZoneInfo("Asia/Shanghai")
DECIMALS = 3
WORKDAY = [
    {"from": "22:00", "to": "06:00", "rate": "valley"},
    {"from": "06:00", "to": "09:00", "rate": "flat"},
    {"from": "09:00", "to": "20:00", "rate": "peak"},
    {"from": "20:00", "to": "22:00", "rate": "sharp"},
]


def tariff_with_price_change() -> dict:
    """Four rates with a flat weekend; prices change at 12:07 on Wednesday 2025-04-16."""

    def rates(extra: str) -> dict:
        prices = {"sharp": "1.2", "peak": "0.9", "flat": "0.6", "valley": "0.3"}
        return {
            code: {"price": str(Decimal(price) + Decimal(extra))} for code, price in prices.items()
        }

    return {
        "id": "bulk-test",
        "utility": "electricity",
        "versions": [
            {
                "valid_from": "2025-01-01",
                "energy": {
                    "kind": "tou",
                    "rates": rates("0"),
                    "day_profiles": {
                        "workday": WORKDAY,
                        "weekend": [{"from": "00:00", "to": "24:00", "rate": "flat"}],
                    },
                    "seasons": [
                        {
                            "name": "all year",
                            "months": list(range(1, 13)),
                            "profiles": {"workday": "workday", "weekend": "weekend"},
                        }
                    ],
                },
                "surcharges": [{"code": "funds", "label_zh": "政府性基金", "price": "0.029"}],
            },
            {
                "valid_from": "2025-04-16T12:07:00+08:00",
                "energy": {
                    "kind": "tou",
                    "rates": rates("0.012345"),
                    "day_profiles": {"workday": WORKDAY},
                },
            },
        ],
    }


def scalar_bill(tariff, day: date, row: np.ndarray):
    midnight = datetime.combine(day, time(0), tzinfo=tariff.timezone)
    step = 1440 // len(row)
    intervals = tuple(
        Interval(midnight + timedelta(minutes=step * slot), Decimal(int(units)).scaleb(-DECIMALS))
        for slot, units in enumerate(row)
    )
    return rate(tariff, Usage(intervals=intervals))


def sample_days() -> list[date]:
    # weekdays, a weekend, and the day the new version starts at 12:07
    return [date(2025, 4, 14) + timedelta(days=offset) for offset in range(7)] * 3


def test_bulk_lines_equal_scalar_lines_for_every_meter_day():
    tariff = parse_tariff(tariff_with_price_change())
    days = sample_days()
    consumption = np.random.default_rng(3).integers(0, 5000, size=(len(days), 96))
    rated = rate_meter_days(tariff, days, consumption, decimals=DECIMALS)
    for row, day in enumerate(days):
        expected = scalar_bill(tariff, day, consumption[row])
        assert rated.lines(row) == expected.lines
        assert rated.total(row) == expected.total


def test_bulk_totals_are_decimal_whole_fen():
    tariff = parse_tariff(tariff_with_price_change())
    days = sample_days()
    consumption = np.random.default_rng(4).integers(0, 5000, size=(len(days), 96))
    totals = rate_meter_days(tariff, days, consumption, decimals=DECIMALS).totals()
    assert all(
        isinstance(total, Decimal) and total == total.quantize(Decimal("0.01")) for total in totals
    )
    assert totals == [
        scalar_bill(tariff, day, consumption[row]).total for row, day in enumerate(days)
    ]


def test_hourly_slots_are_rated_like_quarter_hours():
    tariff = parse_tariff(tariff_with_price_change())
    days = [date(2025, 4, 15)]
    consumption = np.arange(24).reshape(1, 24) * 1000
    rated = rate_meter_days(tariff, days, consumption, decimals=DECIMALS)
    assert rated.lines(0) == scalar_bill(tariff, days[0], consumption[0]).lines


def test_values_too_large_for_int64_products_stay_exact():
    tariff = parse_tariff(tariff_with_price_change())
    days = [date(2025, 4, 15)]
    consumption = np.full((1, 96), 10**15, dtype=np.int64)
    rated = rate_meter_days(tariff, days, consumption, decimals=DECIMALS)
    assert rated.lines(0) == scalar_bill(tariff, days[0], consumption[0]).lines


def test_tiered_tariff_is_refused_in_bulk():
    tariff = parse_tariff(
        {
            "id": "tiered",
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
    with pytest.raises(UsageError) as caught:
        rate_meter_days(tariff, [date(2025, 1, 2)], np.zeros((1, 96), dtype=np.int64), decimals=2)
    assert caught.value.code == "tiers_not_supported_in_bulk"


def test_negative_consumption_is_refused_in_bulk():
    tariff = parse_tariff(tariff_with_price_change())
    consumption = np.zeros((1, 96), dtype=np.int64)
    consumption[0, 5] = -1
    with pytest.raises(UsageError) as caught:
        rate_meter_days(tariff, [date(2025, 4, 15)], consumption, decimals=2)
    assert caught.value.code == "negative_consumption"


def test_slots_that_do_not_divide_the_day_are_refused():
    tariff = parse_tariff(tariff_with_price_change())
    with pytest.raises(UsageError) as caught:
        rate_meter_days(tariff, [date(2025, 4, 15)], np.zeros((1, 7), dtype=np.int64), decimals=2)
    assert caught.value.code == "invalid_slots"


def test_daylight_saving_day_is_refused_in_bulk():
    document = tariff_with_price_change()
    document["timezone"] = "Europe/Berlin"
    tariff = parse_tariff(document)
    with pytest.raises(UsageError) as caught:
        rate_meter_days(tariff, [date(2025, 3, 30)], np.zeros((1, 96), dtype=np.int64), decimals=2)
    assert caught.value.code == "uneven_day"
