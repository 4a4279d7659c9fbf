from decimal import Decimal

import pytest

from submeter.alarms.models import Notification, NotificationState
from submeter.alarms.services import deliver_pending, notify
from submeter.errors import ServiceError
from submeter.tenancy.models import AuditEntry
from tests.factories import make_customer

LOW = {"level": 1, "balance": Decimal("45.00")}


def channels_of(notifications):
    return [n.channel for n in notifications]


def test_one_notification_per_chosen_channel_and_in_app_always(org):
    customer = make_customer(
        org, phone="13800138000", notify_sms=True, notify_email=True, email="a@example.com"
    )

    notifications = notify(customer, "balance_low", context=LOW, dedupe_key="low-1")

    assert channels_of(notifications) == ["sms", "email", "in_app"]
    assert Notification.objects.filter(customer=customer).count() == 3


def test_customer_who_chose_nothing_gets_in_app_only(org):
    customer = make_customer(org, notify_sms=False)

    notifications = notify(customer, "balance_low", context=LOW, dedupe_key="low-1")

    assert channels_of(notifications) == ["in_app"]


def test_in_app_notification_is_delivered_at_once_with_its_text(org):
    customer = make_customer(org, notify_sms=False)

    [in_app] = notify(customer, "balance_low", context=LOW, dedupe_key="low-1")

    assert in_app.state == NotificationState.DELIVERED
    assert in_app.sent_at is not None
    assert "¥45.00" in in_app.body
    assert in_app.context == {"level": 1, "balance": "45.00"}


def test_same_dedupe_key_answers_the_recorded_notifications_and_sends_nothing_more(
    org, sms_gateway
):
    customer = make_customer(org, phone="13800138000")
    first = notify(customer, "balance_low", context=LOW, dedupe_key="low-1")
    deliver_pending()

    again = notify(customer, "balance_low", context=LOW, dedupe_key="low-1")
    deliver_pending()

    assert [n.pk for n in again] == [n.pk for n in first]
    assert Notification.objects.filter(customer=customer).count() == 2
    assert len(sms_gateway.received) == 1


def test_same_key_of_another_kind_is_another_notification(org):
    customer = make_customer(org, notify_sms=False)
    notify(customer, "balance_low", context=LOW, dedupe_key="k")

    notify(customer, "cut_off", context={"balance": "-1.00"}, dedupe_key="k")

    assert Notification.objects.filter(customer=customer).count() == 2


def test_a_channel_chosen_later_is_added_under_the_same_key(org):
    customer = make_customer(org, notify_sms=False)
    [in_app] = notify(customer, "balance_low", context=LOW, dedupe_key="k")
    customer.notify_email = True
    customer.email = "a@example.com"
    customer.save()

    notifications = notify(customer, "balance_low", context=LOW, dedupe_key="k")

    assert channels_of(notifications) == ["email", "in_app"]
    assert notifications[1].pk == in_app.pk


def test_over_the_hourly_limit_a_notification_is_recorded_as_suppressed(org, sms_gateway, settings):
    settings.NOTIFY_MAX_PER_HOUR = 2
    customer = make_customer(org, phone="13800138000")
    for key in ("a", "b", "c"):
        notify(customer, "balance_low", context=LOW, dedupe_key=key)

    deliver_pending()

    sms = Notification.objects.filter(customer=customer, channel="sms").order_by("id")
    assert [n.state for n in sms] == ["sent", "sent", "suppressed"]
    assert sms[2].error == "More than 2 notifications in an hour."
    assert len(sms_gateway.received) == 2


def test_in_app_notifications_are_not_throttled(org, settings):
    settings.NOTIFY_MAX_PER_HOUR = 1
    customer = make_customer(org, notify_sms=False)

    for key in ("a", "b", "c"):
        notify(customer, "balance_low", context=LOW, dedupe_key=key)

    states = set(Notification.objects.filter(customer=customer).values_list("state", flat=True))
    assert states == {"delivered"}


def test_throttle_counts_per_customer(org, sms_gateway, settings):
    settings.NOTIFY_MAX_PER_HOUR = 1
    one = make_customer(org, phone="13800138001")
    two = make_customer(org, phone="13800138002")

    notify(one, "balance_low", context=LOW, dedupe_key="a")
    notify(two, "balance_low", context=LOW, dedupe_key="a")

    states = Notification.objects.filter(channel="sms").values_list("state", flat=True)
    assert list(states) == ["queued", "queued"]


def test_provider_not_configured_is_recorded_as_failed_not_raised(org):
    customer = make_customer(org, phone="13800138000", notify_sms=True)

    [sms, in_app] = notify(customer, "balance_low", context=LOW, dedupe_key="k")

    assert sms.state == NotificationState.FAILED
    assert sms.error == "not configured"
    assert sms.retry is False
    assert deliver_pending() == 0
    assert in_app.state == NotificationState.DELIVERED


def test_chosen_channel_without_an_address_is_recorded_as_failed(org, smtp):
    customer = make_customer(org, notify_sms=False, notify_email=True, email="")

    [email, _in_app] = notify(customer, "balance_low", context=LOW, dedupe_key="k")

    assert email.state == NotificationState.FAILED
    assert email.error == "no recipient"
    assert smtp.messages == []


def test_missing_context_value_is_refused(org):
    customer = make_customer(org, notify_sms=False)

    with pytest.raises(ServiceError) as refused:
        notify(customer, "balance_low", context={"level": 1}, dedupe_key="k")

    assert refused.value.fields == {
        "balance": ["This value is required for this kind of notification."]
    }
    assert Notification.objects.count() == 0


def test_notify_writes_the_audit_log(org):
    customer = make_customer(org, notify_sms=False)

    notify(customer, "restored", context={"balance": "10"}, dedupe_key="r-1")

    entry = AuditEntry.objects.get(action="alarms.notify")
    assert entry.organisation_id == org.pk
    assert entry.after == {
        "kind": "restored",
        "dedupe_key": "r-1",
        "states": {"in_app": "delivered"},
    }
