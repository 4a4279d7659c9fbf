"""The prepaid supply rules, as pure functions: alarm levels, cut-off and restore thresholds,
quiet windows and the zero-balance forecast. The control app applies them to the ledger.

Thresholds (RELIABILITY R5, hysteresis): supply is cut when the balance falls *below* the floor
(minus the overdraft limit) and comes back once it is at least `floor + reconnect_margin`.
A protected (保电) customer is never cut. A cut-off is never *sent* inside a quiet window.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class QuietRules:
    """An organisation's windows in which no automatic cut-off is sent (R2)."""

    start: time | None = None
    end: time | None = None
    weekends: bool = False
    holidays: Collection[date] = ()
    extreme_weather: bool = False

    def is_quiet(self, local: datetime) -> bool:
        """Is `local` (the organisation's local time) inside a quiet window?"""
        if self.extreme_weather:
            return True
        if self.weekends and local.isoweekday() >= 6:
            return True
        if local.date() in self.holidays:
            return True
        if self.start is None or self.end is None or self.start == self.end:
            return False
        now = local.time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, local: datetime, *, limit_days: int = 31) -> datetime | None:
        """The first instant at or after `local` outside every quiet window (minute steps at
        window edges); None while extreme weather is set or nothing is found within the limit."""
        if self.extreme_weather:
            return None
        candidate = local
        horizon = local + timedelta(days=limit_days)
        while candidate <= horizon:
            if not self.is_quiet(candidate):
                return candidate
            candidate = self._window_end_after(candidate)
        return None

    def _window_end_after(self, local: datetime) -> datetime:
        """A later instant that is past the quiet window containing `local`."""
        if (self.weekends and local.isoweekday() >= 6) or local.date() in self.holidays:
            next_day = local.date() + timedelta(days=1)
            return datetime.combine(next_day, time(0, 0), tzinfo=local.tzinfo)
        if self.start is not None and self.end is not None:
            end = datetime.combine(local.date(), self.end, tzinfo=local.tzinfo)
            if end <= local:
                end += timedelta(days=1)
            return end
        return local + timedelta(minutes=1)


def alarm_level(balance: Decimal, levels: Sequence[Decimal]) -> int:
    """How many alarm levels the balance has fallen to (0 = none). `levels` may come in any
    order; level 1 is the highest amount."""
    return sum(1 for level in levels if balance <= level)


def must_cut(balance: Decimal, overdraft_limit: Decimal, *, protected: bool) -> bool:
    """Arrears: the balance is below what the overdraft allows, and the customer is not protected."""
    return not protected and balance < -overdraft_limit


def may_restore(balance: Decimal, overdraft_limit: Decimal, reconnect_margin: Decimal) -> bool:
    """The balance is back at or above the reconnect threshold (above the cut-off floor)."""
    return balance >= -overdraft_limit + reconnect_margin


def supply_wanted(
    balance: Decimal,
    overdraft_limit: Decimal,
    reconnect_margin: Decimal,
    *,
    protected: bool,
    currently_cut: bool,
) -> bool:
    """Should supply be on? With hysteresis: a cut meter waits for the reconnect threshold."""
    if protected:
        return True
    if currently_cut:
        return may_restore(balance, overdraft_limit, reconnect_margin)
    return not must_cut(balance, overdraft_limit, protected=False)


def forecast_zero(
    balance: Decimal, spent: Decimal, over: timedelta, now: datetime
) -> datetime | None:
    """When the balance reaches zero at the rate `spent` was used `over` the recent past;
    None when nothing was spent or the balance is already at or below zero."""
    if balance <= 0 or spent <= 0 or over <= timedelta(0):
        return None
    per_second = spent / Decimal(over.total_seconds())
    seconds = balance / per_second
    if seconds > Decimal(10 * 365 * 86400):
        return None
    return now + timedelta(seconds=float(seconds))
