"""Sending happens after the caller's transaction commits, in the background sender."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from submeter.alarms.models import Notification, NotificationState
from submeter.alarms.sender import sender
from submeter.alarms.services import deliver_pending, notify
from tests.factories import make_customer, make_organisation

LOW = {"level": 1, "balance": Decimal("45.00")}
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def customer():
    return make_customer(make_organisation(), phone="13800138000")


def test_notification_is_sent_by_the_background_sender_after_commit(customer, sms_gateway):
    with transaction.atomic():
        [sms, _in_app] = notify(customer, "balance_low", context=LOW, dedupe_key="k")
        assert sms_gateway.received == []

    assert sender.wait_idle(timeout=10)
    sms.refresh_from_db()
    assert sms.state == NotificationState.SENT
    assert len(sms_gateway.received) == 1


def test_rolled_back_transaction_records_and_sends_nothing(customer, sms_gateway):
    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), transaction.atomic():
        notify(customer, "balance_low", context=LOW, dedupe_key="k")
        raise Abandon

    assert sender.wait_idle(timeout=10)
    assert Notification.objects.count() == 0
    assert deliver_pending() == 0
    assert sms_gateway.received == []


def test_notify_does_not_wait_for_a_slow_provider(customer, sms_gateway):
    release = threading.Event()
    answer = sms_gateway.respond

    def slow(received):
        release.wait(10)
        return answer(received)

    sms_gateway.respond = slow
    with transaction.atomic():
        [sms, _in_app] = notify(customer, "balance_low", context=LOW, dedupe_key="k")

    sms.refresh_from_db()
    state_while_provider_hangs = sms.state
    release.set()
    assert sender.wait_idle(timeout=10)
    sms.refresh_from_db()
    assert state_while_provider_hangs in (NotificationState.QUEUED, NotificationState.SENDING)
    assert sms.state == NotificationState.SENT


def test_notification_left_queued_by_a_stopped_process_is_sent_by_deliver_pending(
    customer, sms_gateway, monkeypatch
):
    monkeypatch.setattr(sender, "submit", lambda ids: None)  # the process stops before sending
    with transaction.atomic():
        [sms, _in_app] = notify(customer, "balance_low", context=LOW, dedupe_key="k")
    monkeypatch.undo()

    assert deliver_pending() == 1

    sms.refresh_from_db()
    assert sms.state == NotificationState.SENT


def test_notification_interrupted_while_sending_is_tried_again_after_its_lease(
    customer, sms_gateway
):
    with transaction.atomic():
        [sms, _in_app] = notify(customer, "balance_low", context=LOW, dedupe_key="k")
        Notification.objects.filter(pk=sms.pk).update(
            state=NotificationState.SENDING, next_attempt_at=timezone.now()
        )
    assert sender.wait_idle(timeout=10)

    assert deliver_pending(now=timezone.now() + datetime.timedelta(seconds=1)) == 1

    sms.refresh_from_db()
    assert sms.state == NotificationState.SENT
