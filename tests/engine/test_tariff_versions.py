"""Tariff versions: the one in force at an instant, and rating across a price change."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from submeter.engine import (
    Interval,
    Usage,
    UsageError,
    parse_tariff,
    rate,
    version_in_force,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def two_version_tariff() -> dict:
    return {
        "id": "price-change",
        "utility": "electricity",
        "versions": [
            {"valid_from": "2025-01-01", "energy": {"kind": "flat", "price": "0.60"}},
            {
                "valid_from": "2025-07-01T00:00:00+08:00",
                "note": "new price from July",
                "energy": {"kind": "flat", "price": "0.65"},
            },
        ],
    }


def test_version_in_force_is_the_last_one_started():
    tariff = parse_tariff(two_version_tariff())
    june = datetime(2025, 6, 30, 23, 59, tzinfo=SHANGHAI)
    july = datetime(2025, 7, 1, tzinfo=SHANGHAI)
    assert version_in_force(tariff, june).energy.price == Decimal("0.60")
    assert version_in_force(tariff, july).energy.price == Decimal("0.65")


def test_date_valid_from_means_local_midnight():
    tariff = parse_tariff(two_version_tariff())
    assert tariff.versions[0].valid_from == datetime(2025, 1, 1, tzinfo=SHANGHAI)


def test_instant_before_the_first_version_has_no_tariff():
    tariff = parse_tariff(two_version_tariff())
    with pytest.raises(UsageError) as caught:
        tariff.version_at(datetime(2024, 12, 31, tzinfo=SHANGHAI))
    assert caught.value.code == "no_version_in_force"


def test_naive_instant_is_rejected():
    tariff = parse_tariff(two_version_tariff())
    with pytest.raises(UsageError) as caught:
        tariff.version_at(datetime(2025, 3, 1))  # noqa: DTZ001
    assert caught.value.code == "naive_datetime"


def test_past_period_is_rated_with_the_version_then_in_force():
    tariff = parse_tariff(two_version_tariff())
    usage = Usage(
        period_start=datetime(2025, 3, 1, tzinfo=SHANGHAI),
        period_end=datetime(2025, 4, 1, tzinfo=SHANGHAI),
        consumption=Decimal(100),
    )
    (line,) = rate(tariff, usage).lines
    assert (line.unit_price, line.tariff_version) == (
        Decimal("0.60"),
        tariff.versions[0].valid_from,
    )


def test_register_period_spanning_a_price_change_is_refused():
    tariff = parse_tariff(two_version_tariff())
    usage = Usage(
        period_start=datetime(2025, 6, 15, tzinfo=SHANGHAI),
        period_end=datetime(2025, 7, 15, tzinfo=SHANGHAI),
        consumption=Decimal(100),
    )
    with pytest.raises(UsageError) as caught:
        rate(tariff, usage)
    assert caught.value.code == "version_change_in_period"


def test_intervals_use_the_version_in_force_at_each_start():
    tariff = parse_tariff(two_version_tariff())
    start = datetime(2025, 6, 30, 23, 30, tzinfo=SHANGHAI)
    intervals = tuple(
        Interval(start + timedelta(minutes=15 * index), Decimal("10")) for index in range(4)
    )
    bill = rate(tariff, Usage(intervals=intervals))
    assert [(line.unit_price, line.quantity, line.amount) for line in bill.lines] == [
        (Decimal("0.60"), Decimal("20"), Decimal("12.00")),
        (Decimal("0.65"), Decimal("20"), Decimal("13.00")),
    ]
    assert bill.total == Decimal("25.00")
