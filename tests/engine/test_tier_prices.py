"""Tiered (阶梯) prices: DOMAIN.md §4 vectors, cumulative usage, monotonicity."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from submeter.engine import Usage, parse_tariff, rate

PERIOD_START = "2024-01-01T00:00:00+08:00"


def zhejiang_residential() -> dict:
    return {
        "id": "zj-residential",
        "utility": "electricity",
        "versions": [
            {
                "valid_from": "2012-07-01",
                "energy": {
                    "kind": "tiered",
                    "period": "yearly",
                    "tiers": [
                        {"up_to": "2760", "price": "0.538"},
                        {"up_to": "4800", "price": "0.588"},
                        {"price": "0.838"},
                    ],
                },
            }
        ],
    }


def junlian_water() -> dict:
    return {
        "id": "junlian-water",
        "utility": "water",
        "versions": [
            {
                "valid_from": "2020-01-01",
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


def bill_for(document: dict, quantity: str, before: str = "0"):
    tariff = parse_tariff(document)
    usage = Usage(
        period_start=tariff.versions[0].valid_from,
        consumption=Decimal(quantity),
        tier_usage_before=Decimal(before),
    )
    return rate(tariff, usage)


def test_zhejiang_5000_kwh_a_year_costs_2852_00():
    bill = bill_for(zhejiang_residential(), "5000")
    assert [line.amount for line in bill.lines] == [
        Decimal("1484.88"),
        Decimal("1199.52"),
        Decimal("167.60"),
    ]
    assert bill.total == Decimal("2852.00")


def test_water_300_m3_costs_429_00():
    bill = bill_for(junlian_water(), "300")
    assert [line.amount for line in bill.lines] == [Decimal("312.00"), Decimal("117.00")]
    assert bill.total == Decimal("429.00")


def test_water_400_m3_costs_702_00():
    assert bill_for(junlian_water(), "400").total == Decimal("702.00")


def test_water_lines_are_in_cubic_metres_with_water_codes():
    line = bill_for(junlian_water(), "300").lines[1]
    assert (line.code, line.unit, line.label_zh) == ("water.tier2", "m3", "第2阶梯水费")


def test_usage_earlier_in_the_year_moves_the_month_into_higher_tiers():
    bill = bill_for(zhejiang_residential(), "500", before="2500")
    assert [(line.code, line.quantity) for line in bill.lines] == [
        ("energy.tier1", Decimal("260")),
        ("energy.tier2", Decimal("240")),
    ]


def test_monthly_bills_with_running_usage_add_up_to_the_yearly_bill():
    months = ["400", "450", "380", "520", "610", "700", "640", "500", "300", "200", "150", "150"]
    before = Decimal(0)
    total = Decimal(0)
    for month in months:
        total += bill_for(zhejiang_residential(), month, before=str(before)).total
        before += Decimal(month)
    assert before == Decimal(5000)
    assert total == Decimal("2852.00")


quantities = st.decimals(min_value=0, max_value=20000, places=2)


@given(quantities, quantities)
def test_tier_charge_never_falls_when_usage_grows(smaller, extra):
    low = bill_for(zhejiang_residential(), str(smaller)).total
    high = bill_for(zhejiang_residential(), str(smaller + extra)).total
    assert low <= high


@given(quantities, quantities)
def test_tier_exact_charge_of_two_parts_equals_charge_of_the_whole(first, second):
    whole = bill_for(zhejiang_residential(), str(first + second))
    part_one = bill_for(zhejiang_residential(), str(first))
    part_two = bill_for(zhejiang_residential(), str(second), before=str(first))
    exact_parts = sum(line.amount_exact for line in part_one.lines + part_two.lines)
    assert exact_parts == sum(line.amount_exact for line in whole.lines)


def test_tou_tier_increments_add_on_top_of_peak_and_valley_prices():
    document = {
        "id": "zj-residential-tou",
        "utility": "electricity",
        "versions": [
            {
                "valid_from": "2012-07-01",
                "energy": {
                    "kind": "tou",
                    "rates": {"peak": {"price": "0.568"}, "valley": {"price": "0.288"}},
                    "day_profiles": {
                        "daily": [
                            {"from": "08:00", "to": "22:00", "rate": "peak"},
                            {"from": "22:00", "to": "08:00", "rate": "valley"},
                        ]
                    },
                    "tier_increments": {
                        "period": "yearly",
                        "tiers": [
                            {"up_to": "2760", "increment": "0"},
                            {"up_to": "4800", "increment": "0.05"},
                            {"increment": "0.30"},
                        ],
                    },
                },
            }
        ],
    }
    tariff = parse_tariff(document)
    usage = Usage(
        period_start=tariff.versions[0].valid_from,
        consumption_by_rate={"peak": Decimal("3000"), "valley": Decimal("2000")},
    )
    bill = rate(tariff, usage)
    assert [(line.code, line.amount) for line in bill.lines] == [
        ("energy.peak", Decimal("1704.00")),
        ("energy.valley", Decimal("576.00")),
        ("energy.tier2_increment", Decimal("102.00")),
        ("energy.tier3_increment", Decimal("60.00")),
    ]
