from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from submeter.tenancy.models import OrganisationOwned


class CustomerState(models.TextChoices):
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")


class Settlement(models.TextChoices):
    REALTIME = "realtime", _("Real-time deduction")
    MONTH_END = "month_end", _("Month-end settlement")


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
    settlement = models.CharField(
        _("settlement"),
        max_length=10,
        choices=Settlement.choices,
        default=Settlement.REALTIME,
        help_text=_("Charge consumption as it is read, or once at the end of each month."),
    )
    free_kwh_per_month = models.DecimalField(
        _("free kWh per month"),
        max_digits=12,
        decimal_places=3,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Monthly free electricity allowance (dormitories), over all its meters."),
    )
    free_m3_per_month = models.DecimalField(
        _("free m³ per month"),
        max_digits=12,
        decimal_places=3,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Monthly free water allowance, over all its meters."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
