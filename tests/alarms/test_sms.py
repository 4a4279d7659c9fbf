import datetime
import hashlib
import hmac
import time
from decimal import Decimal

from django.utils import timezone

from submeter.alarms.models import Notification, NotificationState
from submeter.alarms.services import deliver_pending, notify
from tests.alarms.conftest import SMS_KEY_ID, SMS_SECRET


def low_balance(customer, key="low-1"):
    notify(
        customer,
        "balance_low",
        context={"level": 2, "balance": Decimal("19.5")},
        dedupe_key=key,
        actor=None,
    )
    return Notification.objects.get(customer=customer, channel="sms", dedupe_key=key)


def expected_signature(received) -> str:
    canonical = "\n".join(
        [
            "POST",
            received.path,
            received.headers["x-timestamp"],
            received.headers["x-nonce"],
            hashlib.sha256(received.body).hexdigest(),
        ]
    )
    return hmac.new(SMS_SECRET.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def test_sms_request_is_a_signed_json_post_with_the_template_and_its_parameters(
    customer, sms_gateway
):
    notification = low_balance(customer)

    assert deliver_pending() == 1

    [received] = sms_gateway.received
    assert received.method == "POST"
    assert received.path == "/v1/sms/send"
    assert received.headers["content-type"] == "application/json; charset=utf-8"
    assert received.headers["authorization"] == (
        f"HMAC-SHA256 Credential={SMS_KEY_ID}, Signature={expected_signature(received)}"
    )
    assert abs(int(received.headers["x-timestamp"]) - time.time()) < 60
    assert len(received.headers["x-nonce"]) == 32
    assert received.json() == {
        "phone_number": "13800138000",
        "sign_name": "示范园区",
        "template_code": "SMS_LOW",
        "template_param": {"level": "2", "balance": "¥19.50"},
        "out_id": str(notification.pk),
    }


def test_sms_accepted_by_the_gateway_is_recorded_sent_with_its_message_id(customer, sms_gateway):
    notification = low_balance(customer)

    deliver_pending()

    notification.refresh_from_db()
    assert notification.state == NotificationState.SENT
    assert notification.provider_message_id == "gw-1"
    assert notification.attempts == 1
    assert notification.sent_at is not None
    assert notification.error == ""


def test_sms_refused_by_the_gateway_fails_without_retry(customer, sms_gateway):
    sms_gateway.answers.append((200, {"code": "InvalidPhoneNumber", "message": "bad number"}))
    notification = low_balance(customer)

    deliver_pending()

    notification.refresh_from_db()
    assert notification.state == NotificationState.FAILED
    assert notification.error == "InvalidPhoneNumber: bad number"
    assert notification.retry is False
    assert notification.next_attempt_at is None


def test_sms_gateway_error_is_retried_after_the_back_off(customer, sms_gateway):
    sms_gateway.answers.append((503, {"code": "Unavailable"}))
    notification = low_balance(customer)

    deliver_pending()
    notification.refresh_from_db()
    assert notification.state == NotificationState.FAILED
    assert notification.error == "HTTP 503"
    assert notification.retry is True
    assert deliver_pending() == 0  # not due yet

    assert deliver_pending(now=notification.next_attempt_at) == 1

    notification.refresh_from_db()
    assert notification.state == NotificationState.SENT
    assert notification.attempts == 2
    assert len(sms_gateway.received) == 2


def test_back_off_doubles_after_each_failure(customer, sms_gateway):
    sms_gateway.answers.extend([(500, {}), (500, {})])
    notification = low_balance(customer)

    deliver_pending()
    notification.refresh_from_db()
    first_wait = notification.next_attempt_at - timezone.now()
    deliver_pending(now=notification.next_attempt_at)
    notification.refresh_from_db()
    second_wait = notification.next_attempt_at - timezone.now()

    assert datetime.timedelta(seconds=55) < first_wait <= datetime.timedelta(seconds=60)
    assert datetime.timedelta(seconds=115) < second_wait <= datetime.timedelta(seconds=120)


def test_sms_gives_up_after_the_last_attempt(customer, sms_gateway, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    sms_gateway.answers.extend([(500, {}), (500, {})])
    notification = low_balance(customer)

    deliver_pending()
    notification.refresh_from_db()
    deliver_pending(now=notification.next_attempt_at)
    notification.refresh_from_db()

    assert notification.state == NotificationState.FAILED
    assert notification.attempts == 2
    assert notification.retry is False
    assert deliver_pending(now=timezone.now() + datetime.timedelta(days=1)) == 0


def test_unreachable_gateway_is_a_transient_failure(customer, sms_gateway, settings):
    settings.SMS_URL = "http://127.0.0.1:9/v1/sms/send"  # discard port: nothing listens
    notification = low_balance(customer)

    deliver_pending()

    notification.refresh_from_db()
    assert notification.state == NotificationState.FAILED
    assert notification.error.startswith("network:")
    assert notification.retry is True


def test_kind_without_a_template_fails_as_not_configured(customer, sms_gateway):
    notify(customer, "topup_received", context={"amount": "100", "balance": "120"}, dedupe_key="t")
    notification = Notification.objects.get(customer=customer, channel="sms")

    deliver_pending()

    notification.refresh_from_db()
    assert notification.state == NotificationState.FAILED
    assert notification.error == "not configured: no template for topup_received"
    assert sms_gateway.received == []
