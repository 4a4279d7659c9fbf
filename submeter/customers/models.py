from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from submeter.tenancy.models import OrganisationOwned


class CustomerState(models.TextChoices):
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")


class Customer(OrganisationOwned):
    """A tenant account: the party that pays for one or more rooms' meters."""

    name = models.CharField(_("name"), max_length=200)
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    phone = models.CharField(
        _("contact phone"),
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^\+?[0-9 -]{5,20}$", _("Enter a valid phone number."))],
    )
    email = models.EmailField(_("e-mail"), blank=True)
    wechat_openid = models.CharField(_("WeChat OpenID"), max_length=64, blank=True)
    notify_sms = models.BooleanField(_("notify by SMS"), default=True)
    notify_wechat = models.BooleanField(_("notify by WeChat"), default=False)
    notify_email = models.BooleanField(_("notify by e-mail"), default=False)
    notify_voice = models.BooleanField(_("notify by voice call"), default=False)
    state = models.CharField(
        _("state"), max_length=10, choices=CustomerState.choices, default=CustomerState.ACTIVE
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
