"""Alarms and notifications: every message to a tenant, recorded with its delivery state.

One row per (customer, kind, dedupe key, channel): the same alarm raised twice is sent once.
The text is rendered when the row is recorded (in the customer's language, amounts and times
formatted); `params` are the formatted values that provider templates (SMS, voice, WeChat) take.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from submeter.tenancy.models import OrganisationOwned


class NotificationKind(models.TextChoices):
    BALANCE_LOW = "balance_low", _("Balance low")
    BALANCE_ZERO_SOON = "balance_zero_soon", _("Balance reaches zero soon")
    CUTOFF_PENDING = "cutoff_pending", _("Cut-off pending")
    CUT_OFF = "cut_off", _("Supply cut off")
    RESTORED = "restored", _("Supply restored")
    TOPUP_RECEIVED = "topup_received", _("Top-up received")


class NotificationChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("E-mail")
    VOICE = "voice", _("Voice call")
    IN_APP = "in_app", _("In-app")


class NotificationState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed (too many)")


class Notification(OrganisationOwned):
    """One message to one customer through one channel."""

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=24, choices=NotificationKind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=NotificationChannel.choices)
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    language = models.CharField(_("language"), max_length=10)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))
    context = models.JSONField(_("context"), default=dict, blank=True)
    params = models.JSONField(_("template parameters"), default=dict, blank=True)
    dedupe_key = models.CharField(_("de-duplication key"), max_length=200)
    state = models.CharField(
        _("state"),
        max_length=10,
        choices=NotificationState.choices,
        default=NotificationState.QUEUED,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    retry = models.BooleanField(
        _("will be retried"),
        default=False,
        help_text=_("A transient failure (network, provider busy) is tried again with back-off."),
    )
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=128, blank=True)
    resend_of = models.ForeignKey(
        "self",
        verbose_name=_("resend of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resends",
    )
    actor = models.ForeignKey(
        "tenancy.User",
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind", "dedupe_key", "channel"],
                name="notification_unique_dedupe",
            )
        ]
        indexes = [
            models.Index(
                fields=["customer", "channel", "created_at"], name="notification_throttle"
            ),
            models.Index(fields=["state", "next_attempt_at"], name="notification_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.customer} ({self.get_channel_display()})"
