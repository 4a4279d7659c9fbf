from decimal import Decimal

import pytest

from submeter.alarms.models import Notification, NotificationState
from submeter.alarms.services import deliver_pending, notify, resend
from submeter.errors import ServiceError
from submeter.tenancy.models import AuditEntry
from tests.factories import make_customer

LOW = {"level": 1, "balance": Decimal("45.00")}


def failed_sms(customer, sms_gateway):
    sms_gateway.answers.append((200, {"code": "InvalidPhoneNumber", "message": "bad number"}))
    notify(customer, "balance_low", context=LOW, dedupe_key="k")
    deliver_pending()
    return Notification.objects.get(customer=customer, channel="sms")


def test_resend_records_a_new_notification_and_sends_it_to_the_corrected_number(
    org, admin_user, sms_gateway
):
    customer = make_customer(org, phone="13800000000")
    first = failed_sms(customer, sms_gateway)
    customer.phone = "13811112222"
    customer.save()

    copy = resend(admin_user, first)
    deliver_pending()

    copy.refresh_from_db()
    first.refresh_from_db()
    assert copy.state == NotificationState.SENT
    assert copy.recipient == "13811112222"
    assert copy.resend_of == first
    assert copy.actor == admin_user
    assert copy.dedupe_key == "k#resend-1"
    assert first.state == NotificationState.FAILED
    assert sms_gateway.received[-1].json()["phone_number"] == "13811112222"
    assert AuditEntry.objects.filter(action="alarms.resend", object_id=str(copy.pk)).exists()


def test_each_resend_is_its_own_record(org, admin_user, sms_gateway):
    first = failed_sms(make_customer(org, phone="13800000000"), sms_gateway)

    one = resend(admin_user, first)
    deliver_pending()
    two = resend(admin_user, one)

    assert (one.dedupe_key, two.dedupe_key) == ("k#resend-1", "k#resend-2")
    assert two.resend_of == first


def test_resend_is_not_throttled(org, admin_user, sms_gateway, settings):
    settings.NOTIFY_MAX_PER_HOUR = 1
    customer = make_customer(org, phone="13800000000")
    notify(customer, "balance_low", context=LOW, dedupe_key="k")
    deliver_pending()
    sent = Notification.objects.get(customer=customer, channel="sms")

    copy = resend(admin_user, sent)

    assert copy.state == NotificationState.QUEUED


def test_a_notification_still_being_sent_is_not_resent(org, admin_user, sms_gateway):
    customer = make_customer(org, phone="13800000000")
    [sms, _in_app] = notify(customer, "balance_low", context=LOW, dedupe_key="k")

    with pytest.raises(ServiceError) as refused:
        resend(admin_user, sms)

    assert refused.value.code == "in_progress"
    assert Notification.objects.filter(resend_of=sms).count() == 0


def test_in_app_notifications_are_not_resent(org, admin_user):
    [in_app] = notify(
        make_customer(org, notify_sms=False), "cut_off", context={"balance": "0"}, dedupe_key="k"
    )

    with pytest.raises(ServiceError):
        resend(admin_user, in_app)
