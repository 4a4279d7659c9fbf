import email
from decimal import Decimal
from email.header import decode_header, make_header

from submeter.alarms.models import Notification, NotificationState
from submeter.alarms.services import deliver_pending, notify
from tests.factories import make_customer


def email_customer(org):
    return make_customer(org, notify_sms=False, notify_email=True, email="tenant@example.com")


def test_email_goes_through_smtp_to_the_customer(org, smtp):
    customer = email_customer(org)
    notify(
        customer,
        "topup_received",
        context={"amount": Decimal("100"), "balance": Decimal("120.5")},
        dedupe_key="topup-7",
    )
    notification = Notification.objects.get(customer=customer, channel="email")

    deliver_pending()

    [mail] = smtp.messages
    assert mail.mail_from == "billing@park.example.com"
    assert mail.rcpt_to == ["tenant@example.com"]
    message = email.message_from_bytes(mail.data)
    assert str(make_header(decode_header(message["Subject"]))) == notification.subject
    assert message["To"] == "tenant@example.com"
    assert message.get_payload(decode=True).decode().rstrip("\r\n") == notification.body
    assert "¥100.00" in notification.body and "¥120.50" in notification.body
    notification.refresh_from_db()
    assert notification.state == NotificationState.SENT
    assert notification.provider_message_id == message["Message-ID"]


def test_unreachable_smtp_server_is_a_transient_failure(org, smtp, settings):
    settings.EMAIL_PORT = 9  # nothing listens there
    customer = email_customer(org)
    notify(customer, "cut_off", context={"balance": Decimal("-1")}, dedupe_key="cut-1")

    deliver_pending()

    notification = Notification.objects.get(customer=customer, channel="email")
    assert notification.state == NotificationState.FAILED
    assert notification.retry is True
    assert smtp.messages == []
