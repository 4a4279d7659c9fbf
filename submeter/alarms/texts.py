"""The text of each kind of notification, rendered in the customer's language.

Money is shown as ¥ with two decimals, times in the organisation's time zone. The caller's
context holds raw values (Decimal amounts, aware datetimes); `render` checks that a kind gets the
values it needs and returns the subject, the body, the formatted template parameters and a
JSON-safe copy of the context.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from submeter.alarms.models import NotificationKind
from submeter.errors import ServiceError

MONEY_KEYS = frozenset({"balance", "amount"})
TIME_KEYS = frozenset({"zero_at", "cutoff_at"})
OPTIONAL_KEYS = frozenset({"room"})

REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {
    NotificationKind.BALANCE_LOW: ("level", "balance"),
    NotificationKind.BALANCE_ZERO_SOON: ("zero_at", "balance"),
    NotificationKind.CUTOFF_PENDING: ("cutoff_at", "balance"),
    NotificationKind.CUT_OFF: ("balance",),
    NotificationKind.RESTORED: ("balance",),
    NotificationKind.TOPUP_RECEIVED: ("amount", "balance"),
}

SUBJECTS = {
    NotificationKind.BALANCE_LOW: _("Low balance (level %(level)s)"),
    NotificationKind.BALANCE_ZERO_SOON: _("Your balance will run out soon"),
    NotificationKind.CUTOFF_PENDING: _("Supply will be cut off at %(cutoff_at)s"),
    NotificationKind.CUT_OFF: _("Supply cut off"),
    NotificationKind.RESTORED: _("Supply restored"),
    NotificationKind.TOPUP_RECEIVED: _("Top-up received"),
}

BODIES = {
    NotificationKind.BALANCE_LOW: _(
        "Your balance is %(balance)s, below alarm level %(level)s. "
        "Please top up soon to keep your supply on."
    ),
    NotificationKind.BALANCE_ZERO_SOON: _(
        "At your recent consumption your balance of %(balance)s will reach zero at about "
        "%(zero_at)s. Please top up."
    ),
    NotificationKind.CUTOFF_PENDING: _(
        "Your balance is %(balance)s. Your supply will be cut off at %(cutoff_at)s "
        "unless you top up before then."
    ),
    NotificationKind.CUT_OFF: _(
        "Your balance is %(balance)s and your supply has been cut off. "
        "It is restored as soon as you top up."
    ),
    NotificationKind.RESTORED: _(
        "Thank you. Your supply has been restored; your balance is %(balance)s."
    ),
    NotificationKind.TOPUP_RECEIVED: _(
        "We have received your top-up of %(amount)s. Your balance is now %(balance)s."
    ),
}

ROOM_PREFIX = _("%(room)s: %(subject)s")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    params: dict[str, str]
    context: dict[str, Any]


def format_money(value: Decimal) -> str:
    """¥ with two decimals; a debt as -¥3.50."""
    amount = value.quantize(Decimal("0.01"))
    return f"-¥{-amount:.2f}" if amount < 0 else f"¥{amount:.2f}"


def format_time(value: datetime.datetime, time_zone: str) -> str:
    return value.astimezone(zoneinfo.ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M")


def _invalid(key: str, message) -> ServiceError:
    return ServiceError("invalid", str(message), {key: [str(message)]})


def _money(key: str, value: Any) -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise _invalid(key, _("Enter an amount in yuan.")) from exc
    if isinstance(value, float) or not amount.is_finite():
        raise _invalid(key, _("Enter an amount in yuan."))
    return amount


def _time(key: str, value: Any) -> datetime.datetime:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime.datetime) or moment.tzinfo is None:
        raise _invalid(key, _("An aware date and time is required."))
    return moment


def render(kind: str, context: dict[str, Any], *, language: str, time_zone: str) -> Rendered:
    """Subject, body and template parameters of `kind`; ServiceError when context lacks a value."""
    if kind not in REQUIRED_CONTEXT:
        raise _invalid("kind", _("Unknown notification kind."))
    missing = [key for key in REQUIRED_CONTEXT[kind] if context.get(key) in (None, "")]
    if missing:
        raise _invalid(missing[0], _("This value is required for this kind of notification."))
    stored: dict[str, Any] = {}
    params: dict[str, str] = {}
    for key, value in context.items():
        if key in MONEY_KEYS:
            amount = _money(key, value)
            stored[key], params[key] = str(amount), format_money(amount)
        elif key in TIME_KEYS:
            moment = _time(key, value)
            stored[key], params[key] = moment.isoformat(), format_time(moment, time_zone)
        elif isinstance(value, datetime.datetime | datetime.date):
            stored[key] = params[key] = value.isoformat()
        elif isinstance(value, Decimal):
            stored[key] = params[key] = str(value)
        elif isinstance(value, str | int | bool) or value is None:
            stored[key] = value
            params[key] = "" if value is None else str(value)
        else:
            stored[key] = params[key] = str(value)
    with translation.override(language):
        subject = str(SUBJECTS[kind]) % params
        if params.get("room"):
            subject = str(ROOM_PREFIX) % {"room": params["room"], "subject": subject}
        body = str(BODIES[kind]) % params
    return Rendered(subject=subject[:200], body=body, params=params, context=stored)
