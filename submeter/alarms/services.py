"""Notifying tenants. `notify` records what is to be sent, inside the caller's transaction; the
background sender (submeter.alarms.sender) sends it after the commit; `deliver_pending` retries
what failed for a transient reason and catches up what a stopped process left queued."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from submeter.alarms.channels import NOT_CONFIGURED, channel_for
from submeter.alarms.models import (
    Notification,
    NotificationChannel,
    NotificationState,
)
from submeter.alarms.sender import sender
from submeter.alarms.texts import render
from submeter.customers.models import Customer
from submeter.errors import Conflict, ServiceError
from submeter.tenancy.audit import record

log = logging.getLogger(__name__)

NO_RECIPIENT = "no recipient"
# How long a notification may stay `sending` before deliver_pending takes it back (a crash).
SENDING_LEASE = datetime.timedelta(minutes=10)
# States that count against the hourly limit: what was, or will be, handed to a provider.
THROTTLED_STATES = (
    NotificationState.QUEUED,
    NotificationState.SENDING,
    NotificationState.SENT,
    NotificationState.DELIVERED,
)
PREFERENCES = (
    (NotificationChannel.SMS, "notify_sms"),
    (NotificationChannel.WECHAT, "notify_wechat"),
    (NotificationChannel.EMAIL, "notify_email"),
    (NotificationChannel.VOICE, "notify_voice"),
)


def chosen_channels(customer: Customer) -> list[str]:
    """The channels the customer chose, and in-app always."""
    chosen = [channel for channel, flag in PREFERENCES if getattr(customer, flag)]
    return [*chosen, NotificationChannel.IN_APP]


def language_of(customer: Customer) -> str:
    return getattr(customer, "language", "") or settings.NOTIFY_LANGUAGE


def _over_limit(customer: Customer, channel: str, now: datetime.datetime) -> bool:
    if channel == NotificationChannel.IN_APP:
        return False
    recent = Notification.objects.filter(
        customer=customer, channel=channel, created_at__gt=now - datetime.timedelta(hours=1)
    ).filter(Q(state__in=THROTTLED_STATES) | Q(state=NotificationState.FAILED, attempts__gt=0))
    return recent.count() >= settings.NOTIFY_MAX_PER_HOUR


def _first_state(
    channel: str, recipient: str, customer: Customer, now: datetime.datetime, *, throttle: bool
) -> tuple[str, str]:
    """The state (and error) a new notification starts in."""
    provider = channel_for(channel)
    if channel == NotificationChannel.IN_APP:
        return NotificationState.DELIVERED, ""
    if not provider.configured():
        return NotificationState.FAILED, NOT_CONFIGURED
    if not recipient:
        return NotificationState.FAILED, NO_RECIPIENT
    if throttle and _over_limit(customer, channel, now):
        return NotificationState.SUPPRESSED, _("More than %(limit)s notifications in an hour.") % {
            "limit": settings.NOTIFY_MAX_PER_HOUR
        }
    return NotificationState.QUEUED, ""


def _send_after_commit(notifications: list[Notification]) -> None:
    queued = [n.pk for n in notifications if n.state == NotificationState.QUEUED]
    if queued:
        transaction.on_commit(lambda: sender.submit(queued))


@transaction.atomic
def notify(
    customer: Customer, kind: str, *, context: dict, dedupe_key: str, actor=None
) -> list[Notification]:
    """Record one notification per channel the customer chose (+ in-app) and send after commit.

    The same (customer, kind, dedupe_key) again answers the notifications already recorded and
    sends nothing. Safe inside the caller's transaction: no network call happens here.
    """
    if not dedupe_key:
        raise ServiceError("invalid", _("A de-duplication key is required."))
    existing = {
        n.channel: n
        for n in Notification.objects.filter(customer=customer, kind=kind, dedupe_key=dedupe_key)
    }
    channels = chosen_channels(customer)
    if all(channel in existing for channel in channels):
        return [existing[channel] for channel in channels]
    organisation = customer.organisation
    language = language_of(customer)
    text = render(kind, context, language=language, time_zone=organisation.time_zone)
    now = timezone.now()
    answer, created = [], []
    for channel in channels:
        if channel in existing:
            answer.append(existing[channel])
            continue
        recipient = channel_for(channel).recipient_of(customer)
        state, error = _first_state(channel, recipient, customer, now, throttle=True)
        notification = Notification(
            organisation_id=customer.organisation_id,
            customer=customer,
            kind=kind,
            channel=channel,
            recipient=recipient,
            language=language,
            subject=text.subject,
            body=text.body,
            context=text.context,
            params=text.params,
            dedupe_key=dedupe_key[:200],
            state=state,
            error=error,
            actor=actor if getattr(actor, "pk", None) else None,
            created_at=now,
            sent_at=now if state == NotificationState.DELIVERED else None,
        )
        try:
            with transaction.atomic():
                notification.save()
        except IntegrityError:
            # Another transaction recorded it first: that one is the notification.
            notification = Notification.objects.get(
                customer=customer, kind=kind, dedupe_key=dedupe_key[:200], channel=channel
            )
            answer.append(notification)
            continue
        answer.append(notification)
        created.append(notification)
    if created:
        record(
            actor,
            "alarms.notify",
            created[-1],
            after={
                "kind": kind,
                "dedupe_key": dedupe_key,
                "states": {n.channel: n.state for n in created},
            },
        )
        _send_after_commit(created)
    return answer


def _claim(notification_id: int, now: datetime.datetime) -> bool:
    """Mark a queued (or retryable failed) notification `sending`; False when someone else has it."""
    claimable = Q(state=NotificationState.QUEUED) | Q(state=NotificationState.FAILED, retry=True)
    return bool(
        Notification.objects.filter(claimable, pk=notification_id).update(
            state=NotificationState.SENDING,
            attempts=F("attempts") + 1,
            next_attempt_at=now + SENDING_LEASE,
        )
    )


def backoff(attempts: int) -> datetime.timedelta:
    """Wait before the next attempt: the retry interval, doubled after each failure."""
    return datetime.timedelta(seconds=settings.NOTIFY_RETRY_SECONDS * 2 ** max(attempts - 1, 0))


def deliver(notification_id: int) -> Notification | None:
    """Send one notification through its provider and record the outcome.

    Answers None when the notification is not (or no longer) waiting to be sent.
    """
    if not _claim(notification_id, timezone.now()):
        return None
    notification = Notification.objects.select_related("customer").get(pk=notification_id)
    delivery = channel_for(notification.channel).send(notification)
    now = timezone.now()
    notification.state = delivery.state
    notification.error = delivery.error
    notification.provider_message_id = delivery.provider_message_id
    retry = (
        delivery.state == NotificationState.FAILED
        and delivery.retry
        and notification.attempts < settings.NOTIFY_MAX_ATTEMPTS
    )
    notification.retry = retry
    notification.next_attempt_at = now + backoff(notification.attempts) if retry else None
    if delivery.state != NotificationState.FAILED:
        notification.sent_at = now
    notification.save(
        update_fields=[
            "state",
            "error",
            "provider_message_id",
            "retry",
            "next_attempt_at",
            "sent_at",
        ]
    )
    if delivery.state == NotificationState.FAILED:
        log.warning(
            "notification %s (%s) failed: %s", notification.pk, notification.channel, delivery.error
        )
    return notification


def deliver_pending(now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Send what is queued and retry what failed transiently and is due; answers how many were
    attempted. Called by the periodic scheduler; a `sending` one whose lease ran out (the
    process stopped mid-send) is taken back and tried again."""
    now = now or timezone.now()
    Notification.objects.filter(state=NotificationState.SENDING, next_attempt_at__lte=now).update(
        state=NotificationState.FAILED, retry=True, error=_("Interrupted while sending.")
    )
    due = (
        Notification.objects.filter(
            Q(state=NotificationState.QUEUED)
            | Q(state=NotificationState.FAILED, retry=True, next_attempt_at__lte=now)
        )
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for notification_id in list(due) if deliver(notification_id) is not None)


@transaction.atomic
def resend(actor, notification: Notification) -> Notification:
    """Send a notification again as a new record (the first one keeps its outcome).

    The recipient is taken from the customer as it is now, so a corrected phone number is used;
    an operator's resend is not throttled.
    """
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.channel == NotificationChannel.IN_APP:
        raise ServiceError("invalid", _("In-app notifications are stored, not sent."))
    if notification.state in (NotificationState.QUEUED, NotificationState.SENDING):
        raise Conflict("in_progress", _("This notification is still being sent."))
    original = notification.resend_of or notification
    customer = Customer.objects.get(pk=notification.customer_id)
    recipient = channel_for(notification.channel).recipient_of(customer)
    state, error = _first_state(
        notification.channel, recipient, customer, timezone.now(), throttle=False
    )
    number = Notification.objects.filter(resend_of=original).count() + 1
    copy = Notification(
        organisation_id=notification.organisation_id,
        customer=customer,
        kind=notification.kind,
        channel=notification.channel,
        recipient=recipient,
        language=notification.language,
        subject=notification.subject,
        body=notification.body,
        context=notification.context,
        params=notification.params,
        dedupe_key=f"{original.dedupe_key[:180]}#resend-{number}",
        state=state,
        error=error,
        resend_of=original,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    try:
        with transaction.atomic():
            copy.save()
    except IntegrityError as exc:
        raise Conflict("in_progress", _("This notification is already being resent.")) from exc
    record(actor, "alarms.resend", copy, after={"resend_of": original.pk, "state": copy.state})
    _send_after_commit([copy])
    return copy
