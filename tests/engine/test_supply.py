"""The prepaid supply rules: thresholds with hysteresis, alarm levels, quiet windows, forecast."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from submeter.engine.supply import (
    QuietRules,
    alarm_level,
    forecast_zero,
    may_restore,
    must_cut,
    supply_wanted,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
money = st.decimals(min_value=-10000, max_value=10000, places=2)
limit = st.decimals(min_value=0, max_value=1000, places=2)
margin = st.decimals(min_value=0, max_value=100, places=2)


def test_cut_only_below_minus_the_overdraft_limit():
    assert not must_cut(Decimal("-50.00"), Decimal("50.00"), protected=False)
    assert must_cut(Decimal("-50.01"), Decimal("50.00"), protected=False)


def test_zero_balance_without_overdraft_is_not_arrears():
    assert not must_cut(Decimal("0.00"), Decimal("0.00"), protected=False)


def test_protected_customer_is_never_cut():
    assert not must_cut(Decimal("-9999.00"), Decimal("0.00"), protected=True)


def test_restore_waits_for_the_reconnect_threshold():
    assert not may_restore(Decimal("0.50"), Decimal("0.00"), Decimal("1.00"))
    assert may_restore(Decimal("1.00"), Decimal("0.00"), Decimal("1.00"))


@given(balance=money, overdraft=limit, reconnect=margin, protected=st.booleans(), cut=st.booleans())
def test_supply_is_never_cut_above_the_floor_or_when_protected(
    balance, overdraft, reconnect, protected, cut
):
    wanted = supply_wanted(balance, overdraft, reconnect, protected=protected, currently_cut=cut)
    if protected or (not cut and balance >= -overdraft):
        assert wanted


@given(balance=money, overdraft=limit, reconnect=margin)
def test_a_cut_meter_comes_back_at_the_threshold(balance, overdraft, reconnect):
    wanted = supply_wanted(balance, overdraft, reconnect, protected=False, currently_cut=True)
    assert wanted == (balance >= -overdraft + reconnect)


def test_alarm_levels_count_the_amounts_reached():
    levels = [Decimal("50"), Decimal("20"), Decimal("5")]
    assert alarm_level(Decimal("50.01"), levels) == 0
    assert alarm_level(Decimal("50.00"), levels) == 1
    assert alarm_level(Decimal("19.99"), levels) == 2
    assert alarm_level(Decimal("-3.00"), levels) == 3


def test_night_window_crossing_midnight_is_quiet():
    rules = QuietRules(start=time(22, 0), end=time(7, 0))
    assert rules.is_quiet(datetime(2026, 11, 23, 23, 30, tzinfo=SHANGHAI))
    assert rules.is_quiet(datetime(2026, 11, 24, 6, 59, tzinfo=SHANGHAI))
    assert not rules.is_quiet(datetime(2026, 11, 24, 7, 0, tzinfo=SHANGHAI))


def test_next_allowed_skips_the_night_and_a_holiday_weekend():
    rules = QuietRules(
        start=time(22, 0), end=time(7, 0), weekends=True, holidays={date(2026, 11, 30)}
    )
    friday_night = datetime(2026, 11, 27, 23, 0, tzinfo=SHANGHAI)
    assert rules.next_allowed(friday_night) == datetime(2026, 12, 1, 7, 0, tzinfo=SHANGHAI)


def test_extreme_weather_allows_no_cut_off():
    rules = QuietRules(extreme_weather=True)
    assert rules.is_quiet(datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI))
    assert rules.next_allowed(datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI)) is None


@given(
    start=st.times(),
    end=st.times(),
    weekends=st.booleans(),
    at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)),  # noqa: DTZ001 (naive bounds, as hypothesis wants)
)
def test_next_allowed_is_never_quiet_and_never_earlier(start, end, weekends, at):
    rules = QuietRules(start=start, end=end, weekends=weekends)
    local = at.replace(tzinfo=SHANGHAI)
    allowed = rules.next_allowed(local)
    assert allowed is not None
    assert allowed >= local
    assert not rules.is_quiet(allowed)


def test_forecast_from_recent_spending():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
    at = forecast_zero(Decimal("24.00"), Decimal("48.00"), timedelta(hours=24), now)
    assert at == now + timedelta(hours=12)


def test_no_forecast_without_spending_or_money():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
    assert forecast_zero(Decimal("24.00"), Decimal("0"), timedelta(hours=24), now) is None
    assert forecast_zero(Decimal("0.00"), Decimal("5"), timedelta(hours=24), now) is None
