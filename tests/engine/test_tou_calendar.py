"""Time-of-use calendar: midnight-crossing periods, seasons, weekends, holidays, time zones."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from submeter.engine import Interval, Usage, parse_tariff, rate

SHANGHAI = ZoneInfo("Asia/Shanghai")


def jiangsu_like_tariff() -> dict:
    """Jiangsu 2025 bands (苏发改价格发〔2025〕426号) plus a weekend and a deep-valley holiday."""
    return {
        "id": "jiangsu-like",
        "utility": "electricity",
        "versions": [
            {
                "valid_from": "2025-01-01",
                "energy": {
                    "kind": "tou",
                    "rates": {
                        "peak": {"price": "1.0"},
                        "flat": {"price": "0.6"},
                        "valley": {"price": "0.3"},
                        "deep_valley": {"price": "0.2"},
                    },
                    "day_profiles": {
                        "summer_winter": [
                            {"from": "00:00", "to": "06:00", "rate": "valley"},
                            {"from": "06:00", "to": "11:00", "rate": "flat"},
                            {"from": "11:00", "to": "13:00", "rate": "valley"},
                            {"from": "13:00", "to": "14:00", "rate": "flat"},
                            {"from": "14:00", "to": "22:00", "rate": "peak"},
                            {"from": "22:00", "to": "24:00", "rate": "flat"},
                        ],
                        "spring_autumn": [
                            {"from": "22:00", "to": "02:00", "rate": "flat"},
                            {"from": "02:00", "to": "06:00", "rate": "valley"},
                            {"from": "06:00", "to": "10:00", "rate": "flat"},
                            {"from": "10:00", "to": "14:00", "rate": "valley"},
                            {"from": "14:00", "to": "15:00", "rate": "flat"},
                            {"from": "15:00", "to": "22:00", "rate": "peak"},
                        ],
                        "weekend": [{"from": "00:00", "to": "24:00", "rate": "flat"}],
                        "holiday": [
                            {"from": "22:00", "to": "06:00", "rate": "deep_valley"},
                            {"from": "06:00", "to": "22:00", "rate": "flat"},
                        ],
                    },
                    "seasons": [
                        {
                            "name": "summer and winter",
                            "months": [1, 2, 6, 7, 8, 12],
                            "profiles": {"workday": "summer_winter", "holiday": "holiday"},
                        },
                        {
                            "name": "spring and autumn",
                            "months": [3, 4, 5, 9, 10, 11],
                            "profiles": {
                                "workday": "spring_autumn",
                                "weekend": "weekend",
                                "holiday": "holiday",
                            },
                        },
                    ],
                    "special_days": [
                        {"date": "2025-10-01", "until": "2025-10-08", "day_type": "holiday"},
                        {"date": "2025-09-28", "day_type": "workday", "note": "调休"},
                        {"date": "2025-06-02", "profile": "holiday"},
                    ],
                },
            }
        ],
    }


def rate_at(local_text: str) -> str:
    tariff = parse_tariff(jiangsu_like_tariff())
    local = datetime.fromisoformat(local_text).replace(tzinfo=SHANGHAI)
    energy = tariff.version_at(local).energy
    return energy.calendar.rate_at(local)


@pytest.mark.parametrize(
    ("local_time", "expected"),
    [
        ("2025-04-15 21:59", "peak"),
        ("2025-04-15 22:00", "flat"),
        ("2025-04-15 23:45", "flat"),
        ("2025-04-15 00:00", "flat"),
        ("2025-04-15 01:59", "flat"),
        ("2025-04-15 02:00", "valley"),
    ],
)
def test_period_crossing_midnight_covers_both_ends_of_the_day(local_time, expected):
    assert rate_at(local_time) == expected


def test_seasons_choose_the_day_profile_by_month():
    assert rate_at("2025-07-15 14:30") == "peak"
    assert rate_at("2025-04-15 14:30") == "flat"


def test_weekend_uses_the_weekend_profile_of_its_season():
    assert rate_at("2025-04-18 16:00") == "peak"  # Friday
    assert rate_at("2025-04-19 16:00") == "flat"  # Saturday


def test_season_without_weekend_profile_uses_its_workday_profile_on_weekends():
    assert rate_at("2025-07-19 16:00") == "peak"  # Saturday in summer


def test_holiday_range_uses_the_holiday_profile_with_deep_valley():
    assert rate_at("2025-10-01 03:00") == "deep_valley"
    assert rate_at("2025-10-08 23:00") == "deep_valley"
    assert rate_at("2025-10-09 03:00") == "valley"


def test_special_workday_on_a_sunday_uses_the_workday_profile():
    assert rate_at("2025-09-28 16:00") == "peak"  # Sunday made a workday (调休)


def test_special_day_can_name_a_profile_directly():
    assert rate_at("2025-06-02 03:00") == "deep_valley"


def quarter_hours(start: datetime, values: list[str]) -> tuple[Interval, ...]:
    return tuple(
        Interval(start + timedelta(minutes=15 * index), Decimal(value))
        for index, value in enumerate(values)
    )


def test_one_spring_workday_of_intervals_splits_into_rates():
    tariff = parse_tariff(jiangsu_like_tariff())
    start = datetime(2025, 4, 15, tzinfo=SHANGHAI)
    bill = rate(tariff, Usage(intervals=quarter_hours(start, ["0.25"] * 96)))
    assert [(line.code, line.quantity) for line in bill.lines] == [
        ("energy.peak", Decimal("7.00")),
        ("energy.flat", Decimal("9.00")),
        ("energy.valley", Decimal("8.00")),
    ]


def test_intervals_in_utc_are_billed_by_the_local_period_at_their_start():
    tariff = parse_tariff(jiangsu_like_tariff())
    # 07:00Z is 15:00 in Shanghai (peak); 06:45Z is 14:45 (flat)
    usage = Usage(
        intervals=(
            Interval(datetime(2025, 4, 15, 6, 45, tzinfo=UTC), Decimal("1")),
            Interval(datetime(2025, 4, 15, 7, 0, tzinfo=UTC), Decimal("2")),
        )
    )
    bill = rate(tariff, usage)
    assert [(line.code, line.quantity) for line in bill.lines] == [
        ("energy.peak", Decimal("2")),
        ("energy.flat", Decimal("1")),
    ]


def test_interval_straddling_a_band_change_is_billed_wholly_at_its_start():
    tariff = parse_tariff(jiangsu_like_tariff())
    usage = Usage(
        intervals=(Interval(datetime(2025, 4, 15, 14, 50, tzinfo=SHANGHAI), Decimal("1")),)
    )
    (line,) = rate(tariff, usage).lines
    assert line.code == "energy.flat"
