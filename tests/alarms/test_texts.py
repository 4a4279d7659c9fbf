import datetime
from decimal import Decimal

import pytest

from submeter.alarms.models import NotificationKind
from submeter.alarms.services import notify
from submeter.alarms.texts import format_money, render
from submeter.errors import ServiceError
from tests.factories import make_customer, make_organisation


def test_money_is_shown_as_yuan_with_two_decimals():
    assert format_money(Decimal("12.3")) == "¥12.30"
    assert format_money(Decimal("0")) == "¥0.00"
    assert format_money(Decimal("-3.456")) == "-¥3.46"


def test_balance_low_text_names_the_level_and_the_balance():
    text = render(
        NotificationKind.BALANCE_LOW,
        {"level": 3, "balance": Decimal("4.5")},
        language="en",
        time_zone="Asia/Shanghai",
    )

    assert text.subject == "Low balance (level 3)"
    assert text.body == (
        "Your balance is ¥4.50, below alarm level 3. Please top up soon to keep your supply on."
    )


def test_times_are_shown_in_the_organisations_time_zone():
    zero_at = datetime.datetime(2025, 6, 30, 23, 15, tzinfo=datetime.UTC)

    shanghai = render(
        "balance_zero_soon",
        {"zero_at": zero_at, "balance": "8"},
        language="en",
        time_zone="Asia/Shanghai",
    )
    london = render(
        "balance_zero_soon",
        {"zero_at": zero_at, "balance": "8"},
        language="en",
        time_zone="Europe/London",
    )

    assert shanghai.params["zero_at"] == "2025-07-01 07:15"
    assert london.params["zero_at"] == "2025-07-01 00:15"
    assert "2025-07-01 07:15" in shanghai.body


def test_every_kind_renders_in_english_and_chinese():
    context = {
        "level": 1,
        "balance": Decimal("1"),
        "amount": Decimal("50"),
        "zero_at": datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
        "cutoff_at": datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
    }
    for kind in NotificationKind.values:
        for language in ("en", "zh-hans"):
            text = render(kind, context, language=language, time_zone="Asia/Shanghai")
            assert text.subject and "%(" not in text.subject
            assert "¥1.00" in text.body


def test_room_is_named_in_the_subject():
    text = render(
        "cut_off", {"balance": "-1", "room": "A-101"}, language="en", time_zone="Asia/Shanghai"
    )

    assert text.subject == "A-101: Supply cut off"


def test_a_float_amount_is_refused():
    with pytest.raises(ServiceError):
        render("cut_off", {"balance": 1.5}, language="en", time_zone="Asia/Shanghai")


def test_a_naive_time_is_refused():
    with pytest.raises(ServiceError):
        render(
            "cutoff_pending",
            {"balance": "1", "cutoff_at": datetime.datetime(2025, 1, 1)},  # noqa: DTZ001
            language="en",
            time_zone="Asia/Shanghai",
        )


def test_notification_is_rendered_in_the_default_language_and_the_org_time_zone(db, settings):
    settings.NOTIFY_LANGUAGE = "en"
    org = make_organisation(time_zone="Europe/London")
    customer = make_customer(org, notify_sms=False)
    cutoff_at = datetime.datetime(2025, 1, 1, 9, 0, tzinfo=datetime.UTC)

    [in_app] = notify(
        customer, "cutoff_pending", context={"cutoff_at": cutoff_at, "balance": "2"}, dedupe_key="k"
    )

    assert in_app.language == "en"
    assert in_app.subject == "Supply will be cut off at 2025-01-01 09:00"
    assert in_app.context == {"cutoff_at": "2025-01-01T09:00:00+00:00", "balance": "2"}


def test_the_default_language_is_chinese(db):
    customer = make_customer(make_organisation(), notify_sms=False)

    [in_app] = notify(customer, "restored", context={"balance": "2"}, dedupe_key="k")

    assert in_app.language == "zh-hans"
