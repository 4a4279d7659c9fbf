"""Interval rating: splitting a series anywhere changes nothing; daily postings make the month."""

import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from submeter.engine import Interval, LineRounder, Usage, parse_tariff, rate

SHANGHAI = ZoneInfo("Asia/Shanghai")
SERIES_START = datetime(2025, 4, 14, tzinfo=SHANGHAI)


def tou_profile(peak_from: str) -> list[dict]:
    return [
        {"from": "22:00", "to": "06:00", "rate": "valley"},
        {"from": "06:00", "to": peak_from, "rate": "flat"},
        {"from": peak_from, "to": "20:00", "rate": "peak"},
        {"from": "20:00", "to": "22:00", "rate": "sharp"},
    ]


def tariff_with_price_change() -> dict:
    """Four rates, weekends, and a new version with other prices and bands mid-series."""
    rates = {"sharp": "1.2", "peak": "0.9", "flat": "0.6", "valley": "0.3"}
    return {
        "id": "split-test",
        "utility": "electricity",
        "versions": [
            {
                "valid_from": "2025-01-01",
                "energy": {
                    "kind": "tou",
                    "rates": {code: {"price": price} for code, price in rates.items()},
                    "day_profiles": {
                        "workday": tou_profile("09:00"),
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
                    "rates": {
                        code: {"price": str(Decimal(price) + Decimal("0.012345"))}
                        for code, price in rates.items()
                    },
                    "day_profiles": {"workday": tou_profile("10:30")},
                },
            },
        ],
    }


def totals_by_line(bills) -> dict:
    totals: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for bill in bills:
        for line in bill.lines:
            key = (line.code, line.tariff_version)
            totals[key][0] += line.quantity
            totals[key][1] += line.amount_exact
    return dict(totals)


interval_series = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6 * 24 * 60),
        st.decimals(min_value=0, max_value=500, places=3),
    ),
    min_size=2,
    max_size=200,
    unique_by=lambda pair: pair[0],
)


@settings(max_examples=150, deadline=None)
@given(interval_series, st.data())
def test_rating_a_series_split_anywhere_equals_rating_it_whole(pairs, data):
    tariff = parse_tariff(tariff_with_price_change())
    intervals = tuple(
        Interval(SERIES_START + timedelta(minutes=minute), energy)
        for minute, energy in sorted(pairs)
    )
    cut = data.draw(st.integers(min_value=1, max_value=len(intervals) - 1))
    whole = rate(tariff, Usage(intervals=intervals))
    first = rate(tariff, Usage(intervals=intervals[:cut]))
    second = rate(tariff, Usage(intervals=intervals[cut:]))
    assert totals_by_line([first, second]) == totals_by_line([whole])


def month_of_quarter_hours(seed: int) -> tuple[Interval, ...]:
    generator = random.Random(seed)
    start = datetime(2025, 4, 1, tzinfo=SHANGHAI)
    return tuple(
        Interval(
            start + timedelta(minutes=15 * index),
            Decimal(generator.randint(0, 9999)).scaleb(-3),
        )
        for index in range(30 * 96)
    )


def test_daily_postings_through_the_carry_equal_the_monthly_bill_to_the_fen():
    tariff = parse_tariff(tariff_with_price_change())
    intervals = month_of_quarter_hours(seed=7)
    monthly = rate(tariff, Usage(intervals=intervals))
    rounder = LineRounder()
    posted = Decimal(0)
    for day in range(30):
        daily = rate(tariff, Usage(intervals=intervals[day * 96 : (day + 1) * 96]))
        for line in daily.lines:
            posted += rounder.post(f"{line.code}@{line.tariff_version}", line.amount_exact)
    assert posted == monthly.total
    assert len({line.tariff_version for line in monthly.lines}) == 2


def test_daily_bills_rounded_alone_drift_from_the_monthly_bill():
    tariff = parse_tariff(tariff_with_price_change())
    intervals = month_of_quarter_hours(seed=7)
    monthly = rate(tariff, Usage(intervals=intervals)).total
    rounded_alone = sum(
        rate(tariff, Usage(intervals=intervals[day * 96 : (day + 1) * 96])).total
        for day in range(30)
    )
    assert rounded_alone != monthly
